"""The admin port's ASGI app: metrics and the admin API, for admin tokens only."""

from __future__ import annotations

import dataclasses
import os
import secrets
from urllib.parse import parse_qs

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from bastion.errors import ApiError, InvalidRequest, NotFound, PermissionDenied
from bastion.identity.admin import AdminIdentity, AdminRole
from bastion.pipeline.context import Reply
from bastion.server.asgi import Receive, Scope, Send, header, send_error, send_reply
from bastion.server.runtime import Runtime

_JSON = {"content-type": "application/json"}
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _scrape_registry(own: CollectorRegistry) -> CollectorRegistry:
    """This process's registry, or every worker's when running several (multiprocess)."""
    if not os.environ.get(MULTIPROC_ENV):
        return own
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
    return merged


def _limit(scope: Scope, default: int = 100, maximum: int = 1000) -> int:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("limit")
    if not values:
        return default
    if not values[0].isdigit() or not 1 <= int(values[0]) <= maximum:
        raise InvalidRequest(f"limit must be an integer from 1 to {maximum}.", param="limit")
    return int(values[0])


class AdminApp:
    """``/metrics`` and ``/admin/api/...``; every route needs an admin token."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":  # the proxy app owns the runtime's lifespan
                while (await receive())["type"] != "lifespan.shutdown":
                    await send({"type": "lifespan.startup.complete"})
                await send({"type": "lifespan.shutdown.complete"})
            return
        request_id = "adm_" + secrets.token_hex(8)
        try:
            reply = await self._route(scope)
        except ApiError as exc:
            await send_error(send, exc, request_id)
            return
        await send_reply(send, reply)

    async def _authenticate(self, scope: Scope) -> AdminIdentity:
        auth = header(scope, b"authorization") or ""
        scheme, _, token = auth.partition(" ")
        return await self.runtime.admin_auth.verify(
            token.strip() if scheme.lower() == "bearer" else None
        )

    async def _route(self, scope: Scope) -> Reply:
        method, path = scope["method"], scope["path"]
        if method == "GET" and path == "/healthz":
            return Reply(200, b'{"status":"ok"}', dict(_JSON))
        identity = await self._authenticate(scope)
        gateway = self.runtime.gateway
        if method == "GET" and path == "/metrics":
            gateway.parts.metrics.audit_pending.set(self.runtime.audit.pending)
            body = generate_latest(_scrape_registry(gateway.parts.metrics.registry))
            return Reply(200, body, {"content-type": CONTENT_TYPE_LATEST})
        if method == "GET" and path == "/admin/api/whoami":
            return Reply(
                200,
                orjson.dumps({"subject": identity.subject, "role": identity.role.value}),
                dict(_JSON),
            )
        if method == "GET" and path == "/admin/api/calls":
            if identity.role is AdminRole.APP_OWNER:
                raise PermissionDenied(
                    "Reading every call needs the auditor, security or admin role.",
                    code="insufficient_role",
                )
            limit = _limit(scope)
            records = await self.runtime.records.recent(limit)
            data = [dataclasses.asdict(r) for r in records]
            return Reply(200, orjson.dumps({"object": "list", "data": data}), dict(_JSON))
        if path == "/admin/api/overhead":
            samples = gateway.parts.overhead_samples
            if method == "DELETE":
                samples.reset()
            return Reply(200, orjson.dumps(samples.quantiles()), dict(_JSON))
        raise NotFound(f"Invalid URL ({method} {path[:200]})", code="unknown_url")
