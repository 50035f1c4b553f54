"""The in-process counter store: exact sliding logs, leases and period totals.

Everything happens synchronously between two awaits, so a ``take`` over many counters
is atomic on the event loop. Tickets hold direct references to the entries they
created, so settling needs no lookups. Counters nobody used for a while are swept.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Sequence
from typing import Any, ClassVar

from bastion.limits.store import Granted, Hold, HoldKind, Refused, Restored, Settlement

_SWEEP_EVERY = 4096  # takes between sweeps of idle counters
_WINDOW, _LEASE = HoldKind.WINDOW, HoldKind.LEASE


class _Log:
    """A sliding log: entries ``[at, weight, live]`` oldest first, and their sum."""

    __slots__ = ("entries", "span_s", "total")

    def __init__(self, span_s: float) -> None:
        self.entries: deque[list[float]] = deque()
        self.total = 0
        self.span_s = span_s

    def purge(self, now: float) -> None:
        cutoff = now - self.span_s
        entries = self.entries
        while entries and entries[0][0] <= cutoff:
            entry = entries.popleft()
            self.total -= int(entry[1])
            entry[2] = 0.0

    def retry_after(self, need: int, now: float) -> float:
        """Seconds until ``need`` weight has left the window."""
        freed = 0
        for at, weight, _live in self.entries:
            freed += int(weight)
            if freed >= need:
                return max(at + self.span_s - now, 0.0)
        return math.inf

    def reset_s(self, now: float) -> float:
        return self.entries[0][0] + self.span_s - now if self.entries else 0.0


class _Leases:
    __slots__ = ("expiry", "span_s")

    def __init__(self, span_s: float) -> None:
        self.expiry: dict[int, float] = {}
        self.span_s = span_s

    def purge(self, now: float) -> None:
        for lease, until in list(self.expiry.items()):
            if until <= now:
                del self.expiry[lease]


class _Total:
    __slots__ = ("expires_at", "used")

    def __init__(self, expires_at: float) -> None:
        self.used = 0
        self.expires_at = expires_at


_Handle = Sequence[Any]
"""What a ticket holds per counter: ``(log, entry)``, ``(lease set, lease id)`` or
``[total, amount]`` (a list: settling changes the amount)."""


def _undo(handles: list[_Handle]) -> None:
    """Give back what a refused take had already taken, newest first."""
    for handle in reversed(handles):
        state = handle[0]
        if type(state) is _Log:
            state.entries.pop()
            state.total -= int(handle[1][1])
        elif type(state) is _Leases:
            del state.expiry[handle[1]]
        else:
            state.used -= handle[1]


class MemoryCounterStore:
    """Counters of one process (``limits.store: memory``)."""

    name: ClassVar[str] = "memory"
    reachable: ClassVar[bool] = True  # in this process: always

    def __init__(self) -> None:
        self._logs: dict[str, _Log] = {}
        self._leases: dict[str, _Leases] = {}
        self._totals: dict[str, _Total] = {}
        self._lease_ids = itertools.count(1)
        self._takes = 0

    async def take(self, holds: Sequence[Hold], now: float) -> Granted | Refused:
        return self.take_now(holds, now)

    async def settle(self, settlements: Sequence[Settlement], now: float) -> None:
        for ticket, amounts in settlements:
            self.settle_now(ticket, amounts)

    async def restore(self, entries: Sequence[Restored]) -> int:
        # only counters not held yet: those held counted their calls themselves
        fresh: dict[str, bool] = {}
        for entry in sorted(entries, key=lambda e: e.at):  # a log is oldest first
            if entry.kind is HoldKind.WINDOW:
                if fresh.setdefault(entry.key, entry.key not in self._logs):
                    log = self._log(entry.key, entry.span_s)
                    log.entries.append([entry.at, float(entry.amount), 1.0])
                    log.total += entry.amount
            elif entry.kind is HoldKind.TOTAL and fresh.setdefault(
                entry.key, entry.key not in self._totals
            ):
                self._total(entry.key, entry.at + entry.span_s).used += entry.amount
        return sum(fresh.values())

    async def close(self) -> None:
        return None

    def take_now(self, holds: Sequence[Hold], now: float) -> Granted | Refused:
        """``take`` without the coroutine (the limiter calls it directly)."""
        self._takes += 1
        if self._takes % _SWEEP_EVERY == 0:
            self.sweep(now)
        # each hold is taken as it is checked; a refusal undoes the ones before it, all
        # without an await, so no other call ever sees a partial take
        handles: list[_Handle] = []
        remaining: list[int] = []
        resets: list[float] = []
        for index, (key, kind, limit, amount, span_s) in enumerate(holds):
            if kind is _WINDOW:
                log = self._logs.get(key)
                if log is None:
                    log = self._logs[key] = _Log(span_s)
                entries = log.entries
                if entries and entries[0][0] <= now - log.span_s:  # the oldest has left
                    log.purge(now)
                total = log.total + amount
                if total > limit:
                    _undo(handles)
                    retry = math.inf if amount > limit else log.retry_after(total - limit, now)
                    return Refused(index, log.total, retry)
                entry = [now, float(amount), 1.0]
                entries.append(entry)
                log.total = total
                handles.append((log, entry))
                remaining.append(limit - total)
                resets.append(entries[0][0] + log.span_s - now)
            elif kind is _LEASE:
                leases = self._leases.get(key)
                if leases is None:
                    leases = self._leases[key] = _Leases(span_s)
                expiry = leases.expiry
                if len(expiry) >= limit:
                    leases.purge(now)
                    if len(expiry) >= limit:
                        _undo(handles)
                        soonest = min(expiry.values(), default=now)
                        return Refused(index, len(expiry), max(soonest - now, 0.0))
                lease = next(self._lease_ids)
                expiry[lease] = now + span_s
                handles.append((leases, lease))
                remaining.append(limit - len(expiry))
                resets.append(0.0)
            else:
                counter = self._totals.get(key)
                if counter is None:
                    counter = self._totals[key] = _Total(now + span_s)
                used = counter.used + amount
                if used > limit:
                    _undo(handles)
                    return Refused(index, counter.used, math.inf)
                counter.used = used
                handles.append([counter, amount])
                remaining.append(limit - used)
                resets.append(max(counter.expires_at - now, 0.0))
        return Granted(tuple(handles), tuple(remaining), tuple(resets))

    def settle_now(self, ticket: object, amounts: Sequence[int | None]) -> None:
        """``settle`` without the coroutine."""
        assert isinstance(ticket, tuple)
        for handle, amount in zip(ticket, amounts, strict=True):
            state = handle[0]
            if type(state) is _Leases:
                state.expiry.pop(handle[1], None)
            elif amount is None:
                continue
            elif type(state) is _Log:
                entry = handle[1]
                if entry[2]:  # ignored once it left the window
                    state.total += amount - int(entry[1])
                    entry[1] = float(amount)
            else:
                state.used += amount - handle[1]
                handle[1] = amount

    def used(self, key: str, now: float) -> int:
        """What a counter holds now (0 when unknown)."""
        if key in self._logs:
            self._logs[key].purge(now)
            return self._logs[key].total
        if key in self._leases:
            self._leases[key].purge(now)
            return len(self._leases[key].expiry)
        total = self._totals.get(key)
        return total.used if total is not None else 0

    def sweep(self, now: float) -> None:
        """Forget counters that hold nothing any more."""
        for key, log in list(self._logs.items()):
            log.purge(now)
            if not log.entries:
                del self._logs[key]
        for key, leases in list(self._leases.items()):
            leases.purge(now)
            if not leases.expiry:
                del self._leases[key]
        for key, total in list(self._totals.items()):
            if total.expires_at <= now:
                del self._totals[key]

    def _log(self, key: str, span_s: float) -> _Log:
        log = self._logs.get(key)
        if log is None:
            log = self._logs[key] = _Log(span_s)
        return log

    def _lease_set(self, key: str, span_s: float) -> _Leases:
        leases = self._leases.get(key)
        if leases is None:
            leases = self._leases[key] = _Leases(span_s)
        return leases

    def _total(self, key: str, expires_at: float) -> _Total:
        total = self._totals.get(key)
        if total is None:
            total = self._totals[key] = _Total(expires_at)
        return total
