"""Audit trail routes: search the call records, one call's record with its place in the
hash chain, and the chain's verification (``audit.verify``: run on demand, the last
result kept). Records hold classes, places and counts, never values; retained content
is served by its own route, each read an admin event (``pipeline.content_access``: plain
content to record readers; encrypted content only with ``audit.admin_api_decrypts`` on
and to the roles in ``audit.decrypt_roles``)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel, Field

from bastion.audit import location as audit_location
from bastion.audit.checkpoints import Checkpoint, public_keys, read_checkpoints
from bastion.audit.verify import verify
from bastion.crypto.content import ContentUnreadable
from bastion.errors import Conflict, NotFound, PermissionDenied
from bastion.identity.admin import AdminRole
from bastion.model import CallRecord
from bastion.model.audit import record_document, record_to_json, rules_acted
from bastion.model.chain import ChainedEvent
from bastion.pipeline.content_access import read_content
from bastion.server.admin_api.context import Actor, AdminContext, Ctx, VerificationRun
from bastion.server.admin_api.paging import Cursor, Limit, Page, decode_cursor, encode_cursor
from bastion.server.admin_api.params import Filter, Since, Until, epoch, utc
from bastion.server.admin_api.routing import Route
from bastion.storage.audit_content import AuditContentRepository
from bastion.storage.call_search import CallFilter

RequestId = Annotated[str, Path(min_length=1, max_length=128, description="x-bastion-request-id")]
RuleFilter = Annotated[
    str | None,
    Query(
        max_length=200,
        pattern=r"^[a-z0-9_.-]+$",
        description="A rule that acted on the call: on the request, or (output and tool "
        "rules) on the answer.",
    ),
]
ClassFilter = Annotated[
    str | None,
    Query(
        alias="class",
        max_length=200,
        pattern=r"^[a-z0-9_.]+(\.\*)?$",
        description="A class (pii.email) or a family (pii.*).",
    ),
]


_RULES_ACTED = (
    "Every rule that acted on the call, each once: the rules that decided on the request, "
    "then output rules that redacted or refused the answer and tool rules that removed a "
    "tool or refused a tool call (request_facts). A search by rule finds the call by "
    "any of them."
)


class AuditSummary(BaseModel):
    """One call as the search lists it."""

    request_id: str
    started_at: datetime
    endpoint: str
    key_id: str | None
    name: str | None
    user: str | None
    app: str | None
    team: str | None
    environment: str | None
    owner: str | None
    model_requested: str | None
    model_used: str | None
    decision: str
    status: str
    http_status: int
    error_code: str | None
    rules: list[str] = Field(description="The rules that decided on the request.")
    rules_acted: list[str] = Field(description=_RULES_ACTED)
    classes: list[str] = Field(description="Classes found (names only).")
    exception: str | None = Field(description="The exception that let it through, if any.")
    policy_version: str | None
    gateway_ms: float
    upstream_ms: float
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None


class AuditPage(Page[AuditSummary]):
    """Calls, newest first."""


class FindingSummaryInfo(BaseModel):
    data_class: str
    source: str
    location: str
    count: int
    score: float
    dummy: bool = Field(
        False, description="Documented example or filler credentials (meta.known_dummy)."
    )


class AuditRecord(BaseModel):
    """A call record as chained (``started_at`` in epoch seconds, as hashed)."""

    request_id: str
    started_at: float
    endpoint: str
    key_id: str | None
    name: str | None
    user: str | None
    app: str | None
    team: str | None
    environment: str | None
    roles: list[str] | None
    owner: str | None
    model_requested: str | None
    model_used: str | None
    provider: str | None
    decision: str
    status: str
    http_status: int
    error_code: str | None
    stream: bool
    prompt_tokens: int
    completion_tokens: int
    usage_estimated: bool
    gateway_ms: float
    upstream_ms: float
    findings: list[FindingSummaryInfo]
    rules: list[str] = Field(description="The rules that decided on the request.")
    rules_acted: list[str] = Field(
        description=_RULES_ACTED + " Not chained: read from rules and request_facts."
    )
    policy_version: str | None
    cost_usd: float | None
    end_user_claimed: str | None
    client_addr: str | None
    request_facts: dict[str, Any] = Field(
        description="Decision facts: route, redactions, exception applied or named, shadow "
        "decision, tools stripped, segments (source and length), class set."
    )


class ChainLink(BaseModel):
    """Where the call sits in its writer's hash chain."""

    writer: str
    seq: int
    kind: str = Field(description="intent (before the upstream) or completion.")
    at: datetime
    hash: str
    prev_hash: str


class ContentInfo(BaseModel):
    """Content retained for the call (never the content itself)."""

    mode: str
    digest: str
    kept_at: datetime
    truncated: bool
    encrypted_with: str | None


class RetainedContent(BaseModel):
    """A call's retained content, opened for the reader (the read is an admin event)."""

    request_id: str
    mode: str
    truncated: bool
    intact: bool | None = Field(
        description="Whether it still matches the digest its chained record names; null "
        "when not opened."
    )
    document: dict[str, Any] | None = Field(
        description="The content (messages, answer); null for encrypted content read "
        "without decrypt=true."
    )


class AuditEvent(BaseModel):
    """One call: its record, its chain links and what content is kept for it."""

    record: AuditRecord
    chain: list[ChainLink]
    content: ContentInfo | None


class Problem(BaseModel):
    reason: str
    writer: str | None
    seq: int | None
    request_id: str | None


class VerificationInfo(BaseModel):
    """The last verification of the audit chain this gateway process ran."""

    ran: bool = Field(description="False until a verification was run.")
    ok: bool | None
    verified_at: datetime | None
    duration_s: float | None
    events: int
    records: int
    checkpoints: int
    writers: dict[str, int] = Field(description="Each writer's chain head (seq).")
    problem: Problem | None
    checkpoints_file: str | None


def _summary(record: CallRecord) -> AuditSummary:
    values = record_to_json(record)
    applied = record.request_facts.get("exception_applied")
    return AuditSummary(
        **{name: values[name] for name in _SUMMARY_FIELDS},
        started_at=utc(record.started_at),
        rules=list(record.rules),
        rules_acted=list(rules_acted(record)),
        classes=sorted({f.data_class for f in record.findings}),
        exception=applied if isinstance(applied, str) else None,
    )


_SUMMARY_FIELDS = (
    "request_id",
    "endpoint",
    "key_id",
    "name",
    "user",
    "app",
    "team",
    "environment",
    "owner",
    "model_requested",
    "model_used",
    "decision",
    "status",
    "http_status",
    "error_code",
    "policy_version",
    "gateway_ms",
    "upstream_ms",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
)


async def search_calls(
    actor: Actor,
    context: Ctx,
    limit: Limit = 50,
    cursor: Cursor = None,
    since: Since = None,
    until: Until = None,
    user: Filter = None,
    app: Filter = None,
    team: Filter = None,
    environment: Filter = None,
    key_id: Filter = None,
    decision: Filter = None,
    status: Filter = None,
    rule: RuleFilter = None,
    data_class: ClassFilter = None,
    model: Filter = None,
) -> AuditPage:
    """Calls matching every filter given, newest first."""
    after = decode_cursor(cursor, (float, str))
    where = CallFilter(
        since=epoch(since) if since is not None else None,
        until=epoch(until) if until is not None else None,
        user=user,
        app=app,
        team=team,
        environment=environment,
        key_id=key_id,
        decision=decision,
        status=status,
        rule=rule,
        data_class=data_class,
        model=model,
    )
    page = await context.search.page(
        where,
        limit=limit,
        after=(float(after[0]), str(after[1])) if after is not None else None,
    )
    following = encode_cursor(page.after) if page.after is not None else None
    return AuditPage(
        data=[_summary(record) for record in page.records],
        has_more=following is not None,
        next_cursor=following,
    )


def _link(event: ChainedEvent) -> ChainLink:
    return ChainLink(
        writer=event.writer_id,
        seq=event.seq,
        kind=event.kind,
        at=utc(event.at),
        hash=event.hash,
        prev_hash=event.prev_hash,
    )


async def audit_event(actor: Actor, context: Ctx, request_id: RequestId) -> AuditEvent:
    """One call's record, its links in the audit chain and its retained content's kind."""
    record = await context.runtime.records.get(request_id)
    if record is None:
        raise NotFound(f"no call record with id {request_id[:64]!r}", code="record_not_found")
    links = [
        *(await context.events.events_for(request_id, "intent")),
        *(await context.events.events_for(request_id, "completion")),
    ]
    stored = await AuditContentRepository(context.runtime.database).for_request(request_id)
    content = None
    if stored is not None:
        content = ContentInfo(
            mode=stored.mode,
            digest=stored.digest,
            kept_at=utc(stored.created_at),
            truncated=stored.truncated,
            encrypted_with=stored.key_id,
        )
    return AuditEvent(
        record=AuditRecord.model_validate(record_document(record)),
        chain=[_link(event) for event in links],
        content=content,
    )


async def audit_content(
    actor: Actor,
    context: Ctx,
    request_id: RequestId,
    decrypt: Annotated[
        bool,
        Query(
            description="Decrypt encrypted content: needs audit.admin_api_decrypts and a "
            "role in audit.decrypt_roles."
        ),
    ] = False,
    reason: Annotated[
        str | None, Query(max_length=2000, description="Why it is read; kept with the event.")
    ] = None,
) -> RetainedContent:
    """One call's retained content. Each read is an admin event naming the reader."""
    stored = await AuditContentRepository(context.runtime.database).for_request(request_id)
    if stored is None:
        raise NotFound(
            f"no content is retained for request {request_id[:64]!r}", code="content_not_found"
        )
    shown = RetainedContent(
        request_id=request_id,
        mode=stored.mode,
        truncated=stored.truncated,
        intact=None,
        document=None,
    )
    if stored.mode == "encrypted" and not decrypt:
        return shown
    audit = context.runtime.config.audit
    if stored.mode == "encrypted" and not audit.admin_api_decrypts:
        raise PermissionDenied(
            "This gateway does not decrypt retained content through the admin API "
            "(audit.admin_api_decrypts is off); `bastion audit show --decrypt` can, on a "
            "host holding the keyring.",
            code="decryption_disabled",
        )
    try:
        read = await read_content(
            stored,
            actor,
            ring=context.runtime.guardrails.keyring,
            decrypt_roles=[AdminRole(role) for role in audit.decrypt_roles],
            trail=context.trail,
            reason=reason,
        )
    except ContentUnreadable as exc:
        message = f"the retained content cannot be opened: {exc}"
        raise Conflict(message, code="content_unreadable") from None
    return shown.model_copy(update={"intact": read.intact, "document": read.document})


def _verification(context: AdminContext) -> VerificationInfo:
    run = context.verification
    checkpoints = audit_location.checkpoint_file(context.runtime.config)
    shown_file = str(checkpoints) if checkpoints.exists() else None
    if run is None:
        return VerificationInfo(
            ran=False,
            ok=None,
            verified_at=None,
            duration_s=None,
            events=0,
            records=0,
            checkpoints=0,
            writers={},
            problem=None,
            checkpoints_file=shown_file,
        )
    result = run.result.to_json()
    return VerificationInfo(
        ran=True,
        ok=result["ok"],
        verified_at=utc(run.finished_at),
        duration_s=round(run.duration_s, 3),
        events=result["events"],
        records=result["records"],
        checkpoints=result["checkpoints"],
        writers=result["writers"],
        problem=Problem.model_validate(result["problem"]) if result["problem"] else None,
        checkpoints_file=shown_file,
    )


async def read_verification(actor: Actor, context: Ctx) -> VerificationInfo:
    """The result of the last chain verification this gateway process ran."""
    return _verification(context)


async def run_verification(actor: Actor, context: Ctx) -> VerificationInfo:
    """Verify the audit chain now: every writer's links, the call records against their
    chained copies, and the signed checkpoints (one run at a time)."""
    async with context.verifying:
        path = audit_location.checkpoint_file(context.runtime.config)
        checkpoints: list[tuple[int, Checkpoint | None]] = []
        if path.exists():
            checkpoints = list(read_checkpoints(path))
        keys = public_keys(context.runtime.guardrails.keyring)
        started = time.monotonic()
        result = await verify(context.events, checkpoints, keys)
        context.verification = VerificationRun(time.time(), time.monotonic() - started, result)
        return _verification(context)


ROUTES = (
    Route("GET", "/audit/events", search_calls, "audit.search", (400,)),
    Route("GET", "/audit/events/{request_id}", audit_event, "audit.event", (400, 404)),
    Route(
        "GET",
        "/audit/events/{request_id}/content",
        audit_content,
        "audit.content",
        (400, 404, 409),
    ),
    Route("GET", "/audit/verification", read_verification, "audit.verification.read"),
    Route("POST", "/audit/verification", run_verification, "audit.verification.run"),
)
