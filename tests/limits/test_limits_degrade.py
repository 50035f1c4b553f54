"""Local limits while Redis is down (``limits.on_store_down: degrade``, RELIABILITY.md):
each process admits ``floor(limit / N)``, budgets fail closed, the breaker spares calls
the wait, and Redis takes over again when it answers.

Redis is the machine's shared server behind a fault-injecting proxy (never stopped);
each ``ScopedLimiter`` has its own connection pool, so two stand for two processes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from tests.e2e.faultproxy import HANG, PASS, REFUSE, FaultProxy
from tests.e2e.processes import free_port
from tests.limits.redis_servers import REDIS_URL

from bastion.config.schema import BastionConfig
from bastion.errors import RateLimited, ServiceUnavailable, StorageError
from bastion.limits.base import Reservation
from bastion.limits.build import build_limiter
from bastion.limits.degrade import LocalLimits, local_share
from bastion.limits.limiter import ScopedLimiter
from bastion.limits.redis_store import RedisCounterStore
from bastion.limits.store import BudgetHold, Granted, Hold, HoldKind, Refused
from bastion.model import Conversation, Endpoint, Principal, Segment, Source, Usage
from bastion.model.spend import SpendEntry

LEDGER_APP = Principal(key_id="k1", name="ledger", app="ledger", team="finance")
BILLING_APP = Principal(key_id="k2", name="billing", app="billing", team="finance")
CONVERSATION = Conversation(
    Endpoint.CHAT,
    "gpt-4o-mini",
    (Segment("Sum the invoices.", Source.USER, ("messages", 0, "content"), message_index=0),),
    params={"max_tokens": 100},
)
RATE_RULE = {"name": "team-rate", "scope": ["team"], "requests_per_minute": 10}
BUDGET_RULE = {
    "name": "billing-budget",
    "scope": ["app"],
    "match": {"app": "billing"},
    "budgets": [{"period": "month", "usd": 100}],
}


# --- the local share -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "processes", "share"),
    [
        pytest.param(10, 1, 10, id="one process keeps the limit"),
        pytest.param(10, 2, 5, id="even split"),
        pytest.param(10, 3, 3, id="rounded down, so 3 x 3 <= 10"),
        pytest.param(2, 3, 1, id="at least one each"),
        pytest.param(0, 3, 0, id="a zero limit stays zero"),
    ],
)
def test_each_process_gets_the_floor_of_its_share(limit: int, processes: int, share: int) -> None:
    assert local_share(limit, processes) == share


@pytest.mark.parametrize(
    ("replicas", "seen", "processes"),
    [
        pytest.param(None, 0, 1, id="nothing known"),
        pytest.param(4, 0, 4, id="configured"),
        pytest.param(None, 3, 3, id="seen in Redis"),
        pytest.param(2, 3, 3, id="more seen than configured"),
        pytest.param(5, 3, 5, id="more configured than seen"),
    ],
)
def test_n_is_the_larger_of_the_configured_and_the_seen_count(
    replicas: int | None, seen: int, processes: int
) -> None:
    local = LocalLimits(replicas)
    local.seen = seen
    assert local.processes == processes


def takes(local: LocalLimits, holds: Sequence[Hold], count: int) -> list[Granted | Refused]:
    return [local.take(holds, 1000.0 + i * 0.001) for i in range(count)]


def test_local_limits_admit_the_share_and_count_every_decision() -> None:
    outcomes: list[str] = []
    local = LocalLimits(4, outcomes.append)
    rpm = [Hold("rpm", HoldKind.WINDOW, 10, 1, 60.0)]
    results = takes(local, rpm, 5)
    assert [isinstance(r, Granted) for r in results] == [True, True, False, False, False]
    assert outcomes == ["admitted"] * 2 + ["refused"] * 3
    slots = [Hold("slots", HoldKind.LEASE, 8, 1, 60.0)]
    first, second, third = takes(local, slots, 3)
    assert isinstance(first, Granted) and isinstance(second, Granted)
    assert isinstance(third, Refused)
    local.settle(first.ticket, [None])  # type: ignore[arg-type]  # a slot frees
    assert isinstance(local.take(slots, 1001.0), Granted)


def test_budgets_are_never_guessed_locally() -> None:
    outcomes: list[str] = []
    local = LocalLimits(2, outcomes.append)
    holds = [
        Hold("rpm", HoldKind.WINDOW, 10, 1, 60.0),
        BudgetHold("usd", HoldKind.TOTAL, 10**12, 1, 86400.0),
    ]
    with pytest.raises(StorageError):
        local.take(holds, 1000.0)
    assert outcomes == ["budget_closed"]
    # nothing was taken: the rate counter still has its whole share
    rpm = [Hold("rpm", HoldKind.WINDOW, 10, 1, 60.0)]
    assert sum(isinstance(r, Granted) for r in takes(local, rpm, 10)) == 5


def test_a_new_outage_starts_from_empty_counters_and_old_tickets_settle_to_nothing() -> None:
    local = LocalLimits(2)
    slots = [Hold("slots", HoldKind.LEASE, 2, 1, 60.0)]
    held = local.take(slots, 1000.0)
    assert isinstance(held, Granted) and isinstance(local.take(slots, 1000.0), Refused)
    local.reset()
    fresh = local.take(slots, 1000.0)
    local.settle(held.ticket, [None])  # type: ignore[arg-type]  # the earlier outage's
    assert isinstance(fresh, Granted) and isinstance(local.take(slots, 1000.0), Refused)


def test_an_unknown_process_count_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    local = LocalLimits()
    with caplog.at_level(logging.WARNING, logger="bastion.limits"):
        takes(local, [Hold("rpm", HoldKind.WINDOW, 10, 1, 60.0)], 3)
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "N=1" in warning and "limits.replicas" in warning


async def test_the_rate_headers_show_the_local_share_that_was_enforced() -> None:
    """With Redis down each process counts against its share of a limit: the headers
    give that share as the limit, so limit minus remaining is what this process used."""
    cfg = BastionConfig.model_validate(
        {
            "providers": {"p": {"kind": "openai", "base_url": "http://x/v1"}},
            "models": {"gpt-4o-mini": {"targets": [{"provider": "p", "model": "gpt-4o-mini"}]}},
            "redis": {"url": f"redis://127.0.0.1:{free_port()}/0", "timeout_s": 0.5},
            "limits": {
                "store": "redis",
                "replicas": 2,
                "rules": [
                    RATE_RULE,
                    {"name": "team-tokens", "scope": ["team"], "tokens_per_minute": 10_000},
                ],
            },
        }
    )
    built = build_limiter(cfg, None)
    assert built is not None
    limiter = built[0]
    try:
        for call in range(1, 4):
            held = await limiter.admit(LEDGER_APP)
            held = await limiter.reserve(LEDGER_APP, CONVERSATION, "gpt-4o-mini", held)
            assert held.degraded == "local"
            headers = held.headers
            assert headers["x-ratelimit-limit-requests"] == "5"  # floor(10 / 2)
            assert headers["x-ratelimit-remaining-requests"] == str(5 - call)
            assert headers["x-ratelimit-limit-tokens"] == "5000"
            assert int(headers["x-ratelimit-remaining-tokens"]) == 5000 - call * held.tokens
    finally:
        await limiter.store.close()


# --- two processes, Redis behind a proxy -----------------------------------------------


@pytest.fixture
def proxy(redis_url: str) -> Iterator[FaultProxy]:
    assert redis_url == REDIS_URL
    relay = FaultProxy("127.0.0.1", 6379)
    yield relay
    relay.close()


class _Ledger:
    """A spend sink that keeps what it is given."""

    def __init__(self) -> None:
        self.entries: list[SpendEntry] = []

    async def insert_many(self, items: Sequence[SpendEntry], /) -> None:
        self.entries.extend(items)

    async def totals_since(self, since: float) -> list[Any]:
        return []

    async def entries_since(self, since: float) -> list[Any]:
        return []


def config(port: int, prefix: str, **limits: Any) -> BastionConfig:
    return BastionConfig.model_validate(
        {
            "providers": {"p": {"kind": "openai", "base_url": "http://x/v1"}},
            "models": {"gpt-4o-mini": {"targets": [{"provider": "p", "model": "gpt-4o-mini"}]}},
            "redis": {"url": f"redis://127.0.0.1:{port}/0", "key_prefix": prefix, "timeout_s": 0.5},
            "limits": {"store": "redis", "rules": [RATE_RULE, BUDGET_RULE], **limits},
        }
    )


def redis_of(limiter: ScopedLimiter) -> RedisCounterStore:
    store = limiter.store
    assert isinstance(store, RedisCounterStore)
    return store


async def offer(limiter: ScopedLimiter, count: int) -> list[Reservation]:
    """``count`` calls of the ledger app, settled at once; the admitted ones."""
    admitted = []
    for _ in range(count):
        try:
            held = await limiter.admit(LEDGER_APP)
        except RateLimited:
            continue
        held = await limiter.reserve(LEDGER_APP, CONVERSATION, "gpt-4o-mini", held)
        await limiter.settle(LEDGER_APP, held, Usage(20, 5))
        admitted.append(held)
    return admitted


async def reopen(proxy: FaultProxy) -> None:
    """Let bytes through again. While the proxy refused, its port was free, and an
    outgoing connection on this machine may have been given it as its source port for
    a moment: retry the listen until that connection is gone."""
    for _ in range(100):
        try:
            proxy.set_mode(PASS)
            return
        except OSError:
            await asyncio.sleep(0.1)
    proxy.set_mode(PASS)


async def until(check: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def test_two_processes_cut_from_redis_keep_the_global_bound_and_recover(
    proxy: FaultProxy, redis_prefix: str
) -> None:
    ledger = _Ledger()
    outcomes: list[str] = []
    cfg = config(proxy.port, redis_prefix)
    built = [build_limiter(cfg, ledger, on_degraded=outcomes.append) for _ in range(2)]
    limiters = [b[0] for b in built if b is not None]
    writers = [b[1] for b in built if b is not None and b[1] is not None]
    try:
        for limiter in limiters:  # one call each: both register in Redis
            assert [r.degraded for r in await offer(limiter, 1)] == [None]
        await until(lambda: all(redis_of(x).local.seen == 2 for x in limiters))  # type: ignore[union-attr]
        proxy.set_mode(REFUSE)
        cut = [await offer(limiter, 10) for limiter in limiters]
        assert [len(admitted) for admitted in cut] == [5, 5]  # floor(10 / 2) each
        assert {r.degraded for admitted in cut for r in admitted} == {"local"}
        assert outcomes.count("admitted") == 10 and outcomes.count("refused") == 10
        with pytest.raises(ServiceUnavailable) as refused:  # a budget is not guessed
            await limiters[0].reserve(BILLING_APP, CONVERSATION, "gpt-4o-mini")
        assert refused.value.code == "limits_unavailable"
        assert outcomes.count("budget_closed") == 1
        for writer in writers:  # spend settled while degraded still reaches the ledger
            await writer.flush()
        assert len(ledger.entries) == 12
        await reopen(proxy)
        await until(lambda: all(redis_of(x).reachable for x in limiters))
        # Redis is the truth again: 2 of its 10 per minute were used before the cut
        after = [await offer(limiter, 10) for limiter in limiters]
        assert [len(admitted) for admitted in after] == [8, 0]
        assert {r.degraded for r in after[0]} == {None}
    finally:
        for limiter in limiters:
            await limiter.store.close()


async def test_a_hanging_redis_costs_one_timeout_then_the_breaker_answers_locally(
    proxy: FaultProxy, redis_prefix: str
) -> None:
    built = build_limiter(config(proxy.port, redis_prefix, replicas=2), None)
    assert built is not None
    limiter = built[0]
    try:
        await offer(limiter, 1)
        proxy.set_mode(HANG)
        # without the breaker, 10 calls would wait 0.5 s each for Redis
        admitted = await asyncio.wait_for(offer(limiter, 10), timeout=4)
        assert not redis_of(limiter).reachable
        assert len(admitted) == 5 and {r.degraded for r in admitted} == {"local"}
        proxy.set_mode(PASS)
        await until(lambda: redis_of(limiter).reachable)
        assert [r.degraded for r in await offer(limiter, 1)] == [None]
    finally:
        await limiter.store.close()


async def test_closed_still_refuses_everything(proxy: FaultProxy, redis_prefix: str) -> None:
    built = build_limiter(config(proxy.port, redis_prefix, on_store_down="closed"), None)
    assert built is not None
    limiter = built[0]
    try:
        proxy.set_mode(REFUSE)
        with pytest.raises(ServiceUnavailable):
            await limiter.admit(LEDGER_APP)
    finally:
        await limiter.store.close()
