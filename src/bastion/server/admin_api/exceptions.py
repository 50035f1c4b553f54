"""Policy exception routes: list, show, request, approve, deny and revoke
(``pipeline.governance``: the approver is never the requester; app owners request for
their own apps, see their own, and withdraw their own requests by denying them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from bastion.errors import InvalidRequest
from bastion.model.exceptions import ExceptionState
from bastion.server.admin_api.context import Actor, Ctx
from bastion.server.admin_api.paging import Cursor, Limit, Page, page_in_memory
from bastion.server.admin_api.params import UtcTime
from bastion.server.admin_api.routing import Route
from bastion.storage.exceptions import StoredException

Name = Annotated[str, Field(min_length=1, max_length=200)]
Note = Annotated[str, Field(max_length=2000)]
ExceptionId = Annotated[str, Path(min_length=1, max_length=64, description="exc_...")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExceptionScope(_Strict):
    """Whose calls it covers: every field given must match the caller."""

    app: Name | None = None
    team: Name | None = None
    user: Name | None = None
    key_id: Name | None = None


class ExceptionRequest(_Strict):
    """An exception to ask for; someone else approves it."""

    rule: Name = Field(description="The rule id to waive, as in x-bastion-rules.")
    scope: ExceptionScope
    justification: Annotated[str, Field(min_length=1, max_length=2000)]
    expires_at: UtcTime = Field(description="When it ends (ISO-8601 with a zone).")
    owner: Name | None = Field(None, description="Who answers for it (default: the requester).")


class ExceptionDecision(_Strict):
    """Why (kept with the decision)."""

    note: Note | None = None


class ExceptionApproval(ExceptionDecision):
    """Why, and until when: the approver may set the expiry (default: the requested one)."""

    expires_at: UtcTime | None = Field(
        None, description="When the exception stops applying (ISO-8601 with a zone)."
    )
    expires_in: Annotated[str, Field(pattern=r"^[0-9]{1,6}[mhdw]$")] | None = Field(
        None, description="Or how long from now: a number and m, h, d or w (12h, 7d, 2w)."
    )

    @model_validator(mode="after")
    def _one_expiry(self) -> ExceptionApproval:
        if self.expires_at is not None and self.expires_in is not None:
            raise ValueError("give expires_at or expires_in, not both")
        return self

    def expiry(self, now: datetime) -> datetime | None:
        """The expiry asked for, as a time (None: keep the requested one)."""
        if self.expires_at is not None:
            return self.expires_at
        if self.expires_in is None:
            return None
        unit = _UNITS[self.expires_in[-1]]
        try:
            return now + int(self.expires_in[:-1]) * unit
        except OverflowError:  # 999999w: past what a datetime holds
            raise InvalidRequest(
                f"expires_in {self.expires_in!r} ends after the year 9999",
                param="expires_in",
            ) from None


_UNITS = {
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}


class ExceptionInfo(BaseModel):
    """An exception and its lifecycle; ``state`` is the state now."""

    id: str
    rule: str
    scope: dict[str, str]
    state: str = Field(description="requested, approved, denied, revoked or expired.")
    expires_at: datetime
    justification: str
    owner: str
    requester: str
    approver: str | None
    approved_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    created_at: datetime
    uses: int
    last_used_at: datetime | None
    warnings: list[str] = Field(
        default_factory=list,
        description="What the caller should know about the change just made, e.g. that "
        "the active policy has no rule with this id (the exception waives nothing until "
        "one is in force). Empty on reads.",
    )

    @classmethod
    def of(
        cls,
        stored: StoredException,
        now: datetime | None = None,
        warnings: list[str] | None = None,
    ) -> ExceptionInfo:
        return cls(
            id=stored.id,
            rule=stored.rule,
            scope=dict(stored.scope),
            state=stored.status(now or datetime.now(UTC)).value,
            expires_at=stored.expires_at,
            justification=stored.justification,
            owner=stored.owner,
            requester=stored.requester,
            approver=stored.approver,
            approved_at=stored.approved_at,
            decided_by=stored.decided_by,
            decided_at=stored.decided_at,
            decision_note=stored.decision_note,
            created_at=stored.created_at,
            uses=stored.uses,
            last_used_at=stored.last_used_at,
            warnings=warnings or [],
        )


class ExceptionList(Page[ExceptionInfo]):
    """Exceptions, oldest first."""


async def list_exceptions(
    actor: Actor,
    context: Ctx,
    limit: Limit = 100,
    cursor: Cursor = None,
    state: Annotated[ExceptionState | None, Query(description="Only in this state now.")] = None,
    app: Annotated[str | None, Query(max_length=200)] = None,
    rule: Annotated[str | None, Query(max_length=200)] = None,
) -> ExceptionList:
    """Exceptions the caller may see (app owners: their apps' and their own requests)."""
    now = datetime.now(UTC)
    found = await context.governance.list_exceptions(
        actor, state=state, app=app, rule=rule, now=now
    )
    page, following = page_in_memory(
        found,
        lambda stored: (stored.created_at.isoformat(), stored.id),
        limit=limit,
        cursor=cursor,
        kinds=(str, str),
    )
    data = [ExceptionInfo.of(stored, now) for stored in page]
    return ExceptionList(data=data, has_more=following is not None, next_cursor=following)


async def get_exception(actor: Actor, context: Ctx, exception_id: ExceptionId) -> ExceptionInfo:
    """One exception with its justification and decisions."""
    return ExceptionInfo.of(await context.governance.get_exception(actor, exception_id))


async def request_exception(actor: Actor, context: Ctx, body: ExceptionRequest) -> ExceptionInfo:
    """Ask for an exception (admin, security; app owners for their own apps)."""
    scope = {k: v for k, v in body.scope.model_dump().items() if v is not None}
    warnings: list[str] = []
    stored = await context.governance.request_exception(
        actor,
        rule=body.rule,
        scope=scope,
        justification=body.justification,
        expires_at=body.expires_at,
        owner=body.owner,
        warnings=warnings,
    )
    return ExceptionInfo.of(stored, warnings=warnings)


async def approve_exception(
    actor: Actor, context: Ctx, exception_id: ExceptionId, body: ExceptionApproval | None = None
) -> ExceptionInfo:
    """Approve a requested exception (not one's own); gateways apply it within seconds.

    The approver may set when it ends (`expires_at`, or `expires_in` such as `7d`); it
    must be in the future. Default: the expiry the requester asked for.
    """
    body = body or ExceptionApproval()
    expires_at = body.expiry(datetime.now(UTC))
    warnings: list[str] = []
    stored = await context.governance.approve_exception(
        actor, exception_id, note=body.note, expires_at=expires_at, warnings=warnings
    )
    return ExceptionInfo.of(stored, warnings=warnings)


async def deny_exception(
    actor: Actor, context: Ctx, exception_id: ExceptionId, body: ExceptionDecision | None = None
) -> ExceptionInfo:
    """Deny a requested exception (its requester may deny it to withdraw it)."""
    note = body.note if body is not None else None
    return ExceptionInfo.of(await context.governance.deny_exception(actor, exception_id, note=note))


async def revoke_exception(
    actor: Actor, context: Ctx, exception_id: ExceptionId, body: ExceptionDecision | None = None
) -> ExceptionInfo:
    """End an approved exception now; gateways stop applying it within seconds."""
    note = body.note if body is not None else None
    return ExceptionInfo.of(
        await context.governance.revoke_exception(actor, exception_id, note=note)
    )


_DECIDED = (400, 404, 409)
ROUTES = (
    Route("GET", "/exceptions", list_exceptions, "exceptions.list", (400,)),
    Route("POST", "/exceptions", request_exception, "exceptions.request", (400,), 201),
    Route("GET", "/exceptions/{exception_id}", get_exception, "exceptions.get", (400, 404)),
    Route(
        "POST",
        "/exceptions/{exception_id}/approve",
        approve_exception,
        "exceptions.approve",
        _DECIDED,
    ),
    Route("POST", "/exceptions/{exception_id}/deny", deny_exception, "exceptions.deny", _DECIDED),
    Route(
        "POST", "/exceptions/{exception_id}/revoke", revoke_exception, "exceptions.revoke", _DECIDED
    ),
)
