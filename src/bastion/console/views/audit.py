"""Audit explorer: the call records filtered by time, user, app, team, environment,
decision, rule, class and model (the indexed search, a page at a time); one call's
decision trace and chain links; the audit chain's verification status."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from bastion.console.forms import build, parse_time
from bastion.console.page import Action, Page, View
from bastion.server.admin_api import audit

PAGE_SIZES = (25, 50, 100)
DECISIONS = ("allow", "redact", "reroute", "require_exception", "block")
FILTERS = ("user", "app", "team", "environment", "key_id", "decision", "rule", "class", "model")
Name = Annotated[str | None, Field(None, max_length=200)]


class AuditFilters(BaseModel):
    """The explorer's filters, checked as the admin API checks its query."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    user: Name = None
    app: Name = None
    team: Name = None
    environment: Name = None
    key_id: Name = None
    decision: Name = None
    rule: Annotated[str | None, Field(None, max_length=200, pattern=r"^[a-z0-9_.-]+$")] = None
    data_class: Annotated[
        str | None, Field(None, alias="class", max_length=200, pattern=r"^[a-z0-9_.]+(\.\*)?$")
    ] = None
    model: Name = None


async def search(view: View) -> Response:
    """One page of matching calls, newest first, and the chain's last verification."""
    values = {name: view.query(name) for name in FILTERS}
    filters = build(AuditFilters, values)
    since = parse_time(view.query("since"), "since")
    until = parse_time(view.query("until"), "until")
    size = view.query("limit") or str(PAGE_SIZES[1])
    limit = int(size) if size.isdigit() and int(size) in PAGE_SIZES else PAGE_SIZES[1]
    actor, context = view.identity, view.context
    found = await audit.search_calls(
        actor,
        context,
        limit=limit,
        cursor=view.query("cursor", max_chars=512),
        since=since,
        until=until,
        user=filters.user,
        app=filters.app,
        team=filters.team,
        environment=filters.environment,
        key_id=filters.key_id,
        decision=filters.decision,
        rule=filters.rule,
        data_class=filters.data_class,
        model=filters.model,
    )
    kept = {name: value for name, value in values.items() if value is not None}
    for name in ("since", "until"):
        if view.query(name):
            kept[name] = view.query(name) or ""
    kept["limit"] = str(limit)
    return view.render(
        "audit.html",
        filters=values,
        since=view.query("since") or "",
        until=view.query("until") or "",
        limit=limit,
        page_sizes=PAGE_SIZES,
        decisions=DECISIONS,
        found=found,
        kept=kept,
        verification=await audit.read_verification(actor, context),
        verified=view.query("verified") is not None,
    )


async def event(view: View) -> Response:
    """One call: who, what was found where, which rules decided, the exception, the chain."""
    request_id = view.request.path_params["request_id"]
    detail = await audit.audit_event(view.identity, view.context, request_id[:128])
    facts = detail.record.request_facts
    return view.render("audit_event.html", event=detail, record=detail.record, facts=facts)


async def verify(view: View) -> Response:
    """Verify the audit chain now, then show the explorer with the result."""
    await audit.run_verification(view.identity, view.context)
    return view.redirect("/audit", verified="1")


PAGE = Page(
    name="audit",
    title="Audit",
    path="/audit",
    needs=("audit.search", "audit.verification.read"),
    actions=(
        Action("GET", "", search),
        Action("POST", "/verify", verify, "audit.verification.run"),
        Action("GET", "/{request_id}", event, "audit.event"),
    ),
)
