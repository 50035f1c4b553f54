"""The one exception tree of Bastion.

    BastionError
    ├── ConfigError            config or policy file cannot be loaded (names file, key, line)
    ├── StorageError           the database cannot be reached or answered wrongly
    └── ApiError               a reply to an API caller: HTTP status + OpenAI error body
        ├── InvalidRequest           400 invalid_json / invalid_value / unsupported_parameter
        ├── AuthenticationFailed     401 invalid_api_key
        ├── PermissionDenied         403 policy_violation / exception_required / ...
        ├── NotFound                 404 model_not_found / unknown_url
        ├── RequestRejected          408 / 413 / 415 / 431 framing problems
        ├── RateLimited              429 rate_limit_exceeded
        │   └── BudgetExceeded       429 budget_exceeded (type insufficient_quota)
        ├── ServiceUnavailable       503 guardrail / auth / limits / audit unavailable
        ├── UpstreamFailed           502 / 504 upstream_error / upstream_timeout / ...
        └── InternalError            500 internal_error (a bug; details only in logs)

Foreign exceptions (aiohttp, SQLAlchemy, YAML) are converted at their boundary with
``raise ... from``; only ``bastion.server.errors`` turns an ``ApiError`` into HTTP.
Messages never carry prompt text, secrets or keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class BastionError(Exception):
    """Base of every error Bastion raises on purpose."""


class ConfigError(BastionError):
    """A configuration or policy file is invalid; the message names file, key and line."""


class StorageError(BastionError):
    """The store is unreachable or failed; the message never includes row content."""


class ApiError(BastionError):
    """An error answered to an API caller in the OpenAI error shape."""

    status: int = 500
    error_type: str = "server_error"
    code: str = "internal_error"
    provider: str | None = None
    """The upstream provider that failed, when the error came from one (for the record
    and ``bastion_upstream_errors_total``; never shown to the caller)."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        bastion: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.param = param
        self.headers: dict[str, str] = dict(headers or {})
        self.bastion: dict[str, Any] | None = dict(bastion) if bastion else None

    def body(self) -> dict[str, Any]:
        """The OpenAI-style JSON body for this error."""
        body: dict[str, Any] = {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "code": self.code,
                "param": self.param,
            }
        }
        if self.bastion:
            body["bastion"] = self.bastion
        return body


class InvalidRequest(ApiError):
    status = 400
    error_type = "invalid_request_error"
    code = "invalid_value"


class AuthenticationFailed(ApiError):
    status = 401
    error_type = "invalid_request_error"
    code = "invalid_api_key"


class PermissionDenied(ApiError):
    status = 403
    error_type = "permission_error"
    code = "policy_violation"


class NotFound(ApiError):
    status = 404
    error_type = "invalid_request_error"
    code = "unknown_url"


class RequestRejected(ApiError):
    """Framing problems found before the body is parsed (408, 413, 415, 431)."""

    error_type = "invalid_request_error"


class Conflict(ApiError):
    status = 409
    error_type = "invalid_request_error"
    code = "idempotency_in_progress"


class RateLimited(ApiError):
    status = 429
    error_type = "rate_limit_error"
    code = "rate_limit_exceeded"


class BudgetExceeded(RateLimited):
    """A budget is spent: 429 ``insufficient_quota``, never worth an automatic retry."""

    error_type = "insufficient_quota"
    code = "budget_exceeded"


class ServiceUnavailable(ApiError):
    status = 503
    error_type = "server_error"
    code = "guardrail_unavailable"


class ShuttingDown(ServiceUnavailable):
    """The server stopped (its drain timeout passed) before this call's answer was
    ready: the call is cancelled; another replica, or this one restarted, may take it."""

    code = "shutting_down"


class InternalError(ApiError):
    """A bug: answered as 500 without details; the logs have the traceback."""

    status = 500
    error_type = "server_error"
    code = "internal_error"


class UpstreamFailed(ApiError):
    status = 502
    error_type = "server_error"
    code = "upstream_error"
