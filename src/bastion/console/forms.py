"""Turning form and query fields into the admin API's request models: a model that
refuses the input becomes a 400 naming the field, as the API would answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from bastion.errors import InvalidRequest

Model = TypeVar("Model", bound=BaseModel)


def build(model: type[Model], values: dict[str, Any]) -> Model:
    """``model`` from ``values``; InvalidRequest naming the first field it refused."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or None
        raise InvalidRequest(
            f"{where or 'form'}: {first['msg']}", param=where, code="invalid_value"
        ) from None


def parse_time(value: str | None, name: str) -> datetime | None:
    """An ISO-8601 date or time from a form (UTC unless it names a zone)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(
            f"{name} is not a date or time (use 2026-12-01 or 2026-12-01T09:30)", param=name
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def split_list(value: str | None) -> list[str]:
    """Comma- or space-separated names."""
    if value is None:
        return []
    return [part for part in value.replace(",", " ").split() if part]
