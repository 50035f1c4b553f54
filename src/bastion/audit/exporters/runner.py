"""The exporter loop: read committed audit records past a durable cursor, deliver them
to one sink, and move the cursor only once the sink acknowledged.

Each configured exporter runs as one background task per gateway process, off the hot
path: it reads the store, never the write-ahead log, and never writes the chain. Per
pass it takes (or renews) the exporter's lease in the store, so with several replicas
or workers one process delivers at a time; then, for each writer with events past its
cursor, it sends one batch of up to ``batch_size`` records in seq order and advances
the cursor (the lease is checked in the same transaction). While a sink or the store
fails, the batch is retried with exponential backoff and jitter capped at
``max_backoff_s``, forever: nothing is skipped, and memory holds one batch at most.
Delivery is at least once: a crash between the sink's acknowledgement and the cursor's
commit sends that batch again, with the same ``writer_id``/``seq`` in every record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bastion.audit.exporters.base import Sink, SinkError, build_sink
from bastion.audit.exporters.records import EVENT_KINDS, export_record
from bastion.background import stop
from bastion.config.exporters import AuditExporterConfig
from bastion.errors import StorageError
from bastion.model.chain import ChainedEvent
from bastion.storage.audit_exports import WriterBacklog

log = logging.getLogger("bastion.audit.export")

FIRST_BACKOFF_S = 0.5
CLOSE_WAIT_S = 5.0
"""How long ``close`` lets a delivery under way finish before cutting it short."""


class ExportStore(Protocol):
    """Leases, cursors and chain reads (``storage.audit_exports.AuditExportRepository``)."""

    async def acquire(self, name: str, owner: str, now: float, lease_s: float) -> bool: ...

    async def release(self, name: str, owner: str) -> None: ...

    async def backlog(self, name: str) -> list[WriterBacklog]: ...

    async def events(
        self, writer_id: str, after: int, through: int, kinds: Collection[str], limit: int
    ) -> list[ChainedEvent]: ...

    async def advance(
        self,
        name: str,
        owner: str,
        writer_id: str,
        seq: int,
        delivered: int,
        now: float,
        lease_s: float,
    ) -> bool: ...

    async def failed(self, name: str, owner: str, error: str, now: float) -> None: ...


def _ignore(*_: object) -> None:
    return None


@dataclass(frozen=True, slots=True)
class ExportMeters:
    """Where an exporter reports progress (metrics); every callback takes its name."""

    exported: Callable[[str, int], None] = field(default=_ignore)
    failed: Callable[[str], None] = field(default=_ignore)
    lag: Callable[[str, float], None] = field(default=_ignore)


def lease_owner() -> str:
    """This process's identity in exporter leases: host, pid and a random part."""
    return f"{socket.gethostname()[:80]}/{os.getpid()}/{secrets.token_hex(4)}"


def backoff_s(failures: int, cap_s: float, draw: Callable[[], float] = random.random) -> float:
    """Wait before retry number ``failures``: doubling from 0.5 s, capped, jittered to
    between half and all of the step."""
    step = min(cap_s, FIRST_BACKOFF_S * 2.0 ** min(failures - 1, 32))
    return step * (0.5 + 0.5 * draw())


class Exporter:
    """Delivers one exporter's records to its sink, from its cursor on."""

    def __init__(
        self,
        config: AuditExporterConfig,
        sink: Sink,
        store: ExportStore,
        *,
        owner: str | None = None,
        meters: ExportMeters | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.name = config.name
        self.sink = sink
        self._store = store
        self._owner = owner or lease_owner()
        self._meters = meters or ExportMeters()
        self._clock = clock
        self._kinds = frozenset(EVENT_KINDS[event] for event in config.events)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.failures = 0
        self.last_error: str | None = None

    async def run_once(self) -> bool:
        """One pass: a batch per writer that is behind. True when a cursor moved (more
        may be waiting); False when idle or when another process holds the lease.
        ``SinkError`` or ``StorageError`` leave the cursors where they were."""
        config = self.config
        if not await self._store.acquire(self.name, self._owner, self._clock(), config.lease_s):
            return False
        moved = False
        for writer in await self._store.backlog(self.name):
            if self._stopping.is_set():
                break
            events = await self._store.events(
                writer.writer_id, writer.cursor, writer.head, self._kinds, config.batch_size
            )
            # a short page means every event up to the head was seen (intents skipped)
            through = events[-1].seq if len(events) == config.batch_size else writer.head
            if events:
                records = [export_record(event) for event in events]
                self._meters.lag(self.name, max(0.0, self._clock() - records[0].at))
                await self.sink.send(records)
            advanced = await self._store.advance(
                self.name,
                self._owner,
                writer.writer_id,
                through,
                len(events),
                self._clock(),
                config.lease_s,
            )
            if not advanced:  # the lease went to another process meanwhile
                log.warning("audit exporter %s: lease lost; another process exports", self.name)
                return False
            if events:
                self._meters.exported(self.name, len(events))
            moved = True
        if not moved:
            self._meters.lag(self.name, 0.0)
        return moved

    def start(self) -> None:
        """Run in the background until ``close``."""
        self._task = asyncio.create_task(self._run(), name=f"bastion-audit-export-{self.name}")

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                moved = await self.run_once()
            except (SinkError, StorageError) as exc:
                await self._failed(str(exc))
                continue
            except Exception as exc:  # a bug or a record no sink can take: retry, loudly
                log.exception("audit exporter %s: unexpected failure", self.name)
                await self._failed(f"unexpected {type(exc).__name__}")
                continue
            if self.failures:
                log.info("audit exporter %s: delivering again", self.name)
            self.failures, self.last_error = 0, None
            if not moved:
                await self._pause(self.config.poll_interval_s)

    async def _failed(self, error: str) -> None:
        self.failures += 1
        self.last_error = error
        self._meters.failed(self.name)
        wait = backoff_s(self.failures, self.config.max_backoff_s)
        log.warning(
            "audit exporter %s: %s (failure %d; retrying in %.1f s)",
            self.name,
            error,
            self.failures,
            wait,
        )
        with contextlib.suppress(StorageError):
            await self._store.failed(self.name, self._owner, error, self._clock())
        await self._pause(wait)

    async def _pause(self, seconds: float) -> None:
        """Sleep, or return at once when ``close`` is called."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def close(self) -> None:
        """Stop the loop — a delivery under way may finish (up to ``CLOSE_WAIT_S``) so
        its cursor is committed; one cut short is sent again later — then close the
        sink and give the lease up."""
        self._stopping.set()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=CLOSE_WAIT_S)
            if not done:
                await stop(self._task)
            self._task = None
        await self.sink.close()
        with contextlib.suppress(StorageError):
            await self._store.release(self.name, self._owner)


def build_exporters(
    configs: Sequence[AuditExporterConfig],
    store: ExportStore,
    meters: ExportMeters | None = None,
) -> list[Exporter]:
    """One exporter per ``audit.exporters`` entry, sharing this process's lease owner."""
    owner = lease_owner()
    return [
        Exporter(config, build_sink(config), store, owner=owner, meters=meters)
        for config in configs
    ]
