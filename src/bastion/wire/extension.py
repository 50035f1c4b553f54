"""The reserved top-level ``bastion`` object (CONTRACT.md §4), parsed and stripped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bastion.errors import InvalidRequest

_KEYS = frozenset({"untrusted", "exception", "end_user"})
_MAX_MARKS = 1024


@dataclass(frozen=True, slots=True)
class UntrustedMark:
    """One untrusted mark: a message (or input item), optionally a part and a range."""

    message: int
    part: int | None = None
    range: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class BastionExtension:
    """What the caller told Bastion beside the OpenAI body."""

    untrusted: tuple[UntrustedMark, ...] = ()
    exception: str | None = None
    end_user: str | None = None


def _index(value: Any, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRequest(f"{param} must be a non-negative integer.", param=param)
    return value


def _short_text(value: Any, param: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 256:
        raise InvalidRequest(f"{param} must be a string of 1 to 256 characters.", param=param)
    if any(c in value for c in "\r\n\x00"):
        raise InvalidRequest(f"{param} must not contain control characters.", param=param)
    return value


def _mark(raw: Any, i: int) -> UntrustedMark:
    param = f"bastion.untrusted[{i}]"
    if not isinstance(raw, dict) or "message" not in raw or set(raw) - {"message", "part", "range"}:
        raise InvalidRequest(
            f'{param} must be an object like {{"message": 3, "part": 1, "range": [0, 40]}}.',
            param=param,
        )
    message = _index(raw["message"], param)
    part = _index(raw["part"], param) if raw.get("part") is not None else None
    span = raw.get("range")
    rng: tuple[int, int] | None = None
    if span is not None:
        if (
            not isinstance(span, list)
            or len(span) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in span)
            or not 0 <= span[0] < span[1]
        ):
            raise InvalidRequest(
                f"{param}.range must be [start, end) with start < end.", param=param
            )
        rng = (span[0], span[1])
    return UntrustedMark(message, part, rng)


NO_EXTENSION = BastionExtension()
"""A body without ``bastion``: one shared (frozen) value, not a new one per call."""


def pop_extension(body: dict[str, Any]) -> BastionExtension:
    """Remove ``bastion`` from the body and validate it; absent means defaults."""
    raw = body.pop("bastion", None)
    if raw is None:
        return NO_EXTENSION
    if not isinstance(raw, dict):
        raise InvalidRequest("bastion must be an object.", param="bastion")
    unknown = set(raw) - _KEYS
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidRequest(
            f"bastion.{name[:64]} is not a Bastion field (known: end_user, exception, untrusted).",
            code="unsupported_parameter",
            param=f"bastion.{name[:64]}",
        )
    marks_raw = raw.get("untrusted") or []
    if not isinstance(marks_raw, list) or len(marks_raw) > _MAX_MARKS:
        raise InvalidRequest(
            f"bastion.untrusted must be a list of at most {_MAX_MARKS} marks.",
            param="bastion.untrusted",
        )
    marks = tuple(_mark(m, i) for i, m in enumerate(marks_raw))
    exception = raw.get("exception")
    end_user = raw.get("end_user")
    return BastionExtension(
        untrusted=marks,
        exception=None if exception is None else _short_text(exception, "bastion.exception"),
        end_user=None if end_user is None else _short_text(end_user, "bastion.end_user"),
    )
