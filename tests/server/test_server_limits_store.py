"""A gateway whose limit counters live in Redis: ``/readyz`` and the fail-open metric
follow Redis going away and coming back, as ``limits.on_store_down`` says."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from tests.e2e.processes import free_port
from tests.limits.redis_servers import PrivateRedis, unavailable

from bastion.config import load_config
from bastion.errors import ServiceUnavailable
from bastion.model import Principal
from bastion.server.proxy import ProxyApp
from bastion.server.runtime import Runtime

CONFIG = """\
storage: {{url: "sqlite:///gateway.db", poll_interval_s: 0.1}}
redis: {{url: "{url}", timeout_s: 0.5}}
providers: {{sim: {{kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: sk-x}}}}
models:
  gpt-4o-mini: {{targets: [{{provider: sim, model: gpt-4o-mini}}]}}
limits:
  store: redis
  on_store_down: {down}
  rules: [{{name: per-key, scope: [key], requests_per_minute: 100}}]
"""
CALLER = Principal(key_id="k1", name="app", team="finance", environment="prod")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    import shutil

    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed")
    server = PrivateRedis(free_port(), tmp_path / "redis")
    server.workdir.mkdir()
    server.start()
    yield server
    server.stop()


@asynccontextmanager
async def started(tmp_path: Path, redis: PrivateRedis, down: str) -> AsyncIterator[Runtime]:
    path = tmp_path / "bastion.yaml"
    path.write_text(CONFIG.format(url=redis.url, down=down), encoding="utf-8")
    runtime = Runtime(load_config(path), config_path=path)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.close()


async def readyz(runtime: Runtime) -> tuple[int, dict[str, object]]:
    transport = httpx.ASGITransport(app=ProxyApp(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        reply = await client.get("/readyz")
        return reply.status_code, reply.json()


async def until_ready(runtime: Runtime) -> tuple[int, dict[str, object]]:
    for _ in range(100):
        status, body = await readyz(runtime)
        if status == 200 and body["status"] == "ready":
            break
        await asyncio.sleep(0.05)
    return status, body


async def test_fail_closed_refuses_calls_and_is_not_ready_until_redis_is_back(
    tmp_path: Path, redis_server: PrivateRedis
) -> None:
    async with started(tmp_path, redis_server, "closed") as runtime:
        assert runtime.limiter is not None
        await runtime.limiter.admit(CALLER)
        assert (await readyz(runtime))[0] == 200
        redis_server.stop()
        with pytest.raises(ServiceUnavailable) as refused:
            await runtime.limiter.admit(CALLER)
        assert refused.value.code == "limits_unavailable"
        assert (await readyz(runtime))[0] == 503
        redis_server.start()
        assert (await until_ready(runtime))[0] == 200
        await runtime.limiter.admit(CALLER)


async def test_fail_open_admits_counts_and_reports_degraded(
    tmp_path: Path, redis_server: PrivateRedis
) -> None:
    async with started(tmp_path, redis_server, "open") as runtime:
        assert runtime.limiter is not None
        redis_server.stop()
        for _ in range(3):
            await runtime.limiter.admit(CALLER)
        registry = runtime.gateway.parts.metrics.registry
        assert registry.get_sample_value("bastion_limits_fail_open_total") == 3
        assert await readyz(runtime) == (200, {"status": "degraded", "degraded": ["redis"]})
        redis_server.start()
        assert (await until_ready(runtime))[1] == {"status": "ready"}


async def test_degrade_decides_locally_counts_by_outcome_and_reports_degraded(
    tmp_path: Path, redis_server: PrivateRedis
) -> None:
    async with started(tmp_path, redis_server, "degrade") as runtime:
        assert runtime.limiter is not None
        redis_server.stop()
        for _ in range(3):
            admitted = await runtime.limiter.admit(CALLER)
            assert admitted.degraded == "local"
        registry = runtime.gateway.parts.metrics.registry
        sample = registry.get_sample_value
        assert sample("bastion_limits_degraded_total", {"outcome": "admitted"}) == 3
        assert sample("bastion_limits_fail_open_total") == 0
        assert await readyz(runtime) == (200, {"status": "degraded", "degraded": ["redis"]})
        redis_server.start()
        assert (await until_ready(runtime))[1] == {"status": "ready"}
        assert (await runtime.limiter.admit(CALLER)).degraded is None
