"""The spend ledger's writer and the start-up rebuild of counters from it.

``settle`` only appends to a list; a background task writes batches every
``flush_interval_s`` (group commit, off the hot path). A failing store keeps the
entries queued and retries. At start-up, the counters of the current periods (and of
rolling windows and tokens per minute) are rebuilt from the ledger before the first
call, so a restart keeps the spend; the Redis store rebuilds the same way when it finds
its counters gone (a flush or restart of Redis). A store seeds only the counters it does
not hold, so the rebuild at start-up and on a config reload also gives a budget new to
shared counters (Redis, the SQLite file) the spend of its period. Entries queued when
a process is killed with ``kill -9`` (at most one flush interval) are lost; a clean
shutdown flushes them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from bastion.limits.limiter import ScopedLimiter
from bastion.limits.periods import PeriodKind
from bastion.limits.rules import LimitSpec, Measure, Rule
from bastion.limits.store import HoldKind, Restored
from bastion.model import Principal
from bastion.model.spend import SpendEntry, SpendTotal
from bastion.storage.group_commit import BatchSink, GroupCommit

log = logging.getLogger("bastion.limits")


class SpendSink(BatchSink[SpendEntry], Protocol):
    """Where settled spend goes and is read back from (the ledger repository)."""

    async def totals_since(self, since: float) -> Sequence[SpendTotal]: ...

    async def entries_since(self, since: float) -> Sequence[SpendEntry]: ...


class LedgerWriter(GroupCommit[SpendEntry]):
    """Batches spend entries into one transaction per flush."""

    def __init__(
        self, sink: SpendSink, *, flush_interval_s: float = 0.2, max_batch: int = 1000
    ) -> None:
        super().__init__(
            sink,
            flush_interval_s=flush_interval_s,
            max_batch=max_batch,
            log=log,
            what="spend ledger entries",
        )


def _principal(row: SpendTotal | SpendEntry) -> Principal:
    return Principal(
        key_id=row.key_id,
        name="ledger",
        user=row.user,
        app=row.app,
        team=row.team,
        environment=row.environment,
    )


def _counter(rule: Rule, spec: LimitSpec) -> tuple[object, ...]:
    """What names a counter's family in the store (its key, less the scope's values)."""
    return (rule.id, rule.scope, spec.measure, spec.kind, spec.span_s, spec.period)


def added_counters(rules: Sequence[Rule], counted: Sequence[Rule]) -> dict[str, set[LimitSpec]]:
    """Per rule id, the limits of ``rules`` whose counters ``counted`` did not have (a
    new rule, scope or window); a limit whose value alone changed keeps its counter."""
    held = {_counter(rule, spec) for rule in counted for spec in rule.reserve_specs}
    return {
        rule.id: {spec for spec in rule.reserve_specs if _counter(rule, spec) not in held}
        for rule in rules
    }


async def rebuild(limiter: ScopedLimiter, sink: SpendSink, now: float) -> int:
    """Restore the current periods' totals and the rolling windows from the ledger into
    the counters the store does not hold yet (all of them in an empty store; a budget,
    scope or window that is new to running counters); returns how many it seeded."""
    entries: list[Restored] = []
    restored: dict[str, int] = {}
    soft: dict[str, float] = {}
    kinds: set[PeriodKind] = set()
    longest_window = 0.0
    for rule in limiter.rules:
        for spec in rule.reserve_specs:
            if spec.period is not None:
                kinds.add(spec.period)
            elif spec.kind is HoldKind.WINDOW and spec.measure in (Measure.TOKENS, Measure.COST):
                longest_window = max(longest_window, spec.span_s)
    for kind in sorted(kinds):
        period = limiter.clock.current(kind, now)
        for row in await sink.totals_since(period.start):
            principal = _principal(row)
            for planned in limiter.plan_for(principal, row.model):
                if planned.spec.period != kind:
                    continue
                amount = row.cost_pusd if planned.spec.measure is Measure.COST else row.tokens
                key = f"{planned.key}|{period.id}"
                entries.append(Restored(key, HoldKind.TOTAL, period.end - now, amount, now))
                restored[key] = restored.get(key, 0) + amount
                if planned.spec.soft is not None:
                    soft[key] = planned.spec.soft * planned.spec.limit
    if longest_window:
        for entry in await sink.entries_since(now - longest_window):
            principal = _principal(entry)
            for planned in limiter.plan_for(principal, entry.model):
                spec = planned.spec
                if spec.period is not None or spec.kind is not HoldKind.WINDOW:
                    continue
                if spec.measure not in (Measure.TOKENS, Measure.COST):
                    continue
                if entry.settled_at <= now - spec.span_s:
                    continue
                amount = entry.cost_pusd if spec.measure is Measure.COST else entry.tokens
                entries.append(
                    Restored(planned.key, HoldKind.WINDOW, spec.span_s, amount, entry.settled_at)
                )
                restored[planned.key] = restored.get(planned.key, 0) + amount
    seeded = await limiter.store.restore(entries)
    for key, threshold in soft.items():
        if restored[key] >= threshold:
            limiter.mark_alerted(key)
    return seeded
