"""Group-commit writer: call records queue in memory and reach the store in batches.

The gateway process uses ``audit.log.AuditLog`` (write-ahead log, hash chain); this
in-memory writer remains for tests and tools that need no durability.

The hot path only appends to a list; a background task commits every
``flush_interval_s`` (or sooner when a batch fills). A failing store keeps the records
queued and retries; once ``max_pending`` records wait, ``healthy`` turns false so the
gateway stops accepting new calls (RELIABILITY.md: audit store down → refuse when full).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol

from bastion.model import CallRecord

log = logging.getLogger("bastion.audit")


class RecordSink(Protocol):
    """Where committed records go (the call-record repository)."""

    async def insert_many(self, records: Sequence[CallRecord]) -> None: ...


class AuditWriter:
    """Batches call records into one transaction per flush."""

    def __init__(
        self,
        sink: RecordSink,
        *,
        flush_interval_s: float = 0.05,
        max_batch: int = 512,
        max_pending: int = 100_000,
    ) -> None:
        self._sink = sink
        self._interval = flush_interval_s
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._pending: list[CallRecord] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self.written = 0
        self.dropped = 0
        self.intents: list[str] = []

    @property
    def healthy(self) -> bool:
        """False when the queue is full: new calls must be refused."""
        return len(self._pending) < self._max_pending

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def intent(self, record: CallRecord) -> None:
        """Count the intent; this in-memory writer makes nothing durable (tests, tools)."""
        self.intents.append(record.request_id)

    def submit(self, record: CallRecord) -> None:
        """Queue one record (never blocks, never raises).

        Past ``max_pending`` only refusals are still arriving (new calls are refused);
        their records are kept up to twice that bound, then dropped and counted, so a
        flood during an outage cannot exhaust memory.
        """
        if len(self._pending) >= 2 * self._max_pending:
            if not self.dropped:
                log.error("audit: queue full; dropping records of refused calls")
            self.dropped += 1
            return
        self._pending.append(record)
        if len(self._pending) >= self._max_batch:
            self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="bastion-audit-writer")

    async def flush(self) -> None:
        """Commit everything queued now (used at shutdown and by tests)."""
        while self._pending:
            batch = self._pending[: self._max_batch]
            await self._sink.insert_many(batch)
            del self._pending[: len(batch)]
            self.written += len(batch)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.flush()
        except Exception:
            log.exception("audit: %d records could not be written at shutdown", self.pending)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                await self.flush()
                if self._failing:
                    log.warning("audit: store is writable again")
                self._failing = False
            except Exception as exc:
                if not self._failing:
                    log.error(
                        "audit: store write failed (%s); %d records queued",
                        type(exc).__name__,
                        self.pending,
                    )
                self._failing = True
                await asyncio.sleep(min(1.0, self._interval * 10))
