"""uvicorn's httptools protocol with bounds on the request head (line and headers).

httptools buffers a request line or header value until it is complete and has no size
limit or deadline of its own, so the apps' 431 check (``asgi.request_headers``) comes
only after the whole head is in memory, and a head sent a byte at a time holds its
connection for ever: one connection sending a header of hundreds of megabytes grew the
process by as much, and slow heads ("slowloris") could hold every file descriptor,
all before any key was checked. This protocol counts the bytes of each request head
as they arrive and answers 431 ``headers_too_large`` as soon as they pass the bound,
and 408 ``request_timeout`` when a head is not complete within the timeout (a new
connection that sends nothing is closed then, silently; so is one still sending the
body of a request already answered, a refusal, when that takes as long). Heads within
both bounds go on to the apps' own, exact checks.
"""

from __future__ import annotations

import asyncio
import secrets

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_REQUEST_LINE_BYTES = 8192
"""Room for the request line (method, path, query, version) beside the headers."""
_PER_HEADER_BYTES = 4
"""``: `` and CRLF around each header, which ``server.max_header_bytes`` does not count."""
_LINGER_S = 1.0
"""How long a refused connection is read (and dropped) before it is closed."""


def _reply(status: bytes, message: str, code: str) -> bytes:
    error = {"message": message, "type": "invalid_request_error", "code": code, "param": None}
    body = orjson.dumps({"error": error})
    return (
        b"HTTP/1.1 " + status + b"\r\n"
        b"content-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"x-bastion-request-id: req_" + secrets.token_hex(12).encode() + b"\r\n"
        b"connection: close\r\n\r\n" + body
    )


class CoalescingTransport:
    """A transport whose writes made in one turn of the event loop leave in one send.

    uvicorn writes a reply's head as soon as the app starts the reply, and its body
    when the app sends it: two sends, two packets and the client woken twice, for every
    answer (a profile of one worker put ~15 % of its GIL time in the first of them).
    Writes are gathered here and sent together when the loop turns, before anything
    else is read; ``FLUSH_BYTES`` gathered go out at once, so a large body still meets
    the transport's flow control as it did. ``close`` and ``write_eof`` send what is
    gathered first; everything else is the transport's own.
    """

    __slots__ = ("_loop", "_pending", "_size", "_transport")

    FLUSH_BYTES = 65536

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)
        self._size += len(data)
        if self._size >= self.FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        pending = self._pending
        if not pending:
            return
        self._pending, self._size = [], 0
        self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> object:
        return getattr(self._transport, name)


def head_limit(max_header_bytes: int, max_headers: int) -> int:
    """The most bytes a request head may take: headers, their framing, a request line."""
    return max_header_bytes + max_headers * _PER_HEADER_BYTES + _REQUEST_LINE_BYTES


def bounded_http_protocol(max_head_bytes: int, head_timeout_s: float) -> type[asyncio.Protocol]:
    """An ``HttpToolsProtocol`` that refuses a request head longer than ``max_head_bytes``
    or slower than ``head_timeout_s`` (pass the class as ``uvicorn.Config(http=...)``)."""

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        _head_bytes = 0
        _in_head = True  # reading a request head (nothing parsed yet counts as one)
        _head_restarted = False
        _head_clock: asyncio.TimerHandle | None = None
        _refused = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
            self._start_head_clock()  # a new connection owes its first request head

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_head_clock()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return  # what is still arriving is dropped until the connection closes
            self._head_restarted = False
            super().data_received(data)
            # A chunk that ended one request and began the next is not counted: the
            # bound stays within one read of max_head_bytes, without blaming a body.
            if not self._in_head or self._head_restarted or self.transport.is_closing():
                return
            if self._head_clock is None:  # the first bytes of a head after keep-alive
                self._start_head_clock()
            self._head_bytes += len(data)
            if self._head_bytes > max_head_bytes:
                self._refuse(
                    _reply(
                        b"431 Request Header Fields Too Large",
                        "The request headers are too large.",
                        "headers_too_large",
                    )
                )

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._stop_head_clock()
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._stop_head_clock()
            # the next head's clock starts with its first byte (idle time is keep-alive's)
            self._in_head, self._head_bytes, self._head_restarted = True, 0, True

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self._in_head and not self.transport.is_closing():
                # answered (a refusal) before the body ended: the rest is dropped, and
                # gets the same time to arrive, or a trickle would hold the connection
                self._start_head_clock()

        def _start_head_clock(self) -> None:
            self._head_clock = self.loop.call_later(head_timeout_s, self._head_too_slow)

        def _stop_head_clock(self) -> None:
            if self._head_clock is not None:
                self._head_clock.cancel()
                self._head_clock = None

        def _head_too_slow(self) -> None:
            self._head_clock = None
            if self._refused or self.transport.is_closing():
                return
            if not self._in_head or self._head_bytes == 0:
                # the unread rest of an answered request, or nothing asked at all
                self.transport.close()
                return
            self._refuse(
                _reply(
                    b"408 Request Timeout",
                    "The request headers did not arrive in time.",
                    "request_timeout",
                )
            )

        def _refuse(self, reply: bytes) -> None:
            """Answer ``reply`` and close our side; reading on (and dropping) for a moment
            lets the client read the answer: closing with unread bytes would reset the
            connection and could discard it."""
            self._refused = True
            self._stop_head_clock()
            self.transport.write(reply)
            if self.transport.can_write_eof():
                self.transport.write_eof()
            self.loop.call_later(_LINGER_S, self.transport.close)

    return BoundedHttpToolsProtocol
