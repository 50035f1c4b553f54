"""Audit exporters in the store: a lease per exporter and a cursor per (exporter, writer).

An exporter reads the committed hash chains (``audit_events``) and never changes them.
Its cursor for a writer says up to which seq every event was delivered (or skipped,
as intents are); it advances only after the sink acknowledged, in a transaction that
also checks the lease, so a replica that lost the lease cannot move it. A writer's
events up to its head are committed together with the head (``AuditEventRepository.
ship`` and ``append``), so reading events up to a head read earlier sees no gaps.

The lease is a row, not a database lock: ``acquire`` takes it when free, expired or
already held, and ``advance`` renews it, so it works the same on SQLite and PostgreSQL
and survives a dropped connection (the holder simply stops renewing).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bastion.model.chain import ChainedEvent
from bastion.storage.database import Database
from bastion.storage.tables import (
    AuditEventRow,
    AuditExportCursorRow,
    AuditExporterRow,
    AuditWriterRow,
)

_ERROR_CHARS = 500


@dataclass(frozen=True, slots=True)
class WriterBacklog:
    """One writer's chain as an exporter sees it: delivered through ``cursor`` of ``head``."""

    writer_id: str
    cursor: int
    head: int


@dataclass(frozen=True, slots=True)
class ExporterStatus:
    """What ``bastion audit exporters`` shows of one exporter."""

    name: str
    lease_owner: str | None
    lease_until: float
    exported: int
    last_success_at: float | None
    last_error: str | None
    last_error_at: float | None
    backlog: tuple[WriterBacklog, ...]

    @property
    def behind(self) -> int:
        """Chain events not yet passed (intents included: an upper bound of records)."""
        return sum(max(0, w.head - w.cursor) for w in self.backlog)


class AuditExportRepository:
    """Leases, cursors and outcomes of audit exporters (``audit_exporters``,
    ``audit_export_cursors``)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def acquire(self, name: str, owner: str, now: float, lease_s: float) -> bool:
        """Take or renew ``name``'s lease for ``owner``; False while another holds it."""
        dialect: Any = sqlite if self._database.is_sqlite else postgresql
        create = (
            dialect.insert(AuditExporterRow)
            .values(name=name, lease_owner=None, lease_until=0.0, exported=0)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        take = (
            update(AuditExporterRow)
            .where(
                AuditExporterRow.name == name,
                or_(
                    AuditExporterRow.lease_owner.is_(None),
                    AuditExporterRow.lease_owner == owner,
                    AuditExporterRow.lease_until < now,
                ),
            )
            .values(lease_owner=owner, lease_until=now + lease_s)
            .returning(AuditExporterRow.name)
        )
        async with self._database.transaction("audit exporter lease") as session:
            await session.execute(create)
            return (await session.scalar(take)) is not None

    async def release(self, name: str, owner: str) -> None:
        """Give the lease up (shutdown), so another replica takes over at once."""
        statement = (
            update(AuditExporterRow)
            .where(AuditExporterRow.name == name, AuditExporterRow.lease_owner == owner)
            .values(lease_owner=None, lease_until=0.0)
        )
        async with self._database.transaction("audit exporter release") as session:
            await session.execute(statement)

    async def backlog(self, name: str) -> list[WriterBacklog]:
        """Every writer with events past ``name``'s cursor, by writer id."""
        return [w for w in await self._writers(name) if w.head > w.cursor]

    async def _writers(self, name: str) -> list[WriterBacklog]:
        statement = (
            select(AuditWriterRow.writer_id, AuditWriterRow.head_seq, AuditExportCursorRow.seq)
            .outerjoin(
                AuditExportCursorRow,
                and_(
                    AuditExportCursorRow.writer_id == AuditWriterRow.writer_id,
                    AuditExportCursorRow.exporter == name,
                ),
            )
            .order_by(AuditWriterRow.writer_id)
        )
        async with self._database.transaction("audit export backlog") as session:
            rows = (await session.execute(statement)).all()
        return [WriterBacklog(writer, cursor or 0, head) for writer, head, cursor in rows]

    async def events(
        self, writer_id: str, after: int, through: int, kinds: Collection[str], limit: int
    ) -> list[ChainedEvent]:
        """Up to ``limit`` events of ``kinds`` with ``after < seq <= through``, in seq order."""
        statement = (
            select(AuditEventRow)
            .where(
                AuditEventRow.writer_id == writer_id,
                AuditEventRow.seq > after,
                AuditEventRow.seq <= through,
                AuditEventRow.kind.in_(list(kinds)),
            )
            .order_by(AuditEventRow.seq)
            .limit(limit)
        )
        async with self._database.transaction("audit export read") as session:
            rows = (await session.scalars(statement)).all()
            return [
                ChainedEvent(
                    r.writer_id, r.seq, r.kind, r.request_id, r.at, r.body, r.prev_hash, r.hash
                )
                for r in rows
            ]

    async def advance(
        self,
        name: str,
        owner: str,
        writer_id: str,
        seq: int,
        delivered: int,
        now: float,
        lease_s: float,
    ) -> bool:
        """Move the cursor of (``name``, ``writer_id``) to ``seq`` and renew the lease;
        False (nothing changed) when ``owner`` no longer holds the lease."""
        renew = (
            update(AuditExporterRow)
            .where(AuditExporterRow.name == name, AuditExporterRow.lease_owner == owner)
            .values(
                lease_until=now + lease_s,
                exported=AuditExporterRow.exported + delivered,
                **({"last_success_at": now} if delivered else {}),
            )
            .returning(AuditExporterRow.name)
        )
        dialect: Any = sqlite if self._database.is_sqlite else postgresql
        values = {"exporter": name, "writer_id": writer_id, "seq": seq, "updated_at": now}
        cursor = (
            dialect.insert(AuditExportCursorRow)
            .values(**values)
            .on_conflict_do_update(
                index_elements=["exporter", "writer_id"],
                set_={"seq": seq, "updated_at": now},
            )
        )
        async with self._database.transaction("audit export advance") as session:
            if await session.scalar(renew) is None:
                return False
            await session.execute(cursor)
            return True

    async def failed(self, name: str, owner: str, error: str, now: float) -> None:
        """Note a failed delivery (shown by ``bastion audit exporters``)."""
        statement = (
            update(AuditExporterRow)
            .where(AuditExporterRow.name == name, AuditExporterRow.lease_owner == owner)
            .values(last_error=error[:_ERROR_CHARS], last_error_at=now)
        )
        async with self._database.transaction("audit export failure") as session:
            await session.execute(statement)

    async def status(self) -> list[ExporterStatus]:
        """Every exporter that ever ran, by name, with its cursors."""
        async with self._database.transaction("audit exporter status") as session:
            rows = (
                await session.scalars(select(AuditExporterRow).order_by(AuditExporterRow.name))
            ).all()
        return [
            ExporterStatus(
                row.name,
                row.lease_owner,
                row.lease_until,
                row.exported,
                row.last_success_at,
                row.last_error,
                row.last_error_at,
                tuple(await self._writers(row.name)),
            )
            for row in rows
        ]

    async def forget(self, name: str) -> None:
        """Drop an exporter's lease and cursors (it starts again from the first record)."""
        async with self._database.transaction("audit exporter forget") as session:
            await session.execute(
                delete(AuditExportCursorRow).where(AuditExportCursorRow.exporter == name)
            )
            await session.execute(delete(AuditExporterRow).where(AuditExporterRow.name == name))
