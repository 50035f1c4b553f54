"""Aggregates over the call records for the admin overview, computed in the database.

Calls per time bucket and environment (with blocked and redacted counts), injection
detections by where they were found, calls an exception let through by app owner, and
a histogram of the gateway's own overhead (percentiles read from it are exact to one
bucket, ≤ 20 %).

Asked for a plain time range (a ``CallFilter`` with only ``since`` and ``until``), each
answer adds the hourly rollups of the whole hours inside it (``call_rollups``; kept by
database triggers, migration 0009) to one grouped query over the records of the partial
hours at its edges, so a month costs about what an hour does. Any other filter (or SQL
``conditions`` from ``CallSearch``) is one grouped query over the matching records. The
answers are the same either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    cast,
    func,
    literal_column,
    select,
    text,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bastion.storage.call_rollups import RangePlan, plan_buckets, plan_range
from bastion.storage.call_search import CallFilter, CallSearch
from bastion.storage.database import Database
from bastion.storage.tables import (
    CallHourlyRow,
    CallRecordRow,
    ExceptionHourlyRow,
    InjectionHourlyRow,
    OverheadHourlyRow,
)

REFUSALS = ("block", "require_exception")
"""Decisions that refused the call."""
OVERHEAD_EDGES_MS: tuple[float, ...] = tuple(round(0.01 * 1.2**n, 6) for n in range(76))
"""Upper bounds of the overhead histogram: 0.01 ms to about 10 s, each 1.2 times the last.
Migration 0009 holds a copy for the rollup triggers: changing them needs a migration."""

K = TypeVar("K")
MAX_PARTS = 200
"""Raw parts per statement (SQLite allows 500 SELECTs in one compound)."""

Where = CallFilter | Sequence[ColumnElement[bool]]
"""What to aggregate: a filter, or SQL conditions on ``call_records``."""


@dataclass(frozen=True, slots=True)
class CallBucket:
    """Calls of one environment that started in ``[start, start + bucket_s)``."""

    start: float
    environment: str | None
    calls: int
    blocked: int
    redacted: int


@dataclass(frozen=True, slots=True)
class InjectionCount:
    """Injection findings of one class at one source (``user``, ``retrieved``, ...)."""

    data_class: str
    source: str
    detections: int
    calls: int


@dataclass(frozen=True, slots=True)
class ExceptionUse:
    """Calls an exception let through, by the app owner of the calling key."""

    owner: str | None
    calls: int
    exceptions: int


class CallStats:
    """Grouped reads of ``call_records`` and of its hourly rollups."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._search = CallSearch(database)

    async def calls_over_time(
        self, where: Where, *, since: float, bucket_s: float
    ) -> list[CallBucket]:
        """Calls per bucket of ``bucket_s`` seconds from ``since``, per environment."""
        window = _window(where)
        plan = None if window is None else plan_buckets(*window, since, bucket_s)
        parts = [_Part(self._conditions(where))] if plan is None else _parts(plan)
        totals: dict[tuple[int, str | None], list[int]] = {}
        async with self._database.transaction("overview calls") as session:
            await self._snapshot(session)
            raw = await _raw_rows(session, parts, lambda c: self._raw_calls(c, since, bucket_s))
            for index, environment, calls, blocked, redacted, part in raw:
                if parts[part].add:
                    _add(totals, (int(index), environment), calls, blocked, redacted)
                if parts[part].less is not None:
                    less = (parts[part].less, environment)
                    _add(totals, less, -calls, -(blocked or 0), -(redacted or 0))
            if plan is not None and plan.runs:
                rows = (await session.execute(_rollup_calls(plan))).all()
                for hour, environment, calls, blocked, redacted in rows:
                    index = plan.bucket_of(int(hour))
                    if index is not None:
                        _add(totals, (index, environment or None), calls, blocked, redacted)
        return [
            CallBucket(since + index * bucket_s, environment, *counts)
            for (index, environment), counts in sorted(totals.items(), key=self._bucket_order)
            if counts[0]
        ]

    async def decisions(self, where: Where) -> dict[str, int]:
        """How many calls each decision had."""
        plan, parts = self._split(where)
        counts: dict[str, int] = {}
        async with self._database.transaction("overview decisions") as session:
            await self._snapshot(session)
            decided = select(CallRecordRow.decision, func.count())
            raw = await _raw_rows(
                session, parts, lambda c: decided.where(*c).group_by(CallRecordRow.decision)
            )
            for decision, count, part in raw:
                sign = parts[part].sign
                counts[str(decision)] = counts.get(str(decision), 0) + sign * int(count)
            if plan is not None and plan.runs:
                statement = (
                    select(CallHourlyRow.decision, func.sum(CallHourlyRow.calls))
                    .where(_in_runs(CallHourlyRow.hour, plan))
                    .group_by(CallHourlyRow.decision)
                )
                for decision, count in (await session.execute(statement)).all():
                    counts[str(decision)] = counts.get(str(decision), 0) + int(count)
        return {decision: count for decision, count in counts.items() if count}

    async def injections(self, where: Where) -> list[InjectionCount]:
        """Injection findings (``injection.*``) by class and source."""
        plan, parts = self._split(where)
        totals: dict[tuple[str, str], list[int]] = {}
        async with self._database.transaction("overview injections") as session:
            await self._snapshot(session)
            for name, source, detections, calls, part in await _raw_rows(
                session, parts, self._raw_injections
            ):
                sign = parts[part].sign
                _add(totals, (str(name), str(source)), sign * (detections or 0), sign * calls)
            if plan is not None and plan.runs:
                row = InjectionHourlyRow
                statement = (
                    select(
                        row.data_class, row.source, func.sum(row.detections), func.sum(row.calls)
                    )
                    .where(_in_runs(row.hour, plan))
                    .group_by(row.data_class, row.source)
                )
                for name, source, detections, calls in (await session.execute(statement)).all():
                    _add(totals, (str(name), str(source or None)), detections, calls)
        return [
            InjectionCount(name, source, detections, calls)
            for (name, source), (detections, calls) in sorted(totals.items())
            if calls
        ]

    async def exception_uses(self, where: Where) -> list[ExceptionUse]:
        """Calls an exception let through, by the key's owner (``owner`` of the caller)."""
        plan, parts = self._split(where)
        uses: dict[str | None, dict[str, int]] = {}
        async with self._database.transaction("overview exceptions") as session:
            await self._snapshot(session)
            applied = self._fact("exception_applied")
            by_owner = select(CallRecordRow.owner, applied, func.count())
            raw = await _raw_rows(
                session,
                parts,
                lambda c: by_owner.where(*c, applied.is_not(None)).group_by(
                    CallRecordRow.owner, applied
                ),
            )
            for owner, exception, count, part in raw:
                _use(uses, owner, str(exception), parts[part].sign * int(count))
            if plan is not None and plan.runs:
                row = ExceptionHourlyRow
                statement = (
                    select(row.owner, row.exception_id, func.sum(row.calls))
                    .where(_in_runs(row.hour, plan))
                    .group_by(row.owner, row.exception_id)
                )
                for owner, exception, count in (await session.execute(statement)).all():
                    _use(uses, owner or None, str(exception), int(count))
        found = []
        for owner, exceptions in uses.items():
            used = {name: count for name, count in exceptions.items() if count}
            if used:
                found.append(ExceptionUse(owner, sum(used.values()), len(used)))
        return sorted(found, key=lambda use: -use.calls)

    async def overhead_histogram(self, where: Where) -> list[int]:
        """Calls per overhead bucket (``OVERHEAD_EDGES_MS``; the last one is open)."""
        plan, parts = self._split(where)
        counts = [0] * (len(OVERHEAD_EDGES_MS) + 1)
        async with self._database.transaction("overview overhead") as session:
            await self._snapshot(session)
            edges = enumerate(OVERHEAD_EDGES_MS)
            whens = [(CallRecordRow.gateway_ms <= edge, index) for index, edge in edges]
            bucket = case(*whens, else_=len(OVERHEAD_EDGES_MS)).label("bucket")
            timed = select(bucket, func.count())
            raw = await _raw_rows(session, parts, lambda c: timed.where(*c).group_by(bucket))
            for index, count, part in raw:
                counts[int(index)] += parts[part].sign * int(count)
            if plan is not None and plan.runs:
                statement = (
                    select(OverheadHourlyRow.bucket, func.sum(OverheadHourlyRow.calls))
                    .where(_in_runs(OverheadHourlyRow.hour, plan))
                    .group_by(OverheadHourlyRow.bucket)
                )
                for index, count in (await session.execute(statement)).all():
                    counts[int(index)] += int(count)
        return counts

    def _split(self, where: Where) -> tuple[RangePlan | None, list[_Part]]:
        """The rollup plan of a plain range (None: none) and the raw queries to add to
        (or subtract from) it."""
        window = _window(where)
        if window is None:
            return None, [_Part(self._conditions(where))]
        plan = plan_range(*window)
        return plan, _parts(plan)

    async def _snapshot(self, session: AsyncSession) -> None:
        """Read rollups and records at one moment: a rollup hour less records read by
        another statement must not see a record that one of them missed (PostgreSQL
        statements see their own snapshots otherwise; SQLite reads from one already)."""
        if not self._database.is_sqlite:
            await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))

    def _conditions(self, where: Where) -> Sequence[ColumnElement[bool]]:
        return self._search.conditions(where) if isinstance(where, CallFilter) else where

    def _bucket_order(
        self, item: tuple[tuple[int, str | None], list[int]]
    ) -> tuple[int, bool, str]:
        """The raw query's order: bucket, then environment with NULL first on SQLite and
        last on PostgreSQL (each backend's default)."""
        (index, environment), _ = item
        null_first = self._database.is_sqlite
        return index, (environment is None) != null_first, environment or ""

    def _raw_calls(
        self, conditions: Sequence[ColumnElement[bool]], since: float, bucket_s: float
    ) -> Select[int, str | None, int, Any, Any]:
        offset = (CallRecordRow.started_at - since) / bucket_s
        if self._database.is_sqlite:
            index: ColumnElement[int] = cast(offset, Integer)  # truncation: offset >= 0
        else:
            index = cast(func.floor(offset), Integer)
        bucket = index.label("bucket")
        blocked = func.sum(case((CallRecordRow.decision.in_(REFUSALS), 1), else_=0))
        redacted = func.sum(case((self._redacted(), 1), else_=0))
        return (
            select(bucket, CallRecordRow.environment, func.count(), blocked, redacted)
            .where(*conditions)
            .group_by(bucket, CallRecordRow.environment)
        )

    def _raw_injections(self, conditions: Sequence[ColumnElement[bool]]) -> Select[Any]:
        name: ColumnElement[str]
        source: ColumnElement[str]
        count: ColumnElement[int]
        if self._database.is_sqlite:
            element = func.json_each(CallRecordRow.findings).table_valued("value")
            name = func.json_extract(element.c.value, "$.data_class")
            source = func.json_extract(element.c.value, "$.source")
            count = func.json_extract(element.c.value, "$.count")
        else:
            element = func.jsonb_array_elements(
                type_coerce(CallRecordRow.findings, JSONB)
            ).table_valued("value")
            name = element.c.value.op("->>")("data_class")
            source = element.c.value.op("->>")("source")
            count = cast(element.c.value.op("->>")("count"), Integer)
        return (
            select(
                name,
                source,
                func.sum(count),
                func.count(func.distinct(CallRecordRow.request_id)),
            )
            .select_from(CallRecordRow)
            .join(element, true())  # each record with its own findings
            .where(*conditions, name.startswith("injection.", autoescape=True))
            .group_by(name, source)
        )

    def _redacted(self) -> ColumnElement[bool]:
        """A call whose text was redacted: decision ``redact``, or a reroute that also
        redacted (the record keeps the strongest action and the redactions apart)."""
        rerouted_and_redacted = (CallRecordRow.decision == "reroute") & self._fact(
            "redacted"
        ).is_not(None)
        return (CallRecordRow.decision == "redact") | rerouted_and_redacted

    def _fact(self, name: str) -> ColumnElement[str]:
        """One key of ``request_facts`` as text (NULL when absent)."""
        if self._database.is_sqlite:
            value: ColumnElement[str] = func.json_extract(CallRecordRow.request_facts, f"$.{name}")
            return value
        return type_coerce(CallRecordRow.request_facts, JSONB).op("->>")(name)


def _window(where: Where) -> tuple[float, float] | None:
    """``(since, until)`` of a filter on nothing but a closed time range, else None."""
    if not isinstance(where, CallFilter) or where.since is None or where.until is None:
        return None
    if replace(where, since=None, until=None) != CallFilter() or where.since >= where.until:
        return None
    return where.since, where.until


@dataclass(frozen=True, slots=True)
class _Part:
    """One raw query: its conditions, whether its rows count where they fall, and the
    bucket whose rollup hour already counts them (to subtract them there)."""

    conditions: Sequence[ColumnElement[bool]]
    add: bool = True
    less: int | None = None

    @property
    def sign(self) -> int:
        """+1 or -1: how rows count in aggregates without buckets."""
        return -1 if self.less is not None and not self.add else 1


def _parts(plan: RangePlan) -> list[_Part]:
    """The plan's raw spans (added) and pieces of rollup hours (subtracted)."""
    started = CallRecordRow.started_at
    return [
        *(_Part((started >= start, started < end)) for start, end in plan.raw),
        *(
            _Part((started >= piece.start, started < piece.end), piece.inside, piece.other)
            for piece in plan.less
        ),
    ]


async def _raw_rows(
    session: AsyncSession,
    parts: Sequence[_Part],
    build: Callable[[Sequence[ColumnElement[bool]]], Select[*tuple[Any, ...]]],
) -> list[Row[*tuple[Any, ...]]]:
    """The rows of ``build`` for every part, each ending with the part's index; a few
    hundred parts per statement (UNION ALL: each part an index range scan, where an OR
    of ranges makes SQLite scan a whole index and PostgreSQL the table)."""
    rows: list[Row[*tuple[Any, ...]]] = []
    for first in range(0, len(parts), MAX_PARTS):
        statements = [
            build(part.conditions).add_columns(literal_column(str(index)))
            for index, part in enumerate(parts[first : first + MAX_PARTS], start=first)
        ]
        compound = statements[0] if len(statements) == 1 else union_all(*statements)
        rows += (await session.execute(compound)).all()
    return rows


def _in_runs(hour: InstrumentedAttribute[int], plan: RangePlan) -> ColumnElement[bool]:
    """Rollup rows from the plan's first hour to its last: one run for a plain range;
    for buckets, the hours between runs are dropped by ``RangePlan.bucket_of``."""
    return and_(hour >= plan.runs[0].start, hour < plan.runs[-1].end)


def _rollup_calls(plan: RangePlan) -> Select[int, str, int, Any, int]:
    row = CallHourlyRow
    blocked = func.sum(case((row.decision.in_(REFUSALS), row.calls), else_=0))
    return (
        select(row.hour, row.environment, func.sum(row.calls), blocked, func.sum(row.redacted))
        .where(_in_runs(row.hour, plan))
        .group_by(row.hour, row.environment)
    )


def _add(totals: dict[K, list[int]], key: K, *counts: int | None) -> None:
    """Add ``counts`` to the totals under ``key``."""
    found = totals.setdefault(key, [0] * len(counts))
    for position, count in enumerate(counts):
        found[position] += int(count or 0)


def _use(
    uses: dict[str | None, dict[str, int]], owner: str | None, exception: str, calls: int
) -> None:
    by_exception = uses.setdefault(owner, {})
    by_exception[exception] = by_exception.get(exception, 0) + calls


def percentile_ms(histogram: Sequence[int], q: float) -> float | None:
    """The ``q`` quantile (0..1) of a histogram over ``OVERHEAD_EDGES_MS``, interpolated
    within its bucket; None when it is empty."""
    edges = OVERHEAD_EDGES_MS
    total = sum(histogram)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(histogram):
        if count and seen + count >= rank:
            if index >= len(edges):
                return edges[-1]  # beyond the last edge: report the edge
            lower = edges[index - 1] if index else 0.0
            return lower + (edges[index] - lower) * (rank - seen) / count
        seen += count
    return edges[-1]
