"""The group-commit audit writer: batches, retries a failing store, bounds memory."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bastion.audit.writer import AuditWriter
from bastion.model import CallRecord, CallStatus


def _record(i: int) -> CallRecord:
    return CallRecord(
        f"req_{i}", 0.0, "chat.completions", None, "m", "m", "allow", CallStatus.COMPLETED, 200
    )


class FlakySink:
    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.batches: list[list[str]] = []

    async def insert_many(self, records: Sequence[CallRecord]) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("store down")
        self.batches.append([r.request_id for r in records])


async def test_records_are_committed_in_batches_in_order() -> None:
    sink = FlakySink()
    writer = AuditWriter(sink, flush_interval_s=0.01, max_batch=3)
    writer.start()
    for i in range(7):
        writer.submit(_record(i))
    await asyncio.sleep(0.1)
    await writer.close()
    assert [r for batch in sink.batches for r in batch] == [f"req_{i}" for i in range(7)]
    assert all(len(batch) <= 3 for batch in sink.batches)
    assert writer.written == 7 and writer.pending == 0


async def test_a_failing_store_keeps_records_until_it_recovers() -> None:
    sink = FlakySink(failures=2)
    writer = AuditWriter(sink, flush_interval_s=0.01)
    writer.start()
    writer.submit(_record(1))
    for _ in range(100):
        await asyncio.sleep(0.05)
        if sink.batches:
            break
    await writer.close()
    assert sink.batches == [["req_1"]]


async def test_unhealthy_when_full_and_bounded_beyond() -> None:
    writer = AuditWriter(FlakySink(), max_pending=2)
    writer.submit(_record(1))
    assert writer.healthy
    writer.submit(_record(2))
    assert not writer.healthy
    for i in range(3, 10):
        writer.submit(_record(i))
    assert writer.pending == 4 and writer.dropped == 5


async def test_close_flushes_what_is_queued() -> None:
    sink = FlakySink()
    writer = AuditWriter(sink, flush_interval_s=60)
    writer.start()
    writer.submit(_record(1))
    await writer.close()
    assert sink.batches == [["req_1"]]
