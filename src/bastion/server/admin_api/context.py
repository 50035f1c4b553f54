"""What every admin API route gets: the running gateway's stores and services, and the
admin identity calling it, checked against the permission table for that route."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any, cast

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bastion.audit import location as audit_location
from bastion.audit.checkpoints import Signer
from bastion.audit.verify import Verification
from bastion.errors import InternalError, PermissionDenied, ServiceUnavailable
from bastion.identity.admin import AdminIdentity
from bastion.pipeline.admin_trail import AdminTrail
from bastion.pipeline.governance import Governance
from bastion.server.admin_api.permissions import PERMISSIONS
from bastion.server.runtime import Runtime
from bastion.storage.audit_events import AuditEventRepository
from bastion.storage.call_search import CallSearch
from bastion.storage.call_stats import CallStats
from bastion.storage.spend_usage import SpendUsage

IDENTITY_STATE = "bastion_admin_identity"
"""Key of the identity the admin app authenticated, in the ASGI scope's ``state``."""


@dataclass(slots=True)
class VerificationRun:
    """The last audit chain verification this process ran, and when (epoch seconds)."""

    finished_at: float
    duration_s: float
    result: Verification


class AdminContext:
    """The gateway runtime and the services the admin API reads and changes it with."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        database = runtime.database
        trail = AdminTrail(
            AuditEventRepository(database),
            signer=Signer(runtime.guardrails.keyring.active("signing")),
            checkpoint_file=audit_location.checkpoint_file(runtime.config),
        )
        self.trail = trail
        self.governance = Governance(database, lambda: runtime.config, trail)
        self.events = AuditEventRepository(database)
        self.search = CallSearch(database)
        self.stats = CallStats(database)
        self.spend = SpendUsage(database)
        self.verification: VerificationRun | None = None
        self.verifying = asyncio.Lock()


def admin_context(request: Request) -> AdminContext:
    """The context the app was built with (503 when it runs without a gateway)."""
    context: Any = request.app.state.admin_context
    if context is None:
        raise ServiceUnavailable(
            "The admin API is not attached to a running gateway.", code="admin_unavailable"
        )
    return cast(AdminContext, context)


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="adminToken",
    description="An admin token (`bat_<id>_<secret>`, from `bastion admin-token create`). "
    "Gateway keys are never accepted.",
)


async def authorized_admin(
    request: Request,
    context: Annotated[AdminContext, Depends(admin_context)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> AdminIdentity:
    """The calling admin identity, when its role may call this route (PERMISSIONS)."""
    state = request.scope.get("state") or {}
    identity = state.get(IDENTITY_STATE)
    if not isinstance(identity, AdminIdentity):
        token = credentials.credentials if credentials is not None else None
        identity = await context.runtime.admin_auth.verify(token)
    route = request.scope.get("route")
    name = getattr(route, "name", None)
    roles = PERMISSIONS.get(name) if isinstance(name, str) else None
    if roles is None:  # build_admin_api refuses routes without an entry
        raise InternalError("This admin route has no permission entry.")
    if identity.role not in roles:
        allowed = " or ".join(sorted(role.value for role in roles))
        raise PermissionDenied(
            f"{identity.subject!r} has the role {identity.role.value!r}; "
            f"{request.method} {request.url.path[:200]} needs {allowed}",
            code="admin_role_required",
        )
    return identity


Ctx = Annotated[AdminContext, Depends(admin_context)]
"""The admin context, as a route parameter."""
Actor = Annotated[AdminIdentity, Depends(authorized_admin)]
"""The authorised admin identity, as a route parameter (every route takes one)."""
