"""Credentials found by where they sit: keyword assignments in code and config, connection
strings, .netrc, HTTP authorisation, command lines. Placeholders, variables and labels in
the same places must not be reported."""

from __future__ import annotations

from functools import cache

import pytest

from bastion.detect.engine import Engine
from bastion.detect.secrets import secret_patterns

THRESHOLD = 0.5
API_KEY = "q8Vz3LmW7tXb2RkN9pYc4HsD"  # 24 mixed characters, made up for these tests
HEX_KEY = "c4e1f09a7d3b58e2a6f0b91d34c7e825"


@cache
def engine() -> Engine:
    return Engine(secret_patterns())


def found(text: str) -> set[tuple[str, str]]:
    return {(h.data_class, h.value) for h in engine().scan(text) if h.score >= THRESHOLD}


def classes(text: str) -> set[str]:
    return {c for c, _ in found(text)}


POSITIVES = [
    # passwords in code and config
    pytest.param('db_password = "Tr0ub4dor&3"', "secret.generic_password", "Tr0ub4dor&3",
                 id="python-dq"),
    pytest.param("$mail->Password = 'hunter2hunter';", "secret.generic_password",
                 "hunter2hunter", id="php-property"),
    pytest.param('"AdminPassword" : "correct-horse"', "secret.generic_password",
                 "correct-horse", id="json"),
    pytest.param("spring:\n  datasource:\n    password: s3cr3tPw!\n", "secret.generic_password",
                 "s3cr3tPw!", id="yaml-bare"),
    pytest.param("DB_PASS=letmein42\n", "secret.generic_password", "letmein42", id="env-pass"),
    pytest.param(":password => 'n0tGuessable',", "secret.generic_password", "n0tGuessable",
                 id="ruby-symbol"),
    pytest.param('if user == "admin" and password == "Adm1n!":', "secret.generic_password",
                 "Adm1n!", id="comparison"),
    pytest.param("credentials {\n  username 'ci'\n  password 'Gr4dle-pw'\n}",
                 "secret.generic_password", "Gr4dle-pw", id="gradle-spaced"),
    pytest.param("<password>Xml-Pa55</password>", "secret.generic_password", "Xml-Pa55",
                 id="xml-element"),
    # a "$" inside a chosen password is no shell variable: nobody names one vLp7
    pytest.param("password: Xk9#mQ2$vLp7\n", "secret.generic_password", "Xk9#mQ2$vLp7",
                 id="yaml-dollar-inside"),
    pytest.param("DB_PASSWORD=Ab3$xyz9Qw\n", "secret.generic_password", "Ab3$xyz9Qw",
                 id="env-dollar-inside"),
    pytest.param("password: p@$$w0rdX91\n", "secret.generic_password", "p@$$w0rdX91",
                 id="double-dollar"),
    pytest.param('<add key="SmtpPassword" value="Mail!2024"/>', "secret.generic_password",
                 "Mail!2024", id="dotnet-appsetting"),
    pytest.param("The default password is 'blue-moon7'.", "secret.generic_password",
                 "blue-moon7", id="prose"),
    pytest.param('PASSWORD=\\"escaped9\\"', "secret.generic_password", "escaped9",
                 id="escaped-quotes"),
    # secrets and keys by name
    pytest.param(f'CLIENT_SECRET = "{API_KEY}"', "secret.generic_secret", API_KEY,
                 id="client-secret"),
    pytest.param(f"jwt:\n  secret: '{API_KEY}'", "secret.generic_secret", API_KEY,
                 id="yaml-secret"),
    pytest.param(f'API_KEY = "{HEX_KEY}"', "secret.generic_api_key", HEX_KEY, id="api-key-hex"),
    pytest.param(f"headers = {{'x-api-key': '{API_KEY}'}}", "secret.auth_header", API_KEY,
                 id="x-api-key-header"),
    pytest.param(f"access_token={API_KEY}&format=json", "secret.generic_api_key", API_KEY,
                 id="query-token"),
    pytest.param(f"buildConfigField 'String', 'API_KEY', '\"{HEX_KEY}\"'",
                 "secret.generic_api_key", f'"{HEX_KEY}"', id="function-argument"),
    pytest.param(f"var deployToken string = \"{API_KEY}\"", "secret.generic_api_key", API_KEY,
                 id="go-typed-declaration"),
    pytest.param(f"deployToken := `{API_KEY}`", "secret.generic_api_key", API_KEY,
                 id="go-backticks"),
    pytest.param(f"deploy_token: |\n  {API_KEY}\n", "secret.generic_api_key", API_KEY,
                 id="yaml-block-scalar"),
    pytest.param(f"<deployToken>{API_KEY}</deployToken>", "secret.generic_api_key", API_KEY,
                 id="xml-token-element"),
    pytest.param(f"deployToken,{API_KEY},", "secret.generic_api_key", API_KEY, id="csv"),
    pytest.param(f"DEPLOY_TOKEN ?= \"{API_KEY}\"", "secret.generic_api_key", API_KEY,
                 id="makefile-conditional"),
    # placements
    pytest.param("postgres://app:Sup3r-Secret@db.internal:5432/app", "secret.connection_string",
                 "Sup3r-Secret", id="postgres-uri"),
    pytest.param("mongodb+srv://svc:pa@ss!@cluster0.example.net/db", "secret.connection_string",
                 "pa@ss!", id="mongo-password-with-at"),
    pytest.param("redis://:Redis-Pw-9@cache:6379/0", "secret.connection_string", "Redis-Pw-9",
                 id="redis-empty-user"),
    pytest.param("Server=sql1;Database=app;User Id=sa;Password=Odbc#Pass1;",
                 "secret.connection_string", "Odbc#Pass1", id="odbc"),
    pytest.param("machine api.example.com\n  login bob\n  password n3trc-pw\n",
                 "secret.netrc_credentials", "n3trc-pw", id="netrc"),
    pytest.param("Authorization: Basic Ym9iOnMzY3IzdC1wYXNz", "secret.http_basic_auth",
                 "Ym9iOnMzY3IzdC1wYXNz", id="basic-header"),
    pytest.param("curl -u deploy:Curl-Pass-1 https://api.example.com", "secret.http_basic_auth",
                 "deploy:Curl-Pass-1", id="curl-user"),
    pytest.param(f"-H 'Authorization: Bearer {API_KEY}'", "secret.bearer_token", API_KEY,
                 id="bearer"),
    pytest.param("psexec \\\\host -u admin -p Ps3xec! cmd", "secret.cli_password", "Ps3xec!",
                 id="user-then-p"),
    pytest.param("Connect-VIServer -Server vc -User root -Password VMw4re!", "secret.cli_password",
                 "VMw4re!", id="powershell-password"),
    pytest.param('new NetworkCredential("svc@example.com", "NetCred#1")',
                 "secret.dotnet_credentials", "NetCred#1", id="network-credential"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "data_class", "value"), POSITIVES)
def test_credentials_by_placement_are_found(text: str, data_class: str, value: str) -> None:
    assert (data_class, value) in found(text)


NEGATIVES = [
    pytest.param('password = "changeme"', id="changeme"),
    pytest.param('password = "${DB_PASSWORD}"', id="template-var"),
    pytest.param("password: {{ .Values.db.password }}", id="helm-template"),
    pytest.param('password = "<password>"', id="angle-placeholder"),
    pytest.param('"password": "&lt;YOUR_PASSWORD&gt;"', id="escaped-placeholder"),
    pytest.param('password = "********"', id="stars"),
    pytest.param("api_key = 'xxxxxxxxxxxxxxxxxxxxxxxx'", id="x-filler"),
    pytest.param('API_KEY = "your_api_key_here"', id="your-api-key-here"),
    pytest.param('token = "aaaaaaaaaaaaaaaaaaaaaaaa"', id="repeated-char"),
    pytest.param("secret_access_key = 'abcdefg123456+FJQCK'", id="counting-filler"),
    pytest.param("password = os.environ['DB_PASSWORD']", id="environ"),
    pytest.param("password = request.form.get('password')", id="request-field"),
    pytest.param("export PGPASSWORD=$PG_PASS", id="shell-variable"),
    pytest.param("export PGPASSWORD=pg_$ENVIRONMENT", id="shell-variable-suffix"),
    pytest.param("DB_PASSWORD=super$ecret", id="shell-variable-lower-case"),
    pytest.param("DB_PASSWORD=prefix:$Pass", id="variable-after-punctuation"),
    pytest.param("password = self.password", id="attribute"),
    pytest.param("DB_PASSWORD=${DB_PASSWORD:-}", id="env-default"),
    pytest.param('passwordLabel: "Password:", rememberMe: "Remember me"', id="ui-label"),
    pytest.param("get '/forgot-password' => \"users/passwords#new\"", id="route"),
    pytest.param('this.addPassword = "#add-password";', id="css-selector"),
    pytest.param("char *password = NULL;", id="null"),
    pytest.param('"password": "",', id="empty"),
    pytest.param("token = tokenizer.encode(text)", id="tokenizer-call"),
    pytest.param("max_tokens = 512", id="max-tokens"),
    pytest.param('api_key = "my-service"', id="low-entropy-api-key"),
    pytest.param("postgres://user:${PGPASSWORD}@db/app", id="uri-template"),
    pytest.param("postgres://user:password@localhost/app", id="uri-password-placeholder"),
    pytest.param("postgres://db.internal:5432/app", id="uri-without-credentials"),
    pytest.param("Authorization: Bearer <token>", id="bearer-placeholder"),
    pytest.param("Authorization: Bearer YOUR_ACCESS_TOKEN", id="bearer-your"),
    pytest.param("Authorization: Basic dXNlcm5hbWU=", id="basic-without-colon"),
    pytest.param("curl -u $USER:$TOKEN https://x", id="curl-variables"),
    pytest.param("mkdir -p /var/run/app", id="mkdir-p"),
    pytest.param("Please reset your password before Friday.", id="prose-mention"),
    pytest.param("The password is too short.", id="prose-no-value"),
    pytest.param("    key_id, secret = parsed", id="tuple-unpacking"),
    pytest.param("    secret: bytes", id="type-annotation"),
    pytest.param('    "secret": "secrets",', id="label-mapping"),
    pytest.param('__all__ = ["hash_secret", "parse_key", "generate_key"]', id="name-list"),
    pytest.param("scrub(message, secret=secret)", id="keyword-argument"),
    pytest.param('admin_token = "bastion.cli.admin_token:admin_token"', id="module-path"),
    pytest.param("The stored form of a token secret: SHA-256, hex.", id="prose-colon"),
]  # fmt: skip


@pytest.mark.parametrize("text", NEGATIVES)
def test_placeholders_variables_and_labels_are_not_found(text: str) -> None:
    assert found(text) == set()


def test_self_named_password_is_a_known_dummy() -> None:
    (hit,) = [h for h in engine().scan('String password = "password";') if h.score >= THRESHOLD]
    assert hit.data_class == "secret.generic_password"
    assert hit.meta["known_dummy"] == "true"


def test_span_is_the_value_not_the_key() -> None:
    text = 'config.password = "Val1d-Pass"'
    (hit,) = [h for h in engine().scan(text) if h.score >= THRESHOLD]
    assert text[hit.start : hit.end] == "Val1d-Pass"


def test_mongo_docs_example_is_marked_dummy() -> None:
    hits = engine().scan("mongodb://myDatabaseUser:D1fficultP%40ssw0rd@localhost/records")
    assert [h.meta.get("known_dummy") for h in hits] == ["true"]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("psexec \\\\host -u admin -p $Password cmd", id="psexec-variable"),
        pytest.param("Connect-VIServer $h -User $u -Password $p", id="powershell-variable"),
        pytest.param("Uid=me;Pwd=#{datastore['DBPASSWORD']};", id="odbc-interpolation"),
    ],
)
def test_credential_sites_holding_variables_are_not_found(text: str) -> None:
    assert not {c for c in classes(text) if "password" in c or "connection" in c}
