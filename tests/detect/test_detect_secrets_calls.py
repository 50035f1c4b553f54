"""Passwords handed to commands and library calls as literals (``secrets.calls``):
positives per placement, near misses (variables, templates, the argument's own name,
other flags), and the class each is reported as. Values are made up for these tests.
"""

from __future__ import annotations

from functools import cache

import pytest

from bastion.detect.engine import Engine
from bastion.detect.patterns import Hit
from bastion.detect.secrets import secret_patterns

THRESHOLD = 0.5
PASSWORD = "Vq4-mTz8!pLw"
TOKEN = "q8ZrT2vLx9KmB4nW7cYd1FsH6jPa3Ge5"


@cache
def engine() -> Engine:
    return Engine(secret_patterns())


def reported(text: str) -> list[Hit]:
    hits = engine().scan(text)
    return [h for h in hits if h.data_class.startswith("secret.") and h.score >= THRESHOLD]


@pytest.mark.parametrize(
    ("text", "data_class", "value"),
    [
        pytest.param(f"sshpass -p '{PASSWORD}' ssh deploy@build-3", "secret.cli_password",
                     PASSWORD, id="sshpass"),
        pytest.param(f"redis-cli -h cache.internal -p 6380 -a {PASSWORD} ping",
                     "secret.cli_password", PASSWORD, id="redis-cli"),
        pytest.param(f'ldapsearch -x -D "cn=reader,dc=corp,dc=test" -w {PASSWORD} -b dc=corp',
                     "secret.cli_password", PASSWORD, id="ldapsearch-simple-bind"),
        pytest.param(f'$pw = ConvertTo-SecureString "{PASSWORD}" -AsPlainText -Force',
                     "secret.generic_password", PASSWORD, id="powershell-secure-string"),
        pytest.param(f"ConvertTo-SecureString -String '{PASSWORD}' -AsPlainText -Force",
                     "secret.generic_password", PASSWORD, id="powershell-named-string"),
        pytest.param(f'dataSource.setPassword("{PASSWORD}");', "secret.generic_password",
                     PASSWORD, id="java-setter"),
        pytest.param(f'cfg.setKeystorePassphrase("{PASSWORD}")', "secret.generic_password",
                     PASSWORD, id="setter-prefixed-name"),
        pytest.param(f"account.set_password('{PASSWORD}')", "secret.generic_password",
                     PASSWORD, id="snake-setter"),
        pytest.param(f'client.setApiKey("{TOKEN}");', "secret.generic_api_key", TOKEN,
                     id="api-key-setter"),
        pytest.param(f'server.login("ops@mail.test", "{PASSWORD}")', "secret.generic_password",
                     PASSWORD, id="smtp-login"),
        pytest.param(f"requests.get(url, auth=('svc', '{PASSWORD}'))",
                     "secret.generic_password", PASSWORD, id="requests-auth-tuple"),
        pytest.param(f'HTTPBasicAuth("svc", "{PASSWORD}")', "secret.generic_password",
                     PASSWORD, id="http-basic-auth"),
    ],
)  # fmt: skip
def test_a_literal_in_a_credential_position_is_reported(
    text: str, data_class: str, value: str
) -> None:
    hits = [h for h in reported(text) if h.value == value]
    assert hits, text
    assert {h.data_class for h in hits} == {data_class}


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('sshpass -p "$SSHPASS" ssh deploy@build-3', id="sshpass-variable"),
        pytest.param("sshpass -f ~/.pw ssh deploy@build-3", id="sshpass-file"),
        pytest.param("redis-cli -a ${REDIS_PASSWORD} ping", id="redis-template"),
        pytest.param("redis-cli --no-auth-warning info | grep -a used", id="grep-a-elsewhere"),
        pytest.param("ldapsearch -x -W -b dc=corp", id="ldap-prompted-password"),
        pytest.param("ConvertTo-SecureString $plain -AsPlainText -Force", id="ps-variable"),
        pytest.param("dataSource.setPassword(password);", id="setter-variable"),
        pytest.param('dataSource.setPassword("");', id="setter-empty"),
        pytest.param('form.setPasswordLabel("Password:")', id="setter-of-a-label"),
        pytest.param('client.setApiKey("YOUR_API_KEY")', id="setter-placeholder"),
        pytest.param('s.login("you@example.com", "password")', id="login-argument-name"),
        pytest.param('s.login("you@example.com", "pwd")', id="login-short-name"),
        pytest.param("requests.get(url, auth=(user, password))", id="auth-variables"),
        pytest.param('auth=("svc", os.environ["SVC_PASSWORD"])', id="auth-from-env"),
    ],
)
def test_variables_templates_and_argument_names_are_not(text: str) -> None:
    assert reported(text) == []
