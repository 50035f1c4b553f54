"""Change notifications: tell running components that keys, tokens, config or policy
changed in the store, so a key revoked from the CLI stops working within about a second.

``ChangeNotifier`` is the interface; ``PollingChangeNotifier`` implements it on the
store's change feed (works on SQLite and PostgreSQL alike). ``RedisChangeNotifier``
(``changes_redis``) adds pushed nudges over Redis pub/sub; subscribers do not change.

The poller also prunes the feed: at most once per ``prune_every_s`` (hourly) it deletes
one bounded batch of entries older than ``retain_s`` (7 days). A process that fell
further behind than that (its cursor entry was pruned) cannot know what it missed, so it
notifies every subscriber, each of which reloads its whole state, as a start does.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bastion.background import stop
from bastion.errors import StorageError
from bastion.storage.changes import CHANGE_RETENTION, PRUNE_BATCH, ChangeFeed

logger = logging.getLogger(__name__)

ChangeCallback = Callable[[], Awaitable[None] | None]


class ChangeNotifier(Protocol):
    """Calls subscribers when something of their kind changed.

    Contract: ``subscribe`` before ``start``; callbacks run on the event loop, once per
    detected batch of changes of their kind (several changes may coalesce into one
    call); an exception in one callback is logged and does not stop the others.
    ``close`` stops notifications and is safe to call twice.
    """

    def subscribe(self, kind: str, callback: ChangeCallback) -> None:
        """Call ``callback`` (sync or async, no arguments) when ``kind`` changes."""
        ...

    async def start(self) -> None:
        """Begin watching; changes made before this call are not reported."""
        ...

    async def close(self) -> None:
        """Stop watching."""
        ...


_CLOSE_TIMEOUT_S = 5.0
_PRUNE_EVERY_S = 3600.0


class PollingChangeNotifier:
    """Polls the ``changes`` table every ``interval_s`` seconds, and at once when nudged;
    prunes it in the background (see the module docstring)."""

    def __init__(
        self,
        feed: ChangeFeed,
        interval_s: float = 1.0,
        *,
        on_poll: Callable[[bool], None] | None = None,
        retain_s: float = CHANGE_RETENTION.total_seconds(),
        prune_every_s: float = _PRUNE_EVERY_S,
        prune_batch: int = PRUNE_BATCH,
    ) -> None:
        self._feed = feed
        self._interval_s = interval_s
        self._retain_s = retain_s
        self._prune_every_s = prune_every_s
        self._prune_batch = prune_batch
        self._prune_due = 0.0  # monotonic; the first background poll prunes
        # told after each background poll whether the store answered: the one check of
        # the store that runs whether or not calls come in (readiness follows it)
        self._on_poll = on_poll
        self._subscribers: defaultdict[str, list[ChangeCallback]] = defaultdict(list)
        # the newest entry read; None: unknown (the store failed at start)
        self._last_seq: int | None = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._wake = asyncio.Event()

    @property
    def interval_s(self) -> float:
        """Seconds between polls."""
        return self._interval_s

    def subscribe(self, kind: str, callback: ChangeCallback) -> None:
        """Call ``callback`` when ``kind`` changes."""
        self._subscribers[kind].append(callback)

    async def start(self) -> None:
        """Read the current position of the feed, then poll in the background."""
        if self._task is not None:
            return
        try:
            self._last_seq = await self._feed.latest()
        except StorageError as exc:
            # Start anyway: the first successful poll notifies every kind once, which
            # is harmless (caches are refilled).
            self._last_seq = None
            logger.warning("change feed unavailable at start: %s", type(exc).__name__)
        self._stopping = False
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="bastion-change-poller")

    def nudge(self) -> None:
        """Poll now instead of at the end of the interval (nudges while a poll runs
        bring one more poll; several nudges before it starts bring one)."""
        self._wake.set()

    async def close(self) -> None:
        """Stop polling; a poll under way finishes first (cancelling it mid-query would
        leave its database connection to be rolled back by a cancelled task)."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        done, _ = await asyncio.wait({task}, timeout=_CLOSE_TIMEOUT_S)
        if not done:
            await stop(task)

    async def poll_once(self) -> set[str]:
        """Read new changes and notify their subscribers; the kinds that changed
        (every subscribed kind when entries this process had not read were pruned)."""
        if self._last_seq is None:
            self._last_seq = await self._feed.latest()
            kinds = set(self._subscribers)
        else:
            cursor = self._last_seq
            changes = await self._feed.since(cursor)
            if not changes:
                return set()
            self._last_seq = changes[-1][0]
            kinds = {kind for _, kind in changes}
            if await self._missed_pruned(cursor, changes[0][0]):
                logger.warning(
                    "change feed entries after %d were pruned before this process read "
                    "them (no successful poll for %.0f s or more); reloading everything",
                    cursor,
                    self._retain_s,
                )
                kinds |= set(self._subscribers)
        for kind in sorted(kinds):
            for callback in self._subscribers.get(kind, ()):
                await _call_safely(kind, callback)
        return kinds

    async def _missed_pruned(self, cursor: int, first: int) -> bool:
        """Whether entries after ``cursor`` may have been pruned unread. Called after
        reading them: pruning deletes from the oldest entry on, so the entry at the
        cursor still being there means none after it had gone at that read."""
        if cursor == 0:
            # started on an empty feed: numbering begins at 1 (a number used up by a
            # rolled-back append only costs a needless reload)
            return first != 1
        return not await self._feed.has(cursor)

    async def prune_once(self) -> int:
        """Delete one batch of entries older than the retention window; how many."""
        before = datetime.now(UTC) - timedelta(seconds=self._retain_s)
        deleted = await self._feed.prune(before, limit=self._prune_batch)
        if deleted:
            logger.info("change feed: %d entries older than %s pruned", deleted, before)
        return deleted

    async def _prune_when_due(self) -> None:
        now = time.monotonic()
        if now < self._prune_due:
            return
        try:
            deleted = await self.prune_once()
        except StorageError as exc:
            logger.warning("change feed prune failed: %s", type(exc).__name__)
            deleted = 0
        # a full batch means more is waiting (a backlog): go on at the next poll
        self._prune_due = now if deleted >= self._prune_batch else now + self._prune_every_s

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval_s)
            self._wake.clear()
            if self._stopping:
                return
            try:
                await self.poll_once()
            except StorageError as exc:
                logger.warning("change feed poll failed: %s", type(exc).__name__)
                self._polled(ok=False)
            else:
                self._polled(ok=True)
                await self._prune_when_due()

    def _polled(self, *, ok: bool) -> None:
        if self._on_poll is not None:
            self._on_poll(ok)


async def _call_safely(kind: str, callback: ChangeCallback) -> None:
    try:
        result = callback()
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.exception("change subscriber for %r failed", kind)
