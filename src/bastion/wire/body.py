"""Decoding a request body: strict JSON, so nothing ambiguous reaches the upstream.

orjson does the parsing (RFC 8259: it refuses invalid UTF-8, lone surrogates, NaN and
Infinity). Two things it lets through are checked after it, in one pass over the
parsed value: nesting deeper than 64 levels and numbers beyond ±2**63 (orjson turns a
huge integer into a float). Duplicate keys, which orjson resolves silently, are found
by comparing the keys it kept with the keys written in the text; only a body that
has some is parsed a second time, to name the key.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from bastion.errors import InvalidRequest

_MAX_DEPTH = 64
_MAX_NUMBER = 2.0**63  # no OpenAI parameter needs more; beyond it precision is lost
# tuples, not ``dict | list``: a union is built anew each time the expression runs
_CONTAINERS = (dict, list)
_NUMBERS = (int, float)

# Every JSON string, and whether a colon follows it (then it is an object key). A match
# always starts at a real string's opening quote: between strings there are none.
_STRING_OR_KEY = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"\s*(:)?', re.DOTALL)
_SPACED_KEY = re.compile(rb'"[ \t\r\n]+:')


def _invalid(reason: str) -> InvalidRequest:
    return InvalidRequest(f"The body is not acceptable JSON: {reason}.", code="invalid_json")


def _kept_keys(value: dict[str, Any]) -> int:
    """Keys of every object in ``value``; raises for deep nesting and huge numbers."""
    keys = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > _MAX_DEPTH:
            raise _invalid(f"it is nested deeper than {_MAX_DEPTH} levels")
        if isinstance(node, dict):
            keys += len(node)
            children = node.values()
        else:
            children = node
        for child in children:
            if isinstance(child, _CONTAINERS):
                stack.append((child, depth + 1))
            elif isinstance(child, _NUMBERS) and not -_MAX_NUMBER < child < _MAX_NUMBER:
                raise _invalid("a number in it is too large")
    return keys


def _duplicate_key(raw: bytes) -> str:
    """The first duplicated key (slow path, only for bodies known to have one)."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                raise KeyError(key)
            seen.add(key)
        return dict(items)

    try:
        json.loads(raw, object_pairs_hook=pairs)
    except KeyError as exc:
        return str(exc.args[0])
    return ""


def decode_json_object(raw: bytes) -> dict[str, Any]:
    """Parse a request body as one JSON object, refusing what a strict reader would.

    Rejects invalid UTF-8, lone surrogates, duplicate keys, NaN/Infinity, numbers
    beyond ±2**63 and nesting deeper than 64 levels, each as 400 ``invalid_json``.
    """
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(
            f"We could not parse the JSON body of your request ({exc.msg}).", code="invalid_json"
        ) from None
    if not isinstance(value, dict):
        raise InvalidRequest("The body must be a JSON object.", code="invalid_json")
    if _written_keys(raw) != _kept_keys(value):
        key = _duplicate_key(raw)
        if key:
            raise _invalid(f"the key {key[:64]!r} appears twice in one object")
    return value


def _written_keys(raw: bytes) -> int:
    """How many keys the text has, or more (never fewer): cheap unless keys are spaced.

    Compact JSON writes every key as ``"…":``; the count of ``":`` also takes in an
    escaped quote before a colon inside a string, so it can only over-count, and an
    over-count just sends the body down the exact (slower) path.
    """
    if _SPACED_KEY.search(raw) is None:
        return raw.count(b'":')
    return _STRING_OR_KEY.findall(raw).count(b":")
