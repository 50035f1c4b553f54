"""List pages: ``limit`` and an opaque ``cursor`` in, ``{"object": "list", "data",
"has_more", "next_cursor"}`` out. A cursor holds the sort key of the last item served
(keyset pagination), so pages stay consistent while rows are added."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Annotated, Generic, Literal, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel, Field

from bastion.errors import InvalidRequest

Item = TypeVar("Item")
Key = tuple[str | int | float, ...]

Limit = Annotated[int, Query(ge=1, le=500, description="Items per page (1-500).")]
Cursor = Annotated[
    str | None,
    Query(max_length=512, description="`next_cursor` of the previous page; omit for the first."),
]


class Page(BaseModel, Generic[Item]):
    """One page of a list."""

    object: Literal["list"] = "list"
    data: list[Item]
    has_more: bool = Field(description="Whether another page follows.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


def encode_cursor(key: Key) -> str:
    """The cursor naming ``key`` (URL-safe, unpadded base64 of JSON)."""
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str | None, kinds: tuple[type, ...]) -> Key | None:
    """The key a cursor names, checked against the expected ``kinds``; 400 otherwise."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = orjson.loads(raw)
    except (binascii.Error, ValueError):
        values = None
    if not isinstance(values, list) or len(values) != len(kinds):
        raise InvalidRequest("cursor is not one this list gave out", param="cursor")
    checked: list[str | int | float] = []
    for value, kind in zip(values, kinds, strict=True):
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not kind or not isinstance(value, str | int | float):
            raise InvalidRequest("cursor is not one this list gave out", param="cursor")
        checked.append(value)
    return tuple(checked)


def page_in_memory(
    items: Sequence[Item],
    key: Callable[[Item], Key],
    *,
    limit: int,
    cursor: str | None,
    kinds: tuple[type, ...],
    descending: bool = False,
) -> tuple[list[Item], str | None]:
    """The page of ``items`` in ``key`` order (ascending or ``descending``) after the
    cursor's key, and the next cursor (None on the last page)."""
    # sorted here, not trusted to come sorted: rows in another order would be skipped
    items = sorted(items, key=key, reverse=descending)
    after = decode_cursor(cursor, kinds)
    if after is not None:
        items = [i for i in items if (key(i) < after if descending else key(i) > after)]
    page = list(items[:limit])
    more = len(items) > limit
    return page, encode_cursor(key(page[-1])) if more and page else None
