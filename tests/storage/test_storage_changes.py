"""ChangeFeed on SQLite and PostgreSQL: ordering, reads, concurrent appends, pruning."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bastion.storage import ChangeFeed, ChangeKind, Database
from bastion.storage.tables import ChangeRow


async def test_empty_feed(database: Database) -> None:
    feed = ChangeFeed(database)
    assert await feed.latest() == 0
    assert await feed.since(0) == []


async def test_bumps_are_numbered_in_order(database: Database) -> None:
    feed = ChangeFeed(database)
    await feed.bump(ChangeKind.POLICY)
    await feed.bump("config")
    await feed.bump(ChangeKind.KEYS)
    changes = await feed.since(0)
    assert [kind for _, kind in changes] == ["policy", "config", "keys"]
    seqs = [seq for seq, _ in changes]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert await feed.latest() == seqs[-1]
    assert await feed.since(seqs[0]) == changes[1:]
    assert await feed.since(seqs[-1]) == []


async def test_unknown_kind_is_refused(database: Database) -> None:
    with pytest.raises(ValueError, match="budgets"):
        await ChangeFeed(database).bump("budgets")


async def test_concurrent_bumps_get_distinct_increasing_numbers(database: Database) -> None:
    feed = ChangeFeed(database)
    await asyncio.gather(*(feed.bump(ChangeKind.KEYS) for _ in range(20)))
    seqs = [seq for seq, _ in await feed.since(0)]
    assert len(seqs) == 20 and seqs == sorted(set(seqs))


async def test_since_honours_the_limit(database: Database) -> None:
    feed = ChangeFeed(database)
    for _ in range(5):
        await feed.bump(ChangeKind.CONFIG)
    first = await feed.since(0, limit=2)
    assert len(first) == 2
    assert len(await feed.since(first[-1][0])) == 3


# --- pruning ------------------------------------------------------------------------

RETENTION = timedelta(days=7)


async def append_at(database: Database, kind: ChangeKind, at: datetime) -> int:
    """An entry as if appended at ``at`` (a week ago is hard to wait for)."""
    async with database.transaction("test append") as session:
        row = ChangeRow(kind=kind.value, at=at)
        session.add(row)
        await session.flush()
        return row.seq


async def test_prune_deletes_old_entries_and_keeps_recent_ones(database: Database) -> None:
    feed = ChangeFeed(database)
    now = datetime.now(UTC)
    old = [
        await append_at(database, ChangeKind.KEYS, now - timedelta(days=10 - i)) for i in range(3)
    ]
    await feed.bump(ChangeKind.POLICY)
    await feed.bump(ChangeKind.EXCEPTIONS)
    latest = await feed.latest()

    assert await feed.prune(now - RETENTION) == 2
    # the newest old entry stays: the feed keeps its position and a reader at an older
    # cursor can tell that it missed something (its own entry is gone)
    assert [kind for _, kind in await feed.since(0)] == ["keys", "policy", "exceptions"]
    assert not await feed.has(old[0]) and not await feed.has(old[1]) and await feed.has(old[2])
    assert await feed.latest() == latest
    assert await feed.prune(now - RETENTION) == 0  # nothing more to do


async def test_prune_never_empties_the_feed_nor_reuses_numbers(database: Database) -> None:
    feed = ChangeFeed(database)
    long_ago = datetime.now(UTC) - timedelta(days=30)
    for _ in range(3):
        last = await append_at(database, ChangeKind.KEYS, long_ago)
    assert await feed.prune(datetime.now(UTC)) == 2
    assert await feed.latest() == last
    await feed.bump(ChangeKind.POLICY)
    assert await feed.latest() > last


async def test_prune_deletes_at_most_its_limit_oldest_first(database: Database) -> None:
    feed = ChangeFeed(database)
    long_ago = datetime.now(UTC) - timedelta(days=30)
    seqs = [await append_at(database, ChangeKind.KEYS, long_ago) for _ in range(6)]
    assert await feed.prune(datetime.now(UTC), limit=2) == 2
    assert [seq for seq, _ in await feed.since(0)] == seqs[2:]
    assert await feed.prune(datetime.now(UTC), limit=10) == 3
    assert [seq for seq, _ in await feed.since(0)] == seqs[5:]


async def test_prune_of_an_empty_or_recent_feed_deletes_nothing(database: Database) -> None:
    feed = ChangeFeed(database)
    assert await feed.prune(datetime.now(UTC)) == 0
    await feed.bump(ChangeKind.KEYS)
    await feed.bump(ChangeKind.KEYS)
    assert await feed.prune(datetime.now(UTC) - RETENTION) == 0
    assert len(await feed.since(0)) == 2


async def test_concurrent_prunes_delete_each_entry_once(
    database: Database, database_url: str
) -> None:
    # replicas pruning at the same moment, each with its own connections
    other = Database.from_url(database_url)
    try:
        long_ago = datetime.now(UTC) - timedelta(days=30)
        for _ in range(50):
            await append_at(database, ChangeKind.KEYS, long_ago)
        await ChangeFeed(database).bump(ChangeKind.POLICY)
        cutoff = datetime.now(UTC) - RETENTION
        deleted = await asyncio.gather(
            *(ChangeFeed(db).prune(cutoff) for db in (database, other, database, other))
        )
    finally:
        await other.close()
    assert sum(deleted) == 49
    assert [kind for _, kind in await ChangeFeed(database).since(0)] == ["keys", "policy"]
