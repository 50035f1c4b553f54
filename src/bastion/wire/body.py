"""Decoding a request body: strict JSON, so nothing ambiguous reaches the upstream."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

from bastion.errors import InvalidRequest

_MAX_INT_DIGITS = 19  # beyond int64 an integer is almost surely an attack or a mistake
_MAX_DEPTH = 64
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class _Rejected(ValueError):
    """Raised from the decoder hooks with a caller-facing reason."""


def _pairs_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Rejected(f"duplicate key {key[:64]!r} in a JSON object")
            seen.add(key)
    return obj


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise _Rejected("an integer in the body is too large")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise _Rejected("a number in the body is too large")
    return value


def _no_constants(name: str) -> Any:
    raise _Rejected(f"{name} is not valid JSON")


def _depth_ok(value: Any, depth: int = 0) -> bool:
    if depth > _MAX_DEPTH:
        return False
    if isinstance(value, dict):
        return all(_depth_ok(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return all(_depth_ok(v, depth + 1) for v in value)
    return True


def decode_json_object(raw: bytes) -> dict[str, Any]:
    """Parse a request body as one JSON object, refusing what a strict reader would.

    Rejects invalid UTF-8, lone surrogates, duplicate keys, NaN/Infinity, integers
    beyond 64 bits and nesting deeper than 64 levels, each as 400 ``invalid_json``.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("The body is not valid UTF-8.", code="invalid_json") from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_pairs_without_duplicates,
            parse_int=_bounded_int,
            parse_float=_finite_float,
            parse_constant=_no_constants,
        )
    except _Rejected as exc:
        raise InvalidRequest(
            f"The body is not acceptable JSON: {exc}.", code="invalid_json"
        ) from None
    except RecursionError:
        raise InvalidRequest("The body's JSON is nested too deeply.", code="invalid_json") from None
    except ValueError as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "malformed"
        raise InvalidRequest(
            f"We could not parse the JSON body of your request ({reason}).", code="invalid_json"
        ) from None
    if _SURROGATE_ESCAPE.search(text) is not None:
        _refuse_lone_surrogates(raw)
    if not isinstance(value, dict):
        raise InvalidRequest("The body must be a JSON object.", code="invalid_json")
    if not _depth_ok(value):
        raise InvalidRequest("The body's JSON is nested too deeply.", code="invalid_json")
    return value


def _refuse_lone_surrogates(raw: bytes) -> None:
    """Surrogate escapes must pair up; orjson checks that strictly (and only then runs)."""
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest(
            "The body contains an unpaired surrogate escape (not valid Unicode).",
            code="invalid_json",
        ) from None


def encode_json(value: Any) -> bytes:
    """Encode a body Bastion built; lone surrogates become a 400, not a crash."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        raise InvalidRequest(
            "The body contains text that is not valid Unicode (a lone surrogate).",
            code="invalid_json",
        ) from None
