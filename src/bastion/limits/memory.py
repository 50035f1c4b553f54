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
from typing import ClassVar

from bastion.limits.store import Granted, Hold, HoldKind, Refused, Restored, Settlement

_SWEEP_EVERY = 4096  # takes between sweeps of idle counters


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

    async def restore(self, entries: Sequence[Restored]) -> bool:
        for entry in sorted(entries, key=lambda e: e.at):  # a log is oldest first
            if entry.kind is HoldKind.WINDOW:
                log = self._log(entry.key, entry.span_s)
                log.entries.append([entry.at, float(entry.amount), 1.0])
                log.total += entry.amount
            elif entry.kind is HoldKind.TOTAL:
                self._total(entry.key, entry.at + entry.span_s).used += entry.amount
        return True

    async def close(self) -> None:
        return None

    def take_now(self, holds: Sequence[Hold], now: float) -> Granted | Refused:
        """``take`` without the coroutine (the bench times both)."""
        self._takes += 1
        if self._takes % _SWEEP_EVERY == 0:
            self.sweep(now)
        states: list[object] = []
        for index, hold in enumerate(holds):
            kind = hold.kind
            if kind is HoldKind.WINDOW:
                log = self._log(hold.key, hold.span_s)
                log.purge(now)
                if log.total + hold.amount > hold.limit:
                    need = log.total + hold.amount - hold.limit
                    retry = math.inf if hold.amount > hold.limit else log.retry_after(need, now)
                    return Refused(index, log.total, retry)
                states.append(log)
            elif kind is HoldKind.LEASE:
                leases = self._lease_set(hold.key, hold.span_s)
                if len(leases.expiry) + 1 > hold.limit:
                    leases.purge(now)
                    if len(leases.expiry) + 1 > hold.limit:
                        soonest = min(leases.expiry.values(), default=now)
                        return Refused(index, len(leases.expiry), max(soonest - now, 0.0))
                states.append(leases)
            else:
                total = self._total(hold.key, now + hold.span_s)
                if total.used + hold.amount > hold.limit:
                    return Refused(index, total.used, math.inf)
                states.append(total)
        handles: list[object] = []
        remaining: list[int] = []
        resets: list[float] = []
        for hold, state in zip(holds, states, strict=True):
            if isinstance(state, _Log):
                entry = [now, float(hold.amount), 1.0]
                state.entries.append(entry)
                state.total += hold.amount
                handles.append((state, entry))
                remaining.append(hold.limit - state.total)
                resets.append(state.reset_s(now))
            elif isinstance(state, _Leases):
                lease = next(self._lease_ids)
                state.expiry[lease] = now + hold.span_s
                handles.append((state, lease))
                remaining.append(hold.limit - len(state.expiry))
                resets.append(0.0)
            else:
                assert isinstance(state, _Total)
                state.used += hold.amount
                handles.append([state, hold.amount])
                remaining.append(hold.limit - state.used)
                resets.append(max(state.expires_at - now, 0.0))
        return Granted(tuple(handles), tuple(remaining), tuple(resets))

    def settle_now(self, ticket: object, amounts: Sequence[int | None]) -> None:
        """``settle`` without the coroutine."""
        assert isinstance(ticket, tuple)
        for handle, amount in zip(ticket, amounts, strict=True):
            state = handle[0]
            if isinstance(state, _Log):
                entry = handle[1]
                if amount is not None and entry[2]:  # ignored once it left the window
                    state.total += amount - int(entry[1])
                    entry[1] = float(amount)
            elif isinstance(state, _Leases):
                state.expiry.pop(handle[1], None)
            elif amount is not None:
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
