"""Assignment syntaxes beyond ``name = value``: C macros, Dockerfile ``ENV``, Emacs Lisp
``setq``, Kubernetes/Compose environment lists, R's ``<-``, ``||=``/``??=``, Rust's
``&str`` constants; and command-line and config positions documented by their tools
(``mysql -p<password>``, ``redis.conf``'s ``requirepass``, ``--token`` flags).

Each syntax has its near misses beside it: the same shape holding a length, a file path,
a variable, a reference or nothing. Values are made up for these tests.
"""

from __future__ import annotations

from functools import cache

import pytest

from bastion.detect.engine import Engine
from bastion.detect.secrets import secret_patterns

THRESHOLD = 0.5
KEY = "Wq4Zt8Lm2Xv6Rb9Np3Kc7Hd"  # 24 mixed characters
PASSWORD = "Gx7#pLq2!Wz9"


@cache
def engine() -> Engine:
    return Engine(secret_patterns())


def found(text: str) -> set[tuple[str, str]]:
    return {(h.data_class, h.value) for h in engine().scan(text) if h.score >= THRESHOLD}


POSITIVES = [
    # definitions without an operator
    pytest.param(f'#define WIFI_PASSWORD "{PASSWORD}"', "secret.generic_password", PASSWORD,
                 id="c-define-password"),
    pytest.param(f"#define ACME_API_TOKEN {KEY}", "secret.generic_api_key", KEY,
                 id="c-define-token-bare"),
    pytest.param(f"ENV ACME_API_KEY {KEY}", "secret.generic_api_key", KEY,
                 id="dockerfile-env-legacy"),
    pytest.param(f'(setq acme-api-token "{KEY}")', "secret.generic_api_key", KEY,
                 id="elisp-setq"),
    # environment lists
    pytest.param(f"env:\n  - name: DB_PASSWORD\n    value: {PASSWORD}\n",
                 "secret.generic_password", PASSWORD, id="k8s-env-password"),
    pytest.param(f'- name: "ACME_API_TOKEN"\n  value: "{KEY}"', "secret.generic_api_key", KEY,
                 id="k8s-env-token-quoted"),
    # operators and typed constants
    pytest.param(f'acme_api_token <- "{KEY}"', "secret.generic_api_key", KEY, id="r-arrow"),
    pytest.param(f"acme_token ||= '{KEY}'", "secret.generic_api_key", KEY, id="ruby-or-assign"),
    pytest.param(f'apiToken ??= "{KEY}";', "secret.generic_api_key", KEY, id="js-nullish"),
    pytest.param(f'const ACME_API_TOKEN: &str = "{KEY}";', "secret.generic_api_key", KEY,
                 id="rust-const"),
    pytest.param(f'static SECRET: &\'static str = "{PASSWORD}";', "secret.generic_secret",
                 PASSWORD, id="rust-static"),
    # INI-style files write a bare value after a spaced "=" (rclone.conf, .s3cfg, my.cnf)
    pytest.param(f"[remote]\ntype = sftp\npass = {KEY}\n", "secret.generic_password", KEY,
                 id="ini-spaced-bare"),
    pytest.param(f"[default]\nsecret_key = {KEY}", "secret.generic_secret", KEY,
                 id="ini-secret-key"),
    # name/value pairs (ECS task definitions, ARM app settings, XML settings)
    pytest.param(f'{{"name": "DB_PASSWORD", "value": "{PASSWORD}"}}', "secret.generic_password",
                 PASSWORD, id="json-name-value"),
    pytest.param(f'{{\n  "name": "acme_api_token",\n  "value": "{KEY}"\n}}',
                 "secret.generic_api_key", KEY, id="json-name-value-multiline"),
    pytest.param(f'<entry name="AcmeApiToken" value="{KEY}" />', "secret.generic_api_key", KEY,
                 id="xml-name-value"),
    # backtick literals (Go raw strings, JavaScript template literals without ${})
    pytest.param(f"dbPassword := `{PASSWORD}`", "secret.generic_password", PASSWORD,
                 id="go-raw-string"),
    pytest.param(f"const clientSecret = `{PASSWORD}`;", "secret.generic_secret", PASSWORD,
                 id="js-template-literal"),
    # generated passwords with shell-ish symbols that are not expansions
    pytest.param("DB_PASSWORD=Wx7}jrN$9g4K", "secret.generic_password", "Wx7}jrN$9g4K",
                 id="env-brace-and-dollar-digit"),
    pytest.param('db_password = ";O6r7EjUdbx2kIq"', "secret.generic_password",
                 ";O6r7EjUdbx2kIq", id="quoted-leading-semicolon"),
    # a "_password =" inside a longer name is not an .npmrc key
    pytest.param(f'db_password = "{KEY}"', "secret.generic_password", KEY,
                 id="tfvars-not-npmrc"),
    # positions documented by the tools
    pytest.param(f"mysql -u root -p'{PASSWORD}' shop", "secret.cli_password", PASSWORD,
                 id="mysql-glued-quoted"),
    pytest.param(f"mysqldump -h db.internal -uapp -p{KEY} shop > dump.sql",
                 "secret.cli_password", KEY, id="mysqldump-glued"),
    pytest.param(f"psexec \\\\host01 -u ops -p {KEY} cmd.exe", "secret.cli_password", KEY,
                 id="psexec-spaced-p"),
    pytest.param(f"mysql -u root -p shop; docker login -u ops -p {KEY} registry.example.org",
                 "secret.cli_password", KEY, id="spaced-p-after-a-mysql-prompt"),
    pytest.param(f"bind 127.0.0.1\nrequirepass {PASSWORD}\n", "secret.generic_password",
                 PASSWORD, id="redis-requirepass"),
    pytest.param(f"masterauth {PASSWORD}", "secret.generic_password", PASSWORD,
                 id="redis-masterauth"),
    pytest.param(f"acme deploy --api-token {KEY} --region eu", "secret.generic_api_key", KEY,
                 id="token-flag"),
    pytest.param(f"acme login --token={KEY}", "secret.generic_api_key", KEY,
                 id="token-flag-equals"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "data_class", "value"), POSITIVES)
def test_syntaxes_are_found(text: str, data_class: str, value: str) -> None:
    assert (data_class, value) in found(text)


NEAR_MISSES = [
    pytest.param("#define PASSWORD_LEN 16", id="define-length"),
    pytest.param("#define MAX_TOKEN 4096", id="define-number"),
    pytest.param("#define WIFI_PASSWORD WIFI_PASSWORD_DEFAULT", id="define-macro-reference"),
    pytest.param("ENV API_TOKEN_FILE /run/secrets/api_token", id="env-file-path"),
    pytest.param('ENV API_TOKEN ""', id="env-empty"),
    pytest.param("ENV NODE_ENV production", id="env-not-a-credential"),
    pytest.param("(setq auth-source-debug t)", id="setq-flag"),
    pytest.param("- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef:\n      name: db",
                 id="k8s-secret-ref"),
    pytest.param("- name: API_TOKEN\n  value: $(ACME_TOKEN)", id="k8s-env-expansion"),
    pytest.param('- name: API_TOKEN\n  value: ""', id="k8s-empty"),
    pytest.param("tokens <- tokenize(text)", id="r-call"),
    pytest.param("    password = userInputPwd2", id="code-camel-variable"),
    pytest.param("DB_PASSWORD=pre$SUFFIX", id="env-expansion-inside"),
    pytest.param("DB_PASSWORD=x${SUFFIX}y", id="env-brace-expansion-inside"),
    pytest.param("token=tokens[0]", id="index"),
    pytest.param('{"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:eu-west-1:param/db"}',
                 id="json-value-from"),
    pytest.param('<entry name="password" value="" />', id="xml-empty-value"),
    pytest.param('<add key="ApiToken" value="[ApiToken]" />', id="xml-bracket-placeholder"),
    pytest.param("password = `${pw}`", id="template-literal-expansion"),
    pytest.param('labels = {user: "Username:", pass: "Password:",rememberMe:"Remember me:"}',
                 id="between-literals"),
    pytest.param("    secret = base64Encoded", id="code-camel-variable-digits"),
    pytest.param("    token = refreshed", id="code-word-variable"),
    pytest.param("token <- readline()", id="r-readline"),
    pytest.param("mysql -u root -p$MYSQL_PWD shop", id="mysql-variable"),
    pytest.param("mysqldump --port 3306 -h db app", id="mysql-port"),
    pytest.param("mysql -u root -p shop", id="mysql-spaced-p-prompts"),
    pytest.param("mariadb -h db.internal -u app -p inventory", id="mariadb-spaced-p-prompts"),
    pytest.param('requirepass ""', id="redis-empty"),
    pytest.param("acme --token-file ~/.acme/token", id="token-file-flag"),
    pytest.param("acme --token $ACME_TOKEN", id="token-flag-variable"),
    pytest.param("acme --api-key=${ACME_KEY}", id="api-key-flag-template"),
    pytest.param("gh auth login --with-token < token.txt", id="with-token"),
]  # fmt: skip


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_are_not_found(text: str) -> None:
    assert found(text) == set()


def test_redis_conf_example_password_is_a_known_dummy() -> None:
    hits = [h for h in engine().scan("requirepass foobared") if h.score >= THRESHOLD]
    assert [(h.value, h.meta.get("known_dummy")) for h in hits] == [("foobared", "true")]


def test_npmrc_auth_token_keeps_its_class() -> None:
    text = f"//registry.npmjs.org/:_authToken={KEY}"
    assert ("secret.npm_token", KEY) in found(text)
