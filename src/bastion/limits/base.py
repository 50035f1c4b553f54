"""The limits stage's interface: admit by principal, reserve after the decision, settle."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from bastion.model import Conversation, Principal, Usage


@dataclass(frozen=True, slots=True)
class Reservation:
    """What was held for one call; settled with real usage afterwards."""

    scopes: tuple[str, ...] = ()
    tokens: int = 0
    cost_usd: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class Limiter(Protocol):
    """Rate limits and budgets.

    ``admit`` runs right after identity and raises ``RateLimited`` to shed a flood
    before detection costs CPU; ``reserve`` raises ``RateLimited`` (code
    ``budget_exceeded`` or ``rate_limit_exceeded``) or ``ServiceUnavailable``
    (``limits_unavailable``); ``settle`` is called exactly once for every admitted
    call, whatever its ending.
    """

    async def admit(self, principal: Principal) -> None: ...

    async def reserve(
        self, principal: Principal, conversation: Conversation, model: str
    ) -> Reservation: ...

    async def settle(
        self, principal: Principal, reservation: Reservation, usage: Usage
    ) -> None: ...


class Unlimited:
    """The limiter used when no limits are configured."""

    async def admit(self, principal: Principal) -> None:
        return None

    async def reserve(
        self, principal: Principal, conversation: Conversation, model: str
    ) -> Reservation:
        return Reservation()

    async def settle(self, principal: Principal, reservation: Reservation, usage: Usage) -> None:
        return None
