"""Group-commit writer of call records (``storage.group_commit``), with a bound.

The gateway process uses ``audit.log.AuditLog`` (write-ahead log, hash chain); this
in-memory writer remains for tests and tools that need no durability.

A failing store keeps the records queued; once ``max_pending`` records wait,
``healthy`` turns false so the gateway stops accepting new calls (RELIABILITY.md: audit
store down → refuse when full).
"""

from __future__ import annotations

import logging

from bastion.model import CallRecord
from bastion.storage.group_commit import BatchSink, GroupCommit

log = logging.getLogger("bastion.audit")


class AuditWriter(GroupCommit[CallRecord]):
    """Batches call records into one transaction per flush."""

    def __init__(
        self,
        sink: BatchSink[CallRecord],
        *,
        flush_interval_s: float = 0.05,
        max_batch: int = 512,
        max_pending: int = 100_000,
    ) -> None:
        super().__init__(
            sink, flush_interval_s=flush_interval_s, max_batch=max_batch, log=log, what="audit"
        )
        self._max_pending = max_pending
        self.dropped = 0
        self.intents: list[str] = []

    @property
    def healthy(self) -> bool:
        """False when the queue is full: new calls must be refused."""
        return self.pending < self._max_pending

    async def intent(self, record: CallRecord) -> None:
        """Count the intent; this in-memory writer makes nothing durable (tests, tools)."""
        self.intents.append(record.request_id)

    def submit(self, item: CallRecord) -> None:
        """Queue one record (never blocks, never raises).

        Past ``max_pending`` only refusals are still arriving (new calls are refused);
        their records are kept up to twice that bound, then dropped and counted, so a
        flood during an outage cannot exhaust memory.
        """
        if self.pending >= 2 * self._max_pending:
            if not self.dropped:
                log.error("audit: queue full; dropping records of refused calls")
            self.dropped += 1
            return
        super().submit(item)
