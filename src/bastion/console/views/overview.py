"""Overview: calls by environment over time with blocked and redacted counts, injection
detections, calls exceptions let through by app owner, spend against team budgets, and
the gateway's own overhead percentiles, as charts with their numbers beside them."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

from starlette.responses import Response

from bastion.charts import OVER_COLOUR, PALETTE, Bar, bar_chart, stacked_time_chart
from bastion.console.page import Action, Page, View
from bastion.errors import InvalidRequest
from bastion.server.admin_api import metrics
from bastion.server.admin_api.params import epoch, utc

RANGES = {"24h": (86400.0, 3600.0), "7d": (7 * 86400.0, 6 * 3600.0), "30d": (30 * 86400.0, 86400.0)}
"""Range choices: (span, bucket width) in seconds."""


def _labels(since: float, count: int, bucket_s: float) -> list[str]:
    shape = "%H:%M" if bucket_s < 6 * 3600 else "%m-%d %H:%M" if bucket_s < 86400 else "%m-%d"
    return [datetime.fromtimestamp(since + i * bucket_s, UTC).strftime(shape) for i in range(count)]


def calls_charts(calls: metrics.CallsOverTime) -> tuple[str, str]:
    """Stacked calls per environment, and blocked / redacted per bucket, over the range."""
    since = epoch(calls.since)
    count = max(1, math.ceil((epoch(calls.until) - since) / calls.bucket_s))
    labels = _labels(since, count, calls.bucket_s)
    by_env: dict[str, list[int]] = {}
    blocked, redacted = [0] * count, [0] * count
    for bucket in calls.buckets:
        index = min(count - 1, max(0, int((epoch(bucket.start) - since) // calls.bucket_s)))
        series = by_env.setdefault(bucket.environment or "(none)", [0] * count)
        series[index] += bucket.calls
        blocked[index] += bucket.blocked
        redacted[index] += bucket.redacted
    volume = stacked_time_chart(labels, sorted(by_env.items()), title="Calls by environment (UTC)")
    outcomes = stacked_time_chart(
        labels,
        [("blocked", blocked), ("redacted", redacted)],
        title="Blocked and redacted calls",
        colours=(OVER_COLOUR, PALETTE[1]),
    )
    return volume, outcomes


def spend_chart(spend: metrics.SpendByTeam) -> str | None:
    """Each team's spent share of its budget, the budget as a dashed line at 100 %."""
    bars = [
        Bar(
            label=team.team or "(no team)",
            value=team.share * 100,
            text=f"{team.share * 100:.0f} % (${team.cost_usd:,.2f})",
            alert=team.share > 1,
        )
        for team in spend.data
        if team.share is not None
    ]
    if not bars:
        return None
    return bar_chart(
        bars,
        title="Spend against team budgets",
        axis_text=lambda v: f"{v:.0f} %",
        marker=100.0,
        marker_text="budget",
    )


async def show(view: View) -> Response:
    """The overview for the chosen range (24h, 7d or 30d)."""
    chosen = view.query("range") or "24h"
    if chosen not in RANGES:
        raise InvalidRequest("range is one of 24h, 7d or 30d", param="range")
    span_s, bucket_s = RANGES[chosen]
    now = time.time()
    end = (math.floor(now / bucket_s) + 1) * bucket_s  # buckets on round UTC times
    since, until = utc(end - span_s), utc(now)
    actor, context = view.identity, view.context
    calls = await metrics.calls_over_time(actor, context, since, until, bucket_s)
    injections = await metrics.injections(actor, context, since, until)
    uses = await metrics.exception_uses(actor, context, since, until)
    spend = await metrics.spend_by_team(actor, context, "month")
    overhead = await metrics.overhead(actor, context, since, until)
    volume, outcomes = calls_charts(calls)
    injection_bars = [
        Bar(f"{item.class_} ({item.source})", item.detections, f"{item.detections:,}")
        for item in injections.data
    ]
    use_bars = [
        Bar(item.owner or "(no owner)", item.calls, f"{item.calls:,} calls") for item in uses.data
    ]
    percentiles = [
        (name, value)
        for name, value in (
            ("p50", overhead.p50_ms),
            ("p90", overhead.p90_ms),
            ("p99", overhead.p99_ms),
        )
        if value is not None
    ]
    overhead_bars = [Bar(name, value, f"{value:.2f} ms") for name, value in percentiles]
    return view.render(
        "overview.html",
        ranges=list(RANGES),
        chosen=chosen,
        calls=calls,
        volume_chart=volume,
        outcome_chart=outcomes,
        injections=injections,
        injection_chart=bar_chart(injection_bars, title="Injection detections")
        if injection_bars
        else None,
        uses=uses,
        use_chart=bar_chart(use_bars, title="Calls let through by exceptions")
        if use_bars
        else None,
        spend=spend,
        spend_chart=spend_chart(spend),
        overhead=overhead,
        overhead_chart=bar_chart(
            overhead_bars, title="Gateway overhead", axis_text=lambda v: f"{v:g} ms"
        )
        if overhead_bars
        else None,
    )


PAGE = Page(
    name="overview",
    title="Overview",
    path="/overview",
    needs=(
        "metrics.calls",
        "metrics.injections",
        "metrics.exceptions",
        "metrics.spend",
        "metrics.overhead",
    ),
    actions=(Action("GET", "", show),),
)
