"""The limiter over the memory store: admit, reserve, settle, refusals and headers."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from bastion.config.schema import BastionConfig
from bastion.errors import BudgetExceeded, ConfigError, RateLimited
from bastion.limits.base import Reservation, Unlimited, duration_text
from bastion.limits.build import (
    build_limiter,
    known_prices,
    limiter_settings,
    reconfigure_limiter,
)
from bastion.limits.estimate import prompt_tokens
from bastion.limits.ledger import rebuild
from bastion.limits.limiter import ScopedLimiter
from bastion.model import Conversation, Endpoint, Principal, Segment, Source, Usage
from bastion.model.spend import SpendEntry, SpendTotal

FINANCE = Principal(
    key_id="k1", name="ledger-app", app="ledger", team="finance", environment="prod"
)
FINANCE_DEV = Principal(key_id="k2", name="dev", app="ledger", team="finance", environment="dev")
SUPPORT = Principal(key_id="k3", name="desk", app="helpdesk", team="support", environment="prod")


def config(*rules: dict[str, Any], **limits: Any) -> BastionConfig:
    return BastionConfig.model_validate(
        {
            "providers": {"p": {"kind": "openai", "base_url": "http://x/v1"}},
            "models": {
                "gpt-4o-mini": {"targets": [{"provider": "p", "model": "gpt-4o-mini"}]},
                "local": {"targets": [{"provider": "p", "model": "llama"}]},
            },
            "limits": {"rules": list(rules), **limits_with_local_price(limits)},
        }
    )


def limits_with_local_price(limits: dict[str, Any]) -> dict[str, Any]:
    if limits.pop("unpriced_local", False):
        return limits
    return {**limits, "pricing": {"local": {"input": 0}, **limits.get("pricing", {})}}


class Clock:
    def __init__(self, now: float = 1_790_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limiter_for(
    cfg: BastionConfig, clock: Clock | None = None
) -> tuple[ScopedLimiter, list[SpendEntry]]:
    built = build_limiter(cfg, None)
    assert built is not None
    limiter = built[0]
    spent: list[SpendEntry] = []
    limiter._record_spend = spent.append
    limiter._now = clock or Clock()
    return limiter, spent


def chat(
    text: str = "hello there", max_tokens: int | None = 100, model: str = "gpt-4o-mini"
) -> Conversation:
    params = {} if max_tokens is None else {"max_tokens": max_tokens}
    segment = Segment(text, Source.USER, ("messages", 0, "content"), message_index=0)
    return Conversation(Endpoint.CHAT, model, (segment,), params=params)


async def call(
    limiter: ScopedLimiter, principal: Principal, conversation: Conversation
) -> Reservation:
    admitted = await limiter.admit(principal)
    return await limiter.reserve(principal, conversation, conversation.model, admitted)


def worst_usd(conversation: Conversation) -> float:
    prompt = prompt_tokens(conversation)
    return (prompt * 0.15 + 100 * 0.60) / 1e6


async def test_a_budget_admits_exactly_the_reservations_that_fit() -> None:
    per_call = worst_usd(chat())
    limiter, _ = limiter_for(
        config({"scope": ["team"], "budgets": [{"period": "month", "usd": per_call * 10.5}]})
    )
    held = [await call(limiter, FINANCE, chat()) for _ in range(10)]
    with pytest.raises(BudgetExceeded) as refused:
        await call(limiter, FINANCE, chat())
    error = refused.value
    assert (error.status, error.error_type, error.code) == (
        429,
        "insufficient_quota",
        "budget_exceeded",
    )
    assert error.headers == {"x-should-retry": "false"}
    assert "team=finance" in error.message and "resets at" in error.message
    assert "hello" not in error.message
    await call(limiter, SUPPORT, chat())  # another team has its own counter
    await limiter.settle(FINANCE, held[0], Usage(10, 10))  # settles below the reservation
    await call(limiter, FINANCE, chat())


async def test_a_refused_reservation_takes_nothing_in_any_scope() -> None:
    limiter, _ = limiter_for(
        config(
            {"name": "team", "scope": ["team"], "budgets": [{"period": "day", "tokens": 10_000}]},
            {"name": "app", "scope": ["app"], "tokens_per_minute": 300},
        )
    )
    await call(limiter, FINANCE, chat(max_tokens=200))
    with pytest.raises(RateLimited) as refused:
        await call(limiter, FINANCE, chat(max_tokens=200))
    assert refused.value.code == "rate_limit_exceeded" and "app=ledger" in refused.value.message
    assert int(refused.value.headers["retry-after"]) == 60
    # the team budget was not charged by the refused call: 10_000 - one reservation left
    assert (
        limiter.store.used(  # type: ignore[attr-defined]
            next(k for k in limiter.store._totals),
            limiter._now(),  # type: ignore[attr-defined]
        )
        == prompt_tokens(chat()) + 200
    )


async def test_concurrency_leases_are_released_when_the_call_settles() -> None:
    limiter, _ = limiter_for(config({"scope": ["key"], "concurrent_requests": 2}))
    first = await limiter.admit(FINANCE)
    await limiter.admit(FINANCE)
    with pytest.raises(RateLimited, match="Too many concurrent requests for key=k1"):
        await limiter.admit(FINANCE)
    await limiter.admit(FINANCE_DEV)
    await limiter.settle(FINANCE, first, Usage())  # e.g. refused by the policy later
    await limiter.admit(FINANCE)


async def test_a_concurrency_refusal_says_retry_after_1_not_the_lease_ttl() -> None:
    """A slot frees when a call ends, usually within seconds; the lease TTL (900 s) only
    bounds a crashed process's slot. SDKs honour Retry-After (docs/limits.md: 1)."""
    clock = Clock()
    limiter, _ = limiter_for(config({"scope": ["key"], "concurrent_requests": 1}), clock)
    await limiter.admit(FINANCE)
    clock.now += 5
    with pytest.raises(RateLimited) as refused:
        await limiter.admit(FINANCE)
    assert refused.value.headers["retry-after"] == "1"
    assert "Try again in" not in refused.value.message


async def test_key_id_the_principal_fields_name_scopes_and_matches_like_key() -> None:
    """CONTRACT.md §1 names the field key_id everywhere; limits also take the short key."""
    rule = {"scope": ["key_id"], "match": {"key_id": ["k1", "k2"]}, "concurrent_requests": 1}
    limiter, _ = limiter_for(config(rule))
    await limiter.admit(FINANCE)
    with pytest.raises(RateLimited, match="Too many concurrent requests for key=k1"):
        await limiter.admit(FINANCE)
    await limiter.admit(FINANCE_DEV)  # its own counter
    await limiter.admit(SUPPORT)
    await limiter.admit(SUPPORT)  # k3 is not matched


async def test_requests_per_minute_are_shed_at_admission_with_retry_after() -> None:
    clock = Clock()
    limiter, _ = limiter_for(config({"scope": ["app"], "requests_per_minute": 2}), clock)
    await limiter.admit(FINANCE)
    clock.now += 20
    await limiter.admit(FINANCE_DEV)  # same app
    with pytest.raises(RateLimited) as refused:
        await limiter.admit(FINANCE)
    assert refused.value.headers["retry-after"] == "40"
    clock.now += 40
    await limiter.admit(FINANCE)


async def test_model_scoped_rules_apply_at_reservation() -> None:
    limiter, _ = limiter_for(
        config({"scope": ["model"], "match": {"model": "gpt-4o-mini"}, "requests_per_minute": 1})
    )
    await call(limiter, FINANCE, chat())
    await call(limiter, FINANCE, chat(model="local"))
    with pytest.raises(RateLimited, match="model=gpt-4o-mini"):
        await call(limiter, SUPPORT, chat())


async def test_match_narrows_a_team_by_environment_rule() -> None:
    limiter, _ = limiter_for(
        config(
            {
                "scope": ["team", "environment"],
                "match": {"team": "finance", "environment": ["prod"]},
                "requests_per_minute": 1,
            }
        )
    )
    await limiter.admit(FINANCE)
    await limiter.admit(FINANCE_DEV)  # dev is not matched
    with pytest.raises(RateLimited, match="team=finance, environment=prod"):
        await limiter.admit(FINANCE)


async def test_decided_calls_get_ratelimit_and_budget_headers() -> None:
    limiter, _ = limiter_for(
        config(
            {"name": "keys", "scope": ["key"], "requests_per_minute": 10},
            {"name": "apps", "scope": ["app"], "requests_per_minute": 5, "tokens_per_minute": 1000},
            {"name": "teams", "scope": ["team"], "budgets": [{"period": "month", "usd": 2}]},
        )
    )
    reservation = await call(limiter, FINANCE, chat())
    h = reservation.headers
    assert (h["x-ratelimit-limit-requests"], h["x-ratelimit-remaining-requests"]) == ("5", "4")
    assert h["x-ratelimit-reset-requests"].endswith("s")
    tokens = prompt_tokens(chat()) + 100
    assert h["x-ratelimit-remaining-tokens"] == str(1000 - tokens)
    assert float(h["x-bastion-budget-remaining-usd"]) == pytest.approx(2 - worst_usd(chat()))
    assert h["x-bastion-budget-scope"] == "teams; team=finance; month"


async def test_a_call_refused_after_admission_still_gets_the_admissions_headers() -> None:
    limiter, _ = limiter_for(config({"scope": ["key"], "requests_per_minute": 10}))
    await limiter.admit(FINANCE)
    h = (await limiter.admit(FINANCE)).headers  # e.g. blocked by the policy: no reserve
    assert (h["x-ratelimit-limit-requests"], h["x-ratelimit-remaining-requests"]) == ("10", "8")
    assert h["x-ratelimit-reset-requests"] == "1m0s"
    assert "x-ratelimit-remaining-tokens" not in h


async def test_headers_keep_the_tighter_of_the_admission_and_the_reservation() -> None:
    limiter, _ = limiter_for(
        config(
            {"name": "keys", "scope": ["key"], "requests_per_minute": 3},
            {"name": "models", "scope": ["model"], "requests_per_minute": 100},
            {"name": "small", "scope": ["team"], "budgets": [{"period": "day", "usd": 1}]},
            {"name": "large", "scope": ["app"], "budgets": [{"period": "month", "usd": 50}]},
        )
    )
    h = (await call(limiter, FINANCE, chat())).headers
    assert (h["x-ratelimit-limit-requests"], h["x-ratelimit-remaining-requests"]) == ("3", "2")
    assert h["x-bastion-budget-scope"] == "small; team=finance; day"
    assert float(h["x-bastion-budget-remaining-usd"]) == pytest.approx(1 - worst_usd(chat()))
    assert Reservation().headers == {}


async def test_settle_replaces_reservations_with_usage_and_records_spend() -> None:
    limiter, spent = limiter_for(config({"scope": ["team"], "tokens_per_minute": 1000}))
    reservation = await call(limiter, FINANCE, chat(max_tokens=900))
    with pytest.raises(RateLimited):
        await call(limiter, FINANCE, chat(max_tokens=900))
    cost = await limiter.settle(FINANCE, reservation, Usage(20, 30))
    await call(limiter, FINANCE, chat(max_tokens=900))
    (entry,) = spent
    assert (entry.team, entry.model, entry.tokens) == ("finance", "gpt-4o-mini", 50)
    assert entry.cost_pusd == 20 * 150_000 + 30 * 600_000
    assert cost == pytest.approx(entry.cost_pusd / 1e12)  # the call record's cost_usd


async def test_a_rolling_minute_token_budget_beside_tokens_per_minute_counts_apart() -> None:
    """Both are 60 s token windows of one rule: one shared log counted each call twice,
    so tokens_per_minute admitted half its limit."""
    rule = {
        "scope": ["team"],
        "tokens_per_minute": 1000,
        "budgets": [{"rolling_s": 60, "tokens": 100_000}],
    }
    limiter, _ = limiter_for(config(rule))
    each = prompt_tokens(chat()) + 200
    for _ in range(1000 // each):
        await call(limiter, FINANCE, chat(max_tokens=200))
    with pytest.raises(RateLimited, match="tokens per minute"):
        await call(limiter, FINANCE, chat(max_tokens=200))
    budget = {"scope": ["team"], "budgets": [{"rolling_s": 60, "tokens": 3 * each}]}
    limiter, _ = limiter_for(config({**budget, "tokens_per_minute": 10_000}))
    for _ in range(3):
        await call(limiter, FINANCE, chat(max_tokens=200))
    with pytest.raises(BudgetExceeded):
        await call(limiter, FINANCE, chat(max_tokens=200))


async def test_usage_that_never_arrived_settles_the_reserved_prompt() -> None:
    limiter, spent = limiter_for(config({"scope": ["team"], "tokens_per_minute": 10_000}))
    reservation = await call(limiter, FINANCE, chat("x" * 400))
    await limiter.settle(FINANCE, reservation, Usage(100, 7, estimated=True))
    (entry,) = spent
    assert entry.estimated and entry.prompt_tokens == prompt_tokens(chat("x" * 400)) > 100
    assert entry.completion_tokens == 7


async def test_a_call_reserved_before_midnight_settles_in_the_period_that_counted_it() -> None:
    """The day's counter held the call, so the ledger (budgets report, restart rebuild)
    must put its spend in that day too, not in the next one, whose counter never saw
    it: else the next day's ledger shows 1,500 tokens under a 1,000-token budget."""
    clock = Clock(1_790_035_199.0)  # 23:59:59 UTC
    rule = {"scope": ["team"], "budgets": [{"period": "day", "tokens": 1000}]}
    limiter, spent = limiter_for(config(rule), clock)
    late = await call(limiter, FINANCE, chat(max_tokens=600))
    clock.now += 2  # the answer ends after midnight
    await limiter.settle(FINANCE, late, Usage(10, 590))
    day = limiter.clock.current("day", clock.now)
    for _ in range(9):  # the new day's counter starts from zero
        reservation = await call(limiter, FINANCE, chat(max_tokens=100))
        await limiter.settle(FINANCE, reservation, Usage(10, 90))
    assert sum(e.tokens for e in spent if day.contains(e.settled_at)) <= 1000
    assert spent[0].settled_at == 1_790_035_199.0
    assert all(e.settled_at == clock.now for e in spent[1:])  # no boundary: settle time


async def test_soft_threshold_alerts_once_per_period(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    limiter, _ = limiter_for(
        config({"scope": ["team"], "budgets": [{"period": "day", "tokens": 1000, "soft": 0.5}]}),
        clock,
    )
    alerts: list[tuple[str, str]] = []
    limiter._on_soft_limit = lambda rule, what: alerts.append((rule, what))
    with caplog.at_level(logging.WARNING, logger="bastion.limits"):
        for _ in range(4):
            await call(limiter, FINANCE, chat(max_tokens=150))
        clock.now += 86400
        await call(limiter, FINANCE, chat(max_tokens=600))
    assert alerts == [("team", "tokens per day"), ("team", "tokens per day")]
    assert sum("reached 50%" in r.message for r in caplog.records) == 2


def test_a_usd_budget_needs_a_price_for_every_model_it_covers() -> None:
    with pytest.raises(ConfigError, match=r"model 'local'.*limits\.pricing\.local"):
        build_limiter(
            config(
                {"scope": ["team"], "budgets": [{"period": "day", "usd": 5}]}, unpriced_local=True
            ),
            None,
        )
    priced = config({"scope": ["team"], "budgets": [{"period": "day", "usd": 5}]})
    assert build_limiter(priced, None) is not None


def test_no_rules_means_no_limiter() -> None:
    assert build_limiter(config(), None) is None


async def test_without_limits_calls_of_priced_models_still_get_their_cost() -> None:
    """No limits configured: nothing is held, yet call records carry what calls cost."""
    unlimited = Unlimited(known_prices(config(unpriced_local=True)))
    priced = await unlimited.reserve(FINANCE, chat(), "gpt-4o-mini")
    assert await unlimited.settle(FINANCE, priced, Usage(20, 30)) == pytest.approx(
        (20 * 150_000 + 30 * 600_000) / 1e12
    )
    unpriced = await unlimited.reserve(FINANCE, chat(model="local"), "local")
    assert await unlimited.settle(FINANCE, unpriced, Usage(20, 30)) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(0.02, "20ms", id="milliseconds"),
        pytest.param(0.9996, "1s", id="rounds-up-to-a-second"),
        pytest.param(1.5, "1.5s", id="seconds"),
        pytest.param(59.4, "59.4s", id="under-a-minute"),
        pytest.param(59.97, "1m0s", id="rounds-up-to-a-minute"),
        pytest.param(60.0, "1m0s", id="one-minute"),
        pytest.param(360.0, "6m0s", id="minutes"),
    ],
)
def test_reset_headers_use_openais_duration_format(seconds: float, text: str) -> None:
    """A reset just under 60 s must not read "60s" while a full minute reads "1m0s"."""
    assert duration_text(seconds) == text


class _Ledger:
    """A spend ledger holding the given rows."""

    def __init__(self, rows: list[SpendEntry]) -> None:
        self.rows = rows

    async def insert_many(self, items: Sequence[SpendEntry], /) -> None:
        self.rows.extend(items)

    async def totals_since(self, since: float) -> list[SpendTotal]:
        fields = ("key_id", "user", "app", "team", "environment", "model")
        return [
            SpendTotal(*(getattr(r, f) for f in fields), r.tokens, r.cost_pusd, 1)
            for r in self.rows
            if r.settled_at >= since
        ]

    async def entries_since(self, since: float) -> list[SpendEntry]:
        return [r for r in self.rows if r.settled_at >= since]


def teams_budget(*teams: str) -> dict[str, Any]:
    return {
        "name": "teams",
        "scope": ["team"],
        "match": {"team": list(teams)},
        "budgets": [{"period": "month", "usd": 0.01}],
    }


async def test_a_reload_widening_a_budgets_match_counts_the_new_scopes_spend() -> None:
    """A team a changed ``match`` brings under a budget starts from its spend this
    month; the team already counted keeps its counter (the ledger is not added to it)."""
    now = time.time()
    support_spent = SpendEntry(
        now, "k3", None, "helpdesk", "support", "prod", "gpt-4o-mini", 9000, 0, 1350 * 10**6
    )
    finance_spent = replace(support_spent, key_id="k1", app="ledger", team="finance")
    ledger = _Ledger([support_spent])
    built = build_limiter(config(teams_budget("finance")), ledger)
    assert built is not None
    limiter = built[0]
    await rebuild(limiter, ledger, now)
    await call(limiter, FINANCE, chat())
    ledger.rows.append(finance_spent)  # settled (as the limiter's own counter has it)
    widened = limiter_settings(config(teams_budget("finance", "support")))
    await reconfigure_limiter(limiter, widened, ledger, limiter.rules)
    support = await call(limiter, SUPPORT, chat())
    left = float(support.rates.headers()["x-bastion-budget-remaining-usd"])
    assert left == pytest.approx(0.01 - 0.00135 - worst_usd(chat()), abs=2e-6)
    again = await call(limiter, FINANCE, chat())
    left = float(again.rates.headers()["x-bastion-budget-remaining-usd"])
    assert left == pytest.approx(0.01 - 2 * worst_usd(chat()), abs=2e-6)
