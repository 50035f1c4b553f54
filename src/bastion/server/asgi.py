"""Pure-ASGI helpers: reading a bounded body, sending replies and streams."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping, MutableMapping
from typing import Any

import orjson

from bastion.errors import ApiError, InvalidRequest, RequestRejected
from bastion.pipeline.context import Reply, StreamingReply
from bastion.providers.deadline import deadline_in

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class ClientGone(Exception):
    """The client disconnected before its request body arrived."""


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (names are lower-case in ASGI)."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def request_headers(scope: Scope, *, max_count: int, max_bytes: int) -> dict[bytes, bytes]:
    """The request's headers by name (first value wins), in one pass; 431 when too many
    or too large."""
    raw = scope["headers"]
    if len(raw) > max_count:
        raise _headers_too_large()
    found: dict[bytes, bytes] = {}
    size = 0
    for name, value in raw:
        size += len(name) + len(value)
        found.setdefault(name, value)
    if size > max_bytes:
        raise _headers_too_large()
    return found


def _headers_too_large() -> RequestRejected:
    return RequestRejected(
        "The request headers are too large.", status=431, code="headers_too_large"
    )


def check_json_content_type(headers: dict[bytes, bytes]) -> None:
    """415 unless the body is declared as uncompressed JSON."""
    ctype = headers.get(b"content-type")
    if ctype is None or ctype.split(b";", 1)[0].strip().lower() != b"application/json":
        raise RequestRejected(
            "Content-Type must be application/json.", status=415, code="unsupported_media_type"
        )
    encoding = headers.get(b"content-encoding", b"identity").strip().lower()
    if encoding not in (b"", b"identity"):
        raise RequestRejected(
            f"Content-Encoding {encoding[:32].decode('latin-1')!r} is not supported; "
            "send the JSON body uncompressed.",
            status=415,
            code="unsupported_media_type",
        )


async def read_body(
    receive: Receive, headers: dict[bytes, bytes], *, max_bytes: int, timeout_s: float
) -> bytes:
    """Read the whole body: 413 as soon as it passes ``max_bytes``, 408 when too slow."""
    declared = headers.get(b"content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InvalidRequest("Content-Length is not a number.", code="invalid_value")
        if int(declared) > max_bytes:
            raise _too_large(max_bytes)
    chunks: list[bytes] = []
    size = 0
    try:
        with deadline_in(timeout_s):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone
                chunk = message.get("body", b"")
                if chunk:
                    size += len(chunk)
                    if size > max_bytes:
                        raise _too_large(max_bytes)
                    chunks.append(chunk)
                if not message.get("more_body", False):
                    break
    except TimeoutError:
        raise RequestRejected(
            "The request body did not arrive in time.", status=408, code="request_timeout"
        ) from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(max_bytes: int) -> RequestRejected:
    return RequestRejected(
        f"The request body is larger than {max_bytes} bytes.", status=413, code="request_too_large"
    )


def _encode_headers(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


async def send_reply(send: Send, reply: Reply, receive: Receive | None = None) -> None:
    """Send a complete JSON reply, then let the call finish (settle, record). With
    ``receive``, a reply with ``undelivered`` is not sent to a client already gone."""
    headers = _encode_headers(reply.headers)
    headers.append((b"content-length", str(len(reply.body)).encode()))
    try:
        if reply.undelivered is not None and receive is not None and client_left(receive):
            reply.undelivered()
            return
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})
    finally:
        if reply.finish is not None:
            await reply.finish()


def client_left(receive: Receive) -> bool:
    """Whether the client has disconnected already, without waiting for anything.

    Once the body is read, the server's ``receive`` answers at once only when the client
    has gone (``http.disconnect``) and otherwise suspends until it goes: this steps it
    once and discards a suspended step. (uvicorn silently drops what is sent to a gone
    client, so sending tells nothing; a watcher task per call would cost more.)
    """
    step = receive()
    if not isinstance(step, Coroutine):
        return False  # not a coroutine: no way to ask without waiting
    try:
        step.send(None)
    except StopIteration as done:
        message = done.value
        return isinstance(message, Mapping) and message.get("type") == "http.disconnect"
    except Exception:  # a receive that fails says nothing about the client
        return False
    finally:
        step.close()  # a suspended step: nothing to report yet
    return False


async def send_error(send: Send, exc: ApiError, request_id: str) -> None:
    """Send an OpenAI-style error body (the one place errors become HTTP)."""
    headers = {"content-type": "application/json", "x-bastion-request-id": request_id}
    headers.update(exc.headers)
    await send_reply(send, Reply(exc.status, orjson.dumps(exc.body()), headers))


async def send_stream(send: Send, receive: Receive, reply: StreamingReply) -> None:
    """Relay a stream; a client disconnect cancels it (and so the upstream call).

    The stream is pumped in the request's own task, so its first byte goes out without
    waiting for another task to be scheduled; a watcher task cancels it on disconnect.
    """
    headers = _encode_headers(reply.headers)
    headers.extend(_SSE_HEADERS)
    task = asyncio.current_task()
    state = {"done": False, "disconnected": False}

    async def watch_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        if not state["done"] and task is not None:
            state["disconnected"] = True
            task.cancel()

    watcher = asyncio.ensure_future(watch_disconnect())
    try:
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        async for chunk in reply.chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except asyncio.CancelledError:
        if not state["disconnected"] or task is None:
            raise
        task.uncancel()  # the client left: a normal end for this request
    except OSError:
        pass  # the connection broke while writing: the client is gone too
    finally:
        state["done"] = True
        watcher.cancel()
        await reply.chunks.aclose()  # type: ignore[attr-defined]
        if reply.finish is not None:
            await reply.finish()
