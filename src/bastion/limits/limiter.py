"""The limiter: admit, reserve and settle a call against every rule that applies.

``admit`` takes request-rate and concurrency holds for rules built from principal
fields; ``reserve`` takes, in one atomic ``take``, everything else: requests and
concurrency of model- or user-scoped rules, tokens per minute and budgets, at the
call's worst case (estimated prompt + its output bound, priced for the routed model).
``settle`` replaces each reserved amount by what was used, releases the leases and
hands the spend to the ledger. Refusals name the rule and scope, never request text.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from bastion.errors import BudgetExceeded, RateLimited, ServiceUnavailable, StorageError
from bastion.limits.base import NOTHING_HELD, RateHeaders, Reservation
from bastion.limits.estimate import output_tokens, prompt_tokens
from bastion.limits.memory import MemoryCounterStore
from bastion.limits.periods import PeriodClock, PeriodKind
from bastion.limits.pricing import Pricer
from bastion.limits.rules import LimitSpec, Measure, Rule, field_value
from bastion.limits.store import (
    BudgetHold,
    CounterStore,
    FallbackTicket,
    Granted,
    Hold,
    HoldKind,
    Refused,
    Settlement,
)
from bastion.model import Conversation, Principal, Usage
from bastion.model.spend import PICO_USD, SpendEntry

log = logging.getLogger("bastion.limits")

_PLAN_CACHE = 4096


_Step = tuple[Hold | None, str, HoldKind, int, float, bool, PeriodKind | None, type[Hold]]
"""How a reservation builds one hold: the hold itself when its amount is fixed, else
its key, kind, limit and span, whether it counts tokens (else USD), its period, and
its class (``BudgetHold`` for a budget)."""

# which rate header a limit may set
_NO_HEADER, _REQUESTS_HEADER, _TOKENS_HEADER, _BUDGET_HEADER = range(4)


@dataclass(frozen=True, slots=True)
class _Planned:
    """One limit as it applies to one call: the spec, its counter key and scope text."""

    spec: LimitSpec
    key: str
    rule: str
    label: str


@dataclass(frozen=True, slots=True)
class _Plan:
    """The limits of one principal (and model), with what every call of it repeats:
    the holds whose amount never changes (a request, a lease), how to build the others,
    and which limits feed a header, alert at a soft threshold or settle to usage."""

    items: tuple[_Planned, ...]
    scopes: tuple[str, ...]
    measures: tuple[Measure, ...]
    constant: tuple[Hold, ...]  # the holds whose amount is fixed: all of an admission's
    steps: tuple[_Step, ...]
    header_items: tuple[tuple[int, int, int, str], ...]  # index, header, limit, scope
    soft_items: tuple[tuple[int, _Planned], ...]  # limits with a soft threshold
    settles: bool  # any limit settled to usage (tokens, USD); else all are kept
    kept: tuple[None, ...]  # settles to this when nothing settles to usage

    @classmethod
    def of(cls, items: tuple[_Planned, ...]) -> _Plan:
        scopes = tuple(dict.fromkeys(f"{p.rule}: {p.label}" for p in items))
        fixed = tuple(
            Hold(p.key, p.spec.kind, p.spec.limit, 1, p.spec.span_s)
            if p.spec.measure in (Measure.REQUESTS, Measure.LEASE) and p.spec.period is None
            else None
            for p in items
        )
        return cls(
            items,
            scopes,
            tuple(p.spec.measure for p in items),
            tuple(hold for hold in fixed if hold is not None),
            tuple(_step(p, hold) for p, hold in zip(items, fixed, strict=True)),
            tuple(
                (index, _header_of(p.spec), p.spec.limit, _budget_scope(p))
                for index, p in enumerate(items)
                if _header_of(p.spec) != _NO_HEADER
            ),
            tuple((index, p) for index, p in enumerate(items) if p.spec.soft is not None),
            any(p.spec.measure in (Measure.TOKENS, Measure.COST) for p in items),
            (None,) * len(items),
        )


def _step(planned: _Planned, fixed: Hold | None) -> _Step:
    spec = planned.spec
    by_tokens = spec.measure is Measure.TOKENS
    make = BudgetHold if spec.budget else Hold
    return (fixed, planned.key, spec.kind, spec.limit, spec.span_s, by_tokens, spec.period, make)


def _budget_scope(planned: _Planned) -> str:
    window = planned.spec.period or f"rolling_{planned.spec.span_s:g}s"
    return f"{planned.rule}; {planned.label}; {window}"


def _header_of(spec: LimitSpec) -> int:
    if spec.kind is HoldKind.WINDOW and not spec.budget:
        return _REQUESTS_HEADER if spec.measure is Measure.REQUESTS else _TOKENS_HEADER
    return _BUDGET_HEADER if spec.measure is Measure.COST else _NO_HEADER


class _Held(NamedTuple):
    """What one ``take`` holds: the store's ticket and the plan it followed, when it was
    taken and when the first calendar period it counts in ends (``inf``: none)."""

    ticket: object
    plan: _Plan
    prompt_tokens: int
    taken_at: float = 0.0
    period_end: float = math.inf

    def amounts(self, tokens: int, cost: int) -> Sequence[int | None]:
        """Per hold, what it settles to: usage for tokens and USD, None keeps it."""
        if not self.plan.settles:
            return self.plan.kept
        return [
            tokens if m is Measure.TOKENS else cost if m is Measure.COST else None
            for m in self.plan.measures
        ]


class ScopedLimiter:
    """Rules over a counter store; one per process, built from ``limits``."""

    def __init__(
        self,
        rules: Sequence[Rule],
        store: CounterStore,
        prices: Callable[[str], tuple[Pricer, int]],
        clock: PeriodClock,
        *,
        record_spend: Callable[[SpendEntry], None] | None = None,
        on_soft_limit: Callable[[str, str], None] | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.rules = tuple(rules)
        self.store = store
        self._prices = prices
        self.clock = clock
        self._record_spend = record_spend
        self._on_soft_limit = on_soft_limit
        self._now = now
        self._admit_plans: dict[Principal, _Plan] = {}
        self._reserve_plans: dict[tuple[Principal, str], _Plan] = {}
        self._alerted: set[str] = set()
        # counters in this process are taken without a coroutine: nothing awaits inside
        self._local = store if isinstance(store, MemoryCounterStore) else None

    async def admit(self, principal: Principal) -> Reservation:
        """Requests per minute and concurrency of principal-scoped rules."""
        plan = self._admit_plans.get(principal)
        if plan is None:
            plan = _Plan.of(self._plan(principal, None, admit=True))
            assert len(plan.constant) == len(plan.items)  # requests and leases only
            _remember(self._admit_plans, principal, plan)
        if not plan.items:
            return NOTHING_HELD
        holds = plan.constant
        now = self._now()
        if self._local is not None:
            result = self._local.take_now(holds, now)
        else:
            result = await self._take(holds, now)
        return self._granted(plan, holds, result, NOTHING_HELD, None, 0, 0, 0, now)

    async def reserve(
        self,
        principal: Principal,
        conversation: Conversation,
        model: str,
        admitted: Reservation = NOTHING_HELD,
    ) -> Reservation:
        """Hold the call's worst case in every scope at once, or refuse it."""
        plan = self._reserve_plans.get((principal, model))
        if plan is None:
            plan = _Plan.of(self._plan(principal, model, admit=False))
            _remember(self._reserve_plans, (principal, model), plan)
        pricer, cap = self._prices(model)
        prompt = prompt_tokens(conversation)
        tokens = prompt + output_tokens(conversation, cap)
        cost = pricer.worst_case(prompt, tokens - prompt)
        if not plan.items:
            return Reservation(
                admitted.scopes,
                tokens,
                cost / PICO_USD,
                model,
                admitted.held,
                admitted.rates,
                admitted.degraded,
            )
        now = self._now()
        holds = []
        period_end = math.inf
        for fixed, key, kind, limit, span_s, by_tokens, period_kind, make in plan.steps:
            if fixed is not None:
                holds.append(fixed)
            elif period_kind is None:
                holds.append(make(key, kind, limit, tokens if by_tokens else cost, span_s))
            else:
                period = self.clock.current(period_kind, now)
                period_end = min(period_end, period.end)
                amount = tokens if by_tokens else cost
                span_s = max(period.end - now, 1.0)
                holds.append(make(f"{key}|{period.id}", kind, limit, amount, span_s))
        if self._local is not None:
            result = self._local.take_now(holds, now)
        else:
            result = await self._take(holds, now)
        return self._granted(
            plan, holds, result, admitted, model, prompt, tokens, cost, now, period_end
        )

    async def settle(
        self, principal: Principal, reservation: Reservation, usage: Usage
    ) -> float | None:
        """Settle every hold to ``usage``, release leases, record the spend; the call's
        cost in USD (None when the model has no price)."""
        model = reservation.model
        pricer = self._prices(model)[0] if model is not None else None
        helds = [held for held in reservation.held if isinstance(held, _Held)]
        if usage.estimated:
            reserved_prompt = max((held.prompt_tokens for held in helds), default=0)
            if usage.prompt_tokens < reserved_prompt:
                # usage never arrived: the prompt was billed in full, so count our estimate
                usage = Usage(reserved_prompt, usage.completion_tokens, estimated=True)
        tokens = usage.total_tokens
        cost = pricer.cost(usage) if pricer is not None else 0
        now = self._now()
        if helds:
            try:
                if self._local is not None:
                    for held in helds:
                        self._local.settle_now(held.ticket, held.amounts(tokens, cost))
                else:
                    settlements: list[Settlement] = [
                        (held.ticket, held.amounts(tokens, cost)) for held in helds
                    ]
                    await self.store.settle(settlements, now)
            except StorageError:  # logged once by the store; the ledger entry still counts
                log.debug("limits: the counter store is unreachable; a call was not settled")
            except Exception:  # a store outage must not lose the ledger entry below
                log.exception("limits: settling counters failed")
        if model is not None and tokens and self._record_spend is not None:
            self._record_spend(
                SpendEntry(
                    settled_at=_counted_at(helds, now),
                    key_id=principal.key_id,
                    user=principal.user,
                    app=principal.app,
                    team=principal.team,
                    environment=principal.environment,
                    model=model,
                    prompt_tokens=usage.prompt_tokens,
                    completion_tokens=usage.completion_tokens,
                    cost_pusd=cost,
                    estimated=usage.estimated,
                )
            )
        return cost / PICO_USD if pricer is not None else None

    def reconfigure(
        self,
        rules: Sequence[Rule],
        prices: Callable[[str], tuple[Pricer, int]],
        clock: PeriodClock,
    ) -> None:
        """Count the next calls under ``rules``, ``prices`` and ``clock`` (a config
        reload). Counters are keyed by rule id, scope and window, so a rule that keeps
        them carries on with its counts; calls under way settle as they were reserved."""
        self.rules = tuple(rules)
        self._prices = prices
        self.clock = clock
        self._admit_plans = {}
        self._reserve_plans = {}

    def staged(
        self,
        rules: Sequence[Rule],
        prices: Callable[[str], tuple[Pricer, int]],
        clock: PeriodClock,
    ) -> ScopedLimiter:
        """A limiter with other rules over the same counters and soft alerts, to rebuild
        a reload's new counters before ``reconfigure`` lets calls take them."""
        staged = ScopedLimiter(rules, self.store, prices, clock, now=self._now)
        staged._alerted = self._alerted
        return staged

    def plan_for(self, principal: Principal, model: str | None) -> tuple[_Planned, ...]:
        """Every limit that applies to a call (both phases), for rebuilds and reports."""
        return self._plan(principal, model, admit=True) + self._plan(principal, model, admit=False)

    def _plan(
        self, principal: Principal, model: str | None, *, admit: bool
    ) -> tuple[_Planned, ...]:
        planned = []
        for rule in self.rules:
            specs = rule.admit_specs if admit else rule.reserve_specs
            if not specs or not rule.applies(principal, model):
                continue
            label = rule.label(principal, model)
            scope_key = "|".join(
                [rule.id, *(f"{n}={field_value(principal, model, n)}" for n in rule.scope)]
            )
            keys: set[str] = set()
            for spec in specs:
                key = f"{scope_key}|{spec.measure.value}|{spec.kind.value}|{spec.span_s:g}"
                while key in keys:  # a rolling 60 s token budget beside tokens_per_minute
                    key += "|budget"
                keys.add(key)
                planned.append(_Planned(spec, key, rule.id, label))
        return tuple(planned)

    async def _take(self, holds: Sequence[Hold], now: float) -> Granted | Refused:
        try:
            return await self.store.take(holds, now)
        except StorageError as exc:  # fail closed (on_store_down: closed; degraded budgets)
            raise ServiceUnavailable(
                "Rate limits and budgets cannot be checked right now; try again shortly.",
                code="limits_unavailable",
            ) from exc

    def _granted(
        self,
        plan: _Plan,
        holds: Sequence[Hold],
        result: Granted | Refused,
        admitted: Reservation,
        model: str | None,
        prompt: int,
        tokens: int,
        cost: int,
        now: float,
        period_end: float = math.inf,
    ) -> Reservation:
        """The reservation after a take (raises its refusal)."""
        if isinstance(result, Refused):
            raise self._refusal(plan.items[result.index], holds[result.index], result, now)
        if plan.soft_items:
            self._check_soft(plan, holds, result)
        degraded = admitted.degraded
        fallback = None
        if self._local is None and isinstance(result.ticket, FallbackTicket):
            fallback = result.ticket  # the shared store was unreachable
            degraded = fallback.mode
        return Reservation(
            admitted.scopes + plan.scopes if admitted.scopes else plan.scopes,
            tokens,
            cost / PICO_USD,
            model,
            (*admitted.held, _Held(result.ticket, plan, prompt, now, period_end)),
            _tightest(admitted.rates, plan, result, fallback)
            if plan.header_items
            else admitted.rates,
            degraded,
        )

    def _check_soft(self, plan: _Plan, holds: Sequence[Hold], granted: Granted) -> None:
        for index, planned in plan.soft_items:
            hold = holds[index]
            soft = planned.spec.soft
            assert soft is not None
            if hold.limit - granted.remaining[index] < soft * hold.limit:
                continue
            if hold.key not in self._alerted:
                self._alerted.add(hold.key)
                log.warning(
                    "limits: %s of %s (%s) reached %d%% of %s",
                    planned.rule,
                    planned.label,
                    planned.spec.what,
                    round(soft * 100),
                    _amount_text(planned.spec, hold.limit),
                )
                if self._on_soft_limit is not None:
                    self._on_soft_limit(planned.rule, planned.spec.what)

    def mark_alerted(self, key: str) -> None:
        """A counter rebuilt above its soft threshold: it alerted before the restart."""
        self._alerted.add(key)

    def _refusal(self, planned: _Planned, hold: Hold, refused: Refused, now: float) -> RateLimited:
        spec = planned.spec
        scope = f"{planned.label} (limit `{planned.rule}`)"
        if spec.budget:
            left = max(hold.limit - refused.used, 0)
            if spec.period is not None:
                period = self.clock.current(spec.period, now)
                resets = f"it resets at {self.clock.reset_text(period)}"
            else:
                resets = f"spend leaves the window over the next {spec.span_s:g} s"
            return BudgetExceeded(
                f"Budget exhausted for {scope}: {_amount_text(spec, left)} left of "
                f"{_amount_text(spec, hold.limit)} {spec.window}, and this call may use up "
                f"to {_amount_text(spec, hold.amount)}; {resets}.",
                headers={"x-should-retry": "false"},
            )
        retry = refused.retry_after_s
        if spec.measure is Measure.LEASE:
            message = (
                f"Too many concurrent requests for {scope}: at most {spec.limit} at once. "
                "Try again when one finishes."
            )
            # a slot frees when a call ends, usually within seconds; when the oldest lease
            # would expire (up to lease_ttl_s) only bounds a crashed process's slot
            retry_s = 1
        elif math.isinf(retry):
            message = (
                f"This call may use {hold.amount} {spec.measure.value}, more than the "
                f"{spec.limit} {spec.what} allowed for {scope}; lower max_tokens."
            )
            retry_s = math.ceil(spec.span_s)
        else:
            retry_s = max(1, math.ceil(retry))
            message = (
                f"Rate limit reached for {scope}: {spec.limit} {spec.what}. "
                f"Try again in {retry_s}s."
            )
        return RateLimited(message, headers={"retry-after": str(retry_s)})


def _counted_at(helds: Sequence[_Held], now: float) -> float:
    """When the ledger says a call was spent: when it settled, unless a calendar period
    it was counted in has ended since; then when it was reserved, so the ledger (the
    budgets report, the rebuild after a restart) keeps it in the period whose counter
    held it rather than in the next one, whose counter never saw it."""
    for held in helds:
        if held.period_end <= now:
            return held.taken_at
    return now


def _amount_text(spec: LimitSpec, amount: int) -> str:
    if spec.measure is Measure.COST:
        return f"USD {amount / PICO_USD:.6f}".rstrip("0").rstrip(".")
    return f"{amount} {spec.measure.value}"


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _PLAN_CACHE:
        cache.clear()
    cache[key] = value


def _tightest(
    rates: RateHeaders, plan: _Plan, granted: Granted, fallback: FallbackTicket | None = None
) -> RateHeaders:
    """The most constraining request and token windows and the tightest USD budget
    (CONTRACT.md §6), of ``rates`` (the admission's) and this take's. A take on local
    limits (``fallback``: the shared store was down) shows the limit it was checked
    against, this process's share, which is what ``remaining`` counts down from."""
    requests, tokens, budget = rates
    changed = False
    for index, header, limit, scope in plan.header_items:
        remaining = granted.remaining[index]
        left = remaining if remaining > 0 else 0
        if fallback is not None:
            limit = fallback.enforced(limit)
        if header == _REQUESTS_HEADER:
            if requests is None or remaining < requests[1]:
                requests, changed = (limit, left, granted.reset_s[index]), True
        elif header == _TOKENS_HEADER:
            if tokens is None or remaining < tokens[1]:
                tokens, changed = (limit, left, granted.reset_s[index]), True
        elif budget is None or left < budget[0]:
            budget, changed = (left, scope), True
    return RateHeaders(requests, tokens, budget) if changed else rates
