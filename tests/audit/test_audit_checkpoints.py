"""Signed checkpoints are written off the event loop: a slow disk under the checkpoint
file does not stall the calls in flight, and the checkpoint still lands."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from pathlib import Path

import pytest

from bastion.audit import checkpoints as checkpoint_module
from bastion.audit.checkpoints import Signer, read_checkpoints
from bastion.audit.log import AuditLog
from bastion.crypto.keyring import Keyring
from bastion.model import CallRecord, CallStatus, Principal
from bastion.storage import Database
from bastion.storage.audit_events import AuditEventRepository

RING = Keyring.generate()
PRINCIPAL = Principal(key_id="k1", name="app")
SLOW_FSYNC_S = 0.3


def record(n: int) -> CallRecord:
    return CallRecord(
        f"req_{n}", 1_700_000_000.0 + n, "chat.completions", PRINCIPAL, "gpt-4o", "gpt-4o",
        "allow", CallStatus.COMPLETED, 200,
    )  # fmt: skip


async def test_a_slow_checkpoint_fsync_does_not_stall_the_event_loop(
    sqlite_database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoints = tmp_path / "checkpoints.jsonl"
    log = AuditLog(
        AuditEventRepository(sqlite_database),
        tmp_path / "wal",
        signer=Signer(RING.active("signing")),
        checkpoint_file=checkpoints,
        checkpoint_every=2,
    )
    await log.start()
    try:
        await log.intent(record(1))
        log.submit(record(1))

        real_fsync = os.fsync

        def slow_fsync(fd: int) -> None:
            time.sleep(SLOW_FSYNC_S)  # a loaded disk
            real_fsync(fd)

        monkeypatch.setattr(checkpoint_module.os, "fsync", slow_fsync)
        ticks: list[float] = []

        async def heartbeat() -> None:
            while True:
                ticks.append(time.perf_counter())
                await asyncio.sleep(0.005)

        beating = asyncio.create_task(heartbeat())
        await asyncio.sleep(0.02)
        started = time.perf_counter()
        assert await log.tick()
        took = time.perf_counter() - started
        beating.cancel()
        assert took >= SLOW_FSYNC_S  # the tick waited for its checkpoint...
        during = [t for t in ticks if started <= t <= started + took]
        gaps = [b - a for a, b in itertools.pairwise(during)]
        assert len(during) >= 5 and max(gaps) < SLOW_FSYNC_S / 2  # ...the loop did not
        written = [cp for _, cp in read_checkpoints(checkpoints) if cp is not None]
        assert written and written[-1].seq == 2
    finally:
        monkeypatch.undo()
        await log.close()
