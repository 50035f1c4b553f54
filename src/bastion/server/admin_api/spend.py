"""Budget and usage routes: where each configured budget stands this period, and settled
spend grouped by team, app, user, key, environment or model (the spend ledger). App
owners see only budgets scoped to their apps or keys, and only their keys' usage."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Literal

import orjson
from fastapi import Query
from pydantic import BaseModel, Field

from bastion.identity.ownership import Ownership
from bastion.limits.budget_status import BudgetStatus, budget_statuses
from bastion.model.spend import PICO_USD
from bastion.server.admin_api.context import Actor, Ctx
from bastion.server.admin_api.paging import Cursor, Limit, Page, page_in_memory
from bastion.server.admin_api.params import Filter, Since, Until, time_range, utc
from bastion.server.admin_api.routing import Route
from bastion.storage.spend_usage import Owned, SpendGroup

GroupField = Literal["key_id", "user", "app", "team", "environment", "model"]
DEFAULT_WINDOW_S = 30 * 86400.0


class BudgetWindow(BaseModel):
    period: str | None = Field(description="day, week or month; null for a rolling window.")
    rolling_s: float | None
    usd: float | None
    tokens: int | None
    soft: float | None


class LimitRuleInfo(BaseModel):
    """A configured limit rule (``limits.rules``)."""

    id: str
    scope: list[str]
    match: dict[str, list[str]]
    requests_per_minute: int | None
    tokens_per_minute: int | None
    concurrent_requests: int | None
    budgets: list[BudgetWindow]


class BudgetInfo(BaseModel):
    """One budget of one rule for one scope, this period."""

    rule: str
    scope: dict[str, str] = Field(description="Scope field values; - for callers without one.")
    measure: str = Field(description="usd or tokens.")
    window: str
    period: str | None = Field(description="e.g. month:2026-12; null for a rolling window.")
    start: datetime
    resets_at: datetime | None
    limit: float
    spent: float = Field(description="Settled spend (calls in flight are not in it yet).")
    share: float
    soft: float | None


class BudgetList(Page[BudgetInfo]):
    """Budgets with spend this period, by rule and scope, and the rules configured."""

    timezone: str
    rules: list[LimitRuleInfo]


class UsageGroup(BaseModel):
    """Settled spend of one combination of the grouped fields."""

    group: dict[str, str | None]
    calls: int
    prompt_tokens: int
    completion_tokens: int
    tokens: int
    cost_usd: float


class UsageReport(Page[UsageGroup]):
    """Spend by group, most expensive first."""

    since: datetime
    until: datetime | None
    group_by: list[str]


def _budget(status: BudgetStatus) -> BudgetInfo:
    return BudgetInfo(
        rule=status.rule,
        scope=status.scope,
        measure=status.measure,
        window=status.window,
        period=status.period,
        start=datetime.fromtimestamp(status.start, UTC),
        resets_at=utc(status.resets_at),
        limit=status.limit,
        spent=status.spent,
        share=round(status.share, 6),
        soft=status.soft,
    )


def _owns_budget(owned: Ownership, status: BudgetStatus) -> bool:
    app, key = status.scope.get("app"), status.scope.get("key")
    return (app is not None and app in owned.apps) or (key is not None and key in owned.key_ids)


async def list_budgets(
    actor: Actor, context: Ctx, limit: Limit = 100, cursor: Cursor = None
) -> BudgetList:
    """Each configured budget's settled spend per scope in its current period."""
    limits = context.runtime.config.limits
    statuses = await budget_statuses(limits, context.runtime.spend, time.time())
    owned = await context.governance.ownership(actor)
    if owned is not None:
        statuses = [s for s in statuses if _owns_budget(owned, s)]
    page, following = page_in_memory(
        statuses,
        lambda s: (s.rule, s.window, s.measure, orjson.dumps(s.scope).decode()),
        limit=limit,
        cursor=cursor,
        kinds=(str, str, str, str),
    )
    rules = [
        LimitRuleInfo(
            id=rule.rule_id,
            scope=list(rule.scope),
            match={k: [v] if isinstance(v, str) else list(v) for k, v in rule.match.items()},
            requests_per_minute=rule.requests_per_minute,
            tokens_per_minute=rule.tokens_per_minute,
            concurrent_requests=rule.concurrent_requests,
            budgets=[BudgetWindow.model_validate(b.model_dump()) for b in rule.budgets],
        )
        for rule in limits.rules
        if owned is None or {"app", "key"} & set(rule.scope)
    ]
    return BudgetList(
        data=[_budget(status) for status in page],
        has_more=following is not None,
        next_cursor=following,
        timezone=limits.timezone,
        rules=rules,
    )


def _usage(group: SpendGroup) -> UsageGroup:
    return UsageGroup(
        group=dict(group.values),
        calls=group.calls,
        prompt_tokens=group.prompt_tokens,
        completion_tokens=group.completion_tokens,
        tokens=group.prompt_tokens + group.completion_tokens,
        cost_usd=group.cost_pusd / PICO_USD,
    )


async def usage_summary(
    actor: Actor,
    context: Ctx,
    limit: Limit = 100,
    cursor: Cursor = None,
    since: Since = None,
    until: Until = None,
    group_by: Annotated[
        list[GroupField] | None, Query(description="Fields to group by (repeat; default team).")
    ] = None,
    key_id: Filter = None,
    user: Filter = None,
    app: Filter = None,
    team: Filter = None,
    environment: Filter = None,
    model: Filter = None,
) -> UsageReport:
    """Settled calls, tokens and cost by group (app owners: their keys and apps only).

    The range defaults to the last 30 days.
    """
    start, end = time_range(since, until, DEFAULT_WINDOW_S)
    fields = list(dict.fromkeys(group_by or ["team"]))
    given = {
        "key_id": key_id,
        "user": user,
        "app": app,
        "team": team,
        "environment": environment,
        "model": model,
    }
    filters = {name: value for name, value in given.items() if value is not None}
    owned = await context.governance.ownership(actor)
    mine = Owned(owned.key_ids, owned.apps) if owned is not None else None
    groups = await context.spend.grouped(
        since=start, until=end, group_by=fields, filters=filters, owned=mine
    )
    ordered = sorted(groups, key=lambda g: (-g.cost_pusd, orjson.dumps(dict(g.values)).decode()))
    page, following = page_in_memory(
        ordered,
        lambda g: (-g.cost_pusd, orjson.dumps(dict(g.values)).decode()),
        limit=limit,
        cursor=cursor,
        kinds=(int, str),
    )
    return UsageReport(
        data=[_usage(group) for group in page],
        has_more=following is not None,
        next_cursor=following,
        since=datetime.fromtimestamp(start, UTC),
        until=utc(end),
        group_by=fields,
    )


ROUTES = (
    Route("GET", "/budgets", list_budgets, "budgets.list", (400,)),
    Route("GET", "/usage", usage_summary, "usage.summary", (400,)),
)
