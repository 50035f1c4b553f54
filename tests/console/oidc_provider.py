"""A small OpenID Connect provider for tests, on a real loopback port: discovery, JWKS,
``/authorize`` (signs in ``provider.user`` at once and sends the browser back with a
code) and ``/token`` (checks the client secret, the code and its PKCE verifier, and
returns an ID token signed with an RSA key made here). ``tamper`` changes the next ID
tokens (another nonce, audience, issuer, signing key, or already expired)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import queue
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import uvicorn
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CLIENT_ID = "bastion-console"
CLIENT_SECRET = "s3cret-client"


def oidc_settings(provider: Provider, role_map: dict[str, str], **extra: str) -> dict[str, Any]:
    """The console's ``server.admin.oidc`` settings for ``provider``: its client, subjects
    by e-mail, ``role_map`` from the groups claim, and ``extra`` keys (``apps_claim``)."""
    return {
        "issuer": provider.issuer,
        "name": "Test IdP",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "subject_claim": "email",
        "role_map": role_map,
        **extra,
    }


@dataclass
class Provider:
    """The provider's state: who signs in, the codes issued, what to tamper with."""

    issuer: str = ""
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}))
    user: dict[str, Any] = field(default_factory=dict)
    tamper: dict[str, Any] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: int = 0

    def id_token(self, grant: dict[str, Any]) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
            **grant["user"],
        }
        if "expired" in self.tamper:
            claims["iat"], claims["exp"] = now - 900, now - 600
        for name in ("nonce", "aud", "iss"):
            if name in self.tamper:
                claims[name] = self.tamper[name]
        key = self.key
        if "key" in self.tamper:
            key = self.tamper["key"]
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def _app(provider: Provider) -> Starlette:
    async def discovery(request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": provider.issuer,
                "authorization_endpoint": provider.issuer + "/authorize",
                "token_endpoint": provider.issuer + "/token",
                "jwks_uri": provider.issuer + "/jwks",
                "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            }
        )

    async def jwks(request: Request) -> Response:
        return JSONResponse(KeySet([provider.key]).as_dict(private=False))

    async def authorize(request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return JSONResponse({"error": "invalid_request", "why": "pkce"}, status_code=400)
        if "openid" not in q.get("scope", "").split() or not q.get("nonce"):
            return JSONResponse({"error": "invalid_request", "why": "openid"}, status_code=400)
        code = secrets.token_urlsafe(16)
        provider.codes[code] = {
            "nonce": q["nonce"],
            "challenge": q["code_challenge"],
            "redirect_uri": q["redirect_uri"],
            "user": dict(provider.user),
        }
        target = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q.get("state", "")})
        return RedirectResponse(target, status_code=302)

    async def token(request: Request) -> Response:
        provider.token_requests += 1
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        form = dict(parse_qsl((await request.body()).decode()))
        grant = provider.codes.pop(str(form.get("code")), None)
        if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        verifier = str(form.get("code_verifier", ""))
        digest = hashlib.sha256(verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["challenge"]:
            return JSONResponse({"error": "invalid_grant", "why": "pkce"}, status_code=400)
        return JSONResponse(
            {
                "access_token": "at-" + secrets.token_hex(8),
                "token_type": "Bearer",
                "id_token": provider.id_token(grant),
            }
        )

    return Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/jwks", jwks),
            Route("/authorize", authorize),
            Route("/token", token, methods=["POST"]),
        ]
    )


@asynccontextmanager
async def oidc_provider() -> AsyncIterator[Provider]:
    """The provider on a free loopback port (``provider.issuer`` is its URL)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    provider = Provider(issuer=f"http://127.0.0.1:{sock.getsockname()[1]}")
    server = uvicorn.Server(
        uvicorn.Config(_app(provider), log_level="warning", lifespan="off", access_log=False)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    deadline = time.monotonic() + 30
    while not server.started and not task.done():
        assert time.monotonic() < deadline, "the test OIDC provider did not start"
        await asyncio.sleep(0.01)
    try:
        yield provider
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextmanager
def oidc_provider_thread() -> Iterator[Provider]:
    """The provider served from a thread of its own (for sync tests and scripts)."""
    started: queue.Queue[Provider | BaseException] = queue.Queue()
    stop = threading.Event()

    async def serve() -> None:
        try:
            async with oidc_provider() as provider:
                started.put(provider)
                while not stop.is_set():  # noqa: ASYNC110 (a thread's event, not a task's)
                    await asyncio.sleep(0.05)
        except BaseException as exc:  # reported to the waiting caller
            started.put(exc)

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    found = started.get(timeout=60)
    if isinstance(found, BaseException):
        raise found
    try:
        yield found
    finally:
        stop.set()
        thread.join(timeout=30)
