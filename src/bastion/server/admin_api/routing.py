"""Declaring admin API routes as data: method, path, handler, name (the permission
table's key and the OpenAPI ``operationId``) and the error statuses it documents. Every
route refuses a query parameter it does not declare (``params.refuse_unknown_query``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends

from bastion.server.admin_api.errors import error_responses
from bastion.server.admin_api.params import refuse_unknown_query

COMMON_ERRORS = (400, 401, 403, 503)
"""Every route can answer these: an unknown query parameter, no or bad token, role not
allowed, store down."""


@dataclass(frozen=True, slots=True)
class Route:
    """One route of the admin API (paths are relative to ``/admin/api``)."""

    method: str
    path: str
    endpoint: Callable[..., Any]
    name: str
    errors: tuple[int, ...] = ()
    status_code: int = 200
    exclude_none: bool = False


def add_routes(router: APIRouter, routes: Iterable[Route], *, prefix: str) -> None:
    """Register ``routes`` under ``prefix``; a handler's docstring's first line is the
    summary, the whole docstring the description."""
    for route in routes:
        summary = (route.endpoint.__doc__ or "").strip().partition("\n")[0]
        router.add_api_route(
            prefix + route.path,
            route.endpoint,
            methods=[route.method],
            name=route.name,
            operation_id=route.name,
            summary=summary or None,
            responses=error_responses((*COMMON_ERRORS, *route.errors)),
            status_code=route.status_code,
            response_model_exclude_none=route.exclude_none,
            dependencies=[Depends(refuse_unknown_query)],
        )
