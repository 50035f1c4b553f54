"""Aggregates over the call records for the admin overview, computed in the database.

Each is one grouped query over a ``started_at`` range: calls per time bucket and
environment (with blocked and redacted counts), injection detections by where they
were found, calls an exception let through by app owner, and a histogram of the
gateway's own overhead (percentiles read from it are exact to one bucket, ≤ 20 %).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Integer, case, cast, func, select, true, type_coerce
from sqlalchemy.dialects.postgresql import JSONB

from bastion.storage.database import Database
from bastion.storage.tables import CallRecordRow

REFUSALS = ("block", "require_exception")
"""Decisions that refused the call."""
OVERHEAD_EDGES_MS: tuple[float, ...] = tuple(round(0.01 * 1.2**n, 6) for n in range(76))
"""Upper bounds of the overhead histogram: 0.01 ms to about 10 s, each 1.2 times the last."""


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
    """Grouped reads of ``call_records`` (``conditions`` from ``CallSearch``)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def calls_over_time(
        self, conditions: Sequence[ColumnElement[bool]], *, since: float, bucket_s: float
    ) -> list[CallBucket]:
        """Calls per bucket of ``bucket_s`` seconds from ``since``, per environment."""
        offset = (CallRecordRow.started_at - since) / bucket_s
        if self._database.is_sqlite:
            index: ColumnElement[int] = cast(offset, Integer)  # truncation: offset >= 0
        else:
            index = cast(func.floor(offset), Integer)
        bucket = index.label("bucket")
        blocked = func.sum(case((CallRecordRow.decision.in_(REFUSALS), 1), else_=0))
        redacted = func.sum(case((self._redacted(), 1), else_=0))
        statement = (
            select(bucket, CallRecordRow.environment, func.count(), blocked, redacted)
            .where(*conditions)
            .group_by(bucket, CallRecordRow.environment)
            .order_by(bucket, CallRecordRow.environment)
        )
        async with self._database.transaction("overview calls") as session:
            rows = (await session.execute(statement)).all()
        return [
            CallBucket(since + int(r[0]) * bucket_s, r[1], int(r[2]), int(r[3]), int(r[4]))
            for r in rows
        ]

    async def decisions(self, conditions: Sequence[ColumnElement[bool]]) -> dict[str, int]:
        """How many calls each decision had."""
        statement = (
            select(CallRecordRow.decision, func.count())
            .where(*conditions)
            .group_by(CallRecordRow.decision)
        )
        async with self._database.transaction("overview decisions") as session:
            rows = (await session.execute(statement)).all()
        return {str(decision): int(count) for decision, count in rows}

    async def injections(self, conditions: Sequence[ColumnElement[bool]]) -> list[InjectionCount]:
        """Injection findings (``injection.*``) by class and source."""
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
        statement = (
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
            .order_by(name, source)
        )
        async with self._database.transaction("overview injections") as session:
            rows = (await session.execute(statement)).all()
        return [InjectionCount(str(r[0]), str(r[1]), int(r[2] or 0), int(r[3])) for r in rows]

    async def exception_uses(self, conditions: Sequence[ColumnElement[bool]]) -> list[ExceptionUse]:
        """Calls an exception let through, by the key's owner (``owner`` of the caller)."""
        applied = self._fact("exception_applied")
        statement = (
            select(CallRecordRow.owner, func.count(), func.count(func.distinct(applied)))
            .where(*conditions, applied.is_not(None))
            .group_by(CallRecordRow.owner)
            .order_by(func.count().desc())
        )
        async with self._database.transaction("overview exceptions") as session:
            rows = (await session.execute(statement)).all()
        return [ExceptionUse(r[0], int(r[1]), int(r[2])) for r in rows]

    async def overhead_histogram(self, conditions: Sequence[ColumnElement[bool]]) -> list[int]:
        """Calls per overhead bucket (``OVERHEAD_EDGES_MS``; the last one is open)."""
        edges = enumerate(OVERHEAD_EDGES_MS)
        whens = [(CallRecordRow.gateway_ms <= edge, index) for index, edge in edges]
        bucket = case(*whens, else_=len(OVERHEAD_EDGES_MS)).label("bucket")
        statement = select(bucket, func.count()).where(*conditions).group_by(bucket)
        async with self._database.transaction("overview overhead") as session:
            rows = (await session.execute(statement)).all()
        counts = [0] * (len(OVERHEAD_EDGES_MS) + 1)
        for index, count in rows:
            counts[int(index)] = int(count)
        return counts

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
