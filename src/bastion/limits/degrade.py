"""Local limits while the shared counters cannot be reached (``limits.on_store_down: degrade``).

RELIABILITY.md: with the rate-limit store down, every process enforces request and
token rates and concurrency in its own memory at its share of each limit,
``floor(limit / N)`` and at least 1, so N processes together never admit more than the
limit (for limits ≥ N; a smaller limit admits N). N is the larger of
``limits.replicas`` and the number of processes last seen in Redis (each registers
itself every few seconds, ``RedisCounterStore``); with neither known it is 1, and a
warning says so. Budgets (``BudgetHold``) are not guessed locally: such a call is
refused with 503 ``limits_unavailable``.

The local counters start empty at each outage and are dropped when Redis answers
again; a local ticket from an earlier outage settles to nothing. Spend still reaches
the ledger (the limiter records it whatever the counters do).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from bastion.errors import StorageError
from bastion.limits.memory import MemoryCounterStore
from bastion.limits.store import BudgetHold, FallbackTicket, Granted, Hold, Refused

log = logging.getLogger("bastion.limits")

ADMITTED, REFUSED, BUDGET_CLOSED = "admitted", "refused", "budget_closed"


@dataclass(slots=True)
class LocalTicket(FallbackTicket):
    """A take from the local counters of outage ``generation``, each limit divided
    among ``processes``."""

    mode: ClassVar[str] = "local"
    generation: int
    inner: object
    processes: int = 1

    def enforced(self, limit: int) -> int:
        return local_share(limit, self.processes)


def local_share(limit: int, processes: int) -> int:
    """One process's share of a limit: ``floor(limit / processes)``, at least 1 (0 stays 0)."""
    return max(limit // processes, min(limit, 1))


class LocalLimits:
    """Each limit divided by N, counted in this process while the shared store is down.

    ``on_decision(outcome)`` is told of every decision taken here: ``admitted``,
    ``refused`` (a local limit) or ``budget_closed`` (a budget; 503)."""

    def __init__(
        self,
        replicas: int | None = None,
        on_decision: Callable[[str], None] | None = None,
    ) -> None:
        self.replicas = replicas
        self.seen = 0  # processes last seen registered in Redis (0: never)
        self.decisions = 0
        self._on_decision = on_decision
        self._counters = MemoryCounterStore()
        self._generation = 0
        self._warned = False

    @property
    def processes(self) -> int:
        """N: the larger of ``limits.replicas`` and the last count seen, else 1."""
        return max(self.replicas or 1, self.seen, 1)

    def take(self, holds: Sequence[Hold], now: float) -> Granted | Refused:
        """Take this process's share of every hold, or none; StorageError for a budget."""
        self.decisions += 1
        if any(type(hold) is BudgetHold for hold in holds):
            self._decided(BUDGET_CLOSED)
            raise StorageError("budgets cannot be checked while their counters are down")
        processes = self.processes
        if processes == 1 and not self._warned:
            self._warned = True
            log.warning(
                "limits: local limits while Redis is down use N=1 (no limits.replicas and "
                "no process count seen in Redis): with several processes each admits the "
                "full limit; set limits.replicas"
            )
        if processes > 1:
            holds = [
                Hold(h.key, h.kind, local_share(h.limit, processes), h.amount, h.span_s)
                for h in holds
            ]
        result = self._counters.take_now(holds, now)
        if isinstance(result, Refused):
            self._decided(REFUSED)
            return result
        self._decided(ADMITTED)
        ticket = LocalTicket(self._generation, result.ticket, processes)
        return Granted(ticket, result.remaining, result.reset_s)

    def settle(self, ticket: LocalTicket, amounts: Sequence[int | None]) -> None:
        """Settle a local take (nothing when its outage's counters were dropped)."""
        if ticket.generation == self._generation:
            self._counters.settle_now(ticket.inner, amounts)

    def reset(self) -> None:
        """The shared store answers again: forget the local counters."""
        self._counters = MemoryCounterStore()
        self._generation += 1
        self._warned = False

    def _decided(self, outcome: str) -> None:
        if self._on_decision is not None:
            self._on_decision(outcome)
