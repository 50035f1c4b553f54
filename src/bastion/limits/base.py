"""The limits stage's interface: admit by principal, reserve after the decision, settle."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple, Protocol

from bastion.limits.pricing import Pricer
from bastion.model import Conversation, Principal, Usage
from bastion.model.spend import PICO_USD

Window = tuple[int, int, float]
"""A rate window for the headers: its limit, what is left of it, seconds until reset."""


class RateHeaders(NamedTuple):
    """The most constraining request window, token window and USD budget of a call,
    kept as numbers and formatted only when the headers are read (CONTRACT.md §6)."""

    requests: Window | None = None
    tokens: Window | None = None
    budget: tuple[int, str] | None = None  # picodollars left, "rule; scope; window"

    def headers(self) -> dict[str, str]:
        """OpenAI's ``x-ratelimit-*`` and Bastion's budget headers."""
        found: dict[str, str] = {}
        for suffix, window in (("requests", self.requests), ("tokens", self.tokens)):
            if window is not None:
                limit, remaining, reset_s = window
                found[f"x-ratelimit-limit-{suffix}"] = str(limit)
                found[f"x-ratelimit-remaining-{suffix}"] = str(remaining)
                found[f"x-ratelimit-reset-{suffix}"] = duration_text(reset_s)
        if self.budget is not None:
            left, scope = self.budget
            found["x-bastion-budget-remaining-usd"] = f"{left / PICO_USD:.6f}"
            found["x-bastion-budget-scope"] = scope
        return found


NO_RATE_HEADERS = RateHeaders()


def duration_text(seconds: float) -> str:
    """OpenAI's reset format: ``20ms``, ``1.5s``, ``6m0s``."""
    if seconds < 0.9995:  # 0.9996 would print as "1000ms"
        return f"{max(round(seconds * 1000), 0)}ms"
    if seconds < 59.95:  # 59.97 would print as "60s"
        return f"{seconds:.3g}s"
    minutes, rest = divmod(max(int(seconds), 60), 60)
    return f"{minutes}m{rest}s"


class Reservation(NamedTuple):
    """What was held for one call; settled with real usage afterwards.

    ``held`` is the limiter's own record of what it took (opaque to the gateway): the
    admission's concurrency leases travel inside it until ``settle`` releases them.
    ``rates`` are the numbers behind the rate-limit headers, formatted by ``headers``
    once, when the reply is built. ``degraded`` says how a call was let through while
    the shared counters were unreachable (``FallbackTicket.mode``), else None. A named
    tuple: two are built per call, at half the cost of a frozen dataclass.
    """

    scopes: tuple[str, ...] = ()
    tokens: int = 0
    cost_usd: float = 0.0
    model: str | None = None
    held: tuple[object, ...] = ()
    rates: RateHeaders = NO_RATE_HEADERS
    degraded: str | None = None  # "local" / "unlimited": the shared counters were down

    @property
    def headers(self) -> dict[str, str]:
        """The reply's ``x-ratelimit-*`` and budget headers."""
        return self.rates.headers() if self.rates is not NO_RATE_HEADERS else {}


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
