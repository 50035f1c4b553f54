"""Policy replay: re-decide recent recorded calls under a policy version (stored, or a
pasted text) and list the calls whose decision would change (``policy.replay``, the
logic of ``bastion policy replay``).

Calls are rebuilt from their audit facts only (caller, model, classes found and where,
tools, the exception named): no prompt text is read or decrypted, whatever the audit
settings. Each request replays at most ``limit`` calls of the window, newest first
(``limit`` and ``cursor`` are query parameters, as for every list); ``next_cursor``
continues with older ones.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from bastion.pipeline.guardrails import active_classes
from bastion.policy.replay import CallChange, Outcome, Replay, class_set_of
from bastion.server.admin_api.context import Actor, Ctx
from bastion.server.admin_api.paging import Cursor, decode_cursor, encode_cursor
from bastion.server.admin_api.policies import load_policy
from bastion.server.admin_api.policy_models import PolicyRef
from bastion.server.admin_api.routing import Route
from bastion.storage.call_search import CallFilter
from bastion.storage.class_sets import ClassSetRepository

DEFAULT_WINDOW = timedelta(days=7)
MAX_CALLS = 5000


class ReplayRequest(BaseModel):
    """What to replay: a policy over the recorded calls of a window, newest first."""

    model_config = ConfigDict(extra="forbid")

    policy: PolicyRef | None = Field(None, description="Default: the active version.")
    since: AwareDatetime | None = Field(None, description="Window start (default: 7 days ago).")
    until: AwareDatetime | None = Field(None, description="Window end, exclusive (default: now).")

    @model_validator(mode="after")
    def _ordered(self) -> ReplayRequest:
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise ValueError("until must be after since")
        return self


class Verdict(BaseModel):
    """A decision as replay compares it."""

    action: str
    rules: list[str]
    route: str | None
    redactions: dict[str, str]

    @classmethod
    def of(cls, outcome: Outcome) -> Verdict:
        return cls(
            action=outcome.action,
            rules=list(outcome.rules),
            route=outcome.route,
            redactions=dict(outcome.redactions),
        )


class ChangedCall(BaseModel):
    """A recorded call the policy would decide differently."""

    request_id: str
    started_at: datetime
    app: str | None
    team: str | None
    user: str | None
    before: Verdict = Field(description="As recorded.")
    after: Verdict = Field(description="Under the replayed policy.")
    transition: str = Field(description="e.g. `allow → block`.")
    rule: str = Field(description="The rule the change is about.")
    incomplete: bool = Field(
        description="The policy acts on classes this call was not scanned for, or on an "
        "exception its record does not carry: the result may be wrong."
    )

    @classmethod
    def of(cls, change: CallChange) -> ChangedCall:
        return cls(
            request_id=change.request_id,
            started_at=datetime.fromtimestamp(change.started_at, UTC),
            app=change.app,
            team=change.team,
            user=change.user,
            before=Verdict.of(change.recorded),
            after=Verdict.of(change.candidate),
            transition=change.transition,
            rule=change.rule,
            incomplete=change.incomplete,
        )


ReplayLimit = Annotated[
    int, Query(ge=1, le=MAX_CALLS, description=f"Calls replayed by this request (1-{MAX_CALLS}).")
]


class ReplayResult(BaseModel):
    """This page's calls: how many were replayed, changed or incomplete, the changes."""

    object: Literal["list"] = "list"
    policy: str = Field(description="The replayed version (name@label+digest).")
    since: datetime
    until: datetime | None
    records: int = Field(description="Calls read in this page.")
    replayed: int = Field(description="Calls that were decided and could be re-decided.")
    unchanged: int
    changed: int
    incomplete: int
    skipped: dict[str, int]
    transitions: dict[str, int]
    data: list[ChangedCall] = Field(description="The changed calls, newest first.")
    has_more: bool
    next_cursor: str | None


async def replay_policy(
    actor: Actor,
    context: Ctx,
    body: ReplayRequest,
    limit: ReplayLimit = 1000,
    cursor: Cursor = None,
) -> ReplayResult:
    """Replay recent recorded calls under a policy; list the calls whose decision changes.

    Calls are rebuilt from their audit facts (never their content) and decided with the
    policy's static exceptions as of when each was made, as `bastion policy replay`.
    """
    loaded = await load_policy(context, body.policy)
    config = context.runtime.config
    now = datetime.now(UTC)
    since = body.since or now - DEFAULT_WINDOW
    after = decode_cursor(cursor, (float, str))
    where = CallFilter(
        since=since.timestamp(), until=body.until.timestamp() if body.until else None
    )
    page = await context.search.page(
        where,
        limit=limit,
        after=(float(after[0]), str(after[1])) if after is not None else None,
    )
    digests = {
        digest
        for record in page.records
        if isinstance(digest := record.request_facts.get("class_set"), str)
    }
    known = await ClassSetRepository(context.runtime.database).get_many(digests)
    run = Replay(loaded.policy, registry=active_classes(config))
    changes = [
        change
        for record in page.records
        if (change := run.add(record, class_set_of(record, known))) is not None
    ]
    report = run.report()
    following = encode_cursor(page.after) if page.after is not None else None
    return ReplayResult(
        policy=report.candidate,
        since=since,
        until=body.until,
        records=report.records,
        replayed=report.replayed,
        unchanged=report.unchanged,
        changed=report.changed,
        incomplete=report.incomplete,
        skipped=dict(report.skipped),
        transitions=dict(report.transitions),
        data=[ChangedCall.of(change) for change in changes],
        has_more=following is not None,
        next_cursor=following,
    )


ROUTES = (Route("POST", "/policies/replay", replay_policy, "policies.replay", (400, 404)),)
