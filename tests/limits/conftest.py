"""Redis for the limits tests: the machine's server, namespaced per test, and private ones;
and the ``store`` fixture, each counter store in turn.

Tests on the shared server (127.0.0.1:6379) use a unique ``redis.key_prefix`` and delete
their keys afterwards; tests that flush, stop or restart Redis start their own
``redis-server`` on a free port. When Redis is unreachable (or ``redis-server`` is not
installed) the test is skipped, except with ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
from tests.e2e.processes import free_port
from tests.limits.redis_servers import REDIS_URL, PrivateRedis, delete_prefixed, unavailable

from bastion.limits.memory import MemoryCounterStore
from bastion.limits.redis_store import RedisCounterStore
from bastion.limits.sqlite_store import SqliteCounterStore
from bastion.limits.store import CounterStore


@pytest.fixture
def redis_url() -> str:
    """The machine's Redis server, after checking it answers."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}: {exc}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix no other test uses; its keys are deleted afterwards."""
    prefix = f"bastion-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    delete_prefixed(redis_url, prefix)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A running private Redis server, stopped after the test."""
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed")
    server = PrivateRedis(free_port(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CounterStore]:
    """Each counter store, for tests of what every store must do alike."""
    if request.param == "memory":
        yield MemoryCounterStore()
        return
    if request.param == "sqlite":
        local = SqliteCounterStore(tmp_path / "limits.db")
        try:
            yield local
        finally:
            await local.close()
        return
    prefix: str = request.getfixturevalue("redis_prefix")
    shared = RedisCounterStore(request.getfixturevalue("redis_url"), key_prefix=prefix)
    try:
        yield shared
    finally:
        await shared.close()
