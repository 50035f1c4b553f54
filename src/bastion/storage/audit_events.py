"""The audit hash chain in the store: chained events, writer heads, and call records.

``ship`` is the shipper's one transaction per batch: the chained events, the call
records their completions carry, and the writer's new head and log position together,
so a crash between the commit and the log's clean-up never ships an entry twice. The
writer's row is locked and checked first: a head that moved (another replica adopted the
writer, ``adopt``) fails the batch with ``ChainMoved`` instead of forking the chain.

``adopt`` is the takeover of a writer whose lease lapsed (RELIABILITY.md A1 for
replicas): in one transaction, with the writer's row locked, its open intents are closed
on its own chain (continuing its seqs) and ``closed_through`` moves to the new head, so
only one replica adopts it and a second look finds nothing left to close.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Any

import orjson
from sqlalchemy import Boolean, bindparam, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from bastion.errors import StorageError
from bastion.model.chain import ChainedEvent, WriterState
from bastion.storage import multirow
from bastion.storage.call_records import _JSON_COLUMNS, batch_insert
from bastion.storage.database import Database
from bastion.storage.tables import AuditEventRow, AuditWriterRow, CallRecordRow

_EVENT_COLUMNS = ("writer_id", "seq", "kind", "request_id", "at", "body", "prev_hash", "hash")
_GENESIS = "0" * 64  # a chain's first prev_hash (audit.chain.GENESIS; storage sits below audit)
_APPEND_ATTEMPTS = 8


class ChainMoved(StorageError):
    """The writer's head in the store is not where the shipper left it (adopted)."""


Closer = Callable[[WriterState, Sequence[ChainedEvent]], tuple[list[ChainedEvent], list[Any]]]
"""Makes the closing events (linked from the writer's head) and their call records."""


class AuditEventRepository:
    """Write and read ``audit_events`` and ``audit_writers``."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def writer_state(self, writer_id: str) -> WriterState | None:
        """Where ``writer_id`` stands, or None for a writer never shipped."""
        async with self._database.transaction("audit writer lookup") as session:
            row = await session.get(AuditWriterRow, writer_id)
            return None if row is None else _state(row)

    async def ship(
        self,
        events: Sequence[ChainedEvent],
        records: Sequence[Mapping[str, Any]],
        state: WriterState,
        now: float,
        lease_until: float | None = None,
    ) -> None:
        """Store ``events``, the call ``records`` (JSON values), and ``state``: atomically.

        ``lease_until`` renews the writer's lease (an empty batch is a heartbeat). Raises
        ``ChainMoved`` when the stored head is not the one ``events`` continue.
        """
        expected_head = state.head_seq - len(events)
        values = {
            "writer_id": state.writer_id,
            "head_seq": state.head_seq,
            "head_hash": state.head_hash,
            "wal_segment": state.wal_segment,
            "wal_offset": state.wal_offset,
            "closed_through": state.closed_through,
            "updated_at": now,
        }
        sql = _ship_statements(self._database.is_sqlite)
        upsert, order = sql.upsert
        if lease_until is not None:
            values.update(lease_owner=state.writer_id, lease_until=lease_until)
            upsert, order = sql.upsert_lease
        head = tuple(values[name] for name in order)
        event_rows = [sql.event_row(event) for event in events]
        record_rows = [_record_row(record, sql.record_order, sql.as_integer) for record in records]
        if self._database.is_sqlite:

            def ship_batch(connection: sqlite3.Connection) -> None:
                found = connection.execute(sql.head, (state.writer_id,)).fetchone()
                _check_head(state.writer_id, found, expected_head)
                if event_rows:
                    connection.executemany(sql.events, event_rows)
                if record_rows:
                    connection.executemany(sql.records, record_rows)
                connection.execute(upsert, head)

            await self._database.sqlite_batch("audit chain ship", ship_batch)
            return
        async with self._database.transaction("audit chain ship") as session:
            connection = await session.connection()
            found = (await connection.exec_driver_sql(sql.head, (state.writer_id,))).first()
            _check_head(state.writer_id, found, expected_head)
            for statement, parameters in chain(
                multirow.statements(AuditEventRow, sql.event_order, event_rows),
                multirow.statements(CallRecordRow, sql.record_order, record_rows, ("request_id",)),
            ):
                await connection.exec_driver_sql(statement, parameters)
            await connection.exec_driver_sql(upsert, head)

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

    async def expired_writers(self, now: float, exclude: str) -> list[WriterState]:
        """Writers whose lease lapsed before ``now`` with intents not known to be closed."""
        statement = (
            select(AuditWriterRow)
            .where(
                AuditWriterRow.lease_until < now,
                AuditWriterRow.closed_through < AuditWriterRow.head_seq,
                AuditWriterRow.writer_id != exclude,
            )
            .order_by(AuditWriterRow.lease_until)
        )
        async with self._database.transaction("audit expired writers") as session:
            return [_state(row) for row in (await session.scalars(statement)).all()]

    async def adopt(self, writer_id: str, owner: str, now: float, close: Closer) -> int:
        """Close the open intents of ``writer_id`` if its lease lapsed: how many were closed.

        With the row locked, re-checks that the lease lapsed and something is open (a
        concurrent adopter or the writer's return makes this a no-op), then stores the
        events and call records ``close`` makes, the new head, ``closed_through`` at it,
        and ``owner`` as the row's last lease holder.
        """
        sql, order = batch_insert(self._database.is_sqlite)
        lock = select(AuditWriterRow).where(AuditWriterRow.writer_id == writer_id)
        if not self._database.is_sqlite:
            lock = lock.with_for_update()
        async with self._database.transaction("audit writer adoption") as session:
            row = await session.scalar(lock)
            if row is None or row.lease_until is None or row.lease_until >= now:
                return 0
            if row.closed_through >= row.head_seq:
                return 0
            state = _state(row)
            orphans = [
                _event(e)
                for e in (await session.scalars(_open_intents(writer_id, row.closed_through)))
            ]
            events, records = close(state, orphans)
            if events:
                await session.execute(
                    insert(AuditEventRow),
                    [{name: getattr(e, name) for name in _EVENT_COLUMNS} for e in events],
                )
                connection = await session.connection()
                await connection.exec_driver_sql(sql, [_record_row(r, order) for r in records])
                row.head_seq, row.head_hash = events[-1].seq, events[-1].hash
            row.closed_through, row.lease_owner, row.updated_at = row.head_seq, owner, now
            return len(events)

    async def recorded(self, request_ids: Sequence[str]) -> set[str]:
        """Which of ``request_ids`` already have a call record (a terminal state)."""
        if not request_ids:
            return set()
        statement = select(CallRecordRow.request_id).where(
            CallRecordRow.request_id.in_(request_ids)
        )
        async with self._database.transaction("audit recorded calls") as session:
            return set((await session.scalars(statement)).all())

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
        async with self._database.transaction("audit open intents") as session:
            statement = _open_intents(writer_id, after_seq)
            return [_event(row) for row in (await session.scalars(statement)).all()]

    async def writers(self) -> list[WriterState]:
        """Every writer the store knows, by id."""
        async with self._database.transaction("audit writers") as session:
            rows = (await session.scalars(select(AuditWriterRow).order_by("writer_id"))).all()
            return [_state(r) for r in rows]

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

    async def tail(self, writer_id: str, count: int) -> list[ChainedEvent]:
        """The last ``count`` stored events of ``writer_id``, in seq order."""
        statement = (
            select(AuditEventRow)
            .where(AuditEventRow.writer_id == writer_id)
            .order_by(AuditEventRow.seq.desc())
            .limit(count)
        )
        async with self._database.transaction("audit chain tail") as session:
            rows = (await session.scalars(statement)).all()
            return [_event(row) for row in reversed(rows)]

    async def quick_check(self) -> str | None:
        """The store's own structural check (SQLite ``PRAGMA quick_check``): what it
        found, or None when the file is sound (and on PostgreSQL, which checks its pages
        itself)."""
        return await self._database.quick_check()

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


def _open_intents(writer_id: str, after_seq: int) -> Any:
    return (
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


def _state(row: AuditWriterRow) -> WriterState:
    return WriterState(
        row.writer_id,
        row.head_seq,
        row.head_hash,
        row.wal_segment,
        row.wal_offset,
        row.closed_through,
    )


def _event(row: AuditEventRow) -> ChainedEvent:
    return ChainedEvent(
        row.writer_id, row.seq, row.kind, row.request_id, row.at, row.body, row.prev_hash, row.hash
    )


def _record_row(
    values: Mapping[str, Any], order: tuple[str, ...], as_integer: tuple[int, ...] = ()
) -> tuple[Any, ...]:
    """A call record's row in ``order``: JSON columns as text, a missing value as NULL,
    and the booleans at the positions ``as_integer`` as 1 or 0 (SQLite: what the driver
    would bind for them, without first looking for an adapter of ``bool``)."""
    pick, json_at = _row_layout(order)
    try:
        row = list(pick(values))
    except KeyError:  # a record logged before one of the columns existed
        row = [values.get(name) for name in order]
    for index in json_at:
        if row[index] is not None:
            row[index] = orjson.dumps(row[index]).decode()
    for index in as_integer:
        if isinstance(row[index], bool):
            row[index] = int(row[index])
    return tuple(row)


@cache
def _row_layout(
    order: tuple[str, ...],
) -> tuple[Callable[[Mapping[str, Any]], Any], tuple[int, ...]]:
    """What ``_record_row`` needs of ``order``: one getter of all its values, and the
    positions of the JSON columns."""
    return itemgetter(*order), tuple(i for i, name in enumerate(order) if name in _JSON_COLUMNS)


def _row_values(row: CallRecordRow) -> dict[str, Any]:
    return {column.key: getattr(row, column.key) for column in CallRecordRow.__table__.columns}


def _check_head(writer_id: str, found: Any, expected: int) -> None:
    """Raise ``ChainMoved`` when the stored head (a row of ``head_seq``) is not ``expected``."""
    if found is not None and found[0] != expected:
        raise ChainMoved(
            f"audit writer {writer_id}: the stored head is seq {found[0]},"
            f" not {expected} (another writer appended to it)"
        )


@dataclass(frozen=True, slots=True)
class _ShipSql:
    """The shipper's statements compiled once for a driver, with positional orders."""

    head: str
    events: str
    event_order: tuple[str, ...]
    event_row: Callable[[ChainedEvent], tuple[Any, ...]]
    """An event's values in ``event_order``."""
    records: str
    record_order: tuple[str, ...]
    as_integer: tuple[int, ...]
    """Positions of ``record_order``'s boolean columns, bound as 1 or 0 (SQLite)."""
    upsert: tuple[str, tuple[str, ...]]
    upsert_lease: tuple[str, tuple[str, ...]]


_WRITER_HEAD = (
    "writer_id",
    "head_seq",
    "head_hash",
    "wal_segment",
    "wal_offset",
    "closed_through",
    "updated_at",
)


def _ship_sql(dialect: Dialect, insert_of: Any, records: str, order: tuple[str, ...]) -> _ShipSql:
    def compiled(statement: Any) -> tuple[str, tuple[str, ...]]:
        done = statement.compile(dialect=dialect)
        return str(done), tuple(done.positiontup or ())

    head = select(AuditWriterRow.head_seq).where(AuditWriterRow.writer_id == bindparam("writer_id"))
    if dialect.name == "postgresql":
        head = head.with_for_update()
    events, event_order = compiled(insert_of(AuditEventRow.__table__))

    def upsert(names: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
        statement = insert_of(AuditWriterRow.__table__).values(
            {name: bindparam(name) for name in names}
        )
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=["writer_id"],
            set_={name: excluded[name] for name in names if name != "writer_id"},
        )
        return compiled(statement)

    booleans = {c.key for c in CallRecordRow.__table__.columns if isinstance(c.type, Boolean)}
    return _ShipSql(
        head=compiled(head)[0],
        events=events,
        event_order=event_order,
        event_row=attrgetter(*event_order),
        records=records,
        record_order=order,
        as_integer=(
            tuple(i for i, name in enumerate(order) if name in booleans)
            if dialect.name == "sqlite"
            else ()
        ),
        upsert=upsert(_WRITER_HEAD),
        upsert_lease=upsert((*_WRITER_HEAD, "lease_owner", "lease_until")),
    )


@cache
def _ship_statements(is_sqlite: bool) -> _ShipSql:
    """The shipper's statements for one backend, compiled on first use (not at import:
    a command that never ships would pay for compiling both)."""
    if is_sqlite:
        return _ship_sql(sqlite.dialect(paramstyle="qmark"), sqlite.insert, *batch_insert(True))
    return _ship_sql(
        postgresql.dialect(paramstyle="numeric_dollar"),  # type: ignore[no-untyped-call]
        postgresql.insert,
        *batch_insert(False),
    )
