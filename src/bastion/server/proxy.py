"""The proxy port's ASGI app: routes, framing checks, and handing calls to the gateway."""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time

import orjson

from bastion.errors import ApiError, InternalError, NotFound, ShuttingDown
from bastion.model import Endpoint
from bastion.pipeline.context import IncomingCall, Reply, StreamingReply
from bastion.server.asgi import (
    ClientGone,
    Receive,
    Scope,
    Send,
    check_json_content_type,
    read_body,
    request_headers,
    send_error,
    send_reply,
    send_stream,
)
from bastion.server.logs import REQUEST_ID
from bastion.server.runtime import Runtime

log = logging.getLogger("bastion.server")

_CALLS = {
    "/v1/chat/completions": Endpoint.CHAT,
    "/v1/responses": Endpoint.RESPONSES,
    "/v1/embeddings": Endpoint.EMBEDDINGS,
    "/v1/bastion/scan": Endpoint.SCAN,
}
_MODEL_PREFIX = "/v1/models/"

# Every route the proxy answers (method, OpenAPI path); docs/openapi/proxy.json lists the same.
ROUTES: tuple[tuple[str, str], ...] = (
    *(("POST", path) for path in _CALLS),
    ("GET", "/v1/models"),
    ("GET", "/v1/models/{model}"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
)


def bearer_key(headers: dict[bytes, bytes]) -> str | None:
    """The presented key: ``Authorization: Bearer …`` or Azure-style ``api-key``."""
    auth = headers.get(b"authorization")
    if auth is not None:
        scheme, _, value = auth.decode("latin-1").partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None
    key = headers.get(b"api-key")
    return None if key is None else key.decode("latin-1")


class RequestIds:
    """Request ids: 96 random bits from a PRNG seeded once from the OS.

    Ids must be unique and must not count traffic; they need not be secret, and
    ``secrets.token_hex`` costs a syscall per call on the hot path.
    """

    def __init__(self) -> None:
        self._random = random.Random(secrets.randbits(128))

    def new(self) -> str:
        return f"req_{self._random.getrandbits(96):024x}"


class ProxyApp:
    """OpenAI-compatible API on ``server.port``."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        server = runtime.config.server
        self._max_body = server.max_body_bytes
        self._body_timeout = server.body_timeout_s
        self._max_headers = server.max_headers
        self._max_header_bytes = server.max_header_bytes
        self._request_ids = RequestIds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self.runtime.lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        entered_at = time.perf_counter()
        request_id = self._request_ids.new()
        REQUEST_ID.set(request_id)  # log lines of this call carry it (server.logs)
        path: str = scope["path"]
        method: str = scope["method"]
        try:
            headers = request_headers(
                scope, max_count=self._max_headers, max_bytes=self._max_header_bytes
            )
            endpoint = _CALLS.get(path)
            if endpoint is not None and method == "POST":
                check_json_content_type(headers)
                before_body = time.perf_counter()
                body = await read_body(
                    receive, headers, max_bytes=self._max_body, timeout_s=self._body_timeout
                )
                # Overhead counts Bastion's own work, not the wait for the client's body.
                received_at = time.perf_counter() - (before_body - entered_at)
                client = scope.get("client")
                idempotency_key = headers.get(b"idempotency-key")
                call = IncomingCall(
                    endpoint,
                    body,
                    bearer_key(headers),
                    request_id,
                    received_at,
                    client[0] if client else None,
                    None if idempotency_key is None else idempotency_key.decode("latin-1"),
                    traceparent=_latin1(headers.get(b"traceparent")),
                    tracestate=_latin1(headers.get(b"tracestate")),
                )
                gateway = self.runtime.gateway
                reply = await (
                    gateway.scan(call) if endpoint is Endpoint.SCAN else gateway.handle(call)
                )
            elif method == "GET" and (path == "/v1/models" or path.startswith(_MODEL_PREFIX)):
                model_id = path.removeprefix(_MODEL_PREFIX) if path != "/v1/models" else None
                if model_id == "":
                    raise NotFound(f"Invalid URL ({method} {path[:200]})", code="unknown_url")
                client = scope.get("client")
                reply = await self.runtime.gateway.models(
                    model_id, bearer_key(headers), request_id, client[0] if client else None
                )
            elif method == "GET" and path == "/healthz":
                reply = Reply(200, b'{"status":"ok"}', {"content-type": "application/json"})
            elif method == "GET" and path == "/readyz":
                reply = self._readiness()
            else:
                raise NotFound(f"Invalid URL ({method} {path[:200]})", code="unknown_url")
        except ClientGone:
            return
        except ApiError as exc:
            await send_error(send, exc, request_id)
            return
        except asyncio.CancelledError:
            # uvicorn cancels what is still running once the drain timeout passes; the
            # call was recorded as cancelled, and the caller learns why (not a bare 500)
            await send_error(
                send,
                ShuttingDown("The gateway is shutting down; retry the request."),
                request_id,
            )
            return
        except Exception:
            log.exception(
                "unexpected error answering %s %s (request %s)", method, path[:200], request_id
            )
            await send_error(
                send,
                InternalError(
                    "The gateway failed unexpectedly; the request id identifies it in the logs."
                ),
                request_id,
            )
            return
        reply.headers.setdefault("x-bastion-request-id", request_id)
        if isinstance(reply, StreamingReply):
            await send_stream(send, receive, reply)
        else:
            await send_reply(send, reply, receive)

    def _readiness(self) -> Reply:
        status, degraded = self.runtime.readiness()
        body: dict[str, object] = {"status": status}
        if degraded:
            body["degraded"] = degraded
        code = 503 if status == "unavailable" else 200
        return Reply(code, orjson.dumps(body), {"content-type": "application/json"})


def _latin1(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")
