"""${VAR} interpolation: values, defaults, escapes and errors that name key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.config import load_config
from bastion.config.interpolate import InterpolationError, interpolate_string
from bastion.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "environ", "expected"),
    [
        pytest.param("${HOST}", {"HOST": "h"}, "h", id="set"),
        pytest.param(
            "http://${HOST}:${PORT}/v1", {"HOST": "h", "PORT": "1"}, "http://h:1/v1", id="several"
        ),
        pytest.param("${HOST:-d}", {}, "d", id="default-when-unset"),
        pytest.param("${HOST:-d}", {"HOST": ""}, "d", id="default-when-empty"),
        pytest.param("${HOST:-d}", {"HOST": "h"}, "h", id="set-wins-over-default"),
        pytest.param("${HOST:-}", {}, "", id="empty-default"),
        pytest.param("${U:-http://x:9/v1}", {}, "http://x:9/v1", id="default-with-colons"),
        pytest.param("${HOST}", {"HOST": ""}, "", id="set-but-empty"),
        pytest.param("$${HOST}", {"HOST": "h"}, "${HOST}", id="escape"),
        pytest.param("a$b $5", {}, "a$b $5", id="lone-dollar-kept"),
        pytest.param("${A}", {"A": "${B}"}, "${B}", id="values-not-expanded-twice"),
    ],
)
def test_interpolate_string(text: str, environ: dict[str, str], expected: str) -> None:
    assert interpolate_string(text, environ) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("${MISSING}", "environment variable MISSING is not set"),
        ("${1BAD}", "invalid reference"),
        ("${A B}", "invalid reference"),
        ("x ${OPEN", "unclosed ${"),
        # read as the default "${B:-x" plus "}": a literal "${B:-x}" in the value
        ("${A:-${B:-x}}", "a default cannot hold another ${...} reference"),
        ("${A:-${B}}", "a default cannot hold another ${...} reference"),
    ],
)
def test_interpolate_string_errors(text: str, reason: str) -> None:
    with pytest.raises(InterpolationError, match=reason.replace("$", r"\$").replace("{", r"\{")):
        interpolate_string(text, {})


def test_unset_variable_names_file_key_and_line(tmp_path: Path) -> None:
    config = tmp_path / "bastion.yaml"
    config.write_text(
        "server:\n  port: 8080\nproviders:\n  openai:\n    kind: openai\n"
        "    base_url: http://x/v1\n    api_key: ${OPENAI_API_KEY}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config, environ={})
    message = str(caught.value)
    assert message.startswith(f"{config}:7: providers.openai.api_key: ")
    assert "OPENAI_API_KEY is not set" in message


def test_every_unset_variable_is_reported_at_once(tmp_path: Path) -> None:
    config = tmp_path / "bastion.yaml"
    config.write_text("server:\n  host: ${A}\nredis:\n  url: ${B}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(config, environ={})
    lines = str(caught.value).splitlines()
    assert [line.split(": ")[0:2] for line in lines] == [
        [f"{config}:2", "server.host"],
        [f"{config}:4", "redis.url"],
    ]


def test_interpolated_value_is_validated_like_a_written_one(tmp_path: Path) -> None:
    config = tmp_path / "bastion.yaml"
    config.write_text('server:\n  port: "${PORT:-8080}"\n  host: ${HOST:-0.0.0.0}\n')
    assert load_config(config, environ={}).server.port == 8080
    loaded = load_config(config, environ={"PORT": "9191", "HOST": "10.0.0.1"})
    assert (loaded.server.port, loaded.server.host) == (9191, "10.0.0.1")


def test_escape_survives_loading(tmp_path: Path) -> None:
    config = tmp_path / "bastion.yaml"
    config.write_text("redis:\n  url: redis://h/$${DB}\n")
    assert load_config(config, environ={"DB": "1"}).redis.url == "redis://h/${DB}"


def test_keys_and_non_strings_are_not_interpolated(tmp_path: Path) -> None:
    config = tmp_path / "bastion.yaml"
    config.write_text("providers:\n  ${NAME}:\n    kind: openai\n    base_url: http://x/v1\n")
    loaded = load_config(config, environ={"NAME": "other"})
    assert list(loaded.providers) == ["${NAME}"]


def test_error_does_not_reveal_other_variables_values(tmp_path: Path) -> None:
    config = tmp_path / "bastion.yaml"
    config.write_text("redis:\n  url: redis://:${PASSWORD}@h/${MISSING}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(config, environ={"PASSWORD": "canary-5f1e"})
    assert "canary-5f1e" not in str(caught.value)
