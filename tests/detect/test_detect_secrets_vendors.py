"""Vendor credential formats: positives built from each documented format, near misses,
and the cases where a keyword nearby decides.

Tokens are generated from their format with a fixed seed (never copied from real
leaks), so every row states the format it tests.
"""

from __future__ import annotations

import random
import string
from functools import cache

import pytest

from bastion.detect.engine import Engine
from bastion.detect.patterns import Hit
from bastion.detect.secrets import secret_patterns
from bastion.detect.secrets.checks import base62_crc32

ALNUM = string.ascii_letters + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
THRESHOLD = 0.5


def r(alphabet: str, n: int, seed: int = 7) -> str:
    rng = random.Random(f"{seed}-{n}-{alphabet}")
    return "".join(rng.choice(alphabet) for _ in range(n))


def uuid(seed: int = 1) -> str:
    h = r(HEX, 32, seed)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def github(prefix: str, seed: int = 1) -> str:
    body = r(ALNUM, 30, seed)
    return f"{prefix}_{body}{base62_crc32(body)}"


@cache
def engine() -> Engine:
    return Engine(secret_patterns())


def hits(text: str) -> list[Hit]:
    return [h for h in engine().scan(text) if h.score >= THRESHOLD]


def found(text: str) -> set[tuple[str, str]]:
    return {(h.data_class, h.value) for h in hits(text)}


AWS_KEY_ID = "AKIA" + r("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
AWS_SECRET = r(B64, 40, 3)
GH_PAT = github("ghp")
SLACK_BOT = f"xoxb-{r(string.digits, 12)}-{r(string.digits, 13)}-{r(ALNUM, 24)}"

POSITIVES = [
    # cloud
    pytest.param(f"export AWS_ACCESS_KEY_ID={AWS_KEY_ID}", "secret.aws_access_key", AWS_KEY_ID,
                 id="aws-access-key-id"),
    pytest.param(f'aws_secret_access_key = "{AWS_SECRET}"', "secret.aws_secret_key", AWS_SECRET,
                 id="aws-secret-keyed"),
    pytest.param(f"key {AWS_KEY_ID}, secret {AWS_SECRET}", "secret.aws_secret_key", AWS_SECRET,
                 id="aws-secret-nearby"),
    pytest.param(f"const k = 'AIza{r(B64URL, 35)}';", "secret.google_api_key",
                 f"AIza{r(B64URL, 35)}", id="google-api-key"),
    pytest.param(f'"client_secret": "GOCSPX-{r(B64URL, 28)}"', "secret.google_oauth_secret",
                 f"GOCSPX-{r(B64URL, 28)}", id="google-oauth-secret"),
    pytest.param(f"token=ya29.{r(B64URL, 60)}", "secret.google_oauth_token",
                 f"ya29.{r(B64URL, 60)}", id="google-access-token"),
    pytest.param(f'"private_key_id": "{r(HEX, 40)}",', "secret.gcp_service_account",
                 r(HEX, 40), id="gcp-service-account"),
    pytest.param(f"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={r(B64, 86)}==;",
                 "secret.azure_storage_key", f"{r(B64, 86)}==", id="azure-storage"),
    pytest.param(f"Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=root;"
                 f"SharedAccessKey={r(B64, 43)}=", "secret.azure_shared_access_key",
                 f"{r(B64, 43)}=", id="azure-shared-access-key"),
    pytest.param(f"https://acme.blob.core.windows.net/c?sv=2022-11-02&ss=b&sig={r(ALNUM, 44)}%3D",
                 "secret.azure_sas_token", f"{r(ALNUM, 44)}%3D", id="azure-sas"),
    pytest.param(f'secret="abc8Q~{r(ALNUM, 34)}"', "secret.azure_client_secret",
                 f"abc8Q~{r(ALNUM, 34)}", id="entra-client-secret"),
    # source hosting
    pytest.param(f"GITHUB_TOKEN={GH_PAT}", "secret.github_token", GH_PAT, id="github-pat"),
    pytest.param(f"github_pat_{r(ALNUM, 22)}_{r(ALNUM, 59)}", "secret.github_token",
                 f"github_pat_{r(ALNUM, 22)}_{r(ALNUM, 59)}", id="github-fine-grained"),
    pytest.param(f"git clone https://x:{github('ghs')}@github.com/o/r", "secret.github_token",
                 github("ghs"), id="github-app-in-url"),
    pytest.param(f"glpat-{r(B64URL, 20)}", "secret.gitlab_token", f"glpat-{r(B64URL, 20)}",
                 id="gitlab-pat"),
    pytest.param(f"-F token=glptt-{r(HEX, 40)}", "secret.gitlab_token", f"glptt-{r(HEX, 40)}",
                 id="gitlab-trigger"),
    pytest.param(f"--registration-token GR1348941{r(B64URL, 20)}", "secret.gitlab_token",
                 f"GR1348941{r(B64URL, 20)}", id="gitlab-runner"),
    pytest.param(f"ATBB{r(ALNUM, 32)}", "secret.bitbucket_app_password", f"ATBB{r(ALNUM, 32)}",
                 id="bitbucket"),
    pytest.param(f"ATATT3{r(B64URL, 180)}={r('0123456789ABCDEF', 8)}",
                 "secret.atlassian_api_token",
                 f"ATATT3{r(B64URL, 180)}={r('0123456789ABCDEF', 8)}", id="atlassian"),
    pytest.param(f"pat = '{r(ALNUM, 52)}JQQJ99BACAAAAA{r(ALNUM, 10)}AZDO{r(ALNUM, 4)}'",
                 "secret.azure_devops_pat",
                 f"{r(ALNUM, 52)}JQQJ99BACAAAAA{r(ALNUM, 10)}AZDO{r(ALNUM, 4)}", id="azure-devops"),
    # model providers
    pytest.param(f"OPENAI_API_KEY=sk-proj-{r(B64URL, 40)}T3BlbkFJ{r(B64URL, 40)}",
                 "secret.openai_api_key", f"sk-proj-{r(B64URL, 40)}T3BlbkFJ{r(B64URL, 40)}",
                 id="openai-project"),
    pytest.param(f"sk-{r(ALNUM, 48)}", "secret.openai_api_key", f"sk-{r(ALNUM, 48)}",
                 id="openai-legacy"),
    pytest.param(f"sk-ant-api03-{r(B64URL, 93)}AA", "secret.anthropic_api_key",
                 f"sk-ant-api03-{r(B64URL, 93)}AA", id="anthropic"),
    pytest.param(f"gsk_{r(ALNUM, 52)}", "secret.groq_api_key", f"gsk_{r(ALNUM, 52)}", id="groq"),
    pytest.param(f"HF_TOKEN=hf_{r(string.ascii_letters, 34)}", "secret.huggingface_token",
                 f"hf_{r(string.ascii_letters, 34)}", id="huggingface"),
    pytest.param(f"r8_{r(ALNUM, 37)}", "secret.replicate_api_token", f"r8_{r(ALNUM, 37)}",
                 id="replicate"),
    pytest.param(f"pplx-{r(ALNUM, 48)}", "secret.perplexity_api_key", f"pplx-{r(ALNUM, 48)}",
                 id="perplexity"),
    pytest.param(f"tvly-{r(ALNUM, 32)}", "secret.tavily_api_key", f"tvly-{r(ALNUM, 32)}",
                 id="tavily"),
    pytest.param(f"fc-{r(HEX, 32)}", "secret.firecrawl_api_key", f"fc-{r(HEX, 32)}",
                 id="firecrawl"),
    pytest.param(f"jina_{r(HEX, 32)}{r(ALNUM, 28)}", "secret.jina_api_key",
                 f"jina_{r(HEX, 32)}{r(ALNUM, 28)}", id="jina"),
    pytest.param(f"sk-or-v1-{r(HEX, 64)}", "secret.openrouter_api_key", f"sk-or-v1-{r(HEX, 64)}",
                 id="openrouter"),
    pytest.param(f'NGC_API_KEY="nvapi-{r(B64URL, 64)}"', "secret.nvidia_api_key",
                 f"nvapi-{r(B64URL, 64)}", id="nvidia"),
    pytest.param(f'COHERE_API_KEY="{r(ALNUM, 40)}"', "secret.cohere_api_key", r(ALNUM, 40),
                 id="cohere-keyed"),
    # payment
    pytest.param(f'Stripe.api_key = "sk_live_{r(ALNUM, 24)}"', "secret.stripe_secret_key",
                 f"sk_live_{r(ALNUM, 24)}", id="stripe-live"),
    pytest.param(f"rk_test_{r(ALNUM, 24)}", "secret.stripe_restricted_key",
                 f"rk_test_{r(ALNUM, 24)}", id="stripe-restricted"),
    pytest.param(f"whsec_{r(ALNUM, 32)}", "secret.stripe_webhook_secret", f"whsec_{r(ALNUM, 32)}",
                 id="stripe-webhook"),
    pytest.param(f"sq0atp-{r(B64URL, 22)}", "secret.square_access_token",
                 f"sq0atp-{r(B64URL, 22)}", id="square"),
    pytest.param(f"sq0csp-{r(B64URL, 43)}", "secret.square_oauth_secret",
                 f"sq0csp-{r(B64URL, 43)}", id="square-secret"),
    pytest.param(f"shpat_{r(HEX, 32)}", "secret.shopify_token", f"shpat_{r(HEX, 32)}",
                 id="shopify"),
    pytest.param(f"access_token$production${r(LOWER_ALNUM, 16)}${r(HEX, 32)}",
                 "secret.braintree_access_token",
                 f"access_token$production${r(LOWER_ALNUM, 16)}${r(HEX, 32)}", id="braintree"),
    # messaging
    pytest.param(f"SLACK_TOKEN={SLACK_BOT}", "secret.slack_token", SLACK_BOT, id="slack-bot"),
    pytest.param(f"https://hooks.slack.com/services/T{r(ALNUM, 8)}/B{r(ALNUM, 8)}/{r(ALNUM, 24)}",
                 "secret.slack_webhook",
                 f"https://hooks.slack.com/services/T{r(ALNUM, 8)}/B{r(ALNUM, 8)}/{r(ALNUM, 24)}",
                 id="slack-webhook"),
    pytest.param(f"https://discord.com/api/webhooks/{r(string.digits, 18)}/{r(B64URL, 68)}",
                 "secret.discord_webhook",
                 f"https://discord.com/api/webhooks/{r(string.digits, 18)}/{r(B64URL, 68)}",
                 id="discord-webhook"),
    pytest.param(f"bot = Bot('{r(string.digits, 10)}:AA{r(B64URL, 33)}')",
                 "secret.telegram_bot_token", f"{r(string.digits, 10)}:AA{r(B64URL, 33)}",
                 id="telegram"),
    pytest.param(f"SG.{r(B64URL, 22)}.{r(B64URL, 43)}", "secret.sendgrid_api_key",
                 f"SG.{r(B64URL, 22)}.{r(B64URL, 43)}", id="sendgrid"),
    pytest.param(f"{r(HEX, 32)}-us14", "secret.mailchimp_api_key", f"{r(HEX, 32)}-us14",
                 id="mailchimp"),
    pytest.param(f"key-{r(HEX, 32)}", "secret.mailgun_api_key", f"key-{r(HEX, 32)}",
                 id="mailgun"),
    pytest.param(f'"X-Postmark-Server-Token": "{uuid()}"', "secret.postmark_token", uuid(),
                 id="postmark"),
    pytest.param(f"SK{r(HEX, 32)}", "secret.twilio_api_key", f"SK{r(HEX, 32)}", id="twilio"),
    # registries and tools
    pytest.param(f"//registry.npmjs.org/:_authToken=npm_{r(ALNUM, 36)}", "secret.npm_token",
                 f"npm_{r(ALNUM, 36)}", id="npm"),
    pytest.param(f"password = pypi-AgEIcHlwaS5vcmc{r(B64URL, 70)}", "secret.pypi_token",
                 f"pypi-AgEIcHlwaS5vcmc{r(B64URL, 70)}", id="pypi"),
    pytest.param(f"rubygems_{r(HEX, 48)}", "secret.rubygems_api_key", f"rubygems_{r(HEX, 48)}",
                 id="rubygems"),
    pytest.param(f"nuget push x.nupkg -k oy2{r(LOWER_ALNUM, 43)}", "secret.nuget_api_key",
                 f"oy2{r(LOWER_ALNUM, 43)}", id="nuget"),
    pytest.param(f"docker login -u me -p dckr_pat_{r(B64URL, 27)}", "secret.dockerhub_token",
                 f"dckr_pat_{r(B64URL, 27)}", id="dockerhub"),
    pytest.param(f"AKCp{r(ALNUM, 69)}", "secret.artifactory_token", f"AKCp{r(ALNUM, 69)}",
                 id="artifactory"),
    pytest.param(f"dop_v1_{r(HEX, 64)}", "secret.digitalocean_token", f"dop_v1_{r(HEX, 64)}",
                 id="digitalocean"),
    pytest.param(f"HEROKU_API_KEY={uuid(2)}", "secret.heroku_api_key", uuid(2), id="heroku"),
    pytest.param(f"dapi{r(HEX, 32)}", "secret.databricks_token", f"dapi{r(HEX, 32)}",
                 id="databricks"),
    pytest.param(f"VAULT_TOKEN=hvs.{r(B64URL, 90)}", "secret.vault_token",
                 f"hvs.{r(B64URL, 90)}", id="vault"),
    pytest.param(f"kubeadm join 10.0.0.1:6443 --token {r(LOWER_ALNUM, 6)}.{r(LOWER_ALNUM, 16)}",
                 "secret.kubernetes_bootstrap_token",
                 f"{r(LOWER_ALNUM, 6)}.{r(LOWER_ALNUM, 16)}", id="kubeadm-token"),
    pytest.param(f"Authorization: SSWS 00{r(B64URL, 39)}x", "secret.okta_api_token",
                 f"00{r(B64URL, 39)}x", id="okta"),
    pytest.param(f"glsa_{r(ALNUM, 32)}_{r(HEX, 8)}", "secret.grafana_token",
                 f"glsa_{r(ALNUM, 32)}_{r(HEX, 8)}", id="grafana"),
    pytest.param(f"NRAK-{r(string.ascii_uppercase + string.digits, 27)}", "secret.newrelic_key",
                 f"NRAK-{r(string.ascii_uppercase + string.digits, 27)}", id="newrelic"),
    pytest.param(f"DD_API_KEY={r(HEX, 32)}", "secret.datadog_api_key", r(HEX, 32), id="datadog"),
    pytest.param(f"sonar.login={r(HEX, 40)}", "secret.sonarqube_token", r(HEX, 40),
                 id="sonar-keyed"),
    pytest.param(f"PMAK-{r(HEX, 24)}-{r(HEX, 34)}", "secret.postman_api_key",
                 f"PMAK-{r(HEX, 24)}-{r(HEX, 34)}", id="postman"),
    pytest.param(f"lin_api_{r(ALNUM, 40)}", "secret.linear_api_key", f"lin_api_{r(ALNUM, 40)}",
                 id="linear"),
    pytest.param(f"ntn_{r(string.digits, 11)}{r(ALNUM, 35)}", "secret.notion_token",
                 f"ntn_{r(string.digits, 11)}{r(ALNUM, 35)}", id="notion"),
    pytest.param(f"aio_{r(ALNUM, 28)}", "secret.adafruit_io_key", f"aio_{r(ALNUM, 28)}",
                 id="adafruit"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "data_class", "value"), POSITIVES)
def test_vendor_formats_are_found(text: str, data_class: str, value: str) -> None:
    assert (data_class, value) in found(text)


def test_github_checksum_is_reported() -> None:
    valid = github("ghp", 5)
    broken = valid[:-1] + ("A" if valid[-1] != "A" else "B")
    meta = {h.value: h.meta for h in hits(f"{valid} {broken}")}
    assert meta[valid]["checksum"] == "valid"
    assert meta[broken]["checksum"] == "invalid"
    assert meta[valid]["provider"] == "github"


@pytest.mark.parametrize(
    ("text", "dummy"),
    [
        pytest.param("AKIAIOSFODNN7EXAMPLE", True, id="aws-docs-key-id"),
        pytest.param("export SLACK_TOKEN=xoxb-0000000000-0000000000000-xxxxxxxxxxxxxxxxxxxxxxxx",
                     True, id="slack-filler"),
        pytest.param(f"tvly-{'x' * 32}", True, id="tavily-filler"),
        pytest.param(AWS_KEY_ID, False, id="aws-random"),
    ],
)  # fmt: skip
def test_known_dummies_are_found_and_marked(text: str, dummy: bool) -> None:
    (hit,) = [h for h in hits(text) if h.data_class.startswith("secret.")]
    assert (hit.meta.get("known_dummy") == "true") is dummy


NEAR_MISSES = [
    pytest.param(AWS_KEY_ID.lower(), id="aws-lowercase"),
    pytest.param(AWS_KEY_ID[:-1], id="aws-too-short"),
    pytest.param("AKIA" + r(ALNUM.upper(), 17), id="aws-too-long"),
    pytest.param(GH_PAT[:-2], id="github-too-short"),
    pytest.param("ghx_" + GH_PAT[4:], id="github-wrong-prefix"),
    pytest.param(f"sk_live_{r(ALNUM, 5)}", id="stripe-too-short"),
    pytest.param(f"pk_live_{r(ALNUM, 24)}", id="stripe-publishable"),
    pytest.param(f"request id {uuid(9)}", id="bare-uuid"),
    pytest.param(f"commit {r(HEX, 40)} fixed the build", id="git-sha"),
    pytest.param(f"sha256: {r(HEX, 64)}", id="hex-digest"),
    pytest.param("VGhlIHF1aWNrIGJyb3duIGZveCBqdW1wcyBvdmVyIHRoZSBsYXp5IGRvZw==",
                 id="base64-of-prose"),
    pytest.param(f"{r(B64, 40, 3)}", id="bare-40-base64-without-context"),
    pytest.param(f"{r(LOWER_ALNUM, 6)}.{r(LOWER_ALNUM, 16)}", id="bootstrap-shape-no-context"),
    pytest.param("00" + r(B64URL, 40), id="okta-shape-no-context"),
    pytest.param(f"{r('abcdefghijklmnopqrstuvwxyz234567', 52)}", id="ado-legacy-no-context"),
    pytest.param("a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8NRAL", id="newrelic-placeholder"),
    pytest.param(f"TWITCH_STREAM_KEY = \"{r(string.digits, 9)}_{r(ALNUM, 25)}\"",
                 id="twitch-without-live-prefix"),
    pytest.param("https://kolkrabbi.heroku.com/apps/" + uuid(3) + "/github/push",
                 id="heroku-uuid-in-path"),
    pytest.param("mydapiDataGetTopLongShortPositionRatio()", id="databricks-lookalike"),
    pytest.param("function(){s.addComponentsFromRegistry()}", id="vault-lookalike"),
    pytest.param("eye.eyeable.should be_nill", id="jwt-lookalike"),
    pytest.param("NGC_API_KEY=nvapi-[your-key]", id="nvidia-placeholder"),
    pytest.param(f"nvapi-{r(B64URL, 20)}", id="nvidia-too-short"),
]  # fmt: skip


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_are_not_found(text: str) -> None:
    assert found(text) == set()


@pytest.mark.parametrize(
    ("text", "data_class"),
    [
        pytest.param(f"var personalAccessToken = \"{r('abcdefghijklmnopqrstuvwxyz234567', 52)}\";",
                     "secret.azure_devops_pat", id="ado-legacy-with-token-key"),
        pytest.param(f"BOOTSTRAP_TOKEN: \"{r(LOWER_ALNUM, 6)}.{r(LOWER_ALNUM, 16)}\"",
                     "secret.kubernetes_bootstrap_token", id="bootstrap-with-keyword"),
        pytest.param(f"variable \"corp_okta_api_token\" {{\n  default = \"00{r(B64URL, 40)}\"\n}}",
                     "secret.okta_api_token", id="okta-keyword-on-previous-line"),
        pytest.param(f"AWS secret for the deploy user: {r(B64, 40, 3)}",
                     "secret.aws_secret_key", id="aws-secret-with-keyword"),
        pytest.param(f"\"method\": \"auth.login_with_api_key\", \"params\": [\"7-{r(ALNUM, 64)}\"]",
                     "secret.truenas_api_key", id="truenas-with-api-key-method"),
    ],
)  # fmt: skip
def test_keyword_nearby_decides(text: str, data_class: str) -> None:
    assert data_class in {c for c, _ in found(text)}
