"""PollingChangeNotifier: who is called, when, what survives failures, and pruning."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bastion.errors import AuthenticationFailed, StorageError
from bastion.identity.admin import AdminIdentity, AdminRole
from bastion.identity.changes import ChangeNotifier, PollingChangeNotifier
from bastion.identity.issuing import KeySpec, create_key, revoke_key
from bastion.identity.verifier import KeyVerifier
from bastion.storage import ChangeFeed, ChangeKind, Database, KeyRepository
from bastion.storage.changes import PRUNE_BATCH
from bastion.storage.tables import ChangeRow


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


# --- a pruned feed -------------------------------------------------------------------

ADMIN = AdminIdentity("local-admin", AdminRole.ADMIN)


async def append_at(database: Database, kind: ChangeKind, at: datetime) -> None:
    """An entry as if appended at ``at`` (a week ago is hard to wait for)."""
    async with database.transaction("test append") as session:
        session.add(ChangeRow(kind=kind.value, at=at))


async def test_poller_behind_the_pruned_horizon_reloads_everything(database: Database) -> None:
    # a gateway whose polls stopped (store unreachable from it, process suspended) for
    # longer than the retention window: the revocation it never read was pruned by
    # another replica, and what it reads next is only a policy change
    repo = KeyRepository(database)
    verifier = KeyVerifier(repo, cache_ttl_s=3600)
    feed = ChangeFeed(database)
    notifier = PollingChangeNotifier(feed, interval_s=3600)
    notifier.subscribe("keys", verifier.invalidate)
    issued = await create_key(repo, KeySpec(name="bot"), actor=ADMIN)
    await verifier.verify(issued.plaintext)  # cached
    await notifier.start()
    try:
        await revoke_key(repo, issued.stored.key_id, actor=ADMIN)
        await feed.bump(ChangeKind.POLICY)
        assert await feed.prune(datetime.now(UTC)) > 0  # the key changes are gone
        reloaded = await notifier.poll_once()
        with pytest.raises(AuthenticationFailed):
            await verifier.verify(issued.plaintext)  # the revocation applies
        assert reloaded == {"keys", "policy"}
        assert await notifier.poll_once() == set()  # back on track
    finally:
        await notifier.close()
        await verifier.close()


async def test_poller_started_on_an_empty_feed_notices_a_prune_it_missed(
    database: Database,
) -> None:
    feed = ChangeFeed(database)
    notifier = PollingChangeNotifier(feed, interval_s=3600)
    heard: list[str] = []
    notifier.subscribe("exceptions", lambda: heard.append("exceptions"))
    await notifier.start()
    try:
        await feed.bump(ChangeKind.EXCEPTIONS)
        await feed.bump(ChangeKind.KEYS)
        await feed.prune(datetime.now(UTC))
        assert await notifier.poll_once() == {"keys", "exceptions"}
        assert heard == ["exceptions"]
    finally:
        await notifier.close()


async def test_poller_that_kept_up_is_not_disturbed_by_pruning(database: Database) -> None:
    feed = ChangeFeed(database)
    long_ago = datetime.now(UTC) - timedelta(days=30)
    for kind in (ChangeKind.POLICY, ChangeKind.EXCEPTIONS, ChangeKind.POLICY):
        await append_at(database, kind, long_ago)
    notifier = PollingChangeNotifier(feed, interval_s=3600)
    heard: list[str] = []
    notifier.subscribe("keys", lambda: heard.append("keys"))
    notifier.subscribe("policy", lambda: heard.append("policy"))
    await notifier.start()
    try:
        await feed.bump(ChangeKind.KEYS)
        assert await notifier.prune_once() == 2  # what it had read, not its own position
        assert await notifier.poll_once() == {"keys"}
        assert heard == ["keys"]
    finally:
        await notifier.close()


async def test_start_without_the_feed_reloads_every_subscriber_once_it_answers(
    sqlite_database: Database,
) -> None:
    # what changed while the store was away may have been pruned: nothing is assumed
    feed = FlakyFeed(sqlite_database)
    notifier = PollingChangeNotifier(feed, interval_s=3600)
    heard: list[str] = []
    notifier.subscribe("keys", lambda: heard.append("keys"))
    notifier.subscribe("policy", lambda: heard.append("policy"))
    await notifier.start()
    try:
        feed.healthy = True
        assert await notifier.poll_once() == {"keys", "policy"}
        assert sorted(heard) == ["keys", "policy"]
        assert await notifier.poll_once() == set()
    finally:
        await notifier.close()


class CountingFeed(ChangeFeed):
    """A feed that counts the prunes asked of it."""

    prunes = 0

    async def prune(self, before: datetime, *, limit: int = PRUNE_BATCH) -> int:
        self.prunes += 1
        return await super().prune(before, limit=limit)


async def polls(database: Database, count: int, **options: Any) -> CountingFeed:
    """Run a background poller for ``count`` polls; its feed."""
    feed = CountingFeed(database)
    done = asyncio.Event()
    polled = 0

    def on_poll(ok: bool) -> None:
        nonlocal polled
        polled += ok
        if polled >= count:
            done.set()

    notifier = PollingChangeNotifier(feed, interval_s=0.01, on_poll=on_poll, **options)
    await notifier.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=10)
    finally:
        await notifier.close()
    return feed


async def test_running_poller_prunes_once_per_interval(database: Database) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=8)
    for _ in range(5):
        await append_at(database, ChangeKind.KEYS, long_ago)
    await ChangeFeed(database).bump(ChangeKind.POLICY)
    feed = await polls(database, 6)  # defaults: 7 days kept, hourly
    assert feed.prunes == 1
    assert [kind for _, kind in await feed.since(0)] == ["keys", "policy"]


async def test_running_poller_works_off_a_backlog_batch_by_batch(database: Database) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=8)
    for _ in range(7):
        await append_at(database, ChangeKind.KEYS, long_ago)
    feed = await polls(database, 6, prune_batch=2)
    # 2 + 2 + 2 deleted, then a short batch: done until the next hour
    assert feed.prunes == 4
    assert len(await feed.since(0)) == 1


async def test_failing_prune_is_logged_and_polling_goes_on(
    sqlite_database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenPrune(CountingFeed):
        async def prune(self, before: datetime, *, limit: int = PRUNE_BATCH) -> int:
            raise StorageError("database change feed prune failed (OperationalError)")

    feed = BrokenPrune(sqlite_database)
    readiness: list[bool] = []
    notifier = PollingChangeNotifier(feed, interval_s=0.01, on_poll=readiness.append)
    heard = asyncio.Event()
    notifier.subscribe("keys", heard.set)
    await notifier.start()
    try:
        await ChangeFeed(sqlite_database).bump(ChangeKind.KEYS)
        await asyncio.wait_for(heard.wait(), timeout=10)
    finally:
        await notifier.close()
    assert "change feed prune failed: StorageError" in caplog.text
    assert readiness and all(readiness)  # a failed prune does not make the store look down
