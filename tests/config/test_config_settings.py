"""Process settings (bastion.settings): BASTION_CONFIG, BASTION_LOG_LEVEL, BASTION_ADMIN_TOKEN."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bastion.settings import load_settings


def test_defaults_with_an_empty_environment() -> None:
    settings = load_settings({})
    assert (settings.config, settings.log_level, settings.admin_token) == (None, "info", None)


def test_reads_prefixed_variables() -> None:
    settings = load_settings(
        {
            "BASTION_CONFIG": "/etc/bastion.yaml",
            "BASTION_LOG_LEVEL": "DEBUG",
            "BASTION_ADMIN_TOKEN": "adm-canary-77",
            "BASTION_SERVER__PORT": "1",  # a config-file key, not a setting
        }
    )
    assert settings.config == Path("/etc/bastion.yaml")
    assert settings.log_level == "debug"
    assert settings.admin_token is not None
    assert settings.admin_token.get_secret_value() == "adm-canary-77"
    assert "adm-canary-77" not in repr(settings)


def test_flags_win_over_the_environment() -> None:
    settings = load_settings({"BASTION_LOG_LEVEL": "error"}, log_level="warning", config=None)
    assert settings.log_level == "warning"


def test_explicit_environ_ignores_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BASTION_LOG_LEVEL", "error")
    assert load_settings({}).log_level == "info"
    assert load_settings().log_level == "error"


def test_invalid_log_level_is_rejected() -> None:
    with pytest.raises(ValidationError, match="log_level"):
        load_settings({"BASTION_LOG_LEVEL": "loud"})
