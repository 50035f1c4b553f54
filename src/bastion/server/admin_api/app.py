"""The admin API as a FastAPI app: every route from its module's ``ROUTES``, each one
in the permission table, errors in the OpenAI shape, and an OpenAPI 3.1 document that
lists the errors each route can answer (docs/openapi/admin.json is this document)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from bastion import __version__
from bastion.server.admin_api import (
    audit,
    console_sessions,
    exceptions,
    keys,
    metrics,
    policies,
    replay,
    simulate,
    spend,
    system,
)
from bastion.server.admin_api.context import AdminContext
from bastion.server.admin_api.errors import error_responses, install_error_handlers
from bastion.server.admin_api.permissions import PERMISSIONS
from bastion.server.admin_api.routing import Route, add_routes

PREFIX = "/admin/api"
ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorBody"}
REQUEST_ID_HEADER = {
    "description": "Identifies this response in the gateway's logs (adm_...).",
    "schema": {"type": "string"},
}
REQUEST_ID_REF = {"$ref": "#/components/headers/RequestId"}
ROUTES: tuple[Route, ...] = (
    *system.ROUTES,
    *keys.ROUTES,
    *policies.ROUTES,
    *simulate.ROUTES,
    *replay.ROUTES,
    *exceptions.ROUTES,
    *spend.ROUTES,
    *audit.ROUTES,
    *metrics.ROUTES,
    *console_sessions.ROUTES,
)
DESCRIPTION = """\
Bastion's admin API: gateway keys, policy versions and their simulator, policy
exceptions, budgets and usage, the audit trail, overview metrics, and who is signed in
to the console.

Every route needs an admin token (`Authorization: Bearer bat_...`); what a role may call
is in docs/admin-api.md. Errors have the OpenAI shape
`{"error": {"message", "type", "code", "param"}}`. Lists take `limit` and `cursor` and
answer `{"object": "list", "data", "has_more", "next_cursor"}`.
"""


class AdminAPI(FastAPI):
    """FastAPI with the project's OpenAPI document (no FastAPI validation bodies)."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            self.openapi_schema = _finish(super().openapi())
        return self.openapi_schema


def create_admin_api(context: AdminContext | None = None) -> AdminAPI:
    """The admin API on ``context`` (None: only its document, e.g. to write it out)."""
    app = AdminAPI(
        title="Bastion admin API",
        version=__version__,
        description=DESCRIPTION,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.admin_context = context
    install_error_handlers(app)
    add_routes(app.router, ROUTES, prefix=PREFIX)
    names = {route.name for route in app.routes if isinstance(route, APIRoute)}
    if names != set(PERMISSIONS):
        unlisted = sorted(names - set(PERMISSIONS))
        unknown = sorted(set(PERMISSIONS) - names)
        raise RuntimeError(f"admin routes without permissions {unlisted}; unknown {unknown}")
    return app


def _finish(document: dict[str, Any]) -> dict[str, Any]:
    """The document as served: FastAPI's 422 validation responses and schemas dropped
    (bad input is a 400 in the OpenAI shape here), 413 and 415 on routes with a body,
    and ``x-bastion-request-id`` on every response."""
    body_errors = error_responses((413, 415))
    for item in document.get("paths", {}).values():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            if "requestBody" in operation:
                for status, entry in body_errors.items():
                    responses[str(status)] = {
                        "description": entry["description"],
                        "content": {"application/json": {"schema": ERROR_SCHEMA}},
                    }
            for response in responses.values():
                response.setdefault("headers", {})["x-bastion-request-id"] = REQUEST_ID_REF
            operation["responses"] = dict(sorted(responses.items()))
    components = document.setdefault("components", {})
    components.setdefault("headers", {})["RequestId"] = REQUEST_ID_HEADER
    schemas = components.get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return document


def document_text() -> str:
    """The OpenAPI document as committed in docs/openapi/admin.json."""
    return json.dumps(create_admin_api().openapi(), indent=2, ensure_ascii=False) + "\n"
