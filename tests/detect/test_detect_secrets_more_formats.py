"""Langfuse secret keys, Deno Deploy tokens, Twitter/X bearer tokens with a 21-``A``
lead, the ``pw`` abbreviation as a password key, and Terraform variable defaults; each
with near misses (the public half of a key pair, a wrong length, plain base64, code that
only names a password, variables named for something else). Tokens are generated from
their format with a fixed seed.
"""

from __future__ import annotations

import base64
import random
import string
from functools import cache

import pytest

from bastion.detect.engine import Engine
from bastion.detect.secrets import secret_patterns

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
THRESHOLD = 0.5


def r(alphabet: str, n: int, seed: int = 31) -> str:
    rng = random.Random(f"{seed}-{n}-{alphabet}")
    return "".join(rng.choice(alphabet) for _ in range(n))


def uuid4(seed: int = 31) -> str:
    """A version-4 UUID made of seeded hex digits."""
    time_low, time_mid, rest = r(HEX, 8, seed), r(HEX, 4, seed), r(HEX, 6, seed)
    return f"{time_low}-{time_mid}-4{rest[:3]}-9{rest[3:]}-{r(HEX, 12, seed)}"


@cache
def engine() -> Engine:
    return Engine(secret_patterns())


def found(text: str) -> set[tuple[str, str]]:
    return {(h.data_class, h.value) for h in engine().scan(text) if h.score >= THRESHOLD}


LANGFUSE = f"sk-lf-{uuid4()}"
DENO = "ddp_" + r(ALNUM, 36)
DENO_40 = "ddp_" + r(ALNUM, 40)
DENO_ORG = "ddo_" + r(ALNUM, 36)
TWITTER = "A" * 21 + "K" + r(ALNUM, 20) + "%2B" + r(ALNUM, 30) + "%3D" + r(ALNUM, 50)
CHOSEN = "Vq7!mere-Lark9"
GENERATED = r(ALNUM, 24, 5)

POSITIVES = [
    pytest.param(f"LANGFUSE_SECRET_KEY={LANGFUSE}", "secret.langfuse_secret_key", LANGFUSE,
                 id="langfuse-secret"),
    pytest.param(f"deployctl deploy --project=shop --token={DENO}", "secret.deno_deploy_token",
                 DENO, id="deno-deploy"),
    pytest.param(f"DENO_DEPLOY_TOKEN={DENO_40}", "secret.deno_deploy_token", DENO_40,
                 id="deno-deploy-40"),
    pytest.param(f"export DENO_ORG_TOKEN={DENO_ORG}", "secret.deno_deploy_token", DENO_ORG,
                 id="deno-deploy-organisation"),
    pytest.param(f'curl -H "Authorization: Bearer {TWITTER}"', "secret.twitter_token", TWITTER,
                 id="twitter-bearer-21"),
    pytest.param(f"ROOT_PW={CHOSEN}", "secret.generic_password", CHOSEN, id="pw-env"),
    pytest.param(f"db_pw: '{CHOSEN}'", "secret.generic_password", CHOSEN, id="pw-yaml"),
    pytest.param(f'pw = "{CHOSEN}"', "secret.generic_password", CHOSEN, id="pw-code"),
    pytest.param(
        f'variable "db_password" {{\n  description = "Master password"\n  type        = string\n'
        f'  sensitive   = true\n  default     = "{CHOSEN}"\n}}',
        "secret.generic_password", CHOSEN, id="terraform-password-default"),
    pytest.param(f'variable "api_token" {{\n  default = "{GENERATED}"\n}}',
                 "secret.generic_api_key", GENERATED, id="terraform-token-default"),
    pytest.param(f'variable "oauth_client_secret" {{ default = "{CHOSEN}" }}',
                 "secret.generic_secret", CHOSEN, id="terraform-secret-one-line"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "data_class", "value"), POSITIVES)
def test_credential_is_found(text: str, data_class: str, value: str) -> None:
    assert (data_class, value) in found(text)


def _plain_base64_with_zero_run() -> str:
    """Base64 of binary data with 16 leading zero bytes: a run of A's, never a % escape."""
    raw = bytes(16) + bytes(random.Random(3).randrange(256) for _ in range(90))
    return base64.b64encode(raw).decode().replace("+", "x").replace("/", "y")


NEAR_MISSES = [
    pytest.param(f"LANGFUSE_PUBLIC_KEY=pk-lf-{uuid4(2)}", id="langfuse-public-half"),
    pytest.param("ddp_" + r(ALNUM, 35), id="deno-too-short"),
    pytest.param("ddp_" + r(ALNUM, 38), id="deno-between-lengths"),
    pytest.param(f"icon: {_plain_base64_with_zero_run()}", id="base64-zero-run"),
    pytest.param("PrintWriter pw = new PrintWriter(out);", id="pw-java-writer"),
    pytest.param('pw = pwd.getpwnam("root")', id="pw-python-pwd-module"),
    pytest.param("if pw == confirm_pw:\n    save(pw)", id="pw-variables"),
    pytest.param("ROOT_PW=${ROOT_PW}", id="pw-expansion"),
    pytest.param("password: N/A", id="password-not-applicable"),
    pytest.param('db_pw = "n/a"', id="pw-not-applicable-quoted"),
    pytest.param('variable "secret_name" {\n  default = "prod/db/credentials"\n}',
                 id="terraform-secret-name"),
    pytest.param('variable "token_ttl" {\n  default = "3600s"\n}', id="terraform-token-ttl"),
    pytest.param('variable "db_password" {\n  type      = string\n  sensitive = true\n}',
                 id="terraform-no-default"),
    pytest.param('variable "db_password" {\n  default = ""\n}', id="terraform-empty-default"),
    pytest.param('variable "api_token" {\n  default = "changeme"\n}',
                 id="terraform-placeholder"),
    pytest.param('variable "db_password" {\n  default = var.fallback_password\n}',
                 id="terraform-reference"),
]  # fmt: skip


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_miss_is_not_reported(text: str) -> None:
    assert found(text) == set()


def test_langfuse_docs_placeholder_is_not_a_langfuse_key() -> None:
    """Langfuse's docs write ``sk-lf-1234567890``: not the UUID layout, so the vendor row
    stays quiet (the secret-named key is judged by the generic rows)."""
    classes = {data_class for data_class, _ in found("LANGFUSE_SECRET_KEY=sk-lf-1234567890")}
    assert "secret.langfuse_secret_key" not in classes
