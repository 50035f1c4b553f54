"""Retained content on its way to the store, and its purge after the retention window.

``ContentWriter`` batches sealed content into the store off the hot path (group
commit), bounded: content is secondary evidence, so while the store is down it is
queued up to ``max_pending`` items and then dropped and counted, never refusing calls
(the chained metadata has its own durable log). ``ContentPurger`` deletes content past
``audit.content.retention_days`` every ``purge_interval_s`` in the gateway (and on
demand from ``bastion audit purge``); content under a legal hold is kept. Each purge
that deleted something is recorded on the admin chain, and the SQLite write-ahead file
is emptied so deleted text does not linger in old page images.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

from bastion.audit.admin_events import AdminAction, AdminChainStore, record_admin_action
from bastion.audit.checkpoints import Signer
from bastion.background import stop
from bastion.storage.audit_content import AuditContentRepository, Purge, StoredContent
from bastion.storage.database import Database
from bastion.storage.group_commit import BatchSink, GroupCommit

log = logging.getLogger("bastion.audit")
_DAY_S = 86400.0


class ContentWriter(GroupCommit[StoredContent]):
    """Batches sealed content into one transaction per flush; bounded."""

    def __init__(
        self,
        sink: BatchSink[StoredContent],
        *,
        flush_interval_s: float = 0.2,
        max_batch: int = 256,
        max_pending: int = 10_000,
    ) -> None:
        super().__init__(
            sink, flush_interval_s=flush_interval_s, max_batch=max_batch, log=log, what="content"
        )
        self._max_pending = max_pending
        self.dropped = 0

    async def close(self) -> None:
        """Stop and write what is queued; a failure is logged by type only (the error of a
        failed insert may quote the content, which must not reach the log)."""
        await stop(self._task)
        self._task = None
        try:
            await self.flush()
        except Exception as exc:
            log.error(
                "audit content: %d calls' content not written at shutdown (%s)",
                self.pending,
                type(exc).__name__,
            )

    def submit(self, item: StoredContent) -> None:
        """Queue one call's content (never blocks, never raises); drop it when full."""
        if self.pending >= self._max_pending:
            if not self.dropped:
                log.error("audit content: queue full (store down?); dropping retained content")
            self.dropped += 1
            return
        super().submit(item)


class ContentPurger:
    """Deletes retained content older than the retention window, except under hold."""

    def __init__(
        self,
        store: AuditContentRepository,
        database: Database,
        *,
        retention_days: float,
        interval_s: float = 3600.0,
        admin_chain: AdminChainStore | None = None,
        signer: Signer | None = None,
        checkpoint_file: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._database = database
        self.retention_s = retention_days * _DAY_S
        self._interval = interval_s
        self._admin_chain = admin_chain
        self._signer = signer
        self._checkpoint_file = checkpoint_file
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def cutoff(self, older_than_s: float | None = None) -> float:
        """Content created before this moment (epoch seconds) is expired."""
        return self._clock() - (self.retention_s if older_than_s is None else older_than_s)

    async def purge(
        self,
        *,
        older_than_s: float | None = None,
        actor: str = "bastion",
        role: str = "system",
    ) -> Purge:
        """Delete expired content now (``older_than_s`` overrides the window)."""
        cutoff = self.cutoff(older_than_s)
        result = await self._store.purge(cutoff)
        if result.deleted:
            if not await self._database.scrub():
                log.warning(
                    "audit content: the database's write-ahead file is busy; "
                    "deleted pages are cleared at its next checkpoint"
                )
            if self._admin_chain is not None:
                action = AdminAction(
                    "content.purge",
                    actor,
                    role,
                    "content",
                    {"deleted": result.deleted, "held": result.held, "cutoff": round(cutoff, 3)},
                )
                await record_admin_action(
                    self._admin_chain,
                    action,
                    self._clock(),
                    signer=self._signer,
                    checkpoint_file=self._checkpoint_file,
                )
        return result

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="bastion-content-purge")

    async def close(self) -> None:
        await stop(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            try:
                result = await self.purge()
                if result.deleted or result.held:
                    log.info(
                        "audit content: purged %d calls' content; %d kept under legal hold",
                        result.deleted,
                        result.held,
                    )
            except Exception as exc:  # the store may be down: try again next round
                log.error("audit content: purge failed (%s)", type(exc).__name__)
            await asyncio.sleep(self._interval)
