"""Limit rules from the config: which calls a rule counts, under which scope, and how.

A rule's ``scope`` lists the fields whose values get their own counters (``[team,
environment]`` counts finance+prod apart from finance+dev); ``match`` narrows the
calls it applies to. A principal without a value for a scope field is counted under
``-`` with the others that lack it, never exempt.

Rules whose scope and match use only principal fields known at authentication run
their request and concurrency limits at admission; rules that name ``model`` or
``user`` (the end user of a ``trust_end_user`` key is known only after parsing) run
everything at reservation. Token and money limits always run at reservation.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bastion.config.schema import LimitRuleConfig
from bastion.limits.periods import PeriodKind
from bastion.limits.store import HoldKind
from bastion.model import Principal
from bastion.model.spend import PICO_USD

MINUTE_S = 60.0
_LATE_FIELDS = frozenset({"model", "user"})


class Measure(Enum):
    """What a hold counts, and so what it settles to."""

    REQUESTS = "requests"
    LEASE = "lease"
    TOKENS = "tokens"
    COST = "usd"


@dataclass(frozen=True, slots=True)
class LimitSpec:
    """One limit of one rule."""

    what: str  # "requests per minute", "USD per month", ... (messages)
    kind: HoldKind
    measure: Measure
    limit: int
    span_s: float = MINUTE_S  # window, lease TTL; for periods set per call
    period: PeriodKind | None = None
    soft: float | None = None
    budget: bool = False  # refused as budget_exceeded (no retry), not a rate limit

    @property
    def window(self) -> str:
        """A budget's window: ``per month``, ``per 3600 s``."""
        return self.what.split(" ", 1)[1]


@dataclass(frozen=True, slots=True)
class Rule:
    """A compiled rule: its id, scope fields, match and limits by phase."""

    id: str
    scope: tuple[str, ...]
    match: tuple[tuple[str, frozenset[str]], ...]
    admit_specs: tuple[LimitSpec, ...]
    reserve_specs: tuple[LimitSpec, ...]

    def applies(self, principal: Principal, model: str | None) -> bool:
        return all(field_value(principal, model, name) in values for name, values in self.match)

    def label(self, principal: Principal, model: str | None) -> str:
        """``team=finance, environment=prod`` (values from the key store, never text)."""
        if not self.scope:
            return "all callers"
        return ", ".join(f"{name}={field_value(principal, model, name)}" for name in self.scope)


def field_value(principal: Principal, model: str | None, name: str) -> str:
    """A scope field's value for a call; ``-`` when the principal has none."""
    if name == "key":
        value: str | None = principal.key_id
    elif name == "model":
        value = model
    else:
        value = getattr(principal, name)
    return _clean(value) if value else "-"


def _clean(value: str) -> str:
    """Keys and headers carry values: keep them printable, short and free of separators."""
    if value.isascii() and value.isprintable() and "|" not in value and len(value) <= 128:
        return value
    kept = "".join(c if c.isprintable() and c not in "|\r\n" else "?" for c in value)
    return kept[:128].encode("ascii", "replace").decode("ascii")


def compile_rule(config: LimitRuleConfig, lease_ttl_s: float) -> Rule:
    """The rule's limits, split by the phase that checks them."""
    late = bool(_LATE_FIELDS & (set(config.scope) | set(config.match)))
    early: list[LimitSpec] = []
    later: list[LimitSpec] = []
    if config.requests_per_minute:
        early.append(
            LimitSpec(
                "requests per minute",
                HoldKind.WINDOW,
                Measure.REQUESTS,
                config.requests_per_minute,
            )
        )
    if config.concurrent_requests:
        early.append(
            LimitSpec(
                "concurrent requests",
                HoldKind.LEASE,
                Measure.LEASE,
                config.concurrent_requests,
                lease_ttl_s,
            )
        )
    if config.tokens_per_minute:
        later.append(
            LimitSpec(
                "tokens per minute", HoldKind.WINDOW, Measure.TOKENS, config.tokens_per_minute
            )
        )
    for budget in config.budgets:
        if budget.period is not None:
            kind, span, window = HoldKind.TOTAL, 86400.0, f"per {budget.period}"
        else:
            assert budget.rolling_s is not None
            kind, span, window = HoldKind.WINDOW, budget.rolling_s, f"per {budget.rolling_s:g} s"
        if budget.usd is not None:
            later.append(
                LimitSpec(
                    f"USD {window}",
                    kind,
                    Measure.COST,
                    round(budget.usd * PICO_USD),
                    span,
                    budget.period,
                    budget.soft,
                    budget=True,
                )
            )
        if budget.tokens is not None:
            later.append(
                LimitSpec(
                    f"tokens {window}",
                    kind,
                    Measure.TOKENS,
                    budget.tokens,
                    span,
                    budget.period,
                    budget.soft,
                    budget=True,
                )
            )
    admit_specs = () if late else tuple(early)
    reserve_specs = tuple(early) + tuple(later) if late else tuple(later)
    match = tuple(
        (name, frozenset([values] if isinstance(values, str) else values))
        for name, values in sorted(config.match.items())
    )
    return Rule(config.rule_id, tuple(config.scope), match, admit_specs, reserve_specs)
