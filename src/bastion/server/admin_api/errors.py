"""Every admin API failure in the OpenAI error shape ``{"error": {"message", "type",
"code", "param"}}``: Bastion's own errors, bad input (400, never FastAPI's 422 body),
unknown routes and methods, an unreachable store; a bug is a generic 500 whose details
are only in the log. Messages never echo what a field held, only where it was."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from bastion.errors import (
    ApiError,
    ConfigError,
    InternalError,
    InvalidRequest,
    NotFound,
    StorageError,
)
from bastion.policy.testing import CaseError

log = logging.getLogger("bastion.admin")


class ErrorDetail(BaseModel):
    """What went wrong, for people and programs."""

    message: str = Field(description="What happened and what to do instead.")
    type: str = Field(description="invalid_request_error, permission_error, server_error, ...")
    code: str | None = Field(description="A stable code, e.g. admin_role_required.")
    param: str | None = Field(description="The field or parameter at fault, if one is.")


class ErrorBody(BaseModel):
    """The OpenAI error shape."""

    error: ErrorDetail


_DESCRIPTIONS = {
    400: "Bad input: a field, parameter, cursor or policy is invalid, or a query parameter "
    "is one the route does not take (unknown_parameter).",
    401: "No admin token, or an invalid, revoked or expired one.",
    403: "The admin identity's role may not do this (admin_role_required).",
    404: "No such object (or not one the caller may see), or no such route.",
    409: "The object is not in a state that allows this change.",
    413: "The request body is larger than server.max_body_bytes.",
    415: "The request body is not declared as application/json.",
    503: "The store is unavailable; try again.",
}


def error_responses(statuses: Iterable[int]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses."""
    return {
        status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]}
        for status in sorted(set(statuses))
    }


def error_response(exc: ApiError) -> JSONResponse:
    """An ``ApiError`` as the JSON response (its headers too)."""
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers or None)


def install_error_handlers(app: FastAPI) -> None:
    """Route every failure of ``app`` to one of the bodies above."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(StorageError, _storage_error)
    app.add_exception_handler(ConfigError, _config_error)
    app.add_exception_handler(CaseError, _case_error)
    app.add_exception_handler(Exception, _unexpected)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors: Sequence[Any] = exc.errors()
    first = errors[0] if errors else {}
    where = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    if first.get("type") == "json_invalid":
        return error_response(
            InvalidRequest("The request body is not valid JSON.", code="invalid_json")
        )
    param = ".".join(where) or None
    message = str(first.get("msg") or "invalid value")
    if first.get("type") == "value_error":  # our own check's words, without pydantic's prefix
        message = str(first.get("ctx", {}).get("error") or message)
    subject = f"{param}: " if param else ""
    more = f" ({len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return error_response(InvalidRequest(f"{subject}{message}{more}", param=param))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.__cause__, ApiError):
        # FastAPI turns any failure while reading the body into a 400; the admin port's
        # bounded reader raised the real answer (413 request_too_large)
        return error_response(exc.__cause__)
    where = f"{request.method} {request.url.path[:200]}"
    if exc.status_code == 404:
        return error_response(NotFound(f"Invalid URL ({where})", code="unknown_url"))
    if exc.status_code == 405:
        allowed = ", ".join(_methods_at(request)) or None
        error = InvalidRequest(
            f"Method not allowed ({where}); allowed: {allowed or 'none'}",
            code="method_not_allowed",
            status=405,
            headers={"allow": allowed} if allowed else None,
        )
        return error_response(error)
    failed = f"The request failed ({exc.status_code})."
    if exc.status_code < 500:  # the caller's fault: not a server_error / internal_error
        return error_response(InvalidRequest(failed, status=exc.status_code))
    return error_response(ApiError(failed, status=exc.status_code))


def _methods_at(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first)."""
    path = request.url.path
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, APIRoute) and route.path_regex.match(path):
            methods |= route.methods or set()
    order = ("GET", "POST", "PUT", "PATCH", "DELETE")
    return sorted(methods, key=lambda m: order.index(m) if m in order else len(order))


async def _storage_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("admin API: %s", exc)
    error = ApiError(
        "The store is unavailable; try again shortly.", code="storage_unavailable", status=503
    )
    return error_response(error)


async def _config_error(request: Request, exc: Exception) -> JSONResponse:
    # A policy that does not compile: the message names the upload's line and key.
    return error_response(InvalidRequest(str(exc), code="invalid_policy", param="content"))


async def _case_error(request: Request, exc: Exception) -> JSONResponse:
    return error_response(InvalidRequest(str(exc), code="invalid_value"))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Starlette logs the traceback (the exception is re-raised after this reply).
    return error_response(
        InternalError("The admin API failed unexpectedly; the logs have the details.")
    )
