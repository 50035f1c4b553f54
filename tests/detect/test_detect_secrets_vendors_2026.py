"""Vendor formats added from their documentation: Amazon Bedrock API keys, Azure
Functions keys in invoke URLs, Claude Code OAuth tokens, Resend, Intercom, dbt Cloud,
Honeycomb and Asana tokens; each with near misses (wrong decoded prefix, wrong length,
a URL without the key). Tokens are generated from their format with a fixed seed.
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
B64URL = ALNUM + "-_"
THRESHOLD = 0.5


def r(alphabet: str, n: int, seed: int = 23) -> str:
    rng = random.Random(f"{seed}-{n}-{alphabet}")
    return "".join(rng.choice(alphabet) for _ in range(n))


@cache
def engine() -> Engine:
    return Engine(secret_patterns())


def found(text: str) -> set[tuple[str, str]]:
    return {(h.data_class, h.value) for h in engine().scan(text) if h.score >= THRESHOLD}


def b64(raw: str) -> str:
    return base64.b64encode(raw.encode()).decode()


BEDROCK = "ABSK" + b64(f"BedrockAPIKey-{r(ALNUM, 4)}-at-{r('0123456789', 12)}:{r(ALNUM, 60)}")
BEDROCK_SHORT = "bedrock-api-key-" + b64(
    f"bedrock.amazonaws.com/?Action=CallWithBearerToken&{r(ALNUM, 60)}"
)
FUNCTION_KEY = r(B64URL, 54) + "=="
INTERCOM = b64(f"tok:{r(HEX, 8)}_{r(HEX, 4)}_{r(HEX, 4)}_{r(HEX, 4)}_{r(HEX, 12)}:1:0")
CLAUDE_OAUTH = "sk-ant-oat01-" + r(B64URL, 95)
RESEND = f"re_{r(ALNUM, 8, 1)}_{r(ALNUM, 24, 2)}"
DBT = "dbtc_" + r(B64URL, 50)
HONEYCOMB = "hcaik_" + r("0123456789abcdefghjkmnpqrstvwxyz", 58)
ASANA = f"2/{r('0123456789', 16, 1)}/{r('0123456789', 16, 2)}:{r(HEX, 32)}"

POSITIVES = [
    pytest.param(f"export AWS_BEARER_TOKEN_BEDROCK={BEDROCK}", "secret.aws_bedrock_api_key",
                 BEDROCK, id="bedrock-long-term"),
    pytest.param(f"AWS_BEARER_TOKEN_BEDROCK={BEDROCK_SHORT}", "secret.aws_bedrock_api_key",
                 BEDROCK_SHORT, id="bedrock-short-term"),
    pytest.param(f"curl 'https://acme-fn.azurewebsites.net/api/Orders?code={FUNCTION_KEY}'",
                 "secret.azure_function_key", FUNCTION_KEY, id="azure-function-key"),
    pytest.param(f"https://acme-fn.azurewebsites.net/api/Orders?id=7&code={FUNCTION_KEY}",
                 "secret.azure_function_key", FUNCTION_KEY, id="azure-function-key-second-param"),
    pytest.param(f"CLAUDE_CODE_OAUTH_TOKEN={CLAUDE_OAUTH}", "secret.anthropic_api_key",
                 CLAUDE_OAUTH, id="claude-code-oauth"),
    pytest.param(f"resend = Resend('{RESEND}')", "secret.resend_api_key", RESEND, id="resend"),
    pytest.param(f"Authorization: Bearer {INTERCOM}", "secret.intercom_token", INTERCOM,
                 id="intercom"),
    pytest.param(f"DBT_CLOUD_API_TOKEN={DBT}", "secret.dbt_cloud_token", DBT, id="dbt-cloud"),
    pytest.param(f"HONEYCOMB_API_KEY={HONEYCOMB}", "secret.honeycomb_api_key", HONEYCOMB,
                 id="honeycomb-ingest"),
    pytest.param(f"curl -H 'Authorization: Bearer {ASANA}'", "secret.asana_token", ASANA,
                 id="asana-pat"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "data_class", "value"), POSITIVES)
def test_vendor_formats_are_found(text: str, data_class: str, value: str) -> None:
    assert (data_class, value) in found(text)


NEAR_MISSES = [
    pytest.param("ABSK" + b64("NotBedrock-" + r(ALNUM, 120)), id="absk-wrong-decoded-prefix"),
    pytest.param("https://acme-fn.azurewebsites.net/api/Orders?id=7", id="function-url-no-key"),
    pytest.param("https://acme-fn.azurewebsites.net/api/Orders?code=", id="function-empty-key"),
    pytest.param("dG9rOj" + "A" * 50, id="intercom-not-text"),
    pytest.param(f"re_{r(ALNUM, 8)}", id="resend-truncated"),
    pytest.param(f"dbtc_{r(B64URL, 12)}", id="dbt-too-short"),
    pytest.param(f"version 2/{r('0123456789', 16)}", id="asana-without-secret"),
]  # fmt: skip


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_are_not_found(text: str) -> None:
    assert found(text) == set()
