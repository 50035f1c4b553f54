"""The HTTP client side of one provider: an aiohttp session and its error boundary.

One `ClientSession` per provider (its own pool of `max_connections` keep-alive
connections, no cookies, no proxy settings from the environment, decompression on;
the provider's own `proxy`, CA bundle and client certificate when configured).
Every aiohttp or socket exception raised while talking to an upstream is converted
here, and only here, into `UpstreamFailed` with ``raise ... from``:

* timeouts (connect, first byte, idle gap, total deadline) → 504 ``upstream_timeout``
* refused or dropped connections, broken payloads → 502 ``upstream_error``

A pooled keep-alive connection the upstream closed just as a request went out on it
(the upstream's idle timeout racing the reuse: uvicorn closes after 5 s, many
servers after 60 s) fails before any byte of an answer. That request is sent again,
once, at once, on the next connection, outside the retry policy: it never reached the
upstream's application, so it is no attempt and no breaker failure. A connection
opened for the request that fails the same way, or a second pooled one, is an
upstream fault as usual.

Deadlines are absolute `loop.time()` values computed by the router, so one budget
spans connect, headers and every body read of a call.
"""

from __future__ import annotations

import asyncio
import weakref
from contextvars import ContextVar
from types import TracebackType
from typing import Any, Literal

import aiohttp

from bastion.config.schema import ProviderConfig
from bastion.config.tls import ssl_context
from bastion.errors import UpstreamFailed
from bastion.providers.deadline import Deadline

_TIMEOUT_MESSAGE = "The upstream provider did not answer in time."
_CONNECTION_MESSAGE = "The upstream provider could not be reached or dropped the connection."


def upstream_timeout() -> UpstreamFailed:
    """The error for any upstream timeout."""
    return UpstreamFailed(_TIMEOUT_MESSAGE, code="upstream_timeout", status=504)


def upstream_connection_failed() -> UpstreamFailed:
    """The error for a refused, reset or truncated upstream connection."""
    return UpstreamFailed(_CONNECTION_MESSAGE, code="upstream_error", status=502)


class _ConvertedErrors:
    """Translate aiohttp/socket/timeout exceptions raised inside into `UpstreamFailed`.

    A plain class, not ``@contextmanager``: it is entered for every upstream request and
    every stream chunk, and a generator-based manager costs ~1 µs more each time."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Literal[False]:
        if isinstance(exc, TimeoutError):  # includes aiohttp.ServerTimeoutError
            raise upstream_timeout() from exc
        if isinstance(exc, (aiohttp.ClientError, OSError)):
            raise upstream_connection_failed() from exc
        return False


_CONVERTED_ERRORS = _ConvertedErrors()


def converted_errors() -> _ConvertedErrors:
    """Translate aiohttp/socket/timeout exceptions raised inside into `UpstreamFailed`."""
    return _CONVERTED_ERRORS


class _Sending:
    """What the connector tells the `ProviderTransport.post` in flight in this task."""

    __slots__ = ("reused",)

    def __init__(self) -> None:
        self.reused = False


_SENDING: ContextVar[_Sending | None] = ContextVar("bastion_upstream_sending", default=None)


class _PoolConnector(aiohttp.TCPConnector):
    """A `TCPConnector` that tells the sending task whether its connection was pooled."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._used: weakref.WeakSet[object] = weakref.WeakSet()

    async def connect(
        self,
        req: Any,
        traces: Any,
        timeout: Any,  # noqa: ASYNC109 (aiohttp's signature)
    ) -> aiohttp.connector.Connection:
        connection = await super().connect(req, traces, timeout)
        protocol = connection.protocol
        if protocol is not None:
            if protocol in self._used:
                sending = _SENDING.get()
                if sending is not None:
                    sending.reused = True
            else:
                self._used.add(protocol)
        return connection


class ProviderTransport:
    """The connection pool of one provider and the only code that calls aiohttp."""

    def __init__(self, config: ProviderConfig) -> None:
        self._config = config
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the session (must run inside the event loop that will use it)."""
        if self._session is not None:
            return
        context = ssl_context(self._config)
        connector = _PoolConnector(
            limit=self._config.max_connections,
            limit_per_host=0,
            keepalive_timeout=30.0,
            ssl=context if context is not None else True,
        )
        proxy = self._config.proxy
        self._session = aiohttp.ClientSession(
            connector=connector,
            proxy=proxy.get_secret_value() if proxy is not None else None,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=True,
            trust_env=False,
            raise_for_status=False,
            timeout=aiohttp.ClientTimeout(
                total=None, connect=None, sock_connect=self._config.timeouts.connect_s
            ),
        )

    async def close(self) -> None:
        """Close every pooled connection."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def post(
        self, url: str, headers: dict[str, str], payload: bytes, *, deadline: float
    ) -> aiohttp.ClientResponse:
        """POST `payload`; return once the response headers arrived, before `deadline`.

        Sent again, once, when the pooled connection it went out on turns out closed.
        Once only: an upstream that drops every request it reads (a payload that crashes
        it) would otherwise get it again on every connection of the pool.
        """
        session = self._session
        if session is None:
            raise RuntimeError("ProviderTransport.start() was not called")
        sending = _Sending()
        token = _SENDING.set(sending)
        try:
            with converted_errors(), Deadline(deadline):
                try:
                    return await session.post(
                        url, data=payload, headers=headers, allow_redirects=False
                    )
                except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                    if not sending.reused:  # a new connection: a real fault
                        raise
                return await session.post(url, data=payload, headers=headers, allow_redirects=False)
        finally:
            _SENDING.reset(token)

    @staticmethod
    async def read_chunk(response: aiohttp.ClientResponse, *, deadline: float) -> bytes:
        """The next bytes of the body as they arrive (b"" at the end), before `deadline`."""
        with converted_errors(), Deadline(deadline):
            return await response.content.readany()

    @staticmethod
    async def read_body(
        response: aiohttp.ClientResponse,
        *,
        idle_s: float,
        deadline: float,
        limit: int | None = None,
    ) -> bytes:
        """The body, with at most `idle_s` between chunks and all before `deadline`.

        With `limit`, reading stops once that many bytes arrived (the rest is unread),
        so a caller that gets more than it wants knows the body was too long.
        """
        content = response.content
        if content.is_eof():
            return content.read_nowait()  # the whole body is already here: no timer needed
        loop = asyncio.get_running_loop()
        chunks: list[bytes] = []
        size = 0
        with converted_errors():
            while limit is None or size < limit:
                with Deadline(min(loop.time() + idle_s, deadline)):
                    chunk = await response.content.readany()
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
