"""What the router hands back: a complete answer, or a live stream of body bytes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType

import aiohttp

from bastion.errors import UpstreamFailed
from bastion.providers.transport import ProviderTransport

#: Upstream response headers worth keeping (never set-cookie or anything auth-related).
KEPT_HEADERS = ("content-type", "x-request-id", "openai-processing-ms", "apim-request-id")


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The few useful upstream headers, lower-cased names."""
    return {name: value for name in KEPT_HEADERS if (value := headers.get(name)) is not None}


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    """A complete, successful (2xx) upstream answer.

    `attempts` counts every HTTP attempt of the call across targets; `upstream_ms` is
    the time from the router's `send` to the last body byte, retries included.
    """

    status: int
    body: bytes = field(repr=False)
    headers: dict[str, str]
    provider: str
    upstream_model: str
    public_model: str
    attempts: int
    upstream_ms: float


class UpstreamStream:
    """A streaming (text/event-stream) upstream answer whose first bytes have arrived.

    Iterate `chunks()` once for the raw body bytes. While iterating, a gap longer than
    ``idle_s`` or passing the call's total deadline raises `UpstreamFailed`
    (``upstream_timeout``, 504); a dropped connection raises ``upstream_error`` (502).
    Nothing is retried from here on: bytes have reached the caller. `aclose()` closes
    the upstream socket unless the body ended, so the upstream sees the cancel; use the
    stream as an async context manager to be sure it runs.
    """

    __slots__ = (
        "_closed",
        "_consumed",
        "_deadline",
        "_first_chunk",
        "_idle_s",
        "_on_failure",
        "_response",
        "attempts",
        "first_byte_ms",
        "headers",
        "provider",
        "public_model",
        "status",
        "upstream_model",
    )

    def __init__(
        self,
        *,
        response: aiohttp.ClientResponse,
        first_chunk: bytes,
        provider: str,
        upstream_model: str,
        public_model: str,
        attempts: int,
        first_byte_ms: float,
        idle_s: float,
        deadline: float,
        on_failure: Callable[[], None],
    ) -> None:
        self.status = response.status
        self.headers = kept_headers(response.headers)
        self.provider = provider
        self.upstream_model = upstream_model
        self.public_model = public_model
        self.attempts = attempts
        self.first_byte_ms = first_byte_ms
        self._response = response
        self._first_chunk = first_chunk
        self._idle_s = idle_s
        self._deadline = deadline
        self._on_failure = on_failure
        self._consumed = False
        self._closed = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body bytes as they arrive; may be iterated only once."""
        if self._consumed:
            raise RuntimeError("UpstreamStream.chunks() can be iterated only once")
        self._consumed = True
        loop = asyncio.get_running_loop()
        try:
            if self._first_chunk:
                chunk, self._first_chunk = self._first_chunk, b""
                yield chunk
            while not self._closed:
                deadline = min(loop.time() + self._idle_s, self._deadline)
                try:
                    chunk = await ProviderTransport.read_chunk(self._response, deadline=deadline)
                except UpstreamFailed:
                    self._on_failure()
                    raise
                if not chunk:
                    self._finish(released=True)
                    return
                yield chunk
        finally:
            self._finish(released=False)

    def _finish(self, *, released: bool) -> None:
        """Give the connection back to the pool after a clean end, else close its socket."""
        if self._closed:
            return
        self._closed = True
        if released:
            self._response.release()
        else:
            self._response.close()

    async def aclose(self) -> None:
        """Stop reading; closes the upstream socket if the body has not ended."""
        self._finish(released=False)

    async def __aenter__(self) -> UpstreamStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
