"""Drill: two gateways share one rate limit in Redis, and Redis goes away
(RELIABILITY.md R1 and "fail-open or fail-closed": ``limits.on_store_down: degrade``).

A fault-injecting proxy sits between both gateways and the machine's shared Redis
(never stopped). Cut off, each gateway admits at most ``floor(limit / 2)`` per window
from its own memory (N = 2 processes, counted in Redis before the cut), calls keep
working, budgeted calls are refused with 503, and every call admitted that way says so
in its record. Once Redis answers again the one global limit holds again.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from tests.e2e.faultproxy import PASS, REFUSE, FaultProxy
from tests.e2e.processes import cli_json, free_port
from tests.e2e.stacks import Gateway, redis_namespace, simulator, start_gateways
from tests.e2e.test_e2e_limits import BODY, SIM_KEY
from tests.limits.redis_servers import REDIS_URL

RATE_LIMIT = 10

CONFIG = """
server: {{host: 127.0.0.1, port: {port}, admin: {{port: {admin_port}}}}}
storage: {{url: "sqlite:///gateway.db", poll_interval_s: 0.2}}
redis: {{url: "redis://127.0.0.1:{proxy_port}/0", key_prefix: "{prefix}", timeout_s: 0.5}}
providers:
  sim:
    kind: openai
    base_url: http://127.0.0.1:{sim_port}/v1
    api_key: {sim_key}
    retry: {{max_attempts: 1}}
models:
  gpt-4o-mini: {{targets: [{{provider: sim, model: gpt-4o-mini}}]}}
limits:
  store: redis
  on_store_down: degrade
  rules:
    - name: support-rate
      scope: [team]
      match: {{team: support}}
      requests_per_minute: {rate}
    - name: finance-budget
      scope: [team]
      match: {{team: finance}}
      budgets: [{{period: month, usd: 100}}]
"""


@dataclass
class Pair:
    base_urls: list[str]
    work: Path
    keys: dict[str, str]
    proxy: FaultProxy
    prefix: str

    def degraded_marks(self) -> list[str | None]:
        """``request_facts.limits_degraded`` of every answered support call, oldest first."""
        with sqlite3.connect(self.work / "gateway.db") as db:
            rows = db.execute(
                "SELECT json_extract(request_facts, '$.limits_degraded') FROM call_records "
                "WHERE team = 'support' AND http_status = 200 ORDER BY started_at"
            ).fetchall()
        return [row[0] for row in rows]


@contextmanager
def two_gateways(work: Path) -> Iterator[Pair]:
    sim_port = free_port()
    with redis_namespace() as prefix, simulator(work, sim_port, SIM_KEY):
        proxy = FaultProxy("127.0.0.1", 6379)
        gateways = [
            Gateway.write(
                work,
                f"gateway-{index}",
                lambda port, admin_port: CONFIG.format(
                    port=port,
                    admin_port=admin_port,
                    proxy_port=proxy.port,
                    prefix=prefix,
                    sim_port=sim_port,
                    sim_key=SIM_KEY,
                    rate=RATE_LIMIT,
                ),
            )
            for index in range(2)
        ]
        config = str(gateways[0].config)
        try:
            keys = {
                team: str(
                    cli_json("keys", "create", "--config", config, "--name", team, "--team", team)[
                        "key"
                    ]
                )
                for team in ("support", "finance")
            }
            with start_gateways(gateways):
                yield Pair([g.base_url for g in gateways], work, keys, proxy, prefix)
        finally:
            proxy.close()


async def burst(urls: list[str], key: str, count: int) -> list[list[tuple[int, str | None]]]:
    """``count`` calls at once, spread over the gateways in turn; per gateway, each
    reply's status and error code."""
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one(index: int) -> tuple[int, str | None]:
            reply = await client.post(
                urls[index % len(urls)] + "/chat/completions",
                json=BODY,
                headers={"authorization": f"Bearer {key}"},
            )
            error = reply.json().get("error") if reply.status_code != 200 else None
            return reply.status_code, error["code"] if error else None

        results = await asyncio.gather(*(one(i) for i in range(count)))
    return [list(results[start :: len(urls)]) for start in range(len(urls))]


def admitted(results: list[tuple[int, str | None]]) -> int:
    return sum(1 for status, _ in results if status == 200)


def registrations(prefix: str) -> dict[bytes, float]:
    """The processes registered in Redis, each with when its registration lapses."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return dict(client.zrange(f"{prefix}lim:members", 0, -1, withscores=True))
    finally:
        client.close()


async def until_each_counted_both(prefix: str, timeout_s: float = 60.0) -> None:
    """Wait until each gateway has read a count of 2 from its registration in Redis.

    The gateway that registered last read 2 then; the others read it at their next
    registration (every 5 s), which moves their lapse time on. A loaded runner may run
    that beat late, so poll for it rather than sleep a fixed 5.5 s.
    """
    deadline = time.monotonic() + timeout_s
    while len(seen := registrations(prefix)) < 2:
        assert time.monotonic() < deadline, f"registered in Redis: {seen}"
        await asyncio.sleep(0.1)
    last = max(seen, key=seen.__getitem__)
    while any(lapse <= seen[m] for m, lapse in registrations(prefix).items() if m != last):
        assert time.monotonic() < deadline, f"not re-registered within {timeout_s}s: {seen}"
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # the count's reply travels back through the proxy


async def until_marks(pair: Pair, count: int, timeout_s: float = 60.0) -> list[str | None]:
    """The support calls' degraded marks, once ``count`` records were written (in batches)."""
    deadline = time.monotonic() + timeout_s
    while len(marks := pair.degraded_marks()) < count:
        assert time.monotonic() < deadline, f"{len(marks)} of {count} records: {marks}"
        await asyncio.sleep(0.1)
    return marks


async def reopen(proxy: FaultProxy) -> None:
    """Let bytes through again (the refusing proxy's free port may be someone's source
    port for a moment: retry the listen)."""
    for _ in range(100):
        try:
            proxy.set_mode(PASS)
            return
        except OSError:
            await asyncio.sleep(0.1)
    proxy.set_mode(PASS)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    with two_gateways(tmp_path_factory.mktemp("limits-degraded")) as gateways:
        yield gateways


async def test_cut_from_redis_each_gateway_admits_its_share_and_recovers(pair: Pair) -> None:
    support = pair.keys["support"]
    before = await burst(pair.base_urls, support, 2)  # both gateways count themselves in
    assert [admitted(results) for results in before] == [1, 1]
    await until_each_counted_both(pair.prefix)

    pair.proxy.set_mode(REFUSE)
    try:
        cut = await burst(pair.base_urls, support, 3 * RATE_LIMIT)
        assert [admitted(results) for results in cut] == [RATE_LIMIT // 2] * 2
        refusals = {code for results in cut for status, code in results if status != 200}
        assert refusals == {"rate_limit_exceeded"}
        budgeted = await burst(pair.base_urls, pair.keys["finance"], 2)
        assert [status for results in budgeted for status, _ in results] == [503, 503]
        assert {code for results in budgeted for _, code in results} == {"limits_unavailable"}
    finally:
        await reopen(pair.proxy)
    marks = await until_marks(pair, 2 + RATE_LIMIT)
    assert marks == [None, None] + ["local"] * RATE_LIMIT

    deadline = time.monotonic() + 30  # the breaker's probe (every 0.5 s) finds Redis again
    while True:
        probe = await burst(pair.base_urls, pair.keys["finance"], 2)
        if all(status == 200 for results in probe for status, _ in results):
            break
        assert time.monotonic() < deadline, probe
        await asyncio.sleep(0.2)
    after = await burst(pair.base_urls, support, 3 * RATE_LIMIT)
    # one global limit again: Redis still holds the 2 calls admitted before the cut
    assert sum(admitted(results) for results in after) == RATE_LIMIT - 2
