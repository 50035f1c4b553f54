"""``bastion config``: print the JSON Schema, validate a config file, show the effective config."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click
import yaml

from bastion.config import BastionConfig, config_json_schema, config_path_from, load_config
from bastion.errors import ConfigError

_config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Config file (default: $BASTION_CONFIG, else built-in defaults).",
)
_MASK = "**********"  # what a SecretStr dumps as
_URL_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/?#@]*):.*@(?=[^@]*$)")
"""``scheme://user:`` followed by the password, up to the last ``@``."""


@click.group("config")
def config() -> None:
    """Inspect and check the configuration file."""


@config.command("schema")
@_config_option
def schema(config_file: Path | None) -> None:
    """Print the config file's JSON Schema (the same for every file; --config is ignored)."""
    click.echo(json.dumps(config_json_schema(), indent=2))


@config.command("validate")
@_config_option
def validate(config_file: Path | None) -> None:
    """Check the config (file, BASTION_* environment, defaults); exit 1 when invalid."""
    # Only validate compiles the policy: `config show` and `schema` load no detectors.
    from bastion.limits.build import check_budget_prices
    from bastion.pipeline.guardrails import load_configured_policy

    loaded = _load_or_exit(config_file)
    source = config_path_from(config_file)
    where = str(source) if source is not None else "built-in defaults (no config file)"
    policy = ""
    try:
        check_budget_prices(loaded)  # what serve would refuse at start-up
        if loaded.policy.file is not None:
            policy = f", policy {load_configured_policy(loaded, loaded.policy.file).version}"
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from exc
    click.echo(
        f"ok: {where}: {_count(len(loaded.providers), 'provider')}, "
        f"{_count(len(loaded.models), 'model')}{policy}"
    )


@config.command("show")
@_config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
def show(config_file: Path | None, as_json: bool) -> None:
    """Print the effective configuration after all layers, with secrets masked."""
    loaded = _load_or_exit(config_file)
    # SecretStr dumps as "**********"; URLs (storage.url, redis.url) keep their user
    # and host but not their password
    effective = _without_url_passwords(loaded.model_dump(mode="json"))
    if as_json:
        click.echo(json.dumps(effective, indent=2))
    else:
        click.echo(yaml.safe_dump(effective, sort_keys=False, allow_unicode=True), nl=False)


def _load_or_exit(config_file: Path | None) -> BastionConfig:
    try:
        return load_config(config_file)
    except ConfigError as exc:
        click.echo(f"error: invalid configuration\n{exc}", err=True)
        raise SystemExit(1) from exc


def _without_url_passwords(value: Any) -> Any:
    """``value`` with the password of every ``scheme://user:password@host`` string masked."""
    if isinstance(value, dict):
        return {key: _without_url_passwords(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_url_passwords(item) for item in value]
    if isinstance(value, str):
        return _URL_PASSWORD.sub(lambda match: f"{match.group(1)}:{_MASK}@", value)
    return value


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
