"""The change feed: a monotonically numbered log of "something of kind X changed".

Writers append inside the transaction that made the change (:func:`record_change`), so
a reader that sees the entry also sees the change. Readers poll :meth:`ChangeFeed.since`.

Ordering: a reader remembers the highest ``seq`` it saw, so a smaller ``seq`` that
commits later would be missed. PostgreSQL hands out sequence values before commit, so
appends there take a transaction-scoped advisory lock: commits happen in ``seq`` order.
SQLite serialises writers by itself. Changes are rare (admin actions), so this costs
nothing that matters.

Pruning (:meth:`ChangeFeed.prune`): entries older than the retention window go, oldest
first, always as a prefix of the feed, and the newest entry older than the window stays.
So the feed is never emptied (``latest`` keeps its meaning, numbers are never reused),
and a reader can tell when entries it had not read were pruned: the entry its cursor
points at is gone too (:meth:`ChangeFeed.has`), since only older ones are deleted before it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.storage.database import CHANGED_KINDS, Database
from bastion.storage.tables import ChangeRow

_CHANGE_FEED_LOCK_ID = 0x62A5_C4A9
_CHANGE_PRUNE_LOCK_ID = 0x62A5_C4AA

CHANGE_RETENTION = timedelta(days=7)
"""How long entries are kept: far beyond any poll interval, so every process that polls
has read them; one that has not read the feed for that long reloads everything."""

PRUNE_BATCH = 10_000
"""Most entries one :meth:`ChangeFeed.prune` deletes (one bounded statement)."""


class ChangeKind(StrEnum):
    """What changed: the subscribers of a kind reload or invalidate that state."""

    KEYS = "keys"
    ADMIN_TOKENS = "admin_tokens"
    CONFIG = "config"
    POLICY = "policy"
    EXCEPTIONS = "exceptions"


async def record_change(session: AsyncSession, kind: ChangeKind) -> None:
    """Append ``kind`` to the feed inside the caller's transaction (after it commits,
    :meth:`Database.after_changes_commit` hooks hear of it)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _CHANGE_FEED_LOCK_ID}
        )
    session.add(ChangeRow(kind=kind.value, at=datetime.now(UTC)))
    await session.flush()
    session.info.setdefault(CHANGED_KINDS, set()).add(kind.value)


class ChangeFeed:
    """Append to and read the change feed."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def bump(self, kind: ChangeKind | str) -> None:
        """Record a change of ``kind`` in its own transaction."""
        async with self._database.transaction("change feed append") as session:
            await record_change(session, ChangeKind(kind))

    async def latest(self) -> int:
        """The highest sequence number so far (0 when the feed is empty)."""
        async with self._database.transaction("change feed read") as session:
            value = await session.scalar(select(func.max(ChangeRow.seq)))
        return int(value or 0)

    async def since(self, seq: int, *, limit: int = 1000) -> list[tuple[int, str]]:
        """Changes after ``seq``, oldest first, as ``(seq, kind)``."""
        statement = (
            select(ChangeRow.seq, ChangeRow.kind)
            .where(ChangeRow.seq > seq)
            .order_by(ChangeRow.seq)
            .limit(limit)
        )
        async with self._database.transaction("change feed read") as session:
            rows = (await session.execute(statement)).all()
        return [(int(row.seq), str(row.kind)) for row in rows]

    async def has(self, seq: int) -> bool:
        """Whether the entry ``seq`` is still in the feed (false once pruned)."""
        statement = select(ChangeRow.seq).where(ChangeRow.seq == seq)
        async with self._database.transaction("change feed read") as session:
            return await session.scalar(statement) is not None

    async def prune(self, before: datetime, *, limit: int = PRUNE_BATCH) -> int:
        """Delete up to ``limit`` of the oldest entries made before ``before``, keeping
        the newest of those; how many were deleted.

        Safe to run from several processes at once: on PostgreSQL one of them prunes
        while the others return 0 at once (a transaction-scoped advisory lock, tried,
        not waited for); SQLite runs one writer at a time, and a second pruner finds
        what the first left.
        """
        # the newest entry made before `before`: everything older goes, it stays
        horizon = (
            select(ChangeRow.seq)
            .where(ChangeRow.at < before)
            .order_by(ChangeRow.seq.desc())
            .limit(1)
            .scalar_subquery()
        )
        oldest = (
            select(ChangeRow.seq)
            .where(ChangeRow.seq < horizon)
            .order_by(ChangeRow.seq)
            .limit(limit)
        )
        statement = (
            delete(ChangeRow)
            .where(ChangeRow.seq.in_(oldest))
            .execution_options(synchronize_session=False)
        )
        async with self._database.transaction("change feed prune") as session:
            if session.get_bind().dialect.name == "postgresql":
                locked = await session.scalar(
                    text("SELECT pg_try_advisory_xact_lock(:lock)"),
                    {"lock": _CHANGE_PRUNE_LOCK_ID},
                )
                if not locked:
                    return 0  # another process is pruning right now
            result: Any = await session.execute(statement)
        return int(result.rowcount or 0)
