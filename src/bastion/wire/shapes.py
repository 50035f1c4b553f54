"""Shapes of the structured non-text parameters, checked before anything is forwarded.

OpenAI refuses a ``tool_choice`` of ``5`` or a ``response_format`` of type ``xml`` with a
400 that names the field; forwarded, that message would be replaced by Bastion's generic
upstream error (only allow-listed upstream messages pass). Checked here, the caller gets
the field's name, and nothing leaves. Only the outer shape is checked: new tool types and
new stream options keep working.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from bastion.errors import InvalidRequest

TOOL_CHOICE_WORDS = ("none", "auto", "required")
RESPONSE_FORMATS = ("text", "json_object", "json_schema")
ENCODING_FORMATS = ("float", "base64")


def _tool_choice(value: Any) -> str | None:
    if isinstance(value, str):
        return None if value in TOOL_CHOICE_WORDS else "one of none, auto, required"
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        return None
    return 'none, auto, required or an object with a type ({"type": "function", ...})'


def _response_format(value: Any) -> str | None:
    if isinstance(value, dict) and value.get("type") in RESPONSE_FORMATS:
        return None
    return "an object whose type is text, json_object or json_schema"


def _stream_options(value: Any) -> str | None:
    if isinstance(value, dict) and all(isinstance(v, bool) for v in value.values()):
        return None
    return "an object of booleans (include_usage, include_obfuscation)"


def _logit_bias(value: Any) -> str | None:
    if isinstance(value, dict) and all(
        key.isascii() and key.isdigit() and _bias(bias) for key, bias in value.items()
    ):
        return None
    return "an object mapping token ids (digits) to numbers from -100 to 100"


def _bias(value: Any) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and -100 <= value <= 100
    )


def _encoding_format(value: Any) -> str | None:
    return None if value in ENCODING_FORMATS else "float or base64"


SHAPES: dict[str, Callable[[Any], str | None]] = {
    "tool_choice": _tool_choice,
    "response_format": _response_format,
    "stream_options": _stream_options,
    "logit_bias": _logit_bias,
    "encoding_format": _encoding_format,
}


def check_shape(name: str, value: Any) -> None:
    """400 ``invalid_value`` naming ``name`` when ``value`` has not the shape OpenAI takes."""
    check = SHAPES.get(name)
    if check is None:
        return
    expected = check(value)
    if expected is not None:
        raise InvalidRequest(f"{name} must be {expected}.", param=name)
