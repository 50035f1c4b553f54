"""The admin port's ASGI app: ``/healthz``, ``/metrics``, the admin API and the console.

Every route but ``/healthz`` needs an admin token: it is checked here, before anything
else, so an unknown or malformed request without one is a 401 too. ``/admin/api/...``
is the FastAPI app of ``server.admin_api`` (its roles are in its permission table);
``/metrics`` is open to every admin role. ``/console/...`` (``bastion.console``) is the
exception: it logs in with an admin token once and then goes by its session cookie.
Each response carries ``x-bastion-request-id``; bodies are bounded by
``server.max_body_bytes``.
"""

from __future__ import annotations

import logging
import os
import secrets

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.registry import Collector

from bastion.console.app import Console
from bastion.console.page import PREFIX as CONSOLE_PREFIX
from bastion.errors import ApiError, InternalError, NotFound, RequestRejected, StorageError
from bastion.identity.admin import AdminIdentity
from bastion.pipeline.context import Reply
from bastion.server.admin_api.app import PREFIX, AdminAPI, create_admin_api
from bastion.server.admin_api.context import IDENTITY_STATE, AdminContext
from bastion.server.asgi import Message, Receive, Scope, Send, header, send_error, send_reply
from bastion.server.runtime import Runtime

log = logging.getLogger("bastion.admin")
_JSON = {"content-type": "application/json"}
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _scrape_registry(own: CollectorRegistry, *local: Collector) -> CollectorRegistry:
    """This process's registry, or every worker's when running several (multiprocess),
    plus the ``local`` collectors whose values are read at scrape time."""
    if not os.environ.get(MULTIPROC_ENV):
        return own
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
    for collector in local:
        merged.register(collector)
    return merged


class AdminApp:
    """``/healthz``, ``/metrics``, ``/admin/api/...`` and ``/console/...`` on
    ``server.admin.port``."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        context = AdminContext(runtime)
        self.api: AdminAPI = create_admin_api(context)
        self.console = Console(context)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":  # the proxy app owns the runtime's lifespan
                while (await receive())["type"] != "lifespan.shutdown":
                    await send({"type": "lifespan.startup.complete"})
                await send({"type": "lifespan.shutdown.complete"})
            return
        request_id = "adm_" + secrets.token_hex(8)
        started = False

        async def tagged_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [h for h in message.get("headers", []) if h[0] != b"x-bastion-request-id"]
                headers.append((b"x-bastion-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        method, path = scope["method"], scope["path"]
        try:
            await self._route(scope, receive, tagged_send)
        except ApiError as exc:
            if not started:
                await send_error(tagged_send, exc, request_id)
        except StorageError as exc:  # the token could not be checked
            log.error("admin port: %s (%s)", exc, request_id)
            if not started:
                await send_error(tagged_send, _store_down(), request_id)
        except Exception:
            log.exception(
                "admin port: unexpected error on %s %s (%s)", method, path[:200], request_id
            )
            if not started:
                failure = InternalError("The admin port failed unexpectedly; see the logs.")
                await send_error(tagged_send, failure, request_id)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        if method == "GET" and path == "/healthz":
            await send_reply(send, Reply(200, b'{"status":"ok"}', dict(_JSON)))
            return
        if path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/"):
            await self.console(scope, receive, send)
            return
        identity = await self._authenticate(scope)
        if method == "GET" and path == "/metrics":
            gateway = self.runtime.gateway
            metrics = gateway.parts.metrics
            metrics.observe_audit(self.runtime.audit)
            await self.runtime.observe_budgets()
            body = generate_latest(_scrape_registry(metrics.registry, metrics.budget_remaining))
            await send_reply(send, Reply(200, body, {"content-type": CONTENT_TYPE_LATEST}))
            return
        if path == PREFIX or path.startswith(PREFIX + "/"):
            await self._api(scope, receive, send, identity)
            return
        raise NotFound(f"Invalid URL ({method} {path[:200]})", code="unknown_url")

    async def _authenticate(self, scope: Scope) -> AdminIdentity:
        auth = header(scope, b"authorization") or ""
        scheme, _, token = auth.partition(" ")
        return await self.runtime.admin_auth.verify(
            token.strip() if scheme.lower() == "bearer" else None
        )

    async def _api(
        self, scope: Scope, receive: Receive, send: Send, identity: AdminIdentity
    ) -> None:
        """Hand the request to the FastAPI app, with the identity and a bounded JSON body."""
        limit = self.runtime.config.server.max_body_bytes
        ctype = header(scope, b"content-type")
        if ctype is not None and ctype.split(";", 1)[0].strip().lower() != "application/json":
            raise RequestRejected(
                "Content-Type must be application/json.", status=415, code="unsupported_media_type"
            )
        declared = header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large(limit)
            return message

        state = {**(scope.get("state") or {}), IDENTITY_STATE: identity}
        await self.api({**scope, "state": state}, bounded_receive, send)


def _store_down() -> ApiError:
    return ApiError(
        "The store is unavailable; try again shortly.", code="storage_unavailable", status=503
    )


def _too_large(limit: int) -> RequestRejected:
    return RequestRejected(
        f"The request body is larger than {limit} bytes.", status=413, code="request_too_large"
    )
