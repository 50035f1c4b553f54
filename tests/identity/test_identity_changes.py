"""PollingChangeNotifier: who is called, when, and what survives failures."""

from __future__ import annotations

import asyncio

import pytest

from bastion.errors import StorageError
from bastion.identity.changes import ChangeNotifier, PollingChangeNotifier
from bastion.storage import ChangeFeed, ChangeKind, Database


async def test_subscribers_hear_only_their_kind_once_per_batch(
    sqlite_database: Database,
) -> None:
    feed = ChangeFeed(sqlite_database)
    notifier = PollingChangeNotifier(feed, interval_s=60)
    heard: list[str] = []
    notifier.subscribe("keys", lambda: heard.append("keys"))

    async def on_policy() -> None:
        heard.append("policy")

    notifier.subscribe("policy", on_policy)
    await notifier.start()
    try:
        await feed.bump(ChangeKind.KEYS)
        await feed.bump(ChangeKind.KEYS)
        await feed.bump(ChangeKind.POLICY)
        await feed.bump(ChangeKind.CONFIG)
        assert await notifier.poll_once() == {"keys", "policy", "config"}
        assert sorted(heard) == ["keys", "policy"]
        assert await notifier.poll_once() == set()
    finally:
        await notifier.close()


async def test_changes_before_start_are_not_replayed(sqlite_database: Database) -> None:
    feed = ChangeFeed(sqlite_database)
    await feed.bump(ChangeKind.KEYS)
    notifier = PollingChangeNotifier(feed, interval_s=60)
    heard: list[str] = []
    notifier.subscribe("keys", lambda: heard.append("keys"))
    await notifier.start()
    try:
        assert await notifier.poll_once() == set()
        assert heard == []
    finally:
        await notifier.close()
        await notifier.close()  # closing twice is harmless


async def test_failing_subscriber_does_not_stop_the_others(
    sqlite_database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    feed = ChangeFeed(sqlite_database)
    notifier = PollingChangeNotifier(feed, interval_s=60)
    heard: list[str] = []

    def broken() -> None:
        raise RuntimeError("subscriber bug")

    notifier.subscribe("keys", broken)
    notifier.subscribe("keys", lambda: heard.append("keys"))
    await notifier.start()
    try:
        await feed.bump(ChangeKind.KEYS)
        await notifier.poll_once()
    finally:
        await notifier.close()
    assert heard == ["keys"]
    assert "change subscriber for 'keys' failed" in caplog.text


class FlakyFeed(ChangeFeed):
    """A feed whose reads fail until ``healthy`` is set."""

    healthy = False

    async def latest(self) -> int:
        if not self.healthy:
            raise StorageError("database change feed read failed (OperationalError)")
        return await super().latest()

    async def since(self, seq: int, *, limit: int = 1000) -> list[tuple[int, str]]:
        if not self.healthy:
            raise StorageError("database change feed read failed (OperationalError)")
        return await super().since(seq, limit=limit)


async def test_poller_survives_an_unavailable_feed_and_catches_up(
    sqlite_database: Database,
) -> None:
    feed = FlakyFeed(sqlite_database)
    notifier: ChangeNotifier = PollingChangeNotifier(feed, interval_s=0.02)
    heard = asyncio.Event()
    notifier.subscribe("keys", heard.set)
    await notifier.start()
    try:
        await asyncio.sleep(0.1)  # several failed polls
        await ChangeFeed(sqlite_database).bump(ChangeKind.KEYS)
        feed.healthy = True
        await asyncio.wait_for(heard.wait(), timeout=2)
    finally:
        await notifier.close()
