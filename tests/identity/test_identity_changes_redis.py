"""Change push over Redis: a committed change reaches other processes before their next
poll; with Redis gone (refused or hung) changes still arrive by polling, and the push
comes back with Redis. Needs the machine's Redis (skipped without it, failing with
CI=true); outages are injected by a proxy in front of it, never by stopping it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import redis
from tests.e2e.faultproxy import HANG, PASS, REFUSE, FaultProxy
from tests.e2e.processes import free_port
from tests.limits.redis_servers import REDIS_URL, unavailable

from bastion.errors import StorageError
from bastion.identity.changes import ChangeNotifier, PollingChangeNotifier
from bastion.identity.changes_redis import RedisChangeNotifier, RedisChangePublisher
from bastion.storage import ChangeFeed, ChangeKind, Database
from bastion.storage.changes import record_change

_WAIT_S = 10.0  # generous: far below the pollers' 60 s interval where push is the point


@pytest.fixture
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}: {exc}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def prefix() -> str:
    """A channel of this test's own (pub/sub leaves no keys behind)."""
    return f"bastion-test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def proxy(redis_url: str) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the machine's Redis."""
    fault = FaultProxy("127.0.0.1", 6379)
    try:
        yield fault
    finally:
        fault.close()


@pytest.fixture
async def publisher(redis_url: str, prefix: str) -> AsyncIterator[RedisChangePublisher]:
    push = RedisChangePublisher(redis_url, key_prefix=prefix, timeout_s=1.0)
    try:
        yield push
    finally:
        await push.close()


class Heard:
    """Records notifications of one kind; ``wait`` returns once one arrived."""

    def __init__(self) -> None:
        self.count = 0
        self._event = asyncio.Event()

    def __call__(self) -> None:
        self.count += 1
        self._event.set()

    async def wait(self) -> None:
        await asyncio.wait_for(self._event.wait(), _WAIT_S)
        self._event.clear()


async def _until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():  # noqa: ASYNC110 (state of a background task)
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), _WAIT_S)


def _notifier(
    database: Database, url: str, prefix: str, *, interval_s: float, **options: float
) -> RedisChangeNotifier:
    poller = PollingChangeNotifier(ChangeFeed(database), interval_s=interval_s)
    return RedisChangeNotifier(poller, url, key_prefix=prefix, timeout_s=0.5, **options)


async def test_a_committed_change_reaches_a_subscriber_before_its_next_poll(
    sqlite_database: Database, redis_url: str, prefix: str, publisher: RedisChangePublisher
) -> None:
    notifier: ChangeNotifier = _notifier(sqlite_database, redis_url, prefix, interval_s=60)
    assert isinstance(notifier, RedisChangeNotifier)
    keys, policy = Heard(), Heard()
    notifier.subscribe("keys", keys)
    notifier.subscribe("policy", policy)
    sqlite_database.after_changes_commit(publisher.publish)
    await notifier.start()
    try:
        await _until(lambda: notifier.connected)
        await ChangeFeed(sqlite_database).bump(ChangeKind.KEYS)
        await keys.wait()  # the poller would wait 60 s: this is the push
        assert (keys.count, policy.count) == (1, 0)
        assert publisher.failures == 0
    finally:
        await notifier.close()
        await notifier.close()  # closing twice is harmless


async def test_only_committed_transactions_publish(sqlite_database: Database) -> None:
    published: list[frozenset[str]] = []

    async def hook(kinds: frozenset[str]) -> None:
        published.append(kinds)

    sqlite_database.after_changes_commit(hook)
    with pytest.raises(RuntimeError):
        async with sqlite_database.transaction("test") as session:
            await record_change(session, ChangeKind.KEYS)
            raise RuntimeError("rolled back")
    async with sqlite_database.transaction("test") as session:
        await record_change(session, ChangeKind.POLICY)
        await record_change(session, ChangeKind.KEYS)
    async with sqlite_database.transaction("test"):
        pass  # no change recorded: no nudge
    assert published == [frozenset({"keys", "policy"})]
    assert [kind for _, kind in await ChangeFeed(sqlite_database).since(0)] == [
        "policy",
        "keys",
    ]


async def test_an_unreachable_redis_never_fails_the_change(sqlite_database: Database) -> None:
    failed: list[str] = []
    push = RedisChangePublisher(
        f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.5, on_failure=lambda: failed.append("x")
    )
    sqlite_database.after_changes_commit(push.publish)
    try:
        await ChangeFeed(sqlite_database).bump(ChangeKind.KEYS)
    finally:
        await push.close()
    assert push.failures == 1
    assert failed == ["x"]
    assert await ChangeFeed(sqlite_database).latest() == 1  # the change itself committed


async def test_with_redis_refused_changes_arrive_by_polling_and_push_comes_back(
    sqlite_database: Database, prefix: str, proxy: FaultProxy, publisher: RedisChangePublisher
) -> None:
    url = f"redis://127.0.0.1:{proxy.port}/0"
    notifier = _notifier(sqlite_database, url, prefix, interval_s=0.3)
    keys = Heard()
    notifier.subscribe("keys", keys)
    feed = ChangeFeed(sqlite_database)
    sqlite_database.after_changes_commit(publisher.publish)  # publishes past the proxy
    await notifier.start()
    try:
        await _until(lambda: notifier.connected)
        proxy.set_mode(REFUSE)
        await _until(lambda: not notifier.connected)
        await feed.bump(ChangeKind.KEYS)
        await keys.wait()  # by polling
        assert notifier.nudges == 0
        proxy.set_mode(PASS)
        await _until(lambda: notifier.connected)
        await feed.bump(ChangeKind.KEYS)
        await _until(lambda: notifier.nudges == 1)  # pushed again
        await keys.wait()
    finally:
        await notifier.close()


async def test_a_hung_redis_is_noticed_and_left_for_polling(
    sqlite_database: Database, prefix: str, proxy: FaultProxy
) -> None:
    url = f"redis://127.0.0.1:{proxy.port}/0"
    notifier = _notifier(sqlite_database, url, prefix, interval_s=0.3, keepalive_s=0.3)
    keys = Heard()
    notifier.subscribe("keys", keys)
    await notifier.start()
    try:
        await _until(lambda: notifier.connected)
        proxy.set_mode(HANG)  # no byte moves, no connection is closed
        await _until(lambda: not notifier.connected)  # its PING went unanswered
        await ChangeFeed(sqlite_database).bump(ChangeKind.KEYS)
        await keys.wait()
        proxy.set_mode(PASS)
        await _until(lambda: notifier.connected)
    finally:
        await notifier.close()


async def test_a_database_outage_during_a_nudge_is_survived(
    sqlite_database: Database, redis_url: str, prefix: str, publisher: RedisChangePublisher
) -> None:
    notifier = _notifier(sqlite_database, redis_url, prefix, interval_s=60)
    keys = Heard()
    notifier.subscribe("keys", keys)
    real_since = ChangeFeed.since
    calls = 0

    async def flaky_since(
        self: ChangeFeed, seq: int, *, limit: int = 1000
    ) -> list[tuple[int, str]]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise StorageError("database down")
        return await real_since(self, seq, limit=limit)

    sqlite_database.after_changes_commit(publisher.publish)
    await notifier.start()
    try:
        await _until(lambda: notifier.connected)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(ChangeFeed, "since", flaky_since)
            await publisher.publish(frozenset({"keys"}))  # a nudge the feed cannot serve
            await _until(lambda: calls == 1)
            await ChangeFeed(sqlite_database).bump(ChangeKind.KEYS)
            await keys.wait()
    finally:
        await notifier.close()
