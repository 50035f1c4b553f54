"""CORS for the proxy port (off by default; CONTRACT.md §3), as pure ASGI middleware.

Browsers call the proxy with a bearer key, never cookies, so credentials are not
allowed and the allowed origins are listed explicitly (``*`` allows any). When enabled,
responses to an allowed origin expose the ``x-bastion-*`` and rate-limit headers so a
web client can show why a call was changed or refused.
"""

from __future__ import annotations

from collections.abc import Iterable

from bastion.errors import PermissionDenied
from bastion.server.asgi import ASGIApp, Message, Receive, Scope, Send, header, send_error

EXPOSED_HEADERS = (
    "x-bastion-request-id, x-bastion-decision, x-bastion-shadow-decision, x-bastion-policy, "
    "x-bastion-rules, x-bastion-redacted, x-bastion-model, x-bastion-exception, "
    "x-bastion-budget-remaining-usd, x-bastion-budget-scope, x-ratelimit-limit-requests, "
    "x-ratelimit-limit-tokens, x-ratelimit-remaining-requests, x-ratelimit-remaining-tokens, "
    "x-ratelimit-reset-requests, x-ratelimit-reset-tokens, retry-after, x-should-retry, "
    "idempotent-replayed"
)
_METHODS = b"GET, POST, OPTIONS"
_MAX_AGE = b"600"


class CorsMiddleware:
    """Answers pre-flights and adds CORS headers for allowed origins."""

    def __init__(self, app: ASGIApp, allow_origins: Iterable[str]) -> None:
        self.app = app
        origins = {o.rstrip("/") for o in allow_origins}
        self._any = "*" in origins
        self._origins = frozenset(origins - {"*"})

    def allows(self, origin: str) -> bool:
        return self._any or origin.rstrip("/") in self._origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = header(scope, b"origin") if scope["type"] == "http" else None
        if origin is None:
            await self.app(scope, receive, send)
            return
        preflight = scope["method"] == "OPTIONS" and header(scope, b"access-control-request-method")
        if preflight:
            await self._preflight(scope, origin, send)
            return
        if not self.allows(origin):
            await self.app(scope, receive, send)
            return
        cors = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
            (b"vary", b"Origin"),
        ]

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *cors]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, scope: Scope, origin: str, send: Send) -> None:
        if not self.allows(origin):
            await send_error(
                send,
                PermissionDenied(
                    "This origin may not call the gateway from a browser.", code="cors_forbidden"
                ),
                "req_cors_preflight",
            )
            return
        requested = header(scope, b"access-control-request-headers") or ""
        headers = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-methods", _METHODS),
            (b"access-control-allow-headers", requested.encode("latin-1")),
            (b"access-control-max-age", _MAX_AGE),
            (b"vary", b"Origin"),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
