"""The gateway's in-memory copy of the dynamic policy exceptions.

Per call, :meth:`ExceptionBook.for_call` hands the policy the exceptions that could
apply to the caller (approved ones whose scope matches) plus the one the request names
(``bastion.exception``) in whatever state it is, so the policy can say "expired" or
"revoked". That is a handful of dict lookups, no I/O.

The book reloads from the store when the change feed says ``exceptions`` changed (wire
it with :meth:`subscribe_to`) and every ``refresh_interval_s`` as a safety net; uses are
counted in memory and written back on the same beat and at close. It keeps named
history for ``history_s`` (default 30 days) after an exception expired or was decided.

Store unreachable: the last copy keeps serving for ``max_stale_s``; after that approved
exceptions stop applying (an exception loosens the policy, so without a fresh view of
revocations the gateway falls back to the stricter policy) until a reload succeeds —
also one a call names: it is handed over ``suspended``, known but waiving nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

from bastion.background import stop
from bastion.errors import StorageError
from bastion.identity.changes import ChangeNotifier
from bastion.model import Principal
from bastion.model.exceptions import SCOPE_FIELDS, ExceptionState, PolicyException
from bastion.storage.changes import ChangeKind
from bastion.storage.exceptions import StoredException

logger = logging.getLogger(__name__)

HISTORY_S = 30 * 86400.0


class ExceptionSource(Protocol):
    """What the book needs from the store (``ExceptionRepository`` provides it)."""

    async def list_current(self, since: datetime) -> list[StoredException]:
        """Exceptions expiring or changed after ``since``; StorageError when the store fails."""
        ...

    async def record_uses(self, counts: Mapping[str, int], at: datetime | None = None) -> int:
        """Add uses per exception id."""
        ...


_Index = dict[tuple[str, str], tuple[PolicyException, ...]]


class ExceptionBook:
    """Approved dynamic exceptions by scope, and recent ones by id (module docstring)."""

    def __init__(
        self,
        source: ExceptionSource,
        *,
        refresh_interval_s: float = 10.0,
        max_stale_s: float = 120.0,
        history_s: float = HISTORY_S,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._source = source
        self._refresh_interval_s = refresh_interval_s
        self._max_stale_s = max_stale_s
        self._history_s = history_s
        self._clock = clock
        self._wall_clock = wall_clock
        self._by_scope: _Index = {}
        self._by_id: dict[str, PolicyException] = {}
        self._uses: Counter[str] = Counter()
        self._loaded_at: float | None = None
        self._stale = False
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    # --- per call (hot path) -------------------------------------------------------

    def for_principal(self, principal: Principal) -> tuple[PolicyException, ...]:
        """Approved exceptions whose whole scope matches the caller (expiry is left to
        the policy's clock: one past ``expires_at`` is passed and does not apply)."""
        index = self._by_scope
        if not index:
            return ()
        found: tuple[PolicyException, ...] = ()
        for field in SCOPE_FIELDS:
            value = getattr(principal, field)
            if value is None:
                continue
            candidates = index.get((field, value))
            if candidates:
                found += tuple(e for e in candidates if e.in_scope(principal))
        return found

    def get(self, exception_id: str) -> PolicyException | None:
        """The exception with this id in any state, if it is approved or changed or
        expired within the history window; None otherwise."""
        return self._by_id.get(exception_id)

    def for_call(
        self, principal: Principal, exception_id: str | None
    ) -> tuple[PolicyException, ...]:
        """What to pass to the policy: ``for_principal`` plus the named exception."""
        found = self.for_principal(principal)
        if exception_id is None:
            return found
        named = self._by_id.get(exception_id)
        if named is None or any(e is named for e in found):
            return found
        if self._stale and named.state is ExceptionState.APPROVED:
            # it still exists and covers the caller, but waives nothing (module docstring)
            named = replace(named, suspended=True)
        return (*found, named)

    def note_use(self, exception_id: str) -> None:
        """Count one call an exception applied to (written back in the background)."""
        if exception_id in self._by_id:  # static exceptions are not in the store
            self._uses[exception_id] += 1

    # --- lifecycle -----------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        """Whether a load from the store has succeeded at least once."""
        return self._loaded_at is not None

    def subscribe_to(self, notifier: ChangeNotifier) -> None:
        """Reload whenever ``exceptions`` change (call before ``notifier.start()``)."""
        notifier.subscribe(ChangeKind.EXCEPTIONS.value, self._changed)

    async def start(self) -> None:
        """Load once (a failing store is logged, not raised) and start the background loop."""
        if self._task is not None:
            return
        await self.refresh()
        self._task = asyncio.create_task(self._run(), name="bastion-exception-book")

    async def close(self) -> None:
        """Stop the loop and write back the uses counted so far."""
        task, self._task = self._task, None
        await stop(task)
        await self.flush_uses()

    async def _changed(self) -> None:
        await self.refresh()

    async def refresh(self) -> bool:
        """Reload from the store; False (old copy kept) when the store fails."""
        async with self._lock:
            now = self._wall_clock()
            since = datetime.fromtimestamp(now - self._history_s, UTC)
            try:
                stored = await self._source.list_current(since)
            except StorageError as exc:
                logger.warning("exception reload failed: %s", type(exc).__name__)
                return False
            moment = datetime.fromtimestamp(now, UTC)
            by_id = {s.id: s.to_policy_exception(moment) for s in stored}
            self._by_id = by_id
            self._by_scope = _index(by_id.values(), now)
            self._loaded_at = self._clock()
            if self._stale:
                logger.info("exceptions reloaded; approved exceptions apply again")
                self._stale = False
            return True

    async def flush_uses(self) -> None:
        """Write the counted uses to the store; kept for the next try when it fails."""
        if not self._uses:
            return
        counts, self._uses = self._uses, Counter()
        try:
            await self._source.record_uses(dict(counts))
        except StorageError as exc:
            self._uses.update(counts)
            logger.warning("exception use count not written: %s", type(exc).__name__)

    async def tick(self) -> None:
        """One beat of the background loop: write back uses, reload, and stop applying
        approved exceptions once the copy is older than ``max_stale_s``."""
        await self.flush_uses()
        if not await self.refresh():
            self._drop_if_stale()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_interval_s)
            await self.tick()

    def _drop_if_stale(self) -> None:
        if self._loaded_at is None or self._stale:
            return
        if self._clock() - self._loaded_at > self._max_stale_s:
            self._stale = True
            self._by_scope = {}
            logger.error(
                "exception store unreachable for over %.0f s: approved exceptions no "
                "longer apply until it is back",
                self._max_stale_s,
            )


def _index(exceptions: Iterable[PolicyException], now: float) -> _Index:
    """Approved, unexpired exceptions under the first pair of their scope."""
    grouped: defaultdict[tuple[str, str], list[PolicyException]] = defaultdict(list)
    for exception in exceptions:
        if exception.state_at(now) is ExceptionState.APPROVED and exception.scope:
            grouped[exception.scope[0]].append(exception)
    return {pair: tuple(found) for pair, found in grouped.items()}
