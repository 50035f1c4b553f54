"""Load the configuration: file, interpolation, layering, validation, paths.

``load_config`` is the one entry point; every step is a function of its own module:

1. find the file: the explicit path, else ``BASTION_CONFIG``, else no file (defaults);
2. read it as YAML keeping key lines, rejecting duplicate keys (``yaml_lines``);
3. expand ``${VAR}`` / ``${VAR:-default}`` in its string values (``interpolate``);
4. layer it: flags > ``BASTION_*`` environment > file > defaults (``layers``);
5. validate with ``BastionConfig`` and explain failures by file and line (``diagnostics``);
6. make relative paths absolute and read provider key files (``paths``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bastion.config.diagnostics import config_error_from_validation
from bastion.config.interpolate import interpolate_tree
from bastion.config.layers import (
    LAYER_ORDER,
    Layer,
    environment_layer,
    file_layer,
    flag_layer,
    merge_layers,
)
from bastion.config.paths import resolve_paths
from bastion.config.schema import BastionConfig
from bastion.config.yaml_lines import load_lined_yaml
from bastion.errors import ConfigError
from bastion.settings import CONFIG_ENV_VAR

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def config_path_from(
    path: str | Path | None, environ: Mapping[str, str] | None = None
) -> Path | None:
    """The config file to load: ``path``, else ``$BASTION_CONFIG``, else ``None``."""
    if path is not None and str(path) != "":
        return Path(path)
    env = os.environ if environ is None else environ
    from_env = env.get(CONFIG_ENV_VAR)
    return Path(from_env) if from_env else None


def load_config(
    path: str | Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> BastionConfig:
    """Load and validate the configuration; raise ``ConfigError`` naming file, key, line.

    ``overrides`` are CLI flags as dotted keys (``{"server.port": 9090}``); ``environ``
    (default: the process environment) supplies ``BASTION_CONFIG``, ``BASTION_*``
    overrides and the variables for ``${VAR}`` interpolation.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    config_path = config_path_from(path, env)
    layers: dict[str, Layer] = {}
    if config_path is None:
        default_base = Path.cwd()
        fallback_where = "configuration (no config file)"
    else:
        source = str(config_path)
        default_base = config_path.absolute().parent
        fallback_where = source
        document = load_lined_yaml(_read_config_file(config_path), source)
        data = interpolate_tree(document.data, document.lines, env, source)
        layers["file"] = file_layer(data, document.lines, source, default_base)
    layers["environment"] = environment_layer(env)
    layers["flag"] = flag_layer(overrides or {})
    merged = merge_layers([layers[name] for name in LAYER_ORDER if name in layers])
    try:
        config = BastionConfig.model_validate(merged.data)
    except ValidationError as exc:
        raise config_error_from_validation(
            exc, BastionConfig, merged.origins, fallback_where
        ) from exc
    return resolve_paths(config, merged.origins, default_base)


def reload_config(
    current: BastionConfig,
    path: str | Path | None,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[BastionConfig, ConfigError | None]:
    """Load the config again; on error keep ``current`` and return the error to record."""
    try:
        return load_config(path, overrides=overrides, environ=environ), None
    except ConfigError as exc:
        return current, exc


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema of the config file, with a description on every section."""
    schema = BastionConfig.model_json_schema(mode="validation")
    return {**schema, "$schema": JSON_SCHEMA_DIALECT, "title": "Bastion configuration"}


def _read_config_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
