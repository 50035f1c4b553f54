"""The counter store interface: atomic all-or-nothing holds over many counters.

A call's limits become a list of ``Hold``s, one per counter it must fit in. A store
takes them all or none (``take``), later replaces each hold's amount with what was
really used and releases leases (``settle``), and accepts settled amounts replayed
from the ledger (``restore``: at start-up, on a config reload, and by a shared store
whose counters were lost) into the counters it does not hold yet. Three kinds of
counter cover every limit:

* ``WINDOW`` — a sliding log (RELIABILITY.md R1): the hold fits iff the weight
  admitted in the preceding ``span_s`` seconds plus its own is ≤ ``limit``. Requests
  and tokens per minute, rolling budgets.
* ``LEASE`` — a concurrency slot that frees itself ``span_s`` seconds after it was
  taken unless released sooner, so a crashed process leaks none.
* ``TOTAL`` — a running sum for one calendar period (the period is part of the key);
  the counter may be forgotten ``span_s`` seconds after it was first used.

Stores are an extension point (DESIGN.md "counter stores"): ``memory`` for one
process, ``redis`` (``redis_store``) for every worker and replica, with one Lua
script per call and the server's clock, and local limits (``degrade``) while Redis
cannot be reached. Amounts are integers (requests,
tokens, picodollars) so every backend sums exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar, NamedTuple, Protocol


class HoldKind(Enum):
    WINDOW = "window"
    LEASE = "lease"
    TOTAL = "total"


class _HoldFields(NamedTuple):
    key: str
    kind: HoldKind
    limit: int
    amount: int
    span_s: float


class Hold(_HoldFields):
    """``amount`` of one counter, which must stay ≤ ``limit``.

    Holds and ``Granted`` are named tuples rather than frozen dataclasses: every call
    builds several, and a tuple costs half as much to build."""

    __slots__ = ()

    def __new__(cls, key: str, kind: HoldKind, limit: int, amount: int, span_s: float) -> Hold:
        if amount < 0 or limit < 0 or not span_s > 0:
            raise ValueError("a hold needs amount ≥ 0, limit ≥ 0 and a positive span")
        return tuple.__new__(cls, (key, kind, limit, amount, span_s))


class BudgetHold(Hold):
    """A hold on a budget (money or tokens per period or rolling window): a shared
    store that cannot reach its counters never guesses one locally (RELIABILITY.md:
    budgets fail closed)."""

    __slots__ = ()


class FallbackTicket:
    """The ticket of a call a shared store passed while its counters were unreachable:
    ``mode`` is ``local`` (checked against this process's share of each limit,
    ``limits.on_store_down: degrade``) or ``unlimited`` (``open``). The call record
    carries it (``request_facts.limits_degraded``)."""

    __slots__ = ()
    mode: ClassVar[str]

    def enforced(self, limit: int) -> int:
        """The limit the call was checked against in place of ``limit`` (the headers
        show it, so that it agrees with what is left)."""
        return limit


@dataclass(frozen=True, slots=True)
class Restored:
    """Settled weight replayed from the ledger: a window entry made at ``at`` (the
    window is ``span_s`` long), or part of a period total kept until ``at + span_s``
    (``at`` is now and ``span_s`` what is left of the period)."""

    key: str
    kind: HoldKind
    span_s: float
    amount: int
    at: float


class Granted(NamedTuple):
    """Every hold was taken. Per hold: what is left of its limit, and seconds until
    it resets (the oldest weight leaves the window / the period ends)."""

    ticket: object
    remaining: tuple[int, ...]
    reset_s: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Refused:
    """Nothing was taken: hold ``index`` did not fit. ``retry_after_s`` is when it
    could (``inf`` when its amount exceeds the limit or only the period end frees it)."""

    index: int
    used: int
    retry_after_s: float = math.inf


Settlement = tuple[object, Sequence[int | None]]
"""A ticket from ``Granted`` and, per hold, the amount it settles to."""


class CounterStore(Protocol):
    """Atomic multi-counter holds. ``take`` and ``settle`` may raise
    ``bastion.errors.StorageError`` when the backend is unreachable; the limiter then
    answers 503 ``limits_unavailable`` (fail closed)."""

    name: ClassVar[str]

    @property
    def reachable(self) -> bool:
        """False while the backend cannot be reached (``/readyz`` reports it)."""
        ...

    async def take(self, holds: Sequence[Hold], now: float) -> Granted | Refused:
        """Take every hold or none."""
        ...

    async def settle(self, settlements: Sequence[Settlement], now: float) -> None:
        """For every ``(ticket, amounts)``: replace each hold's amount (``None`` keeps
        it) and release its leases; several tickets (a call's admission and its
        reservation) settle together."""
        ...

    async def restore(self, entries: Sequence[Restored]) -> int:
        """Seed every counter the store does not hold yet with its settled weight from
        the ledger, all at once, with no limit check; answers how many it seeded.

        A counter the store holds already (it counted the calls itself, or another
        process seeded it first) is left as it is, each counter decided atomically, so
        processes restoring at the same time never add the ledger twice, and a counter
        added to running ones (a new budget, scope or window) starts from the spend of
        its period rather than from zero."""
        ...

    async def close(self) -> None:
        """Release connections (the counters stay where they are)."""
        ...
