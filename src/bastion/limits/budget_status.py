"""Where each budget stands: the settled spend of every scope a budget rule counts,
against its limit, for the current period (or rolling window).

Read from the spend ledger, as the start-up rebuild does, so it is the same on every
replica: what calls in flight have reserved is not in it until they settle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from bastion.config.schema import LimitsConfig
from bastion.limits.periods import period_at
from bastion.limits.rules import LimitSpec, Measure, Rule, compile_rule, field_value
from bastion.model import Principal
from bastion.model.spend import PICO_USD, SpendTotal


class SpendTotals(Protocol):
    """What is read (``storage.SpendLedgerRepository``)."""

    async def totals_since(self, since: float) -> Sequence[SpendTotal]: ...


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """One budget of one rule for one scope (``{"team": "finance"}``; ``-`` stands for
    callers without a value)."""

    rule: str
    scope: dict[str, str]
    measure: str  # "usd" or "tokens"
    window: str  # "per month", "per 3600 s"
    period: str | None  # "month:2026-12"; None for a rolling window
    start: float
    resets_at: float | None
    limit: float
    spent: float
    soft: float | None

    @property
    def left(self) -> float:
        """What is left (negative when overspent), without float noise: rounded to the
        picodollar (100 - 80.1 is 19.9, not 19.900000000000006); whole for tokens."""
        left = round(self.limit - self.spent, 12)
        return float(round(left)) if self.measure == "tokens" else left

    @property
    def share(self) -> float:
        """Spent as a share of the limit (above 1 when overspent)."""
        return self.spent / self.limit if self.limit else float(self.spent > 0)


@dataclass(frozen=True, slots=True)
class _Window:
    spec: LimitSpec
    start: float
    end: float | None
    period: str | None


async def budget_statuses(
    limits: LimitsConfig, ledger: SpendTotals, now: float
) -> list[BudgetStatus]:
    """Every budget's spend per scope now, by rule, budget and scope (scopes with no
    spend yet are not listed)."""
    zone = ZoneInfo(limits.timezone)
    rules = [compile_rule(rule, limits.lease_ttl_s) for rule in limits.rules]
    totals_by_start: dict[float, Sequence[SpendTotal]] = {}
    found: list[BudgetStatus] = []
    for rule in rules:
        for window in _windows(rule, zone, now):
            if window.start not in totals_by_start:
                totals_by_start[window.start] = await ledger.totals_since(window.start)
            spent: dict[tuple[str, ...], int] = {}
            for total in totals_by_start[window.start]:
                principal = _principal(total)
                if not rule.applies(principal, total.model):
                    continue
                key = tuple(field_value(principal, total.model, n) for n in rule.scope)
                amount = total.cost_pusd if window.spec.measure is Measure.COST else total.tokens
                spent[key] = spent.get(key, 0) + amount
            for key, amount in sorted(spent.items()):
                found.append(_status(rule, window, key, amount))
    return found


def _windows(rule: Rule, zone: ZoneInfo, now: float) -> list[_Window]:
    windows = []
    for spec in rule.reserve_specs:
        if not spec.budget:
            continue
        if spec.period is not None:
            period = period_at(spec.period, now, zone)
            windows.append(_Window(spec, period.start, period.end, period.id))
        else:
            windows.append(_Window(spec, now - spec.span_s, None, None))
    return windows


def _status(rule: Rule, window: _Window, key: tuple[str, ...], amount: int) -> BudgetStatus:
    spec = window.spec
    usd = spec.measure is Measure.COST
    scale = PICO_USD if usd else 1
    return BudgetStatus(
        rule=rule.id,
        scope=dict(zip(rule.scope, key, strict=True)),
        measure="usd" if usd else "tokens",
        window=spec.window,
        period=window.period,
        start=window.start,
        resets_at=window.end,
        limit=spec.limit / scale,
        spent=amount / scale,
        soft=spec.soft,
    )


def _principal(total: SpendTotal) -> Principal:
    return Principal(
        key_id=total.key_id,
        name="ledger",
        user=total.user,
        app=total.app,
        team=total.team,
        environment=total.environment,
    )
