"""The limits stage's interface: admit by principal, reserve after the decision, settle."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from bastion.limits.pricing import Pricer
from bastion.model import Conversation, Principal, Usage
from bastion.model.spend import PICO_USD


@dataclass(frozen=True, slots=True)
class Reservation:
    """What was held for one call; settled with real usage afterwards.

    ``held`` is the limiter's own record of what it took (opaque to the gateway): the
    admission's concurrency leases travel inside it until ``settle`` releases them.
    """

    scopes: tuple[str, ...] = ()
    tokens: int = 0
    cost_usd: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    model: str | None = None
    held: tuple[object, ...] = ()


NOTHING_HELD = Reservation()


class Limiter(Protocol):
    """Rate limits and budgets.

    ``admit`` runs right after identity and raises ``RateLimited`` to shed a flood
    before detection costs CPU; it returns what it holds (concurrency leases), which
    the gateway passes to ``reserve`` and, whatever happens, to ``settle``.
    ``reserve`` raises ``RateLimited`` (``rate_limit_exceeded``), ``BudgetExceeded``
    (``budget_exceeded``) or ``ServiceUnavailable`` (``limits_unavailable``) and
    returns a reservation that includes the admission's holds; ``settle`` is called
    exactly once for every admitted call, whatever its ending, with the latest
    reservation.
    """

    async def admit(self, principal: Principal) -> Reservation: ...

    async def reserve(
        self,
        principal: Principal,
        conversation: Conversation,
        model: str,
        admitted: Reservation = NOTHING_HELD,
    ) -> Reservation: ...

    async def settle(
        self, principal: Principal, reservation: Reservation, usage: Usage
    ) -> float | None:
        """Settle the call to ``usage``; its cost in USD (None when no price is known)."""
        ...


class Unlimited:
    """The limiter used when no limits are configured: it holds nothing, and prices the
    calls of models with a known price so call records still carry their cost."""

    def __init__(self, prices: Mapping[str, Pricer] | None = None) -> None:
        self._prices = dict(prices or {})

    async def admit(self, principal: Principal) -> Reservation:
        return NOTHING_HELD

    async def reserve(
        self,
        principal: Principal,
        conversation: Conversation,
        model: str,
        admitted: Reservation = NOTHING_HELD,
    ) -> Reservation:
        return Reservation(model=model) if model in self._prices else NOTHING_HELD

    async def settle(
        self, principal: Principal, reservation: Reservation, usage: Usage
    ) -> float | None:
        pricer = self._prices.get(reservation.model) if reservation.model else None
        return pricer.cost(usage) / PICO_USD if pricer is not None else None
