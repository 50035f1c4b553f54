"""Overview metrics, each one grouped query over the call records or the spend ledger:
calls by environment over time (with blocked and redacted counts), injection
detections by source, calls exceptions let through by app owner, spend by team against
its budget, and the gateway's own overhead percentiles."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from bastion.errors import InvalidRequest
from bastion.limits.budget_status import budget_statuses
from bastion.limits.periods import period_at
from bastion.model.spend import PICO_USD
from bastion.server.admin_api.context import Actor, Ctx
from bastion.server.admin_api.params import Since, Until, time_range, utc
from bastion.server.admin_api.routing import Route
from bastion.storage.call_search import CallFilter
from bastion.storage.call_stats import OVERHEAD_EDGES_MS, percentile_ms

DAY_S = 86400.0
MAX_BUCKETS = 1000


class Window(BaseModel):
    since: datetime
    until: datetime


class CallBucketInfo(BaseModel):
    start: datetime
    environment: str | None
    calls: int
    blocked: int = Field(description="Refused by the policy (block, require_exception).")
    redacted: int = Field(description="Forwarded with text redacted.")


class CallsOverTime(Window):
    """Calls per time bucket and environment, and the whole range by decision."""

    bucket_s: float
    total: int
    decisions: dict[str, int]
    buckets: list[CallBucketInfo]


class InjectionInfo(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    class_: str = Field(alias="class")
    source: str = Field(description="Where it was found: user, system, retrieved, tool_result.")
    detections: int
    calls: int


class Injections(Window):
    """Injection findings by class and source."""

    data: list[InjectionInfo]


class ExceptionUseInfo(BaseModel):
    owner: str | None = Field(description="The app owner of the calling keys.")
    calls: int = Field(description="Calls an exception let through.")
    exceptions: int = Field(description="Distinct exceptions used.")


class ExceptionUses(Window):
    """Calls that went through because of an exception, by app owner."""

    data: list[ExceptionUseInfo]


class TeamSpend(BaseModel):
    team: str | None
    calls: int
    tokens: int
    cost_usd: float
    budget_usd: float | None = Field(description="The team's USD budget this period.")
    budget_tokens: int | None
    share: float | None = Field(description="Spent share of the budget (USD first).")


class SpendByTeam(BaseModel):
    """Settled spend per team this period, beside budgets scoped to a team."""

    period: str
    start: datetime
    resets_at: datetime
    timezone: str
    data: list[TeamSpend]


class OverheadBucket(BaseModel):
    le_ms: float | None = Field(description="Upper bound (null: above the last bound).")
    calls: int


class OverheadSummary(Window):
    """The gateway's own time per call (not the upstream's), from the call records.

    Percentiles are read from a histogram whose buckets grow by 1.2 times (within 20%)."""

    calls: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    histogram: list[OverheadBucket] = Field(description="Non-empty buckets only.")


def _window(since: datetime | None, until: datetime | None) -> tuple[float, float]:
    start, end = time_range(since, until, DAY_S)
    return start, end if end is not None else time.time()


async def calls_over_time(
    actor: Actor,
    context: Ctx,
    since: Since = None,
    until: Until = None,
    bucket_s: Annotated[
        float, Query(ge=60, le=31 * DAY_S, description="Bucket width in seconds.")
    ] = 3600,
) -> CallsOverTime:
    """Calls per environment over time, with blocked and redacted counts (default: the
    last 24 hours in hours)."""
    start, end = _window(since, until)
    if (end - start) / bucket_s > MAX_BUCKETS:
        raise InvalidRequest(
            f"the range holds more than {MAX_BUCKETS} buckets; widen bucket_s", param="bucket_s"
        )
    where = CallFilter(since=start, until=end)  # a plain range: rollups serve it
    buckets = await context.stats.calls_over_time(where, since=start, bucket_s=bucket_s)
    decisions = await context.stats.decisions(where)
    return CallsOverTime(
        since=utc(start),
        until=utc(end),
        bucket_s=bucket_s,
        total=sum(decisions.values()),
        decisions=decisions,
        buckets=[
            CallBucketInfo(
                start=utc(b.start),
                environment=b.environment,
                calls=b.calls,
                blocked=b.blocked,
                redacted=b.redacted,
            )
            for b in buckets
        ],
    )


async def injections(
    actor: Actor, context: Ctx, since: Since = None, until: Until = None
) -> Injections:
    """Injection detections by class and source (default: the last 24 hours)."""
    start, end = _window(since, until)
    where = CallFilter(since=start, until=end)
    found = await context.stats.injections(where)
    return Injections(
        since=utc(start),
        until=utc(end),
        data=[
            InjectionInfo(
                class_=item.data_class,
                source=item.source,
                detections=item.detections,
                calls=item.calls,
            )
            for item in found
        ],
    )


async def exception_uses(
    actor: Actor, context: Ctx, since: Since = None, until: Until = None
) -> ExceptionUses:
    """Calls exceptions let through, by app owner (default: the last 24 hours)."""
    start, end = _window(since, until)
    where = CallFilter(since=start, until=end)
    found = await context.stats.exception_uses(where)
    return ExceptionUses(
        since=utc(start),
        until=utc(end),
        data=[
            ExceptionUseInfo(owner=u.owner, calls=u.calls, exceptions=u.exceptions) for u in found
        ],
    )


async def spend_by_team(
    actor: Actor,
    context: Ctx,
    period: Annotated[
        Literal["day", "week", "month"], Query(description="The current calendar period.")
    ] = "month",
) -> SpendByTeam:
    """Settled spend per team in the current period, against team budgets."""
    limits = context.runtime.config.limits
    now = time.time()
    current = period_at(period, now, ZoneInfo(limits.timezone))
    groups = await context.spend.grouped(since=current.start, until=None, group_by=["team"])
    budgets: dict[str, dict[str, float]] = {}
    for status in await budget_statuses(limits, context.runtime.spend, now):
        if list(status.scope) == ["team"] and status.period == current.id:
            budgets.setdefault(status.scope["team"], {})[status.measure] = status.limit
    teams = []
    for group in groups:
        team = group.values.get("team")
        budget = budgets.get(team or "-", {})
        cost = group.cost_pusd / PICO_USD
        tokens = group.prompt_tokens + group.completion_tokens
        share = None
        if budget.get("usd"):
            share = cost / budget["usd"]
        elif budget.get("tokens"):
            share = tokens / budget["tokens"]
        teams.append(
            TeamSpend(
                team=team,
                calls=group.calls,
                tokens=tokens,
                cost_usd=cost,
                budget_usd=budget.get("usd"),
                budget_tokens=int(budget["tokens"]) if "tokens" in budget else None,
                share=round(share, 6) if share is not None else None,
            )
        )
    return SpendByTeam(
        period=current.id,
        start=utc(current.start),
        resets_at=utc(current.end),
        timezone=limits.timezone,
        data=teams,
    )


async def overhead(
    actor: Actor, context: Ctx, since: Since = None, until: Until = None
) -> OverheadSummary:
    """Percentiles of the gateway's own time per call (default: the last 24 hours)."""
    start, end = _window(since, until)
    where = CallFilter(since=start, until=end)
    histogram = await context.stats.overhead_histogram(where)
    edges: list[float | None] = [*OVERHEAD_EDGES_MS, None]
    return OverheadSummary(
        since=utc(start),
        until=utc(end),
        calls=sum(histogram),
        p50_ms=percentile_ms(histogram, 0.5),
        p90_ms=percentile_ms(histogram, 0.9),
        p99_ms=percentile_ms(histogram, 0.99),
        histogram=[
            OverheadBucket(le_ms=edge, calls=count)
            for edge, count in zip(edges, histogram, strict=True)
            if count
        ],
    )


ROUTES = (
    Route("GET", "/metrics/calls", calls_over_time, "metrics.calls", (400,)),
    Route("GET", "/metrics/injections", injections, "metrics.injections", (400,)),
    Route("GET", "/metrics/exceptions", exception_uses, "metrics.exceptions", (400,)),
    Route("GET", "/metrics/spend", spend_by_team, "metrics.spend", (400,)),
    Route("GET", "/metrics/overhead", overhead, "metrics.overhead", (400,)),
)
