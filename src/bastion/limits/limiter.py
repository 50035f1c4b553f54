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
from typing import Any

from bastion.errors import BudgetExceeded, RateLimited, ServiceUnavailable, StorageError
from bastion.limits.base import NOTHING_HELD, Reservation
from bastion.limits.estimate import output_tokens, prompt_tokens
from bastion.limits.periods import PeriodClock
from bastion.limits.pricing import Pricer
from bastion.limits.rules import LimitSpec, Measure, Rule, field_value
from bastion.limits.store import CounterStore, Granted, Hold, HoldKind, Refused, Settlement
from bastion.model import Conversation, Principal, Usage
from bastion.model.spend import PICO_USD, SpendEntry

log = logging.getLogger("bastion.limits")

_PLAN_CACHE = 4096


@dataclass(frozen=True, slots=True)
class _Planned:
    """One limit as it applies to one call: the spec, its counter key and scope text."""

    spec: LimitSpec
    key: str
    rule: str
    label: str


@dataclass(frozen=True, slots=True)
class _Plan:
    """The limits of one principal (and model), with what every call of it repeats."""

    items: tuple[_Planned, ...]
    scopes: tuple[str, ...]
    measures: tuple[Measure, ...]

    @classmethod
    def of(cls, items: tuple[_Planned, ...]) -> _Plan:
        scopes = tuple(dict.fromkeys(f"{p.rule}: {p.label}" for p in items))
        return cls(items, scopes, tuple(p.spec.measure for p in items))


@dataclass(frozen=True, slots=True)
class _Held:
    """What one ``take`` holds: the store's ticket and how each hold settles."""

    ticket: object
    measures: tuple[Measure, ...]
    prompt_tokens: int = 0


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

    async def admit(self, principal: Principal) -> Reservation:
        """Requests per minute and concurrency of principal-scoped rules."""
        plan = self._admit_plans.get(principal)
        if plan is None:
            plan = _Plan.of(self._plan(principal, None, admit=True))
            _remember(self._admit_plans, principal, plan)
        if not plan.items:
            return NOTHING_HELD
        holds = [Hold(p.key, p.spec.kind, p.spec.limit, 1, p.spec.span_s) for p in plan.items]
        return await self._take(plan, holds, NOTHING_HELD, model=None, prompt=0, tokens=0, cost=0)

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
                admitted.scopes, tokens, cost / PICO_USD, admitted.headers, model, admitted.held
            )
        now = self._now()
        holds = []
        for planned in plan.items:
            spec = planned.spec
            amount = _amount(spec.measure, tokens, cost)
            if spec.period is not None:
                period = self.clock.current(spec.period, now)
                holds.append(
                    Hold(
                        f"{planned.key}|{period.id}",
                        spec.kind,
                        spec.limit,
                        amount,
                        max(period.end - now, 1.0),
                    )
                )
            else:
                holds.append(Hold(planned.key, spec.kind, spec.limit, amount, spec.span_s))
        return await self._take(
            plan, holds, admitted, model=model, prompt=prompt, tokens=tokens, cost=cost, now=now
        )

    async def settle(
        self, principal: Principal, reservation: Reservation, usage: Usage
    ) -> float | None:
        """Settle every hold to ``usage``, release leases, record the spend; the call's
        cost in USD (None when the model has no price)."""
        model = reservation.model
        pricer = self._prices(model)[0] if model is not None else None
        reserved_prompt = max((h.prompt_tokens for h in _helds(reservation)), default=0)
        if usage.estimated and usage.prompt_tokens < reserved_prompt:
            # usage never arrived: the prompt was billed in full, so count our estimate
            usage = Usage(reserved_prompt, usage.completion_tokens, estimated=True)
        tokens = usage.total_tokens
        cost = pricer.cost(usage) if pricer is not None else 0
        now = self._now()
        settlements: list[Settlement] = [
            (
                held.ticket,
                [
                    None if m in (Measure.REQUESTS, Measure.LEASE) else _amount(m, tokens, cost)
                    for m in held.measures
                ],
            )
            for held in _helds(reservation)
        ]
        if settlements:
            try:
                await self.store.settle(settlements, now)
            except StorageError:  # logged once by the store; the ledger entry still counts
                log.debug("limits: the counter store is unreachable; a call was not settled")
            except Exception:  # a store outage must not lose the ledger entry below
                log.exception("limits: settling counters failed")
        if model is not None and tokens and self._record_spend is not None:
            self._record_spend(
                SpendEntry(
                    settled_at=now,
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
            for spec in specs:
                key = f"{scope_key}|{spec.measure.value}|{spec.kind.value}|{spec.span_s:g}"
                planned.append(_Planned(spec, key, rule.id, label))
        return tuple(planned)

    async def _take(
        self,
        plan: _Plan,
        holds: list[Hold],
        admitted: Reservation,
        *,
        model: str | None,
        prompt: int,
        tokens: int,
        cost: int,
        now: float | None = None,
    ) -> Reservation:
        now = self._now() if now is None else now
        try:
            result = await self.store.take(holds, now)
        except StorageError as exc:  # fail closed (limits.on_store_down: closed)
            raise ServiceUnavailable(
                "Rate limits and budgets cannot be checked right now; try again shortly.",
                code="limits_unavailable",
            ) from exc
        if isinstance(result, Refused):
            raise self._refusal(plan.items[result.index], holds[result.index], result, now)
        self._check_soft(plan.items, holds, result)
        headers = dict(admitted.headers)
        _limit_headers(headers, plan.items, holds, result)
        held = _Held(result.ticket, plan.measures, prompt)
        scopes = admitted.scopes + plan.scopes if admitted.scopes else plan.scopes
        return Reservation(
            scopes,
            tokens,
            cost / PICO_USD,
            headers,
            model,
            (*admitted.held, held),
        )

    def _check_soft(self, plan: tuple[_Planned, ...], holds: list[Hold], granted: Granted) -> None:
        for planned, hold, remaining in zip(plan, holds, granted.remaining, strict=True):
            soft = planned.spec.soft
            if soft is None or hold.key in self._alerted:
                continue
            if hold.limit - remaining >= soft * hold.limit:
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
            retry_s = 1 if math.isinf(retry) else max(1, math.ceil(retry))
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


def _helds(reservation: Reservation) -> list[_Held]:
    return [held for held in reservation.held if isinstance(held, _Held)]


def _amount(measure: Measure, tokens: int, cost: int) -> int:
    if measure is Measure.TOKENS:
        return tokens
    if measure is Measure.COST:
        return cost
    return 1


def _amount_text(spec: LimitSpec, amount: int) -> str:
    if spec.measure is Measure.COST:
        return f"USD {amount / PICO_USD:.6f}".rstrip("0").rstrip(".")
    return f"{amount} {spec.measure.value}"


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _PLAN_CACHE:
        cache.clear()
    cache[key] = value


def _limit_headers(
    headers: dict[str, str], plan: tuple[_Planned, ...], holds: list[Hold], granted: Granted
) -> None:
    """OpenAI's x-ratelimit-* for the most constraining request and token windows, and
    the tightest USD budget (CONTRACT.md §6); keeps the tighter of admit's and ours."""
    for planned, hold, remaining, reset in zip(
        plan, holds, granted.remaining, granted.reset_s, strict=True
    ):
        spec = planned.spec
        if spec.kind is HoldKind.WINDOW and not spec.budget:
            suffix = "requests" if spec.measure is Measure.REQUESTS else "tokens"
            current = headers.get(f"x-ratelimit-remaining-{suffix}")
            if current is None or remaining < int(current):
                headers[f"x-ratelimit-limit-{suffix}"] = str(hold.limit)
                headers[f"x-ratelimit-remaining-{suffix}"] = str(max(remaining, 0))
                headers[f"x-ratelimit-reset-{suffix}"] = _duration(reset)
        elif spec.measure is Measure.COST:
            left = max(remaining, 0) / PICO_USD
            current = headers.get("x-bastion-budget-remaining-usd")
            if current is None or left < float(current):
                headers["x-bastion-budget-remaining-usd"] = f"{left:.6f}"
                window = spec.period or f"rolling_{spec.span_s:g}s"
                headers["x-bastion-budget-scope"] = f"{planned.rule}; {planned.label}; {window}"


def _duration(seconds: float) -> str:
    """OpenAI's reset format: ``20ms``, ``1.5s``, ``6m0s``."""
    if seconds < 1:
        return f"{max(round(seconds * 1000), 0)}ms"
    if seconds < 60:
        return f"{seconds:.3g}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest}s"
