"""Group commit: items queue in memory and reach the store in batches.

The hot path only appends to a list; a background task commits every
``flush_interval_s`` (or sooner when a batch fills). A failing store keeps the items
queued and retries, logging once when it fails and once when it recovers. Used for
call records (``audit.AuditWriter``) and settled spend (``limits.ledger``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

from bastion.background import stop

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)


class BatchSink(Protocol[T_contra]):
    """Where committed items go: one transaction per call."""

    async def insert_many(self, items: Sequence[T_contra], /) -> None: ...


class GroupCommit(Generic[T]):
    """Batches items into one ``insert_many`` per flush; ``what`` names them in logs."""

    def __init__(
        self,
        sink: BatchSink[T],
        *,
        flush_interval_s: float,
        max_batch: int,
        log: logging.Logger,
        what: str,
    ) -> None:
        self._sink = sink
        self._interval = flush_interval_s
        self._max_batch = max_batch
        self._log = log
        self._what = what
        self._pending: list[T] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self.written = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def submit(self, item: T) -> None:
        """Queue one item (never blocks, never raises)."""
        self._pending.append(item)
        if len(self._pending) >= self._max_batch:
            self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(
                self._run(), name=f"bastion-{self._what.replace(' ', '-')}"
            )

    async def flush(self) -> None:
        """Commit everything queued now (shutdown, tests)."""
        while self._pending:
            batch = self._pending[: self._max_batch]
            await self._sink.insert_many(batch)
            del self._pending[: len(batch)]
            self.written += len(batch)

    async def close(self) -> None:
        await stop(self._task)
        self._task = None
        try:
            await self.flush()
        except Exception:
            self._log.exception("%d %s could not be written at shutdown", self.pending, self._what)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                await self.flush()
                if self._failing:
                    self._log.warning("%s: the store is writable again", self._what)
                self._failing = False
            except Exception as exc:
                if not self._failing:
                    self._log.error(
                        "%s: store write failed (%s); %d queued",
                        self._what,
                        type(exc).__name__,
                        self.pending,
                    )
                self._failing = True
                await asyncio.sleep(min(1.0, self._interval * 10))
