"""CORS on the proxy port: pre-flights, exposed headers, and origins that are not allowed."""

from __future__ import annotations

import httpx
import pytest

from bastion.server.asgi import Receive, Scope, Send
from bastion.server.cors import CorsMiddleware


async def answer(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"content-type", b"application/json"), (b"x-bastion-request-id", b"req_1")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"{}"})


def client(*origins: str) -> httpx.AsyncClient:
    app = CorsMiddleware(answer, origins)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")


PREFLIGHT = {
    "access-control-request-method": "POST",
    "access-control-request-headers": "authorization, content-type",
}


async def test_preflight_from_an_allowed_origin() -> None:
    async with client("https://chat.example.com") as c:
        r = await c.options(
            "/v1/chat/completions", headers={"origin": "https://chat.example.com", **PREFLIGHT}
        )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "https://chat.example.com"
    assert "POST" in r.headers["access-control-allow-methods"]
    assert r.headers["access-control-allow-headers"] == "authorization, content-type"
    assert "access-control-allow-credentials" not in r.headers


async def test_preflight_from_another_origin_is_refused() -> None:
    async with client("https://chat.example.com") as c:
        r = await c.options(
            "/v1/chat/completions", headers={"origin": "https://evil.example", **PREFLIGHT}
        )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "cors_forbidden"
    assert "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize("allowed", ["https://chat.example.com", "*"])
async def test_responses_expose_the_bastion_headers(allowed: str) -> None:
    async with client(allowed) as c:
        r = await c.post("/v1/chat/completions", headers={"origin": "https://chat.example.com"})
    assert r.headers["access-control-allow-origin"] == "https://chat.example.com"
    exposed = r.headers["access-control-expose-headers"]
    assert "x-bastion-request-id" in exposed and "x-bastion-decision" in exposed
    assert r.headers["vary"] == "Origin"


async def test_no_cors_headers_for_other_origins_or_without_origin() -> None:
    async with client("https://chat.example.com") as c:
        other = await c.post("/v1/chat/completions", headers={"origin": "https://evil.example"})
        plain = await c.post("/v1/chat/completions")
    for r in (other, plain):
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


def test_the_proxy_is_wrapped_only_when_cors_is_enabled(tmp_path: object) -> None:
    from bastion.config.schema import BastionConfig
    from bastion.server.app import create_apps

    off = create_apps(BastionConfig())
    on = create_apps(
        BastionConfig.model_validate(
            {"server": {"cors": {"enabled": True, "allow_origins": ["https://a.example"]}}}
        )
    )
    assert not isinstance(off.proxy, CorsMiddleware)
    assert isinstance(on.proxy, CorsMiddleware) and on.proxy.allows("https://a.example")
