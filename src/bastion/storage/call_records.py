"""Audit call records in the store: batched inserts (group commit) and reads.

Inserts are idempotent per ``request_id``: replaying a spool after a crash skips the
records that already committed instead of failing the whole batch.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from functools import cache
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Dialect, and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from bastion.errors import StorageError
from bastion.model import CallRecord, CallStatus, FindingSummary, Principal, Usage
from bastion.model.audit import record_to_json
from bastion.storage import multirow
from bastion.storage.database import Database
from bastion.storage.tables import CallRecordRow


class CallRecordRepository:
    """Write and read ``call_records``."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def insert_many(self, records: Sequence[CallRecord]) -> None:
        """Insert ``records`` in one transaction; already stored request ids are skipped.

        This is the audit group commit, run for every call: it goes to the driver
        directly with rows as tuples and JSON pre-encoded by orjson, which costs a
        fraction of SQLAlchemy's per-row parameter processing.
        """
        if not records:
            return
        sqlite = self._database.is_sqlite
        insert, order = batch_insert(sqlite)
        try:
            rows = [_to_row(record, order) for record in records]
        except TypeError as exc:  # orjson.JSONEncodeError: a record carries a non-JSON fact
            raise StorageError(f"audit batch insert failed: {type(exc).__name__}") from None
        async with self._database.transaction("audit batch insert") as session:
            connection = await session.connection()
            if sqlite:
                await connection.exec_driver_sql(insert, rows)
                return
            for statement, parameters in multirow.statements(
                CallRecordRow, order, rows, ("request_id",)
            ):
                await connection.exec_driver_sql(statement, parameters)

    async def get(self, request_id: str) -> CallRecord | None:
        """The record of one call, or None."""
        async with self._database.transaction("audit record lookup") as session:
            row = await session.get(CallRecordRow, request_id)
            return None if row is None else _from_row(row)

    async def recent(self, limit: int = 100) -> list[CallRecord]:
        """The ``limit`` most recently started calls, newest first."""
        statement = (
            select(CallRecordRow)
            .order_by(CallRecordRow.started_at.desc(), CallRecordRow.request_id)
            .limit(limit)
        )
        async with self._database.transaction("audit record list") as session:
            return [_from_row(row) for row in (await session.scalars(statement)).all()]

    async def count(self) -> int:
        """How many call records are stored."""
        async with self._database.transaction("audit record count") as session:
            return int(await session.scalar(select(func.count(CallRecordRow.request_id))) or 0)

    async def count_between(self, since: float, until: float | None = None) -> int:
        """How many calls started in ``[since, until)`` (``until`` None: up to now)."""
        statement = select(func.count(CallRecordRow.request_id)).where(
            _started_between(since, until)
        )
        async with self._database.transaction("audit record count") as session:
            return int(await session.scalar(statement) or 0)

    async def pages_between(
        self, since: float, until: float | None = None, *, page_size: int = 500
    ) -> AsyncGenerator[list[CallRecord], None]:
        """Calls started in ``[since, until)``, oldest first, ``page_size`` at a time.

        Keyset pagination on ``(started_at, request_id)``: each page is one short
        transaction that seeks on the ``started_at`` index, so a long window neither
        holds a transaction open nor slows down as it goes (no OFFSET).
        """
        window = _started_between(since, until)
        after: tuple[float, str] | None = None
        while True:
            condition = window
            if after is not None:
                started, request_id = after
                condition = and_(
                    window,
                    or_(
                        CallRecordRow.started_at > started,
                        and_(
                            CallRecordRow.started_at == started,
                            CallRecordRow.request_id > request_id,
                        ),
                    ),
                )
            statement = (
                select(CallRecordRow)
                .where(condition)
                .order_by(CallRecordRow.started_at, CallRecordRow.request_id)
                .limit(page_size)
            )
            async with self._database.transaction("audit record page") as session:
                rows = (await session.scalars(statement)).all()
                page = [_from_row(row) for row in rows]
            if not page:
                return
            yield page
            if len(page) < page_size:
                return
            after = (page[-1].started_at, page[-1].request_id)


def _started_between(since: float, until: float | None) -> ColumnElement[bool]:
    condition = CallRecordRow.started_at >= since
    if until is not None:
        condition = and_(condition, CallRecordRow.started_at < until)
    return condition


_JSON_COLUMNS = frozenset({"roles", "findings", "rules", "request_facts"})


@cache
def batch_insert(is_sqlite: bool) -> tuple[str, tuple[str, ...]]:
    """The batch INSERT (already stored request ids skipped) compiled for one backend's
    driver, and its positional parameter order: compiled on first use, not at import
    (most commands that import this module never insert)."""
    dialect: Dialect
    insert: Any
    if is_sqlite:
        dialect, insert = sqlite.dialect(paramstyle="qmark"), sqlite.insert
    else:
        dialect = postgresql.dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]
        insert = postgresql.insert
    statement = insert(CallRecordRow.__table__).on_conflict_do_nothing(
        index_elements=["request_id"]
    )
    compiled = statement.compile(dialect=dialect)
    return str(compiled), tuple(compiled.positiontup or ())


def _to_row(record: CallRecord, order: tuple[str, ...]) -> tuple[Any, ...]:
    """One row in the statement's parameter order, JSON columns as text."""
    values = _to_values(record)
    for name in _JSON_COLUMNS:
        if values[name] is not None:
            values[name] = orjson.dumps(values[name]).decode()
    return tuple(values[name] for name in order)


def _to_values(record: CallRecord) -> dict[str, Any]:
    return record_to_json(record)


def _from_row(row: CallRecordRow) -> CallRecord:
    principal = None
    if row.key_id is not None:
        principal = Principal(
            key_id=row.key_id,
            name=row.name or "",
            user=row.user,
            app=row.app,
            team=row.team,
            environment=row.environment or "dev",
            roles=tuple(row.roles or ()),
            owner=row.owner,
        )
    return CallRecord(
        request_id=row.request_id,
        started_at=row.started_at,
        endpoint=row.endpoint,
        principal=principal,
        model_requested=row.model_requested,
        model_used=row.model_used,
        decision=row.decision,
        status=CallStatus(row.status),
        http_status=row.http_status,
        error_code=row.error_code,
        stream=row.stream,
        usage=Usage(
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            estimated=row.usage_estimated,
        ),
        gateway_ms=row.gateway_ms,
        upstream_ms=row.upstream_ms,
        findings=tuple(FindingSummary(**finding) for finding in row.findings),
        rules=tuple(row.rules),
        policy_version=row.policy_version,
        cost_usd=row.cost_usd,
        provider=row.provider,
        end_user_claimed=row.end_user_claimed,
        client_addr=row.client_addr,
        request_facts=dict(row.request_facts),
    )
