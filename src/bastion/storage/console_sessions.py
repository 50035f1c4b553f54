"""Console sessions in the store: one row per open session, keyed by the SHA-256 of
its random id (the id itself is only in the browser's cookie), so every worker and
replica sharing the database sees a logout at once. Each row also keeps the role the
session was opened with and when it was last used, written at most once a minute
(``SEEN_EVERY``), so a page view costs a read, not a write."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update

from bastion.storage.database import Database
from bastion.storage.tables import ConsoleSessionRow

SEEN_EVERY = timedelta(minutes=1)
"""How stale ``last_seen_at`` may grow before a use of the session writes it again."""


@dataclass(frozen=True, slots=True)
class StoredConsoleSession:
    """A session as stored: its id's hash, kind, who opened it, when it ends, the role
    it was opened with and when it was last used (None: not recorded)."""

    id_hash: str
    kind: str
    subject: str
    created_at: datetime
    expires_at: datetime
    role: str | None = None
    last_seen_at: datetime | None = None

    def __post_init__(self) -> None:
        if len(self.id_hash) != 64 or not all(c in "0123456789abcdef" for c in self.id_hash):
            raise ValueError("a console session is stored under a SHA-256 hex digest")
        if self.expires_at <= self.created_at:
            raise ValueError("a console session ends after it opens")
        if self.last_seen_at is not None and self.last_seen_at < self.created_at:
            raise ValueError("a console session is not used before it opens")


def _stored(row: ConsoleSessionRow) -> StoredConsoleSession:
    return StoredConsoleSession(
        id_hash=row.id_hash,
        kind=row.kind,
        subject=row.subject,
        created_at=row.created_at,
        expires_at=row.expires_at,
        role=row.role,
        last_seen_at=row.last_seen_at,
    )


class ConsoleSessionRepository:
    """Open, use (check), list and end console sessions (one, one holder's or all);
    ended ones are pruned as new ones open."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def open(self, session: StoredConsoleSession) -> None:
        """Store a new session, deleting every session that ended before it opened."""
        prune = delete(ConsoleSessionRow).where(ConsoleSessionRow.expires_at <= session.created_at)
        async with self._database.transaction("console session open") as db:
            await db.execute(prune)
            db.add(
                ConsoleSessionRow(
                    id_hash=session.id_hash,
                    kind=session.kind,
                    subject=session.subject,
                    created_at=session.created_at,
                    expires_at=session.expires_at,
                    role=session.role,
                    last_seen_at=session.last_seen_at,
                )
            )

    async def use(self, id_hash: str, now: datetime) -> bool:
        """Whether the session with this id hash exists and has not ended at ``now``;
        when it is open, ``now`` becomes its last use unless one was recorded less than
        ``SEEN_EVERY`` before. The write is a second, conditional statement: a page view
        reads one row, and of workers using the session at once only one writes."""
        lookup = select(ConsoleSessionRow.last_seen_at).where(
            ConsoleSessionRow.id_hash == id_hash, ConsoleSessionRow.expires_at > now
        )
        async with self._database.transaction("console session lookup") as db:
            found = (await db.execute(lookup)).first()
        if found is None:
            return False
        stale = now - SEEN_EVERY
        last_seen: datetime | None = found[0]
        if last_seen is not None and last_seen > stale:
            return True
        record = (
            update(ConsoleSessionRow)
            .where(
                ConsoleSessionRow.id_hash == id_hash,
                or_(
                    ConsoleSessionRow.last_seen_at.is_(None),
                    ConsoleSessionRow.last_seen_at <= stale,
                ),
            )
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
        async with self._database.transaction("console session seen") as db:
            await db.execute(record)
        return True

    async def list_open(
        self, now: datetime, *, subjects: Collection[str] | None = None
    ) -> list[StoredConsoleSession]:
        """Sessions open at ``now`` (``subjects``: only those whose holder is one of them,
        as in ``close_all``), oldest first."""
        statement = select(ConsoleSessionRow).where(ConsoleSessionRow.expires_at > now)
        if subjects is not None:
            statement = statement.where(ConsoleSessionRow.subject.in_(list(subjects)))
        statement = statement.order_by(ConsoleSessionRow.created_at, ConsoleSessionRow.subject)
        async with self._database.transaction("console session list") as db:
            rows = (await db.execute(statement)).scalars().all()
            return [_stored(row) for row in rows]

    async def close(self, id_hash: str) -> bool:
        """End the session now (logout); False when it was not open."""
        statement = (
            delete(ConsoleSessionRow)
            .where(ConsoleSessionRow.id_hash == id_hash)
            .returning(ConsoleSessionRow.id_hash)
        )
        async with self._database.transaction("console session close") as db:
            return (await db.execute(statement)).first() is not None

    async def close_all(self, now: datetime, *, subjects: Collection[str] | None = None) -> int:
        """End every session now (``subjects``: only those whose holder is one of them:
        an admin token id, a gateway key id or an OIDC subject); how many were open at
        ``now``. Rows of sessions that had already ended go too."""
        chosen = delete(ConsoleSessionRow)
        if subjects is not None:
            chosen = chosen.where(ConsoleSessionRow.subject.in_(list(subjects)))
        statement = chosen.returning(ConsoleSessionRow.expires_at)
        async with self._database.transaction("console session close all") as db:
            ends = (await db.execute(statement)).scalars().all()
        return sum(1 for end in ends if end > now)
