"""The Redis counter store: shared by several processes, rebuilt after a flush or restart,
and failing closed (or open, when configured) when Redis is unreachable.

Each ``RedisCounterStore`` has its own connection pool, so two instances stand for two
gateway processes sharing one Redis.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis
from tests.e2e.faultproxy import REFUSE, FaultProxy
from tests.e2e.processes import free_port
from tests.limits.redis_servers import PrivateRedis, delete_prefixed
from tests.limits.test_limits_degrade import reopen

from bastion.config.schema import BastionConfig
from bastion.errors import BudgetExceeded, ConfigError, ServiceUnavailable
from bastion.limits.build import (
    build_limiter,
    build_store,
    limiter_settings,
    reconfigure_limiter,
)
from bastion.limits.ledger import LedgerWriter, rebuild
from bastion.limits.limiter import ScopedLimiter
from bastion.limits.redis_store import RedisCounterStore
from bastion.limits.store import Granted, Hold, HoldKind, Refused, Restored
from bastion.model import Conversation, Endpoint, Principal, Segment, Source, Usage
from bastion.storage import Database, SpendLedgerRepository

FINANCE = Principal(
    key_id="k1", name="ledger-app", app="ledger", team="finance", environment="prod"
)
TEXT = "Summarise the quarterly numbers."
CONVERSATION = Conversation(
    Endpoint.CHAT,
    "gpt-4o-mini",
    (Segment(TEXT, Source.USER, ("messages", 0, "content"), message_index=0),),
    params={"max_tokens": 100},
)


def config(url: str, prefix: str, *rules: dict[str, Any], **settings: Any) -> BastionConfig:
    redis_settings = {"url": url, "key_prefix": prefix, "timeout_s": settings.pop("timeout_s", 1)}
    return BastionConfig.model_validate(
        {
            "server": {"workers": settings.pop("workers", 1)},
            "providers": {"p": {"kind": "openai", "base_url": "http://x/v1"}},
            "models": {"gpt-4o-mini": {"targets": [{"provider": "p", "model": "gpt-4o-mini"}]}},
            "redis": redis_settings,
            "limits": {"store": "redis", "rules": list(rules), **settings},
        }
    )


def stores(url: str, prefix: str, count: int, **options: Any) -> list[RedisCounterStore]:
    return [RedisCounterStore(url, key_prefix=prefix, **options) for _ in range(count)]


@pytest.fixture
async def two_stores(redis_url: str, redis_prefix: str) -> AsyncIterator[list[RedisCounterStore]]:
    pair = stores(redis_url, redis_prefix, 2)
    yield pair
    for store in pair:
        await store.close()


# --- several processes, one Redis ------------------------------------------------------


async def test_two_processes_admit_exactly_the_reservations_that_fit(
    two_stores: list[RedisCounterStore],
) -> None:
    holds = [
        Hold("rpm", HoldKind.WINDOW, 10**6, 1, 60.0),
        Hold("budget", HoldKind.TOTAL, 10 * 700 + 350, 700, 3600.0),
        Hold("in-flight", HoldKind.LEASE, 10**6, 1, 60.0),
    ]
    results = await asyncio.gather(
        *(two_stores[i % 2].take(holds, time.time()) for i in range(200))
    )
    granted = [r for r in results if isinstance(r, Granted)]
    refused = [r for r in results if isinstance(r, Refused)]
    assert (len(granted), len(refused)) == (10, 190)
    assert {r.index for r in refused} == {1}
    assert await two_stores[0].used("budget", HoldKind.TOTAL) == 7000
    assert await two_stores[1].used("rpm", HoldKind.WINDOW) == 10  # refusals took nothing
    assert await two_stores[1].used("in-flight", HoldKind.LEASE) == 10


def admitted_in_any_window(times: list[float], span: float) -> int:
    """The most admissions in any interval ``(t - span, t]``."""
    return max(sum(1 for u in times if t - span < u <= t) for t in times)


async def test_a_sliding_window_holds_across_three_processes(
    redis_url: str, redis_prefix: str
) -> None:
    limit, span = 10, 1.0
    three = stores(redis_url, redis_prefix, 3)
    hold = [Hold("rpm", HoldKind.WINDOW, limit, 1, span)]
    admitted: list[float] = []

    def note(result: Granted | Refused) -> None:
        if isinstance(result, Granted):
            admitted.append(result.ticket.at_us / 1e6)  # type: ignore[attr-defined]

    try:
        # 3x the limit as one burst: exactly the limit
        burst = await asyncio.gather(*(three[i % 3].take(hold, 0.0) for i in range(3 * limit)))
        for result in burst:
            note(result)
        assert len(admitted) == limit
        await asyncio.sleep(span * 1.1)
        # 3x the limit spread evenly over one window, then one more window
        first = len(admitted)
        for i in range(6 * limit):
            note(await three[i % 3].take(hold, 0.0))
            await asyncio.sleep(span / (3 * limit))
        spread = admitted[first:]
        assert sum(1 for t in spread if t < spread[0] + span) >= limit - 1
        assert admitted_in_any_window(admitted, span) <= limit
    finally:
        for store in three:
            await store.close()


async def test_a_lease_never_released_frees_itself(redis_url: str, redis_prefix: str) -> None:
    crashed, survivor = stores(redis_url, redis_prefix, 2)
    hold = [Hold("in-flight", HoldKind.LEASE, 1, 1, 0.3)]
    assert isinstance(await crashed.take(hold, 0.0), Granted)
    await crashed.close()  # the process dies without settling
    try:
        refused = await survivor.take(hold, 0.0)
        assert isinstance(refused, Refused) and 0 < refused.retry_after_s <= 0.3
        await asyncio.sleep(0.35)
        assert isinstance(await survivor.take(hold, 0.0), Granted)
    finally:
        await survivor.close()


async def test_concurrent_restores_add_the_ledger_once(
    two_stores: list[RedisCounterStore],
) -> None:
    entries = [Restored("budget", HoldKind.TOTAL, 3600.0, 70, time.time())]
    applied = await asyncio.gather(*(store.restore(entries) for store in two_stores))
    assert sorted(applied) == [False, True]
    assert await two_stores[1].used("budget", HoldKind.TOTAL) == 70


async def test_every_counter_expires(
    two_stores: list[RedisCounterStore], redis_url: str, redis_prefix: str
) -> None:
    store = two_stores[0]
    holds = [
        Hold("rpm", HoldKind.WINDOW, 100, 1, 60.0),
        Hold("in-flight", HoldKind.LEASE, 100, 1, 900.0),
        Hold("budget|month:2026-11", HoldKind.TOTAL, 100, 1, 86400.0),
    ]
    assert isinstance(await store.take(holds, 0.0), Granted)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        ttls = {key: client.pttl(key) for key in client.scan_iter(match=f"{redis_prefix}*")}
    finally:
        client.close()
    forever = {key for key, ttl in ttls.items() if ttl < 0}
    assert forever == {f"{redis_prefix}lim:epoch", f"{redis_prefix}lim:seq"}
    assert len(ttls) == 6  # window + its sum, lease set, total, and the two above
    assert max(ttls.values()) <= (86400 + 3600 + 1) * 1000


# --- the limiter over Redis, with the spend ledger -------------------------------------

PER_CALL_USD = 0.001


def budget_rule(usd: float) -> dict[str, Any]:
    return {"name": "team-budget", "scope": ["team"], "budgets": [{"period": "month", "usd": usd}]}


USAGE = Usage(200, 50)


async def call(limiter: ScopedLimiter, usage: Usage | None = USAGE) -> float:
    """One call, settled when ``usage`` is given; returns the budget left after its hold."""
    admitted = await limiter.admit(FINANCE)
    held = await limiter.reserve(FINANCE, CONVERSATION, "gpt-4o-mini", admitted)
    if usage is not None:
        await limiter.settle(FINANCE, held, usage)
    return float(held.headers["x-bastion-budget-remaining-usd"])


def cost(usage: Usage) -> float:
    return (usage.prompt_tokens * 0.15 + usage.completion_tokens * 0.6) / 1e6


def limiter_with_ledger(
    cfg: BastionConfig, repo: SpendLedgerRepository
) -> tuple[ScopedLimiter, LedgerWriter]:
    built = build_limiter(cfg, repo)
    assert built is not None and built[1] is not None
    return built[0], built[1]


async def test_a_flush_rebuilds_the_counters_from_the_ledger(
    sqlite_database: Database, redis_url: str, redis_prefix: str
) -> None:
    repo = SpendLedgerRepository(sqlite_database)
    per_key = {"name": "per-key", "scope": ["key"], "concurrent_requests": 3}
    cfg = config(redis_url, redis_prefix, budget_rule(1.0), per_key)
    (one, ledger_one), (two, ledger_two) = (limiter_with_ledger(cfg, repo) for _ in range(2))
    try:
        assert await rebuild(one, repo, time.time()) == 0  # start-up: an empty ledger
        assert await rebuild(two, repo, time.time()) == 0
        first = await call(one)
        for _ in range(3):
            await call(two)
        open_call = await one.reserve(FINANCE, CONVERSATION, "gpt-4o-mini")
        await ledger_one.flush()
        await ledger_two.flush()
        spent = 4 * cost(Usage(200, 50))
        worst = 1.0 - first
        assert delete_prefixed(redis_url, redis_prefix) > 0  # Redis loses every counter
        left = await call(two, usage=None)
        assert left == pytest.approx(1.0 - spent - worst, abs=2e-6)  # rebuilt, not fresh
        # the call held before the flush settles into the rebuilt counters
        await one.settle(FINANCE, open_call, Usage(1000, 0))
        spent += cost(Usage(1000, 0))
        assert await call(one, usage=None) == pytest.approx(1.0 - spent - 2 * worst, abs=2e-6)
    finally:
        await one.store.close()
        await two.store.close()


FINANCE_PROD = {
    "name": "finance-prod",
    "scope": ["team", "environment"],
    "budgets": [{"period": "month", "usd": 0.01}],
}


async def test_gateways_starting_with_a_new_budget_seed_it_from_the_ledger_once(
    sqlite_database: Database, redis_url: str, redis_prefix: str
) -> None:
    """Redis already counts one budget when two gateways start at once with a second:
    the second starts from the spend of its period in the ledger, added once."""
    repo = SpendLedgerRepository(sqlite_database)
    running, ledger = limiter_with_ledger(config(redis_url, redis_prefix, budget_rule(1.0)), repo)
    new_cfg = config(redis_url, redis_prefix, budget_rule(1.0), FINANCE_PROD)
    starting = [limiter_with_ledger(new_cfg, repo)[0] for _ in range(2)]
    try:
        await rebuild(running, repo, time.time())
        worst = 1.0 - await call(running)
        for _ in range(4):
            await call(running)
        await ledger.flush()
        spent = 5 * cost(USAGE)
        seeded = await asyncio.gather(*(rebuild(x, repo, time.time()) for x in starting))
        assert sorted(seeded) == [0, 1]  # the new budget's counter; team-budget's is held
        left = await call(starting[0], usage=None)
        assert left == pytest.approx(0.01 - spent - worst, abs=2e-6)  # not 0.01 - worst
        left = await call(starting[1], usage=None)
        assert left == pytest.approx(0.01 - spent - 2 * worst, abs=2e-6)
        # the budget that was counting keeps its counts: its calls were not added again
        assert await call(running, usage=None) == pytest.approx(1.0 - spent - 3 * worst, abs=2e-6)
    finally:
        for limiter in (running, *starting):
            await limiter.store.close()


async def test_a_budget_added_by_a_reload_starts_from_the_spend_of_its_period(
    sqlite_database: Database, redis_url: str, redis_prefix: str
) -> None:
    repo = SpendLedgerRepository(sqlite_database)
    old_cfg = config(redis_url, redis_prefix, budget_rule(1.0))
    limiter, ledger = limiter_with_ledger(old_cfg, repo)
    try:
        await rebuild(limiter, repo, time.time())
        worst = 1.0 - await call(limiter)
        for _ in range(4):
            await call(limiter)
        await ledger.flush()
        new_cfg = config(redis_url, redis_prefix, budget_rule(1.0), FINANCE_PROD)
        await reconfigure_limiter(limiter, limiter_settings(new_cfg), repo, limiter.rules)
        left = await call(limiter, usage=None)
        assert left == pytest.approx(0.01 - 5 * cost(USAGE) - worst, abs=2e-6)
    finally:
        await limiter.store.close()


async def test_a_new_budget_redis_missed_at_start_is_seeded_when_it_answers(
    sqlite_database: Database, redis_url: str, redis_prefix: str
) -> None:
    """Redis was unreachable when a gateway started with a new budget: the first call
    after Redis answers again seeds it, rather than counting it from zero."""
    repo = SpendLedgerRepository(sqlite_database)
    running, ledger = limiter_with_ledger(config(redis_url, redis_prefix, budget_rule(1.0)), repo)
    proxy = FaultProxy("127.0.0.1", 6379)
    through_proxy = f"redis://127.0.0.1:{proxy.port}/0"
    new_cfg = config(through_proxy, redis_prefix, budget_rule(1.0), FINANCE_PROD)
    starting, _ = limiter_with_ledger(new_cfg, repo)
    try:
        await rebuild(running, repo, time.time())
        worst = 1.0 - await call(running)
        await ledger.flush()
        proxy.set_mode(REFUSE)
        assert await rebuild(starting, repo, time.time()) == 0
        await reopen(proxy)
        for _ in range(100):
            if starting.store.reachable:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.05)
        left = await call(starting, usage=None)
        assert left == pytest.approx(0.01 - cost(USAGE) - worst, abs=2e-6)
    finally:
        proxy.close()
        for limiter in (running, starting):
            await limiter.store.close()


@pytest.fixture
def hanging_redis() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    for sock in accepted:
        sock.close()
    server.close()


async def test_a_hanging_redis_fails_closed_within_the_timeout(hanging_redis: int) -> None:
    cfg = config(f"redis://127.0.0.1:{hanging_redis}/0", "bastion:", budget_rule(1.0))
    cfg = cfg.model_copy(update={"redis": cfg.redis.model_copy(update={"timeout_s": 0.2})})
    limiter, _ = limiter_with_ledger(cfg, _NoLedger())
    try:
        for _ in range(2):  # the second is refused at once: the breaker is open
            with pytest.raises(ServiceUnavailable) as refused:
                await asyncio.wait_for(call(limiter), timeout=5)
            error = refused.value
            assert (error.status, error.code) == (503, "limits_unavailable")
        assert not limiter.store.reachable  # type: ignore[attr-defined]
    finally:
        await limiter.store.close()


async def test_a_restarted_redis_is_rebuilt_and_calls_wait_for_it(
    sqlite_database: Database, private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    repo = SpendLedgerRepository(sqlite_database)
    cfg = config(private_redis.url, "bastion:", budget_rule(10 * PER_CALL_USD))
    limiter, ledger = limiter_with_ledger(cfg, repo)
    try:
        await rebuild(limiter, repo, time.time())
        usage = Usage(2000, 1000)  # USD 0.0009
        worst = 10 * PER_CALL_USD - await call(limiter, usage)
        for _ in range(4):
            await call(limiter, usage)
        await ledger.flush()
        store = limiter.store
        assert isinstance(store, RedisCounterStore)
        await asyncio.gather(*(store.used("any", HoldKind.TOTAL) for _ in range(8)))  # 8 conns
        private_redis.stop()
        with caplog.at_level(logging.WARNING, logger="bastion.limits"):
            for _ in range(3):
                with pytest.raises(ServiceUnavailable, match="cannot be checked"):
                    await asyncio.wait_for(call(limiter), timeout=5)
        warnings = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(warnings) == 1 and "503 limits_unavailable" in warnings[0]
        assert "finance" not in caplog.text and "k1" not in caplog.text
        private_redis.start()  # empty: the restart lost every counter
        for _ in range(100):
            if limiter.store.reachable:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.05)
        left = await call(limiter, usage)
        assert left == pytest.approx(10 * PER_CALL_USD - 5 * cost(usage) - worst, abs=2e-6)
        with pytest.raises(BudgetExceeded):
            for _ in range(10):
                await call(limiter, usage)
    finally:
        await limiter.store.close()


class _NoLedger:
    """A spend sink with nothing in it."""

    async def insert_many(self, items: Any, /) -> None:
        return None

    async def totals_since(self, since: float) -> list[Any]:
        return []

    async def entries_since(self, since: float) -> list[Any]:
        return []


async def test_fail_open_lets_calls_through_and_counts_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    passes: list[None] = []
    cfg = config(
        f"redis://127.0.0.1:{free_port()}/0",  # nobody listens
        "bastion:",
        budget_rule(PER_CALL_USD / 10),  # would refuse every call
        {"name": "per-key", "scope": ["key"], "concurrent_requests": 1},
        on_store_down="open",
    )
    built = build_limiter(cfg, None, on_fail_open=lambda: passes.append(None))
    assert built is not None
    limiter = built[0]
    try:
        with caplog.at_level(logging.WARNING, logger="bastion.limits"):
            for _ in range(3):
                admitted = await limiter.admit(FINANCE)
                held = await limiter.reserve(FINANCE, CONVERSATION, "gpt-4o-mini", admitted)
                await limiter.settle(FINANCE, held, Usage(10, 10))
        assert len(passes) == 6  # admission and reservation of each call
        assert limiter.store.fail_open_passes == 6  # type: ignore[attr-defined]
        (warning,) = [r.getMessage() for r in caplog.records]
        assert "without limits" in warning and "on_store_down: open" in warning
        assert "finance" not in caplog.text and "k1" not in caplog.text
    finally:
        await limiter.store.close()


# --- configuration ---------------------------------------------------------------------


def test_several_workers_count_in_redis_when_told_to(redis_url: str) -> None:
    rule = {"scope": ["key"], "requests_per_minute": 5}
    built = build_limiter(config(redis_url, "x:", rule, workers=4), None)
    assert built is not None and isinstance(built[0].store, RedisCounterStore)
    no_url = config(redis_url, "x:", rule)
    no_url = no_url.model_copy(update={"redis": no_url.redis.model_copy(update={"url": None})})
    with pytest.raises(ConfigError, match=r"limits\.store: redis needs redis\.url"):
        build_store(no_url)
