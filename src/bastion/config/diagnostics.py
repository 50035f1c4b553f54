"""Turn pydantic's ``ValidationError`` into messages an operator can act on.

Each problem becomes one line ``where: key.path: reason``, for example::

    examples/x.yaml:12: server.prot: unknown key (did you mean 'port'?)
    environment BASTION_SERVER__PORT: server.port: Input should be a valid integer

``where`` is the file and line of the offending key (the parent mapping's line for a
missing key), or the environment variable / flag that set it. Input values are never
repeated: they may be secrets.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Mapping
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from bastion.config.layers import Origin, origin_of
from bastion.config.yaml_lines import KeyPath, dotted
from bastion.errors import ConfigError


def config_error_from_validation(
    exc: ValidationError,
    model: type[BaseModel],
    origins: Mapping[KeyPath, Origin],
    fallback_where: str,
) -> ConfigError:
    """One ``ConfigError`` listing every problem in ``exc``, one line each."""
    by_dotted = {dotted(path): path for path in origins if path}
    lines: list[tuple[int, str]] = []
    for error in exc.errors(include_input=False, include_url=False):
        path: KeyPath = tuple(part for part in error["loc"] if isinstance(part, str | int))
        reason = _reason(error, model, path)
        if not path:
            # Model-level checks name the key in their message ("models.x: ...").
            path, reason = _split_named_path(reason, by_dotted)
        origin = origin_of(origins, path)
        where = origin.describe() if origin is not None else fallback_where
        if origin is not None and origin.layer == "file" and not path:
            where = origin.label  # "line 1" would point at nothing in particular
        line = f"{where}: {dotted(path)}: {reason}" if path else f"{where}: {reason}"
        lines.append((_sort_key(origin), line))
    # Stable sort: file problems top to bottom, then environment, then flags.
    return ConfigError("\n".join(text for _, text in sorted(lines, key=lambda item: item[0])))


def _sort_key(origin: Origin | None) -> int:
    if origin is None:
        return 0
    if origin.layer == "file":
        return origin.line or 0
    return 1_000_000_000 if origin.layer == "environment" else 2_000_000_000


def _reason(error: Mapping[str, Any], model: type[BaseModel], path: KeyPath) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = fields_at(model, path[:-1])
        return "unknown key" + _suggestion(str(path[-1]), allowed)
    if kind == "missing":
        return "missing required key"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "expected a mapping of keys (write {} or leave the section out for defaults)"
    message = str(error["msg"])
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
    return message


def _suggestion(key: str, allowed: list[str]) -> str:
    if not allowed:
        return ""
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (expected one of: {', '.join(allowed)})"


def _split_named_path(reason: str, by_dotted: Mapping[str, KeyPath]) -> tuple[KeyPath, str]:
    best: KeyPath = ()
    for text, path in by_dotted.items():
        if reason.startswith(f"{text}: ") and len(text) > len(dotted(best) if best else ""):
            best = path
    if not best:
        return (), reason
    return best, reason[len(dotted(best)) + 2 :]


def fields_at(model: type[BaseModel], path: KeyPath) -> list[str]:
    """The keys accepted at ``path`` of ``model`` (empty when it is not a section)."""
    annotation: Any = model
    for part in path:
        annotation = _strip_optional(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return []
            annotation = field.annotation
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        elif get_origin(annotation) is list:
            annotation = get_args(annotation)[0]
        else:
            return []
    annotation = _strip_optional(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _strip_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation
