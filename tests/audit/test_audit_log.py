"""The audit log: intents before effect, shipping in chained batches, the spool, the
start-up reconciler, a failed fsync, and checkpoints."""

from __future__ import annotations

import dataclasses
import errno
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from bastion.audit.chain import GENESIS, expected_hash
from bastion.audit.checkpoints import Signer, public_keys, read_checkpoints, signature_valid
from bastion.audit.log import AuditLog
from bastion.crypto.keyring import Keyring
from bastion.errors import ServiceUnavailable, StorageError
from bastion.model import CallRecord, CallStatus, FindingSummary, Principal
from bastion.model.chain import ChainedEvent, WriterState

PRINCIPAL = Principal(key_id="k1", name="app", user="ana", app="helpdesk", team="support")


def record(n: int, status: CallStatus = CallStatus.COMPLETED) -> CallRecord:
    return CallRecord(
        f"req_{n}",
        1_700_000_000.0 + n,
        "chat.completions",
        PRINCIPAL,
        "gpt-4o",
        "gpt-4o-mini",
        "redact",
        status,
        200 if status is CallStatus.COMPLETED else 0,
        findings=(FindingSummary("pii.email", "user", "messages.0.content", 2, 0.9),),
        rules=("pii.redact",),
        policy_version="default@1+abc",
    )


class MemoryStore:
    """A ChainStore in memory that can be taken down."""

    def __init__(self) -> None:
        self.events: list[ChainedEvent] = []
        self.records: dict[str, Mapping[str, Any]] = {}
        self.states: dict[str, WriterState] = {}
        self.batches: list[int] = []
        self.down = False

    async def writer_state(self, writer_id: str) -> WriterState | None:
        return self.states.get(writer_id)

    async def ship(
        self,
        events: Sequence[ChainedEvent],
        records: Sequence[Mapping[str, Any]],
        state: WriterState,
        now: float,
        lease_until: float | None = None,
    ) -> None:
        if self.down:
            raise StorageError("database audit chain ship failed (OperationalError)")
        self.events.extend(events)
        for values in records:
            self.records.setdefault(values["request_id"], values)
        self.states[state.writer_id] = state
        if events:
            self.batches.append(len(events))

    async def open_intents(self, writer_id: str, after_seq: int) -> list[ChainedEvent]:
        return [
            e
            for e in self.events
            if e.writer_id == writer_id
            and e.seq > after_seq
            and e.kind == "intent"
            and e.request_id not in self.records
        ]

    async def expired_writers(self, now: float, exclude: str) -> list[WriterState]:
        return []

    async def adopt(self, writer_id: str, owner: str, now: float, close: Any) -> int:
        return 0

    async def recorded(self, request_ids: Sequence[str]) -> set[str]:
        return {r for r in request_ids if r in self.records}


def audit_log(store: MemoryStore, tmp_path: Path, **options: Any) -> AuditLog:
    options.setdefault("flush_interval_s", 0.01)
    return AuditLog(store, tmp_path / "wal", **options)


def assert_chain_intact(events: Sequence[ChainedEvent]) -> None:
    prev = GENESIS
    for seq, event in enumerate(events, 1):
        assert (event.seq, event.prev_hash) == (seq, prev)
        assert expected_hash(event) == event.hash
        prev = event.hash


async def test_intents_and_completions_are_shipped_as_one_chain(tmp_path: Path) -> None:
    store = MemoryStore()
    log = audit_log(store, tmp_path, max_batch=4)
    await log.start()
    for n in range(5):
        await log.intent(record(n))
        log.submit(record(n))
    await log.flush()
    assert [(e.kind, e.request_id) for e in store.events[:2]] == [
        ("intent", "req_0"),
        ("completion", "req_0"),
    ]
    assert len(store.events) == 10 and max(store.batches) <= 4
    assert_chain_intact(store.events)
    assert sorted(store.records) == [f"req_{n}" for n in range(5)]
    intent = orjson.loads(store.events[0].body)
    assert intent["findings"][0]["data_class"] == "pii.email"
    assert intent["decision"] == "redact" and intent["model_used"] == "gpt-4o-mini"
    assert "status" not in intent  # the outcome is not known before the call goes out
    await log.close()
    assert list((tmp_path / "wal").glob("*/*.wal"))  # only the open segment is left
    assert log.spool_bytes == 0


async def test_a_restart_closes_calls_that_never_ended(tmp_path: Path) -> None:
    store = MemoryStore()
    first = audit_log(store, tmp_path)
    await first.start()
    await first.intent(record(1))
    first.submit(record(1))
    await first.intent(record(2))  # the process is killed while req_2 is upstream
    assert first.wal is not None
    first.wal.close()  # kill -9: nothing shipped, nothing closed, the lock released

    second = audit_log(store, tmp_path)
    await second.start()
    assert second.closed_after_crash == 1
    assert store.records["req_1"]["status"] == "completed"
    closed = store.records["req_2"]
    assert closed["status"] == "unknown_after_crash"
    assert (closed["user"], closed["app"], closed["decision"]) == ("ana", "helpdesk", "redact")
    assert closed["findings"][0]["data_class"] == "pii.email"
    assert_chain_intact(store.events)
    kinds = [(e.kind, e.request_id) for e in store.events]
    assert kinds.count(("completion", "req_2")) == 1  # exactly one ending
    await second.close()

    third = audit_log(store, tmp_path)
    await third.start()  # nothing left to close: no second ending for req_2
    assert third.closed_after_crash == 0
    await third.close()
    assert [(e.kind, e.request_id) for e in store.events].count(("completion", "req_2")) == 1


async def test_the_log_spools_while_the_store_is_down(tmp_path: Path) -> None:
    store = MemoryStore()
    log = audit_log(store, tmp_path, max_spool_bytes=1 << 16)
    await log.start()
    store.down = True
    n = 0
    while log.healthy:
        await log.intent(record(n))
        log.submit(record(n))
        n += 1
    assert n > 10 and log.spool_bytes >= 1 << 16
    with pytest.raises(StorageError):
        await log.flush()
    store.down = False
    await log.flush()  # the store is back: the spool drains, calls are accepted again
    assert log.healthy and len(store.records) == n
    assert_chain_intact(store.events)
    await log.close()


async def test_the_lag_grows_while_the_store_is_down_and_clears_once_shipped(
    tmp_path: Path,
) -> None:
    now = [1000.0]
    store = MemoryStore()
    log = audit_log(store, tmp_path, clock=lambda: now[0])
    await log.start()
    assert log.lag_s == 0.0  # nothing waiting
    store.down = True
    await log.intent(record(1))
    now[0] += 30.0
    assert log.lag_s == 30.0 and log.spool_bytes > 0
    with pytest.raises(StorageError):
        await log.flush()
    now[0] += 15.0
    assert log.lag_s == 45.0  # a failed ship does not reset it
    store.down = False
    await log.flush()
    assert log.lag_s == 0.0 and log.spool_bytes == 0
    await log.close()


async def test_a_failed_fsync_refuses_the_call_and_every_later_one(tmp_path: Path) -> None:
    def failing(fd: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    store = MemoryStore()
    log = audit_log(store, tmp_path, durability="fsync", fsync=failing)
    await log.start()
    with pytest.raises(ServiceUnavailable) as refused:
        await log.intent(record(1))
    assert refused.value.code == "audit_unavailable"
    assert not log.healthy
    with pytest.raises(ServiceUnavailable):
        await log.intent(record(2))
    await log.close()


async def test_fsync_durability_waits_for_the_fsync(tmp_path: Path) -> None:
    synced: list[int] = []
    store = MemoryStore()
    log = audit_log(store, tmp_path, durability="fsync", fsync=synced.append)
    await log.start()
    await log.intent(record(1))
    assert synced  # the intent was fsynced before intent() returned
    await log.close()


async def test_signed_checkpoints_name_the_chain_head(tmp_path: Path) -> None:
    ring = Keyring.generate()
    store = MemoryStore()
    checkpoints = tmp_path / "checkpoints.jsonl"
    log = audit_log(
        store,
        tmp_path,
        signer=Signer(ring.active("signing")),
        checkpoint_file=checkpoints,
        checkpoint_every=3,
    )
    await log.start()
    for n in range(4):
        log.submit(record(n))
    await log.close()
    lines = [c for _, c in read_checkpoints(checkpoints) if c is not None]
    assert lines and lines[-1].seq == 4 and lines[-1].hash == store.events[-1].hash
    keys = public_keys(ring)
    assert all(signature_valid(c, keys) for c in lines)
    assert not signature_valid(dataclasses.replace(lines[-1], seq=3), keys)  # forged
