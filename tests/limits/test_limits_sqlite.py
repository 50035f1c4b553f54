"""The sqlite counter store: one file shared by the gateway processes of one machine.

What every store does alike runs in test_limits_stores.py; here: real OS processes
racing on one file, a crashed process's leases, the file cleared and rebuilt once when
nobody uses it, expired rows swept, and the config that selects the store.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.config import load_config
from bastion.config.schema import BastionConfig
from bastion.errors import BudgetExceeded, ServiceUnavailable, StorageError
from bastion.limits.build import build_limiter, build_store, shared_file
from bastion.limits.memory import MemoryCounterStore
from bastion.limits.sqlite_store import SqliteCounterStore
from bastion.limits.store import Granted, Hold, HoldKind, Refused, Restored
from bastion.model import Conversation, Endpoint, Principal, Segment, Source
from bastion.server.reload import sections_needing_restart

SPAWN = multiprocessing.get_context("spawn")
RACE_HOLDS = (
    Hold("rpm", HoldKind.WINDOW, 10**6, 1, 60.0),
    Hold("budget|month:2026-12", HoldKind.TOTAL, 50 * 7 + 3, 7, 3600.0),  # fits 50
    Hold("in-flight", HoldKind.LEASE, 10**6, 1, 60.0),
)
WINDOW_LIMIT = 37
SPREAD_SPAN = 2.0


def _race(path: str, holds: Sequence[Hold], tries: int, together: Barrier, out: Queue[int]) -> None:
    """One gateway process: open the file, start with the others, stay until they end."""

    async def run() -> int:
        store = SqliteCounterStore(Path(path))
        await store.restore(())  # every process starts as the gateway does
        together.wait(60)
        granted = 0
        for _ in range(tries):
            if isinstance(await store.take(holds, time.time()), Granted):
                granted += 1
        together.wait(60)
        await store.close()
        return granted

    out.put(asyncio.run(run()))


def race(path: Path, holds: Sequence[Hold], processes: int, tries: int) -> list[int]:
    together, out = SPAWN.Barrier(processes), SPAWN.Queue()
    procs = [
        SPAWN.Process(target=_race, args=(str(path), holds, tries, together, out))
        for _ in range(processes)
    ]
    for proc in procs:
        proc.start()
    counts = [out.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    return counts


def test_four_processes_racing_on_one_budget_admit_exactly_what_fits(tmp_path: Path) -> None:
    counts = race(tmp_path / "limits.db", RACE_HOLDS, processes=4, tries=60)
    assert sum(counts) == 50
    with sqlite3.connect(tmp_path / "limits.db") as db:  # refusals took nothing
        assert db.execute("SELECT total FROM windows").fetchone() == (50,)
        assert db.execute("SELECT used FROM totals").fetchone() == (350,)
        assert db.execute("SELECT COUNT(*) FROM leases").fetchone() == (50,)


def test_four_processes_racing_on_one_window_admit_exactly_its_limit(tmp_path: Path) -> None:
    hold = (Hold("rpm", HoldKind.WINDOW, WINDOW_LIMIT, 1, 60.0),)
    assert sum(race(tmp_path / "limits.db", hold, processes=4, tries=25)) == WINDOW_LIMIT


def _spread(path: str, offset: float, together: Barrier, out: Queue[list[float]]) -> None:
    """3x the limit over one window and then one more, this process's half of it."""

    async def run() -> list[float]:
        store = SqliteCounterStore(Path(path))
        await store.restore(())
        together.wait(60)
        start, admitted = time.time(), []
        for i in range(3 * WINDOW_LIMIT):  # every 2/(3 limit) of the window, both together
            await asyncio.sleep(
                max(start + offset + i * SPREAD_SPAN / (1.5 * WINDOW_LIMIT) - time.time(), 0)
            )
            now = time.time()
            if isinstance(
                await store.take([Hold("rps", HoldKind.WINDOW, WINDOW_LIMIT, 1, SPREAD_SPAN)], now),
                Granted,
            ):
                admitted.append(now)
        together.wait(60)
        await store.close()
        return admitted

    out.put(asyncio.run(run()))


def test_two_processes_offered_3x_the_limit_evenly_keep_the_sliding_window(
    tmp_path: Path,
) -> None:
    together, out = SPAWN.Barrier(2), SPAWN.Queue()
    procs = [
        SPAWN.Process(target=_spread, args=(str(tmp_path / "limits.db"), offset, together, out))
        for offset in (0.0, SPREAD_SPAN / (3 * WINDOW_LIMIT))
    ]
    for proc in procs:
        proc.start()
    admitted = sorted(t for _ in procs for t in out.get(timeout=120))
    for proc in procs:
        proc.join(30)
    most = max(sum(1 for u in admitted if t - SPREAD_SPAN < u <= t) for t in admitted)
    assert most <= WINDOW_LIMIT  # R1: no window-long interval admits more
    assert sum(1 for t in admitted if t < admitted[0] + SPREAD_SPAN) >= WINDOW_LIMIT - 1


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 5), st.integers(1, 4)), min_size=1, max_size=40))
def test_no_window_ever_holds_more_than_the_limit(steps: list[tuple[float, int]]) -> None:
    async def run(path: Path) -> None:
        store = SqliteCounterStore(path)
        now, admitted = 0.0, []
        for gap, amount in steps:
            now += gap
            hold = Hold("w", HoldKind.WINDOW, 6, amount, 10.0)
            if isinstance(await store.take([hold], now), Granted):
                admitted.append((now, amount))
            else:  # refused only when it really did not fit
                assert sum(a for t, a in admitted if t > now - 10.0) + amount > 6
        await store.close()
        for t, _ in admitted:
            assert sum(a for u, a in admitted if t - 10.0 < u <= t) <= 6

    with tempfile.TemporaryDirectory() as work:
        asyncio.run(run(Path(work) / "limits.db"))


def _take_and_die(path: str, holds: Sequence[Hold]) -> None:
    async def run() -> None:
        store = SqliteCounterStore(Path(path))
        assert isinstance(await store.take(holds, time.time()), Granted)

    asyncio.run(run())
    os._exit(0)  # no close, no settle: as after kill -9


async def test_a_lease_of_a_crashed_process_frees_itself(tmp_path: Path) -> None:
    path = tmp_path / "limits.db"
    survivor = SqliteCounterStore(path)
    hold = [Hold("in-flight", HoldKind.LEASE, 1, 1, 1.0)]
    try:
        await survivor.restore(())
        crashed = SPAWN.Process(target=_take_and_die, args=(str(path), hold))
        crashed.start()
        crashed.join(60)
        refused = await survivor.take(hold, time.time())
        assert isinstance(refused, Refused) and 0 < refused.retry_after_s <= 1.0
        assert isinstance(await survivor.take(hold, time.time() + 1.0), Granted)
    finally:
        await survivor.close()


def _restore_once(path: str, together: Barrier, out: Queue[bool]) -> None:
    async def run() -> bool:
        store = SqliteCounterStore(Path(path))
        store.file.open()
        together.wait(60)  # every process has the file open: one run
        entries = [Restored("budget", HoldKind.TOTAL, 3600.0, 70, time.time())]
        applied = await store.restore(entries)
        together.wait(60)
        await store.close()
        return applied

    out.put(asyncio.run(run()))


async def test_processes_starting_together_restore_the_ledger_once(tmp_path: Path) -> None:
    path = tmp_path / "limits.db"
    together, out = SPAWN.Barrier(3), SPAWN.Queue()
    procs = [SPAWN.Process(target=_restore_once, args=(str(path), together, out)) for _ in range(3)]
    for proc in procs:
        proc.start()
    applied = [await asyncio.to_thread(out.get, timeout=120) for _ in procs]
    for proc in procs:
        proc.join(30)
    assert sorted(applied) == [False, False, True]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT used FROM totals WHERE key = 'budget'").fetchone() == (70,)


async def test_a_file_nobody_uses_is_cleared_and_rebuilt_a_used_one_is_kept(
    tmp_path: Path,
) -> None:
    path = tmp_path / "limits.db"
    budget = [Hold("budget", HoldKind.TOTAL, 100, 60, 3600.0)]
    first = SqliteCounterStore(path)
    await first.restore(())
    assert isinstance(await first.take(budget, time.time()), Granted)
    second = SqliteCounterStore(path)  # opens while the first still runs: shares its counters
    assert not await second.restore([Restored("budget", HoldKind.TOTAL, 3600.0, 5, time.time())])
    assert await second.used("budget", HoldKind.TOTAL, time.time()) == 60
    await first.close()
    await second.close()
    later = SqliteCounterStore(path)  # a later run: the ledger, not the old file, counts
    try:
        assert await later.restore([Restored("budget", HoldKind.TOTAL, 3600.0, 25, time.time())])
        assert await later.used("budget", HoldKind.TOTAL, time.time()) == 25
    finally:
        await later.close()


async def test_a_take_before_any_restore_rebuilds_from_the_ledger_first(tmp_path: Path) -> None:
    store = SqliteCounterStore(tmp_path / "limits.db")
    rebuilds = 0

    async def rebuild() -> None:
        nonlocal rebuilds
        rebuilds += 1
        await store.restore([Restored("budget", HoldKind.TOTAL, 3600.0, 70, time.time())])

    store.rebuild_from = rebuild
    budget = Hold("budget", HoldKind.TOTAL, 100, 31, 3600.0)
    try:
        results = await asyncio.gather(*(store.take([budget], time.time()) for _ in range(3)))
        assert [type(r) for r in results] == [Refused, Refused, Refused]
        assert rebuilds == 1
    finally:
        await store.close()


async def test_expired_rows_are_swept_so_the_file_stays_small(tmp_path: Path) -> None:
    path = tmp_path / "limits.db"
    store = SqliteCounterStore(path)
    now = time.time()
    holds = [
        Hold("rpm", HoldKind.WINDOW, 100, 1, 60.0),
        Hold("in-flight", HoldKind.LEASE, 100, 1, 60.0),
        Hold("budget|day:2026-12-01", HoldKind.TOTAL, 100, 1, 60.0),
    ]
    try:
        await store.restore(())
        for _ in range(20):
            assert isinstance(await store.take(holds, now), Granted)
        later = now + 60.0 + 3600.0 + 1.0  # windows, leases and the period (+ 1 h) are over
        assert isinstance(
            await store.take([Hold("other", HoldKind.WINDOW, 9, 1, 1.0)], later), Granted
        )
        with sqlite3.connect(path) as db:
            rows = {
                table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("window_entries", "windows", "leases", "totals")
            }
        assert rows == {"window_entries": 1, "windows": 1, "leases": 0, "totals": 0}
    finally:
        await store.close()


async def test_settling_after_the_entry_left_the_window_changes_nothing(tmp_path: Path) -> None:
    store = SqliteCounterStore(tmp_path / "limits.db")
    try:
        first = await store.take([Hold("tpm", HoldKind.WINDOW, 100, 90, 60.0)], 0.0)
        assert isinstance(first, Granted)
        later = await store.take([Hold("tpm", HoldKind.WINDOW, 100, 5, 60.0)], 61.0)
        assert isinstance(later, Granted)  # the first entry left and was deleted
        await store.settle([(first.ticket, [20])], 61.0)  # a stream longer than the window
        assert await store.used("tpm", HoldKind.WINDOW, 61.0) == 5  # not the new entry's
    finally:
        await store.close()


@pytest.mark.parametrize("offload", [False, True], ids=["inline", "thread"])
async def test_takes_settle_inline_or_on_a_thread(tmp_path: Path, offload: bool) -> None:
    store = SqliteCounterStore(tmp_path / "limits.db", offload=offload)
    window = Hold("tpm", HoldKind.WINDOW, 100, 90, 60.0)
    try:
        granted = await store.take([window], time.time())
        assert isinstance(granted, Granted) and granted.remaining == (10,)
        await store.settle([(granted.ticket, [20])], time.time())
        assert await store.used("tpm", HoldKind.WINDOW, time.time()) == 20
    finally:
        await store.close()


async def test_an_unusable_file_fails_closed_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_text("")
    store = SqliteCounterStore(tmp_path / "not-a-dir" / "limits.db")
    with pytest.raises(StorageError):
        await store.take([Hold("rpm", HoldKind.WINDOW, 5, 1, 60.0)], time.time())
    assert not store.reachable
    limiter = build_limiter(config(tmp_path, workers=2, sqlite_file=str(store.file.path)), None)
    assert limiter is not None
    principal = Principal(key_id="k1", name="app")
    with pytest.raises(ServiceUnavailable) as refused:
        await limiter[0].admit(principal)
    assert refused.value.code == "limits_unavailable"


# --- configuration ---------------------------------------------------------------------


def config(work: Path, **settings: Any) -> BastionConfig:
    storage = settings.pop("storage", f"sqlite:///{work}/gateway.db")
    return BastionConfig.model_validate(
        {
            "server": {"workers": settings.pop("workers", 1)},
            "storage": {"url": storage},
            "providers": {"p": {"kind": "openai", "base_url": "http://x/v1"}},
            "models": {"gpt-4o-mini": {"targets": [{"provider": "p", "model": "gpt-4o-mini"}]}},
            "limits": {
                "rules": settings.pop("rules", [{"scope": ["key"], "requests_per_minute": 5}]),
                **settings,
            },
        }
    )


def test_memory_with_several_workers_shares_a_file_beside_the_database(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert isinstance(build_store(config(tmp_path)), MemoryCounterStore)
    with caplog.at_level(logging.INFO, "bastion.limits"):
        store = build_store(config(tmp_path, workers=3))
    assert isinstance(store, SqliteCounterStore)
    assert store.file.path == tmp_path / "limits.db"
    assert sum("share their counters" in r.message for r in caplog.records) == 1


def test_sqlite_is_chosen_explicitly_and_its_file_can_be_named(tmp_path: Path) -> None:
    store = build_store(config(tmp_path, store="sqlite", sqlite_file=str(tmp_path / "c.db")))
    assert isinstance(store, SqliteCounterStore) and store.file.path == tmp_path / "c.db"
    postgres = config(tmp_path, workers=2, storage="postgresql+asyncpg://db/bastion")
    assert shared_file(postgres) == Path(".bastion") / "limits.db"


def test_changing_where_counters_live_needs_a_restart(tmp_path: Path) -> None:
    old = config(tmp_path)
    assert sections_needing_restart(old, config(tmp_path, store="sqlite")) == ["limits.store"]
    moved = config(tmp_path, sqlite_file=str(tmp_path / "elsewhere.db"))
    assert sections_needing_restart(old, moved) == ["limits.sqlite_file"]


def test_a_relative_file_is_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "bastion.yaml"
    path.write_text(
        "providers: {p: {kind: openai, base_url: 'http://x/v1', api_key: k}}\n"
        "models: {m: {targets: [{provider: p, model: gpt-4o-mini}]}}\n"
        "limits: {store: sqlite, sqlite_file: run/limits.db}\n"
    )
    loaded = load_config(path, environ={})
    assert loaded.limits.sqlite_file == tmp_path / "conf" / "run" / "limits.db"


async def test_two_workers_admit_as_many_calls_as_one_process(tmp_path: Path) -> None:
    """Two limiters built from one config, as two workers build theirs, hold together."""
    budget = {"scope": ["team"], "budgets": [{"period": "month", "tokens": 1000}]}
    principal = Principal(key_id="k1", name="app", team="finance")
    segment = Segment("hello", Source.USER, ("messages", 0, "content"), message_index=0)
    chat = Conversation(Endpoint.CHAT, "gpt-4o-mini", (segment,), params={"max_tokens": 100})

    async def admitted(limiters: list[Any]) -> int:
        count = 0
        for i in range(20):
            try:
                await limiters[i % len(limiters)].reserve(principal, chat, "gpt-4o-mini")
                count += 1
            except BudgetExceeded:
                pass
        for limiter in limiters:
            await limiter.store.close()
        return count

    def built(cfg: BastionConfig) -> Any:
        found = build_limiter(cfg, None)
        assert found is not None
        return found[0]

    shared = config(tmp_path, workers=2, rules=[budget])
    one = await admitted([built(config(tmp_path / "one", rules=[budget]))])
    two = await admitted([built(shared), built(shared)])
    assert 1 < one < 20 and two == one
