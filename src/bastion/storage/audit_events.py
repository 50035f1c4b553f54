"""The audit hash chain in the store: chained events, writer heads, and call records.

``ship`` is the shipper's one transaction per batch: the chained events, the call
records their completions carry, and the writer's new head and log position together,
so a crash between the commit and the log's clean-up never ships an entry twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from bastion.errors import StorageError
from bastion.model.chain import ChainedEvent, WriterState
from bastion.storage.call_records import (
    _INSERT_POSTGRESQL,
    _INSERT_SQLITE,
    _JSON_COLUMNS,
    _POSTGRESQL_ORDER,
    _SQLITE_ORDER,
)
from bastion.storage.database import Database
from bastion.storage.tables import AuditEventRow, AuditWriterRow, CallRecordRow

_EVENT_COLUMNS = ("writer_id", "seq", "kind", "request_id", "at", "body", "prev_hash", "hash")
_GENESIS = "0" * 64  # a chain's first prev_hash (audit.chain.GENESIS; storage sits below audit)
_APPEND_ATTEMPTS = 8


class AuditEventRepository:
    """Write and read ``audit_events`` and ``audit_writers``."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def writer_state(self, writer_id: str) -> WriterState | None:
        """Where ``writer_id`` stands, or None for a writer never shipped."""
        async with self._database.transaction("audit writer lookup") as session:
            row = await session.get(AuditWriterRow, writer_id)
            if row is None:
                return None
            return WriterState(
                row.writer_id,
                row.head_seq,
                row.head_hash,
                row.wal_segment,
                row.wal_offset,
                row.closed_through,
            )

    async def ship(
        self,
        events: Sequence[ChainedEvent],
        records: Sequence[Mapping[str, Any]],
        state: WriterState,
        now: float,
    ) -> None:
        """Store ``events``, the call ``records`` (JSON values), and ``state``: atomically."""
        if self._database.is_sqlite:
            sql, order = _INSERT_SQLITE, _SQLITE_ORDER
            upsert: Any = sqlite.insert(AuditWriterRow)
        else:
            sql, order = _INSERT_POSTGRESQL, _POSTGRESQL_ORDER
            upsert = postgresql.insert(AuditWriterRow)
        values = {
            "writer_id": state.writer_id,
            "head_seq": state.head_seq,
            "head_hash": state.head_hash,
            "wal_segment": state.wal_segment,
            "wal_offset": state.wal_offset,
            "closed_through": state.closed_through,
            "updated_at": now,
        }
        upsert = upsert.values(**values).on_conflict_do_update(
            index_elements=["writer_id"],
            set_={k: v for k, v in values.items() if k != "writer_id"},
        )
        rows = [_record_row(record, order) for record in records]
        async with self._database.transaction("audit chain ship") as session:
            if events:
                await session.execute(
                    insert(AuditEventRow),
                    [{name: getattr(e, name) for name in _EVENT_COLUMNS} for e in events],
                )
            if rows:
                connection = await session.connection()
                await connection.exec_driver_sql(sql, rows)
            await session.execute(upsert)

    async def append(
        self, writer_id: str, link: Callable[[int, str], ChainedEvent], now: float
    ) -> ChainedEvent:
        """Append one event to ``writer_id``'s chain, whichever process asks (admin events).

        ``link(head_seq, head_hash)`` makes the event from the current head. The head is
        read and advanced in one transaction (locked on PostgreSQL); a concurrent append
        makes the losing transaction fail on the (writer, seq) key, and it is retried.
        """
        for attempt in range(_APPEND_ATTEMPTS):
            try:
                return await self._append_once(writer_id, link, now)
            except StorageError:
                if attempt + 1 == _APPEND_ATTEMPTS:
                    raise
                await asyncio.sleep(0.02 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _append_once(
        self, writer_id: str, link: Callable[[int, str], ChainedEvent], now: float
    ) -> ChainedEvent:
        head = select(AuditWriterRow).where(AuditWriterRow.writer_id == writer_id)
        if not self._database.is_sqlite:
            head = head.with_for_update()
        async with self._database.transaction("audit chain append") as session:
            row = await session.scalar(head)
            event = link(row.head_seq, row.head_hash) if row else link(0, _GENESIS)
            session.add(AuditEventRow(**{name: getattr(event, name) for name in _EVENT_COLUMNS}))
            if row is None:
                session.add(
                    AuditWriterRow(
                        writer_id=writer_id,
                        head_seq=event.seq,
                        head_hash=event.hash,
                        wal_segment=0,
                        wal_offset=0,
                        closed_through=event.seq,
                        updated_at=now,
                    )
                )
            else:
                row.head_seq, row.head_hash = event.seq, event.hash
                row.closed_through, row.updated_at = event.seq, now
        return event

    async def events_for(self, request_id: str, kind: str) -> list[ChainedEvent]:
        """Every event of ``kind`` naming ``request_id`` (e.g. the decryptions of a call)."""
        statement = (
            select(AuditEventRow)
            .where(AuditEventRow.request_id == request_id, AuditEventRow.kind == kind)
            .order_by(AuditEventRow.at, AuditEventRow.writer_id, AuditEventRow.seq)
        )
        async with self._database.transaction("audit events lookup") as session:
            return [_event(row) for row in (await session.scalars(statement)).all()]

    async def open_intents(self, writer_id: str, after_seq: int) -> list[ChainedEvent]:
        """Intents of ``writer_id`` past ``after_seq`` whose call has no terminal record."""
        statement = (
            select(AuditEventRow)
            .outerjoin(CallRecordRow, CallRecordRow.request_id == AuditEventRow.request_id)
            .where(
                AuditEventRow.writer_id == writer_id,
                AuditEventRow.seq > after_seq,
                AuditEventRow.kind == "intent",
                CallRecordRow.request_id.is_(None),
            )
            .order_by(AuditEventRow.seq)
        )
        async with self._database.transaction("audit open intents") as session:
            return [_event(row) for row in (await session.scalars(statement)).all()]

    async def writers(self) -> list[WriterState]:
        """Every writer the store knows, by id."""
        async with self._database.transaction("audit writers") as session:
            rows = (await session.scalars(select(AuditWriterRow).order_by("writer_id"))).all()
            return [
                WriterState(
                    r.writer_id,
                    r.head_seq,
                    r.head_hash,
                    r.wal_segment,
                    r.wal_offset,
                    r.closed_through,
                )
                for r in rows
            ]

    async def chained_writers(self) -> list[str]:
        """Writer ids that have events (whatever ``audit_writers`` says)."""
        statement = select(AuditEventRow.writer_id).distinct().order_by(AuditEventRow.writer_id)
        async with self._database.transaction("audit writers") as session:
            return list((await session.scalars(statement)).all())

    async def events(
        self, writer_id: str, *, page_size: int = 1000
    ) -> AsyncIterator[list[ChainedEvent]]:
        """A writer's events in stored seq order, a page at a time."""
        after = -1
        while True:
            statement = (
                select(AuditEventRow)
                .where(AuditEventRow.writer_id == writer_id, AuditEventRow.seq > after)
                .order_by(AuditEventRow.seq)
                .limit(page_size)
            )
            async with self._database.transaction("audit chain page") as session:
                page = [_event(row) for row in (await session.scalars(statement)).all()]
            if not page:
                return
            yield page
            after = page[-1].seq

    async def records_by_id(self, request_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored call records of ``request_ids`` as JSON values (for the verifier)."""
        if not request_ids:
            return {}
        statement = select(CallRecordRow).where(CallRecordRow.request_id.in_(request_ids))
        async with self._database.transaction("audit record lookup") as session:
            rows = (await session.scalars(statement)).all()
            return {row.request_id: _row_values(row) for row in rows}

    async def unchained_records(self, limit: int = 10) -> list[str]:
        """Request ids of call records with no completion event (inserted around the chain)."""
        completion = (
            select(AuditEventRow.request_id)
            .where(
                AuditEventRow.request_id == CallRecordRow.request_id,
                AuditEventRow.kind == "completion",
            )
            .exists()
        )
        statement = (
            select(CallRecordRow.request_id)
            .where(~completion)
            .order_by(CallRecordRow.started_at)
            .limit(limit)
        )
        async with self._database.transaction("audit unchained records") as session:
            return list((await session.scalars(statement)).all())

    async def count(self) -> int:
        """How many chained events are stored."""
        async with self._database.transaction("audit event count") as session:
            return int(await session.scalar(select(func.count()).select_from(AuditEventRow)) or 0)


def _event(row: AuditEventRow) -> ChainedEvent:
    return ChainedEvent(
        row.writer_id, row.seq, row.kind, row.request_id, row.at, row.body, row.prev_hash, row.hash
    )


def _record_row(values: Mapping[str, Any], order: tuple[str, ...]) -> tuple[Any, ...]:
    row = dict(values)
    for name in _JSON_COLUMNS:
        if row.get(name) is not None:
            row[name] = orjson.dumps(row[name]).decode()
    return tuple(row.get(name) for name in order)


def _row_values(row: CallRecordRow) -> dict[str, Any]:
    return {column.key: getattr(row, column.key) for column in CallRecordRow.__table__.columns}
