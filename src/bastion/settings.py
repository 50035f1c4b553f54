"""Process settings: the few knobs that are not part of the config file.

They come from ``BASTION_*`` environment variables (and CLI flags, passed as keyword
arguments). Everything about providers, models, limits and audit lives in the config
file (``bastion.config``), which ``BASTION_CONFIG`` points to.

Precedence, declared once in ``Settings.settings_customise_sources``: explicit
arguments (CLI flags) > ``BASTION_*`` environment > defaults. No ``.env`` file and no
secrets directory are read: a setting never appears from a place the operator did
not choose.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "BASTION_"
CONFIG_ENV_VAR = f"{ENV_PREFIX}CONFIG"

LogLevel = Literal["debug", "info", "warning", "error", "critical"]


class Settings(BaseSettings):
    """Settings of one Bastion process (not of the gateway's behaviour)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        extra="forbid",  # a mistyped flag name fails; unknown BASTION_* vars are not read
        frozen=True,
    )

    config: Path | None = Field(
        None, description="Config file (BASTION_CONFIG); built-in defaults when unset."
    )
    log_level: LogLevel = Field("info", description="Log level (BASTION_LOG_LEVEL).")
    admin_token: SecretStr | None = Field(
        None, description="Admin token for CLI commands that change state (BASTION_ADMIN_TOKEN)."
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_case_level(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The one place that says which source wins: flags, then environment."""
        return (init_settings, env_settings)


def load_settings(environ: Mapping[str, str] | None = None, **flags: Any) -> Settings:
    """Read process settings from ``environ`` (default: the process environment).

    ``flags`` are values given on the command line; ``None`` means "flag not given".
    With an explicit ``environ`` the process environment is not consulted at all, so
    tests and embedding code see exactly what they pass.
    """
    given = {name: value for name, value in flags.items() if value is not None}
    if environ is None:
        return Settings(**given)
    upper = {name.upper(): value for name, value in environ.items()}
    from_environ: dict[str, Any] = {}
    for name, field in Settings.model_fields.items():
        value = upper.get(f"{ENV_PREFIX}{name.upper()}")
        from_environ[name] = value if value is not None else field.default
    # Every field is passed explicitly, so the process environment never fills a gap.
    return Settings(**{**from_environ, **given})
