"""ChangeFeed on SQLite and PostgreSQL: ordering, reads, concurrent appends."""

from __future__ import annotations

import asyncio

import pytest

from bastion.storage import ChangeFeed, ChangeKind, Database


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
