"""Strictness checks for wire bodies parsed into the ``openai`` package's models.

The SDK's models accept unknown fields silently (``extra="allow"``); a misspelt field
in a simulator or gateway body would pass ``model_validate_json``. ``assert_no_extra``
closes that gap by failing on any unknown field at any depth.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel


def _extra_paths(value: Any, path: str) -> list[str]:
    if isinstance(value, BaseModel):
        found = [f"{path}.{name}" for name in (value.model_extra or {})]
        for name in type(value).model_fields:
            found += _extra_paths(getattr(value, name), f"{path}.{name}")
        return found
    if isinstance(value, list | tuple):
        found = []
        for index, item in enumerate(value):
            found += _extra_paths(item, f"{path}[{index}]")
        return found
    if isinstance(value, Mapping):
        found = []
        for key, item in value.items():
            found += _extra_paths(item, f"{path}[{key!r}]")
        return found
    return []


def extra_fields(model: BaseModel) -> list[str]:
    """Paths of every field a model (or anything nested in it) did not declare."""
    return _extra_paths(model, type(model).__name__)


def assert_no_extra(model: BaseModel) -> None:
    """Fail when ``model`` or any nested model carries fields its class does not declare."""
    found = extra_fields(model)
    if found:
        raise AssertionError(f"undeclared fields: {', '.join(found)}")
