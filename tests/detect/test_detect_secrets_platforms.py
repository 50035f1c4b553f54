"""Platform formats added after the first catalogues (Tailscale, Supabase secret keys,
Yandex Cloud, Authress, Sidekiq gem credentials, Docker registry logins), the password
key names ``SSHPASS`` and ``pass_phrase``, example passwords marked as dummies, and the
near misses each format must not take.

Values are generated from the documented shapes with a fixed seed.
"""

from __future__ import annotations

import base64
import random
import string

import pytest
from tests.detect.secret_scans import ALNUM, B64URL, HEX, LOWER_ALNUM, found, hits, r

from bastion.detect.secrets.dummies import is_example_password

TAILSCALE = f"tskey-auth-{r(ALNUM, 12)}-{r(ALNUM, 30)}"
TAILSCALE_API = f"tskey-api-{r(ALNUM, 11, 2)}-{r(ALNUM, 33, 2)}"
SUPABASE_SECRET = "sb_secret_" + r(B64URL, 31)
YANDEX_API = "AQVN" + r(B64URL, 36)
YANDEX_IAM = f"t1.{r(ALNUM, 24)}.{r(B64URL, 86)}"
AUTHRESS = f"sc_{r(LOWER_ALNUM, 12)}.{r(LOWER_ALNUM, 5)}.acc_{r(LOWER_ALNUM, 14)}.{r(ALNUM, 60)}"
SIDEKIQ = f"{r(HEX, 8)}:{r(HEX, 8, 3)}"
DOCKER_PASSWORD = r(ALNUM, 18)
DOCKER_AUTH = base64.b64encode(f"deploy:{DOCKER_PASSWORD}".encode()).decode()
CHOSEN = "Qv7-tLm2xRz"

POSITIVES = [
    pytest.param(f"TS_AUTHKEY={TAILSCALE}", "secret.tailscale_api_key", TAILSCALE,
                 id="tailscale-auth"),
    pytest.param(f"curl -u {TAILSCALE_API}: https://api.tailscale.com", "secret.tailscale_api_key",
                 TAILSCALE_API, id="tailscale-api"),
    pytest.param(f'SUPABASE_KEY="{SUPABASE_SECRET}"', "secret.supabase_secret_key", SUPABASE_SECRET,
                 id="supabase-secret"),
    pytest.param(f"yc_key: {YANDEX_API}", "secret.yandex_api_key", YANDEX_API, id="yandex-api-key"),
    pytest.param(f"Authorization: Bearer {YANDEX_IAM}", "secret.yandex_iam_token", YANDEX_IAM,
                 id="yandex-iam-token"),
    pytest.param(f"AUTHRESS_KEY={AUTHRESS}", "secret.authress_service_key", AUTHRESS,
                 id="authress"),
    pytest.param(f"export BUNDLE_ENTERPRISE__CONTRIBSYS__COM={SIDEKIQ}",
                 "secret.sidekiq_credentials", SIDEKIQ, id="sidekiq-env"),
    pytest.param(f'bundle config --local BUNDLE_GEMS__CONTRIBSYS__COM: "{SIDEKIQ}"',
                 "secret.sidekiq_credentials", SIDEKIQ, id="sidekiq-yaml"),
    pytest.param('{"auths": {"registry.example.com": {"auth": "' + DOCKER_AUTH + '"}}}',
                 "secret.docker_registry_auth", DOCKER_AUTH, id="docker-config"),
    pytest.param(f"SSHPASS={CHOSEN} sshpass -e ssh deploy@host", "secret.generic_password", CHOSEN,
                 id="sshpass-env"),
    pytest.param(f"pass_phrase={CHOSEN}", "secret.generic_password", CHOSEN, id="oci-pass-phrase"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "data_class", "value"), POSITIVES)
def test_platform_formats_are_found(text: str, data_class: str, value: str) -> None:
    assert (data_class, value) in found(text)


NEAR_MISSES = [
    pytest.param(f"tskey-{r(ALNUM, 12)}-{r(ALNUM, 30)}", id="tailscale-without-kind"),
    pytest.param(f"tskey-auth-{r(ALNUM, 12)}-{r(ALNUM, 8)}", id="tailscale-short-secret"),
    pytest.param("sb_secret_" + r(ALNUM, 12), id="supabase-short"),
    pytest.param("AQVN" + r(ALNUM, 20), id="yandex-short"),
    pytest.param(f"t1.{r(ALNUM, 24)}.{r(ALNUM, 40)}", id="yandex-iam-short-signature"),
    pytest.param(f"sc_{r(LOWER_ALNUM, 12)}.{r(LOWER_ALNUM, 5)}.{r(ALNUM, 60)}",
                 id="authress-no-account"),
    pytest.param(f"BUNDLE_GEMS__CONTRIBSYS__COM={r(HEX, 8)}", id="sidekiq-no-password"),
    pytest.param('{"auth": "' + base64.b64encode(b"just-a-label").decode() + '"}',
                 id="docker-auth-not-a-login"),
    pytest.param('{"auth": "' + base64.b64encode(b"deploy:${REGISTRY_PASSWORD}").decode() + '"}',
                 id="docker-auth-template"),
    pytest.param("SSHPASS=$DEPLOY_PASSWORD sshpass -e ssh host", id="sshpass-variable"),
]  # fmt: skip


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_platform_near_misses_are_not_found(text: str) -> None:
    assert found(text) == set()


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('password = "super$ecret"', id="leet-super-secret"),
        pytest.param("DB_PASSWORD=P@ssw0rd1!", id="leet-password-digits"),
        pytest.param("password: mytestpassword", id="glued-words"),
        pytest.param("Server=db;User Id=app;Password=Secret123;", id="connection-string"),
        pytest.param("password = 'test-secret-123'", id="separated-words"),
    ],
)
def test_example_passwords_are_found_and_marked(text: str) -> None:
    found_hits = hits(text)
    assert found_hits
    assert all(h.meta.get("known_dummy") == "true" for h in found_hits)


@pytest.mark.parametrize(
    "value", ["Qv7-tLm2xRz", "admin", "root123", "passage", "hunter22x", "s3cr3tSauce"]
)
def test_chosen_passwords_are_not_examples(value: str) -> None:
    assert not is_example_password(value)


def test_chosen_password_is_not_marked_dummy() -> None:
    (hit,) = hits(f'password = "{CHOSEN}"')
    assert "known_dummy" not in hit.meta


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('server->user = "anonymous";\nserver->password = "ftpuser@";', id="c-struct"),
        pytest.param("ftp_password = guest@", id="ini"),
    ],
)
def test_anonymous_ftp_courtesy_password_is_not_a_secret(text: str) -> None:
    assert found(text) == set()


def test_password_with_an_at_sign_inside_is_still_found() -> None:
    assert ("secret.generic_password", "Kx@7qLm2") in found('password = "Kx@7qLm2"')


RAW_KEY = r(ALNUM, 40, 4)
SESSION = r(B64URL, 40, 5)
DB_PASSWORD = "Vz7yn-Zan7kaN4"


@pytest.mark.parametrize(
    ("text", "data_class", "value"),
    [
        pytest.param(f'curl -H "Authorization: {RAW_KEY}" https://api.example.com',
                     "secret.auth_header", RAW_KEY, id="authorization-without-scheme"),
        pytest.param(f"Cookie: theme=dark; session={SESSION}; path=/",
                     "secret.http_session_cookie", SESSION, id="cookie-session"),
        pytest.param(f"Set-Cookie: JSESSIONID={r(HEX, 32).upper()}; HttpOnly",
                     "secret.http_session_cookie", r(HEX, 32).upper(), id="set-cookie-jsessionid"),
        pytest.param(f"define('DB_PASSWORD', '{DB_PASSWORD}');", "secret.generic_password",
                     DB_PASSWORD, id="php-define"),
        pytest.param(f"CREATE USER app@'%' IDENTIFIED BY '{DB_PASSWORD}';",
                     "secret.generic_password", DB_PASSWORD, id="sql-identified-by"),
        pytest.param(f"create user 'app'@'%'\n  identified with caching_sha2_password by "
                     f"'{DB_PASSWORD}';", "secret.generic_password", DB_PASSWORD,
                     id="sql-identified-by-on-two-lines"),
        pytest.param(f"GRANT ALL ON shop.* TO 'app'@'localhost' IDENTIFIED BY '{DB_PASSWORD}';",
                     "secret.generic_password", DB_PASSWORD, id="sql-grant-identified-by"),
    ],
)  # fmt: skip
def test_header_cookie_and_statement_credentials_are_found(
    text: str, data_class: str, value: str
) -> None:
    assert (data_class, value) in found(text)


def test_ldap_salted_hash_is_a_password_hash() -> None:
    digest = base64.b64encode(bytes(random.Random(3).randrange(256) for _ in range(24))).decode()
    assert {h.data_class for h in hits(f"userPassword: {{SSHA}}{digest}")} == {
        "secret.password_hash"
    }


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"Authorization: Bearer {RAW_KEY}", id="bearer-is-the-bearer-class"),
        pytest.param("Authorization: required for every call", id="authorization-prose"),
        pytest.param(f"Cookie: _ga=GA1.2.{r(string.digits, 20)}; lang=en", id="analytics-cookie"),
        pytest.param("Cookie: session=${SESSION_ID}", id="cookie-template"),
        pytest.param("define('DB_PASSWORD', 'password_here');", id="php-define-placeholder"),
        pytest.param("define('DB_PASSWORD', getenv('DB_PASSWORD'));", id="php-define-env"),
        pytest.param("ALTER USER app IDENTIFIED BY '${APP_PASSWORD}';", id="sql-template"),
        pytest.param("Each record is identified by `order_id`.", id="identified-by-in-prose"),
        pytest.param('Objects are identified by "uuid" in the API.', id="identified-by-quoted"),
    ],
)
def test_header_cookie_and_statement_near_misses(text: str) -> None:
    assert not {c for c, _ in found(text)} - {"secret.bearer_token"}


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"db.internal:5432:app:appuser:{DB_PASSWORD}\n", id="host-port"),
        pytest.param(f"*:*:*:postgres:{DB_PASSWORD}", id="wildcards"),
        pytest.param(f"# ~/.pgpass\nlocalhost:5432:mydb:me:{DB_PASSWORD}\n", id="after-comment"),
    ],
)
def test_pgpass_line_password_is_found(text: str) -> None:
    assert ("secret.pgpass_credentials", DB_PASSWORD) in found(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("user:1:profile:name:first", id="colon-cache-key"),
        pytest.param("root:x:0:0:root:/root:/bin/bash", id="etc-passwd"),
        pytest.param("2001:0db8:85a3:0000:0000:8a2e:0370:7334", id="ipv6"),
        pytest.param("localhost:5432:mydb:me:${PGPASSWORD}", id="template"),
    ],
)
def test_colon_separated_lines_that_are_not_pgpass(text: str) -> None:
    assert found(text) == set()
