"""More vendor formats and the format checks that decide between a key, a documentation
filler and prose: prefixed tokens as vendors document them, the exact layouts that make
a filler body a known dummy instead of noise, and bare values that end their line.

Tokens are generated from their format with a fixed seed (never copied from real leaks).
"""

from __future__ import annotations

import string

import pytest
from tests.detect.secret_scans import ALNUM, B64, B64URL, HEX, UPPER_ALNUM, found, hits, r

ONEPASSWORD = f"A3-{r(UPPER_ALNUM, 6)}-{r(UPPER_ALNUM, 11)}-{r(UPPER_ALNUM, 5)}-" + "-".join(
    r(UPPER_ALNUM, 5, seed) for seed in (1, 2)
)
ADO_BODY = f"{r(ALNUM, 52)}JQQJ99BACAAAAA{r(ALNUM, 10)}"
ADO_FILLER = "aQwErTy" + "0123456789" * 6 + "abcdefghi"  # 76 characters of filler

POSITIVES = [
    # formats added with this table
    pytest.param(f"OP_SECRET_KEY: {ONEPASSWORD}", "secret.onepassword_secret_key", ONEPASSWORD,
                 id="1password-secret-key"),
    pytest.param(f"fio-u-{r(B64URL, 64)}", "secret.frameio_token", f"fio-u-{r(B64URL, 64)}",
                 id="frameio"),
    pytest.param(f"{r(ALNUM, 6)}_{r(ALNUM, 29)}_mmk", "secret.maxmind_license_key",
                 f"{r(ALNUM, 6)}_{r(ALNUM, 29)}_mmk", id="maxmind"),
    pytest.param(f"s-s4t2ud-{r(HEX, 64)}", "secret.intra42_client_secret",
                 f"s-s4t2ud-{r(HEX, 64)}", id="intra42"),
    pytest.param(f"sm_pat_{r(ALNUM, 16)}", "secret.settlemint_token", f"sm_pat_{r(ALNUM, 16)}",
                 id="settlemint"),
    pytest.param(f"rdme_{r(string.ascii_lowercase + string.digits, 70)}", "secret.readme_api_key",
                 f"rdme_{r(string.ascii_lowercase + string.digits, 70)}", id="readme"),
    pytest.param(f"ico-{r(ALNUM, 32)}", "secret.infracost_api_key", f"ico-{r(ALNUM, 32)}",
                 id="infracost"),
    pytest.param(f"FLY_API_TOKEN=fm2_{r(B64, 120)}", "secret.flyio_token", f"fm2_{r(B64, 120)}",
                 id="flyio-macaroon"),
    pytest.param(f"v1.0-{r(HEX, 24)}-{r(HEX, 146)}", "secret.cloudflare_origin_ca_key",
                 f"v1.0-{r(HEX, 24)}-{r(HEX, 146)}", id="cloudflare-origin-ca"),
    pytest.param(f"tk-us-{r(B64URL, 48)}", "secret.scalingo_api_token", f"tk-us-{r(B64URL, 48)}",
                 id="scalingo"),
    pytest.param(f"oc login --token=sha256~{r(B64URL, 43)}", "secret.openshift_token",
                 f"sha256~{r(B64URL, 43)}", id="openshift"),
    pytest.param(f"pat.{r(B64URL, 22)}.{r(ALNUM, 24)}.{r(ALNUM, 20)}", "secret.harness_token",
                 f"pat.{r(B64URL, 22)}.{r(ALNUM, 24)}.{r(ALNUM, 20)}", id="harness"),
    pytest.param(f"dnkey-{r(HEX, 26)}-{r(HEX, 52)}", "secret.defined_networking_api_token",
                 f"dnkey-{r(HEX, 26)}-{r(HEX, 52)}", id="defined-networking"),
    pytest.param(f"FLWSECK_TEST{r('abcdefgh0123456789', 12)}",
                 "secret.flutterwave_encryption_key",
                 f"FLWSECK_TEST{r('abcdefgh0123456789', 12)}", id="flutterwave-encryption"),
    pytest.param(f"Cookie: _gitlab_session={r(HEX, 32)}", "secret.gitlab_session_cookie",
                 r(HEX, 32), id="gitlab-session"),
    pytest.param(f"xoxc-{r(string.digits, 10)}-{r(string.digits, 13)}-{r(HEX, 64)}",
                 "secret.slack_token",
                 f"xoxc-{r(string.digits, 10)}-{r(string.digits, 13)}-{r(HEX, 64)}",
                 id="slack-client"),
    # widened to what the vendors issue
    pytest.param(f"github_pat_{r(ALNUM + '_', 82)}", "secret.github_token",
                 f"github_pat_{r(ALNUM + '_', 82)}", id="github-fine-grained-any-split"),
    pytest.param(f"ghr_{r(ALNUM, 36)}", "secret.github_token", f"ghr_{r(ALNUM, 36)}",
                 id="github-refresh-short"),
    pytest.param(f"ATATT3{r(B64URL, 186)}", "secret.atlassian_api_token",
                 f"ATATT3{r(B64URL, 186)}", id="atlassian-without-checksum-tail"),
    pytest.param(f"glsa_{r(ALNUM, 32)}_{r('0123456789ABCDEF', 8)}", "secret.grafana_token",
                 f"glsa_{r(ALNUM, 32)}_{r('0123456789ABCDEF', 8)}", id="grafana-sa-upper-hex"),
    pytest.param(f"sgp_{r('0123456789ABCDEF', 16)}_{r(HEX, 40)}", "secret.sourcegraph_token",
                 f"sgp_{r('0123456789ABCDEF', 16)}_{r(HEX, 40)}", id="sourcegraph-upper-hex"),
    pytest.param(f"shippo_live_{r('0123456789ABCDEF', 40)}", "secret.shippo_api_token",
                 f"shippo_live_{r('0123456789ABCDEF', 40)}", id="shippo-upper-hex"),
    pytest.param(f"license_key: eu01xx{r(HEX, 30)}NRAL", "secret.newrelic_key",
                 f"eu01xx{r(HEX, 30)}NRAL", id="newrelic-license-eu"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "data_class", "value"), POSITIVES)
def test_vendor_formats_are_found(text: str, data_class: str, value: str) -> None:
    assert (data_class, value) in found(text)


NEAR_MISSES = [
    pytest.param(f"A3-{r(UPPER_ALNUM, 6)}-{r(UPPER_ALNUM, 11)}-{r(UPPER_ALNUM, 5)}",
                 id="1password-too-few-groups"),
    pytest.param(f"rdme_{r(HEX, 40)}", id="readme-too-short"),
    pytest.param(f"sha256:{r(HEX, 64)}", id="sha256-digest-is-not-openshift"),
    pytest.param(f"v1.0-{r(HEX, 24)}", id="version-string"),
    pytest.param(f"ghr_{r(ALNUM, 50)}", id="github-refresh-odd-length"),
    pytest.param("--set licenseKey=a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8NRAL",
                 id="newrelic-not-hex"),
    pytest.param(f"{r(ALNUM, 70)}AZDO{r(ALNUM, 4)}", id="azure-devops-wrong-offset"),
]  # fmt: skip


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_are_not_found(text: str) -> None:
    assert found(text) == set()


@pytest.mark.parametrize(
    ("text", "dummy"),
    [
        pytest.param(f"{ADO_BODY}AZDO{r(ALNUM, 4)}", False, id="azure-devops-random"),
        pytest.param(f"{ADO_FILLER}AZDOabc1", True, id="azure-devops-keyboard-filler"),
        pytest.param(f"license_key: {'0' * 36}NRAL", True, id="newrelic-zero-filler"),
    ],
)
def test_exact_layouts_report_filler_as_known_dummy(text: str, dummy: bool) -> None:
    (hit,) = hits(text)
    assert (hit.meta.get("known_dummy") == "true") is dummy


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Password: at least 8 characters, one digit.", id="password-rule"),
        pytest.param("secret: SHA-256 of the request body", id="secret-description"),
        pytest.param("Token: expired yesterday, please refresh", id="token-status"),
        pytest.param("password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256", id="ansible-vault-tag"),
    ],
)
def test_line_start_key_followed_by_prose_is_not_a_value(text: str) -> None:
    assert found(text) == set()


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param("db:\n  password: Kx7!qLm2Zr\n", "Kx7!qLm2Zr", id="yaml-end-of-line"),
        pytest.param("password: Kx7!qLm2Zr  # rotated in May", "Kx7!qLm2Zr", id="yaml-comment"),
        pytest.param("users:\n  - password: Kx7qLm2Zr\n", "Kx7qLm2Zr", id="yaml-list-item"),
        pytest.param("PGPASSWORD=Kx7qLm2Zr psql -h db", "Kx7qLm2Zr", id="env-before-command"),
    ],
)
def test_line_values_that_end_their_line_are_found(text: str, value: str) -> None:
    assert ("secret.generic_password", value) in found(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("user = Aladdin\npassword = open_sesame\n", id="ini-open-sesame"),
        pytest.param("password = 'correct horse battery staple'", id="xkcd-passphrase"),
        pytest.param("PASSWORD=hunter2", id="hunter2"),
    ],
)
def test_folklore_example_passwords_are_found_as_dummies(text: str) -> None:
    found_hits = hits(text)
    assert {h.data_class for h in found_hits} == {"secret.generic_password"}
    assert all(h.meta.get("known_dummy") == "true" for h in found_hits)
