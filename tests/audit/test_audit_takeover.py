"""Several replicas on one store (RELIABILITY.md A1): a writer whose lease lapsed is
adopted by another, which closes its open intents as ``unknown_after_crash`` on the dead
writer's own chain; the trail verifies, and a writer that comes back continues its chain
without a second ending for any call. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.audit.test_audit_log import MemoryStore
from tests.audit.trail_calls import completed_call

from bastion.audit.log import AuditLog
from bastion.audit.verify import verify
from bastion.errors import ServiceUnavailable, StorageError
from bastion.model import CallRecord
from bastion.storage import Database
from bastion.storage.audit_events import AuditEventRepository, ChainMoved

LEASE_S = 3.0


def record(n: int) -> CallRecord:
    return completed_call(n, with_request_facts=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(database: Database) -> AsyncIterator[AuditEventRepository]:
    yield AuditEventRepository(database)


def writer(store: AuditEventRepository, root: Path, clock: Clock, **options: Any) -> AuditLog:
    options.setdefault("flush_interval_s", 3600)  # the tests ship by hand
    return AuditLog(store, root, lease_s=LEASE_S, clock=clock, **options)


async def two_started_writers(
    store: AuditEventRepository, root: Path
) -> tuple[Clock, AuditLog, AuditLog]:
    """Two replicas on one store and one clock, logging under ``root/a`` and ``root/b``."""
    clock = Clock()
    first, second = writer(store, root / "a", clock), writer(store, root / "b", clock)
    await first.start()
    await second.start()
    return clock, first, second


async def kill(log: AuditLog) -> None:
    """What kill -9 leaves: the log on disk as written, nothing flushed, the lock free."""
    task = log._task
    assert task is not None and log.wal is not None
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    log.wal.close()
    log.wal = None


async def statuses(store: AuditEventRepository, *request_ids: str) -> list[str | None]:
    rows = await store.records_by_id(request_ids)
    return [rows[r]["status"] if r in rows else None for r in request_ids]


async def kinds(store: AuditEventRepository, writer_id: str) -> list[str]:
    return [e.kind async for page in store.events(writer_id) for e in page]


async def test_another_writer_closes_the_open_intents_of_a_dead_one(
    store: AuditEventRepository, tmp_path: Path
) -> None:
    clock, dead, survivor = await two_started_writers(store, tmp_path)
    for n in range(3):
        await dead.intent(record(n))
    dead.submit(record(0))  # call 0 ended; calls 1 and 2 were upstream when it died
    await dead.flush()
    dead_id = dead.writer_id
    assert dead_id is not None
    await kill(dead)

    assert await survivor.adopt_expired() == 0  # the lease has not lapsed yet
    clock.now += LEASE_S + 1
    assert await survivor.adopt_expired() == 2

    assert await statuses(store, "req_0", "req_1", "req_2") == [
        "completed",
        "unknown_after_crash",
        "unknown_after_crash",
    ]
    rows = await store.records_by_id(["req_1"])
    facts = rows["req_1"]["request_facts"]
    facts = orjson.loads(facts) if isinstance(facts, str) else facts
    assert facts["closed_by"] == f"takeover:{survivor.writer_id}"
    # closed on the dead writer's own chain, continuing its seqs
    assert await kinds(store, dead_id) == ["intent"] * 3 + ["completion"] * 3
    # a second look (by anyone) finds nothing left
    third = writer(store, tmp_path / "c", clock)
    await third.start()
    assert await survivor.adopt_expired() == 0
    assert await third.adopt_expired() == 0
    await survivor.close()
    await third.close()
    assert (await verify(store)).ok


async def test_a_writer_that_renews_its_lease_is_never_adopted(
    store: AuditEventRepository, tmp_path: Path
) -> None:
    clock, busy, other = await two_started_writers(store, tmp_path)
    await busy.intent(record(1))  # a long call: upstream for many leases
    await busy.flush()
    for _ in range(4):
        clock.now += LEASE_S * 0.6
        await busy._lease_duties()  # the shipper loop's heartbeat
        assert await other.adopt_expired() == 0
    busy.submit(record(1))
    await busy.close()
    await other.close()
    assert await statuses(store, "req_1") == ["completed"]
    assert (await verify(store)).ok


async def test_a_writer_back_on_its_log_after_adoption_keeps_one_ending_per_call(
    store: AuditEventRepository, tmp_path: Path
) -> None:
    clock, dead, survivor = await two_started_writers(store, tmp_path)
    await dead.intent(record(1))
    await dead.intent(record(2))
    await dead.flush()  # both intents in the store
    dead.submit(record(1))  # its ending only in the local log (a persistent volume)
    dead_id = dead.writer_id
    await kill(dead)
    clock.now += LEASE_S + 1
    assert await survivor.adopt_expired() == 2

    back = writer(store, tmp_path / "a", clock)  # the same log directory: the same writer
    await back.start()
    assert back.writer_id == dead_id
    assert back.late_completions == 1 and back.closed_after_crash == 0
    await back.intent(record(3))
    back.submit(record(3))
    await back.close()
    await survivor.close()

    assert await statuses(store, "req_1", "req_2", "req_3") == [
        "unknown_after_crash",
        "unknown_after_crash",
        "completed",
    ]
    assert await kinds(store, dead_id or "") == [
        "intent",
        "intent",
        "completion",  # the takeover's closures
        "completion",
        "late_completion",  # the real ending, kept as evidence
        "intent",
        "completion",
    ]
    assert (await verify(store)).ok


async def test_a_stalled_writer_adopted_meanwhile_continues_without_forking(
    store: AuditEventRepository, tmp_path: Path
) -> None:
    clock, stalled, other = await two_started_writers(store, tmp_path)
    await stalled.intent(record(1))
    await stalled.flush()
    clock.now += LEASE_S + 1  # it stalled past its lease; the call is still upstream
    assert await other.adopt_expired() == 1
    stalled.submit(record(1))  # the call ends after all
    with pytest.raises(ChainMoved):
        await stalled.flush()
    await stalled.flush()  # the shipper's next round: from the stored head
    assert stalled.late_completions == 1
    await stalled.close()
    await other.close()
    assert await statuses(store, "req_1") == ["unknown_after_crash"]
    assert (await verify(store)).ok


async def test_intents_database_forwards_only_once_the_intent_is_stored(
    store: AuditEventRepository, tmp_path: Path
) -> None:
    log = AuditLog(store, tmp_path / "wal", intents="database", flush_interval_s=3600)
    await log.start()
    await log.intent(record(1))  # the shipper is woken, not waited for by the interval
    stored = [e.kind async for page in store.events(log.writer_id or "") for e in page]
    assert stored == ["intent"]
    log.submit(record(1))
    await log.close()


async def test_intents_database_refuses_the_call_while_the_store_is_down(
    tmp_path: Path,
) -> None:
    memory = MemoryStore()
    log = AuditLog(
        memory, tmp_path / "wal", intents="database", intent_timeout_s=0.2, flush_interval_s=0.01
    )
    await log.start()
    memory.down = True
    with pytest.raises(ServiceUnavailable) as refused:
        await log.intent(record(1))
    assert refused.value.code == "audit_unavailable"
    memory.down = False
    await log.close()


class FlakyStore:
    """The real repository behind a switch that takes it down for this writer."""

    def __init__(self, store: AuditEventRepository) -> None:
        self._store = store
        self.down = False

    def __getattr__(self, name: str) -> Any:
        if self.down:
            raise StorageError("database audit chain ship failed (OperationalError)")
        return getattr(self._store, name)


async def test_after_a_store_outage_no_live_writer_is_taken_over(
    store: AuditEventRepository, tmp_path: Path
) -> None:
    clock = Clock()
    views = [FlakyStore(store), FlakyStore(store)]
    first, second = (
        writer(store, tmp_path / "a", clock),
        writer(store, tmp_path / "b", clock),
    )
    first._store, second._store = views  # type: ignore[assignment]
    await first.start()
    await second.start()
    await first.intent(record(1))  # upstream through the whole outage
    await first.tick()
    for view in views:
        view.down = True
    clock.now += 4 * LEASE_S  # the database is gone for longer than a lease
    assert not await first.tick() and not await second.tick()
    for view in views:
        view.down = False
    assert await second.tick()  # back first: the first writer's lease has lapsed...
    assert second.adopted == 0  # ...but it waits a lease for live writers to renew
    assert await first.tick()
    clock.now += LEASE_S
    assert await second.tick() and await first.tick()
    assert second.adopted == 0
    first.submit(record(1))
    await first.close()
    await second.close()
    assert await statuses(store, "req_1") == ["completed"]
