"""The Redis store's connection: URLs, login, database choice, scripts lost on restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from tests.e2e.processes import free_port
from tests.limits.redis_servers import PrivateRedis

from bastion.config.schema import BastionConfig
from bastion.errors import ConfigError, StorageError
from bastion.limits.build import build_store
from bastion.limits.redis_store import RedisCounterStore
from bastion.limits.store import Granted, Hold, HoldKind


@pytest.mark.parametrize(
    "url",
    [  # a scheme other than redis/rediss/unix fails earlier, at load (tests/config)
        "redis://:sekrit@",
        "redis://:sekrit@cache/zero",
        "redis://:sekrit@cache:port/0",
    ],
)
def test_other_urls_are_config_errors_that_hide_the_password(url: str) -> None:
    config = BastionConfig.model_validate(
        {
            "providers": {"p": {"kind": "openai", "base_url": "http://x/v1"}},
            "models": {"m": {"targets": [{"provider": "p", "model": "m"}]}},
            "redis": {"url": url},
            "limits": {"store": "redis", "rules": [{"requests_per_minute": 1}]},
        }
    )
    with pytest.raises(ConfigError, match=r"redis\.url: .*expected redis://") as refused:
        build_store(config)
    assert "sekrit" not in str(refused.value)


@pytest.fixture
def password_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(free_port(), tmp_path, password="s3cret")
    server.start()
    yield server
    server.stop()


HOLD = [Hold("rpm", HoldKind.WINDOW, 10, 1, 60.0)]


async def test_logs_in_uses_its_database_and_reloads_scripts_redis_forgot(
    password_redis: PrivateRedis,
) -> None:
    base = f"redis://:s3cret@127.0.0.1:{password_redis.port}"
    store = RedisCounterStore(f"{base}/3", timeout_s=2)
    wrong = RedisCounterStore(f"redis://:nope@127.0.0.1:{password_redis.port}/3", timeout_s=2)
    try:
        assert isinstance(await store.take(HOLD, 0.0), Granted)
        direct = redis.Redis.from_url(base)
        assert direct.keys("bastion:*") == []  # database 0 stays empty
        assert redis.Redis.from_url(f"{base}/3").keys("bastion:lim:*")
        direct.script_flush()  # as a restart of Redis would
        assert isinstance(await store.take(HOLD, 0.0), Granted)
        assert await store.used("rpm", HoldKind.WINDOW) == 2
        with pytest.raises(StorageError):  # a wrong password is an unreachable store
            await wrong.take(HOLD, 0.0)
    finally:
        await store.close()
        await wrong.close()
