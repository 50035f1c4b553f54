"""A scriptable local upstream (aiohttp.web on 127.0.0.1) and config builders for tests."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from bastion.config.schema import BastionConfig

Behaviour = Callable[[web.Request], Awaitable[web.StreamResponse]]

PROVIDER_KEY = "sk-provider-secret-abcdef123456"

CHAT_OK = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "upstream-model",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
}


@dataclass
class SeenRequest:
    """What the fake upstream received."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeUpstream:
    """Answers each request with the next scripted behaviour (then the default)."""

    port: int = 0
    scheme: str = "http"
    script: list[Behaviour] = field(default_factory=list)
    seen: list[SeenRequest] = field(default_factory=list)
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/v1"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        self.seen.append(
            SeenRequest(
                path=request.path,
                query=dict(request.query),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=orjson.loads(raw) if raw else {},
            )
        )
        behaviour = self.script.pop(0) if self.script else json_answer(200, CHAT_OK)
        return await behaviour(request)


def json_answer(status: int, body: Any, headers: dict[str, str] | None = None) -> Behaviour:
    async def answer(request: web.Request) -> web.StreamResponse:
        return web.Response(
            status=status,
            body=orjson.dumps(body),
            content_type="application/json",
            headers=headers,
        )

    return answer


def raw_answer(status: int, body: bytes, content_type: str) -> Behaviour:
    async def answer(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, body=body, content_type=content_type)

    return answer


def delayed(seconds: float, then: Behaviour) -> Behaviour:
    async def answer(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        return await then(request)

    return answer


def sse_answer(
    events: list[bytes],
    *,
    gap_s: float = 0.0,
    stall_after: int | None = None,
    stall_s: float = 0.0,
    drop_after: int | None = None,
    content_type: str = "text/event-stream",
    first_delay_s: float = 0.0,
    forever: bool = False,
    upstream: FakeUpstream | None = None,
) -> Behaviour:
    """Stream `events`; optionally stall or drop the connection after some of them."""

    async def answer(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": content_type})
        await response.prepare(request)
        await asyncio.sleep(first_delay_s)
        try:
            index = 0
            while True:
                for event in events:
                    if drop_after is not None and index == drop_after:
                        assert request.transport is not None
                        request.transport.close()
                        return response
                    if stall_after is not None and index == stall_after:
                        await asyncio.sleep(stall_s)
                    await response.write(event)
                    index += 1
                    await asyncio.sleep(gap_s)
                if not forever:
                    break
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            if upstream is not None:
                upstream.disconnected.set()
            raise
        return response

    return answer


@asynccontextmanager
async def serve_fake(tls: ssl.SSLContext | None = None) -> AsyncIterator[FakeUpstream]:
    """Serve a FakeUpstream on a free 127.0.0.1 port until the block ends (over TLS
    with ``tls``, a server-side context)."""
    fake = FakeUpstream(scheme="https" if tls is not None else "http")
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    fake.port = sock.getsockname()[1]
    site = web.SockSite(runner, sock, ssl_context=tls)
    await site.start()
    try:
        yield fake
    finally:
        await runner.cleanup()


def free_port() -> int:
    """A port with nothing listening (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def provider(base_url: str, **overrides: Any) -> dict[str, Any]:
    """A fast-failing provider config dict for tests."""
    config: dict[str, Any] = {
        "kind": "openai",
        "base_url": base_url,
        "api_key": PROVIDER_KEY,
        "timeouts": {"connect_s": 0.5, "first_byte_s": 0.5, "idle_s": 0.5, "total_s": 5.0},
        "retry": {"max_attempts": 3, "backoff_base_s": 0.01, "backoff_max_s": 0.5},
        "breaker": {"failure_threshold": 50, "reset_s": 30.0},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


def bastion_config(
    providers: dict[str, dict[str, Any]], targets: list[tuple[str, str]]
) -> BastionConfig:
    """One public model `gpt-4o-mini` served by `targets` (provider, upstream model)."""
    return BastionConfig.model_validate(
        {
            "providers": providers,
            "models": {
                "gpt-4o-mini": {"targets": [{"provider": p, "model": m} for p, m in targets]}
            },
        }
    )
