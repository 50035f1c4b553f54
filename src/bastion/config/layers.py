"""Where each config value comes from, and which source wins (CONTRACT.md §2).

Precedence, declared once in ``LAYER_ORDER`` (lowest first): built-in defaults <
the config file < ``BASTION_*`` environment variables < CLI flags. Defaults are the
pydantic models' own; the other three are raw nested mappings merged here, key by
key, so ``BASTION_SERVER__PORT`` replaces only ``server.port`` and keeps the rest of
``server:`` from the file.

Every value remembers its ``Origin`` so an error can point at the right place: a
file line, an environment variable, or a command-line flag. Relative paths are
resolved against the config file's directory only for values written in the file;
values from the environment or flags are relative to the current directory.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bastion.config.yaml_lines import KeyPath
from bastion.errors import ConfigError
from bastion.settings import ENV_PREFIX

ENV_NESTED_DELIMITER = "__"
LAYER_ORDER: tuple[str, ...] = ("default", "file", "environment", "flag")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where one configured value was written."""

    layer: Literal["file", "environment", "flag"]
    label: str  # the file path, the variable name, or the dotted flag key
    line: int | None = None
    base_dir: Path | None = None  # what relative paths in this value are relative to

    def describe(self) -> str:
        """``file:line``, ``environment BASTION_X__Y`` or ``command-line flag``."""
        if self.layer == "file":
            return f"{self.label}:{self.line}" if self.line is not None else self.label
        if self.layer == "environment":
            return f"environment {self.label}"
        return "command-line flag"


@dataclass(frozen=True, slots=True)
class Layer:
    """One source's raw values and the origin of each key path it sets."""

    data: dict[str, Any]
    origins: dict[KeyPath, Origin]


def file_layer(
    data: dict[str, Any], lines: Mapping[KeyPath, int], source: str, base: Path
) -> Layer:
    """The config file as a layer; ``base`` is its directory."""
    origins = {path: Origin("file", source, line, base_dir=base) for path, line in lines.items()}
    return Layer(data=data, origins=origins)


def environment_layer(environ: Mapping[str, str]) -> Layer:
    """``BASTION_SECTION__KEY=value`` variables as a layer.

    Only names with a ``__`` are config values; ``BASTION_CONFIG``, ``BASTION_LOG_LEVEL``
    and ``BASTION_ADMIN_TOKEN`` are process settings (``bastion.settings``). Names are
    lower-cased. A value that starts with ``[`` or ``{`` is read as JSON so lists and
    mappings can be given; anything else stays a string for validation to convert.
    """
    data: dict[str, Any] = {}
    origins: dict[KeyPath, Origin] = {}
    for name in sorted(environ):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :]
        if ENV_NESTED_DELIMITER not in rest:
            continue
        parts = tuple(rest.lower().split(ENV_NESTED_DELIMITER))
        if not all(parts):
            raise ConfigError(
                f"environment {name}: empty key segment; write BASTION_SECTION__KEY, "
                f"e.g. BASTION_SERVER__PORT"
            )
        origin = Origin("environment", name, base_dir=Path.cwd())
        _set_path(data, origins, parts, _environment_value(name, environ[name]), origin)
    return Layer(data=data, origins=origins)


def flag_layer(overrides: Mapping[str, Any]) -> Layer:
    """CLI flags given as dotted keys, e.g. ``{"server.port": 9090}``, as a layer.

    A ``None`` value means "flag not given" and sets nothing.
    """
    data: dict[str, Any] = {}
    origins: dict[KeyPath, Origin] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        parts = tuple(key.split("."))
        if not all(parts):
            raise ConfigError(f"flag {key}: not a dotted config key such as server.port")
        _set_path(data, origins, parts, value, Origin("flag", key, base_dir=Path.cwd()))
    return Layer(data=data, origins=origins)


def merge_layers(layers: list[Layer]) -> Layer:
    """Merge layers given lowest precedence first; later layers win key by key."""
    data: dict[str, Any] = {}
    origins: dict[KeyPath, Origin] = {}
    for layer in layers:
        _merge_into(data, origins, layer, ())
    return Layer(data=data, origins=origins)


def origin_of(origins: Mapping[KeyPath, Origin], path: KeyPath) -> Origin | None:
    """The origin of ``path`` or of its nearest configured ancestor."""
    for end in range(len(path), -1, -1):
        origin = origins.get(path[:end])
        if origin is not None:
            return origin
    return None


def _merge_into(
    data: dict[str, Any], origins: dict[KeyPath, Origin], layer: Layer, path: KeyPath
) -> None:
    source = _get_path(layer.data, path)
    assert isinstance(source, dict)
    target = _get_path(data, path)
    assert isinstance(target, dict)
    for key, value in source.items():
        child = (*path, key)
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            if child in layer.origins:
                origins.setdefault(child, layer.origins[child])
            _merge_into(data, origins, layer, child)
            continue
        _drop_subtree(origins, child)
        target[key] = copy.deepcopy(value)
        for sub, origin in layer.origins.items():
            if sub[: len(child)] == child:
                origins[sub] = origin


def _set_path(
    data: dict[str, Any],
    origins: dict[KeyPath, Origin],
    parts: tuple[str, ...],
    value: Any,
    origin: Origin,
) -> None:
    node = data
    for depth, part in enumerate(parts[:-1]):
        existing = node.get(part)
        if not isinstance(existing, dict):
            existing = node[part] = {}
            origins.setdefault(parts[: depth + 1], origin)
        node = existing
    node[parts[-1]] = value
    origins[parts] = origin


def _get_path(data: dict[str, Any], path: KeyPath) -> Any:
    node: Any = data
    for part in path:
        node = node[part]
    return node


def _drop_subtree(origins: dict[KeyPath, Origin], path: KeyPath) -> None:
    for stale in [p for p in origins if p[: len(path)] == path]:
        del origins[stale]


def _environment_value(name: str, raw: str) -> Any:
    if not raw.lstrip().startswith(("[", "{")):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"environment {name}: looks like JSON but is not valid JSON "
            f"(line {exc.lineno}, column {exc.colno})"
        ) from exc
