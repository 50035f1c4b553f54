"""What every counter store does alike, run against the memory, SQLite and Redis stores.

The Redis store follows the server's clock, so these tests take at the current time and
never move a clock; the memory store's own tests cover time passing with a fake clock.
"""

from __future__ import annotations

import asyncio
import math
import time

from bastion.limits.memory import MemoryCounterStore
from bastion.limits.redis_store import RedisCounterStore
from bastion.limits.sqlite_store import SqliteCounterStore
from bastion.limits.store import CounterStore, Granted, Hold, HoldKind, Refused, Restored


def window(key: str = "w", limit: int = 3, amount: int = 1, span: float = 60.0) -> Hold:
    return Hold(key, HoldKind.WINDOW, limit, amount, span)


def budget(limit: int = 100, amount: int = 60) -> Hold:
    return Hold("b", HoldKind.TOTAL, limit, amount, 3600.0)


def lease(limit: int = 2, span: float = 30.0) -> Hold:
    return Hold("c", HoldKind.LEASE, limit, 1, span)


async def take(store: CounterStore, *holds: Hold) -> Granted | Refused:
    return await store.take(holds, time.time())


async def used(store: CounterStore, key: str, kind: HoldKind) -> int:
    if isinstance(store, MemoryCounterStore):
        return store.used(key, time.time())
    if isinstance(store, SqliteCounterStore):
        return await store.used(key, kind, time.time())
    assert isinstance(store, RedisCounterStore)
    return await store.used(key, kind)


async def test_a_window_admits_exactly_its_limit(store: CounterStore) -> None:
    results = [await take(store, window()) for _ in range(4)]
    assert [type(r) for r in results] == [Granted, Granted, Granted, Refused]
    granted, refused = results[2], results[3]
    assert isinstance(granted, Granted) and granted.remaining == (0,)
    assert 59.0 < granted.reset_s[0] <= 60.0  # the oldest entry leaves in a minute
    assert isinstance(refused, Refused) and (refused.index, refused.used) == (0, 3)
    assert 59.0 < refused.retry_after_s <= 60.0


async def test_a_weight_above_the_limit_never_fits(store: CounterStore) -> None:
    assert isinstance(await take(store, window(limit=100, amount=40)), Granted)
    waits = await take(store, window(limit=100, amount=70))
    assert isinstance(waits, Refused) and 59.0 < waits.retry_after_s <= 60.0
    never = await take(store, window(limit=100, amount=101))
    assert isinstance(never, Refused) and math.isinf(never.retry_after_s)


async def test_settling_a_window_entry_replaces_its_weight(store: CounterStore) -> None:
    granted = await take(store, window(limit=100, amount=90))
    assert isinstance(granted, Granted) and granted.remaining == (10,)
    await store.settle([(granted.ticket, [20])], time.time())
    assert await used(store, "w", HoldKind.WINDOW) == 20
    assert isinstance(await take(store, window(limit=100, amount=80)), Granted)
    assert isinstance(await take(store, window(limit=100, amount=1)), Refused)


async def test_a_take_over_many_counters_is_all_or_nothing(store: CounterStore) -> None:
    assert isinstance(await take(store, window(limit=5), budget()), Granted)
    refused = await take(store, window(limit=5), lease(limit=9), budget())
    assert isinstance(refused, Refused) and (refused.index, refused.used) == (2, 60)
    assert math.isinf(refused.retry_after_s)  # only the period's end frees a budget
    assert await used(store, "w", HoldKind.WINDOW) == 1  # nothing else was taken
    assert await used(store, "c", HoldKind.LEASE) == 0


async def test_leases_are_held_until_released(store: CounterStore) -> None:
    first = await take(store, lease())
    assert isinstance(first, Granted) and first.remaining == (1,)
    assert isinstance(await take(store, lease()), Granted)
    refused = await take(store, lease())
    assert isinstance(refused, Refused) and refused.used == 2
    assert 29.0 < refused.retry_after_s <= 30.0  # the first lease expires by then
    await store.settle([(first.ticket, [None])], time.time())
    assert await used(store, "c", HoldKind.LEASE) == 1
    assert isinstance(await take(store, lease()), Granted)


async def test_period_totals_settle_to_actual_usage(store: CounterStore) -> None:
    granted = await take(store, budget())
    assert isinstance(granted, Granted) and granted.remaining == (40,)
    assert 3599.0 < granted.reset_s[0] <= 3600.0
    await store.settle([(granted.ticket, [25])], time.time())
    assert await used(store, "b", HoldKind.TOTAL) == 25
    await store.settle([(granted.ticket, [30])], time.time())  # moves from the last amount
    assert await used(store, "b", HoldKind.TOTAL) == 30
    assert isinstance(await take(store, budget(amount=70)), Granted)
    assert isinstance(await take(store, budget(amount=1)), Refused)


async def test_restore_seeds_windows_and_totals(store: CounterStore) -> None:
    now = time.time()
    restored = [
        Restored("w", HoldKind.WINDOW, 60.0, 5, now - 10.0),
        Restored("w", HoldKind.WINDOW, 60.0, 7, now - 61.0),  # already out of the window
        Restored("b", HoldKind.TOTAL, 3600.0, 70, now),
    ]
    assert await store.restore(restored)
    refused = await take(store, budget(amount=31))
    assert isinstance(refused, Refused) and refused.used == 70
    assert isinstance(await take(store, budget(amount=30)), Granted)
    granted = await take(store, window(limit=10, amount=5))
    assert isinstance(granted, Granted) and granted.remaining == (0,)
    assert 49.0 < granted.reset_s[0] <= 50.0  # the restored entry leaves first


async def test_restore_seeds_only_the_counters_the_store_does_not_hold(
    store: CounterStore,
) -> None:
    """A process starting (or reloading) with a budget new to running counters: the new
    budget starts from its ledger spend, the counters already counting keep their value,
    and a second process restoring the same ledger adds nothing twice."""
    assert isinstance(await take(store, budget(amount=60), window(limit=10)), Granted)
    now = time.time()
    ledger = [
        Restored("b", HoldKind.TOTAL, 3600.0, 70, now),  # held: it counted its own calls
        Restored("w", HoldKind.WINDOW, 60.0, 4, now - 5.0),
        Restored("new", HoldKind.TOTAL, 3600.0, 30, now),  # a budget added to the config
        Restored("new", HoldKind.TOTAL, 3600.0, 10, now),  # another row of its scope
        Restored("new-w", HoldKind.WINDOW, 60.0, 5, now - 10.0),
    ]
    assert await store.restore(ledger) == 2
    assert await used(store, "b", HoldKind.TOTAL) == 60
    assert await used(store, "w", HoldKind.WINDOW) == 1
    assert await used(store, "new", HoldKind.TOTAL) == 40
    assert await used(store, "new-w", HoldKind.WINDOW) == 5
    assert await store.restore(ledger) == 0
    assert await used(store, "new", HoldKind.TOTAL) == 40
    refused = await take(store, Hold("new", HoldKind.TOTAL, 100, 61, 3600.0))
    assert isinstance(refused, Refused) and refused.used == 40


async def test_concurrent_takes_admit_exactly_what_fits(store: CounterStore) -> None:
    holds = (window(limit=10**6), budget(limit=10 * 60 + 30, amount=60), lease(limit=10**6))
    results = await asyncio.gather(*(store.take(holds, time.time()) for _ in range(200)))
    assert sum(isinstance(r, Granted) for r in results) == 10
    assert await used(store, "b", HoldKind.TOTAL) == 600
    assert await used(store, "c", HoldKind.LEASE) == 10


async def test_a_budget_above_int64_reports_what_is_left(store: CounterStore) -> None:
    # USD 10M a month is 10**19 picodollars, past a signed 64-bit integer: what is left
    # (the x-bastion-budget-remaining-usd header, soft alerts) must still be exact
    huge = 10 * 10**6 * 10**12
    holds = (
        Hold("b", HoldKind.TOTAL, huge, 5 * 10**9, 3600.0),
        window(limit=huge, amount=5 * 10**9),
        Hold("c", HoldKind.LEASE, 10**20, 1, 30.0),
    )
    granted = await take(store, *holds)
    assert isinstance(granted, Granted)
    assert granted.remaining == (huge - 5 * 10**9, huge - 5 * 10**9, 10**20 - 1)
