"""Login names in env variables that front-end build tools inline into the public bundle
(``secret.frontend_env_username``): positives per tool prefix, near misses (references,
placeholders, field names, server-side names), and the reported value.

All names and values below are made up for these tests.
"""

from __future__ import annotations

from functools import cache

import pytest

from bastion.detect.engine import Engine
from bastion.detect.patterns import Hit
from bastion.detect.secrets import secret_patterns

CLASS = "secret.frontend_env_username"
THRESHOLD = 0.5


@cache
def engine() -> Engine:
    return Engine(secret_patterns())


def reported(text: str) -> list[Hit]:
    return [h for h in engine().scan(text) if h.data_class == CLASS and h.score >= THRESHOLD]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param("REACT_APP_API_USER=ops_deployer\n", "ops_deployer", id="create-react-app"),
        pytest.param('VITE_ADMIN_USERNAME="marguerite"', "marguerite", id="vite-quoted"),
        pytest.param("NEXT_PUBLIC_DB_LOGIN='svc-reporting'\n", "svc-reporting", id="next-public"),
        pytest.param("VUE_APP_USERNAME=kestrel42", "kestrel42", id="vue-cli"),
        pytest.param("export GATSBY_CMS_USER=harbourmaster\n", "harbourmaster", id="export"),
        pytest.param("EXPO_PUBLIC_SMTP_USER_NAME=relay7 # mail relay\n", "relay7", id="comment"),
        pytest.param("# NUXT_PUBLIC_BASIC_AUTH_USER=wren\n", "wren", id="commented-out-line"),
        pytest.param(
            "PORT=3000\nREACT_APP_MQTT_LOGIN=telemetry\nREACT_APP_TITLE=Dashboard\n",
            "telemetry",
            id="inside-env-file",
        ),
    ],
)
def test_a_login_name_in_a_bundled_variable_is_reported(text: str, value: str) -> None:
    hits = reported(text)
    assert [h.value for h in hits] == [value]
    assert hits[0].meta["provider"] == "frontend"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("REACT_APP_API_USER=$API_USER\n", id="shell-reference"),
        pytest.param("VITE_ADMIN_USERNAME=${ADMIN_USERNAME}\n", id="brace-reference"),
        pytest.param("REACT_APP_API_USER=<your-username>\n", id="angle-placeholder"),
        pytest.param("REACT_APP_API_USER=your_username\n", id="your-placeholder"),
        pytest.param("NEXT_PUBLIC_SMTP_USERNAME=smtp_username\n", id="names-the-field"),
        pytest.param("NEXT_PUBLIC_SMTP_USERNAME=smtpUser\n", id="camel-field-name"),
        pytest.param("VITE_USERNAME=username\n", id="the-word-itself"),
        pytest.param("REACT_APP_SHOW_USER=true\n", id="boolean"),
        pytest.param("VITE_MAX_USER=25\n", id="number"),
        pytest.param("REACT_APP_USER_ROLE=admin\n", id="not-an-account-word-last"),
        pytest.param("API_USER=ops_deployer\n", id="server-side-variable"),
        pytest.param("const user = process.env.REACT_APP_API_USER;\n", id="read-in-code"),
        pytest.param("Set REACT_APP_API_USER in your .env file.", id="prose-mention"),
    ],
)
def test_references_placeholders_and_other_names_are_not(text: str) -> None:
    assert reported(text) == []
