"""The floor: a minimal pass-through proxy on the same server stack as Bastion.

A raw ASGI app on uvicorn (uvloop + httptools) that forwards each request's body bytes
to one upstream with an aiohttp ``ClientSession`` and streams the answer back as it
arrives. It parses nothing: no JSON, no authentication, no policy. Whatever it costs is
what any Python gateway on this stack costs here, so the overhead benchmark quotes the
other targets against it.

Run it with ``python bench/passthrough.py --port 8090 --upstream http://127.0.0.1:9000``.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import aiohttp
import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# hop-by-hop headers (RFC 9110 §7.6.1); each HTTP stack writes its own framing
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
        b"proxy-authorization",
        b"proxy-connection",
    }
)
# aiohttp sets these itself for the upstream request
_REQUEST_DROPPED = _HOP_BY_HOP | {b"host", b"content-length"}


class PassThrough:
    """ASGI app forwarding every HTTP request unchanged to ``upstream`` (scheme://host:port)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.session: aiohttp.ClientSession | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._forward(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)
                self.session = aiohttp.ClientSession(
                    connector=connector, auto_decompress=False, skip_auto_headers=("User-Agent",)
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.session is not None:
                    await self.session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.session is not None, "lifespan startup did not run"
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        url = self.upstream + scope["raw_path"].decode("latin-1")
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in scope["headers"]
            if name not in _REQUEST_DROPPED
        ]
        started = False
        try:
            async with self.session.request(
                scope["method"], url, data=body, headers=headers
            ) as upstream:
                await send(
                    {
                        "type": "http.response.start",
                        "status": upstream.status,
                        "headers": [
                            (name, value)
                            for name, value in upstream.raw_headers
                            if name.lower() not in _HOP_BY_HOP
                        ],
                    }
                )
                started = True
                async for piece in upstream.content.iter_any():
                    await send({"type": "http.response.body", "body": piece, "more_body": True})
        except aiohttp.ClientError:
            if started:  # the client sees a truncated body, as it would from the upstream
                raise
            await send({"type": "http.response.start", "status": 502, "headers": []})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def main() -> None:
    """Serve the pass-through proxy until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:9000")
    args = parser.parse_args()
    uvicorn.run(
        PassThrough(args.upstream),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        server_header=False,
        date_header=False,
    )


if __name__ == "__main__":
    main()
