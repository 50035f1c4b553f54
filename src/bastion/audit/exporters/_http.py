"""One POST with aiohttp for the HTTP sinks: a 2xx answer is the acknowledgement."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from bastion.audit.exporters.base import SinkError

USER_AGENT = "bastion-audit-exporter"


class HttpPoster:
    """A connection pool to one receiver; opened on first use, closed by ``close``."""

    def __init__(self, timeout_s: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> None:
        """POST ``body``; raise ``SinkError`` (status or exception class only) unless 2xx."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, headers={"user-agent": USER_AGENT}
            )
        try:
            async with self._session.post(url, data=body, headers=dict(headers)) as response:
                await response.read()
                if not 200 <= response.status < 300:
                    raise SinkError(f"receiver answered HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise SinkError(f"delivery failed: {type(exc).__name__}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
