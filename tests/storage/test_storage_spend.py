"""The spend ledger on SQLite and PostgreSQL: batched writes, sums, and counters
rebuilt from it after a restart."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bastion.config.schema import BastionConfig
from bastion.errors import BudgetExceeded
from bastion.limits.build import build_limiter
from bastion.limits.ledger import LedgerWriter, rebuild
from bastion.limits.limiter import ScopedLimiter
from bastion.model import Conversation, Endpoint, Principal, Segment, Source, Usage
from bastion.model.spend import PICO_USD, SpendEntry
from bastion.storage import Database, SpendLedgerRepository

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()
FINANCE = Principal(key_id="k1", name="app", app="ledger", team="finance", environment="prod")


def entry(at: float, cost_usd: float, **fields: object) -> SpendEntry:
    values: dict[str, object] = {
        "settled_at": at,
        "key_id": "k1",
        "user": None,
        "app": "ledger",
        "team": "finance",
        "environment": "prod",
        "model": "gpt-4o-mini",
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "cost_pusd": round(cost_usd * PICO_USD),
    }
    values.update(fields)
    return SpendEntry(**values)  # type: ignore[arg-type]


async def test_entries_round_trip_and_sum_by_scope_fields(database: Database) -> None:
    repo = SpendLedgerRepository(database)
    writer = LedgerWriter(repo)
    writer.submit(entry(NOW - 10, 1.5))
    writer.submit(entry(NOW - 5, 2.25, estimated=True))
    writer.submit(entry(NOW - 5, 4.0, team="support", user="ana"))
    writer.submit(entry(NOW - 10_000, 100.0))
    await writer.flush()
    assert writer.written == 4 and writer.pending == 0
    totals = {(t.team, t.user): t for t in await repo.totals_since(NOW - 60)}
    assert totals[("finance", None)].cost_pusd == round(3.75 * PICO_USD)
    assert totals[("finance", None)].tokens == 300 and totals[("finance", None)].calls == 2
    assert totals[("support", "ana")].cost_pusd == 4 * PICO_USD
    recent = await repo.entries_since(NOW - 60)
    assert [e.cost_usd for e in recent] == [1.5, 2.25, 4.0]
    assert recent[1].estimated and not recent[0].estimated


def limiter(budget_usd: float) -> ScopedLimiter:
    config = BastionConfig.model_validate(
        {
            "providers": {"p": {"kind": "openai", "base_url": "http://x/v1"}},
            "models": {"gpt-4o-mini": {"targets": [{"provider": "p", "model": "gpt-4o-mini"}]}},
            "limits": {
                "timezone": "Europe/Berlin",
                "rules": [
                    {
                        "scope": ["team", "environment"],
                        "budgets": [{"period": "month", "usd": budget_usd}],
                    },
                    {"scope": ["app"], "tokens_per_minute": 1000},
                ],
            },
        }
    )
    built = build_limiter(config, None)
    assert built is not None
    built[0]._now = lambda: NOW
    return built[0]


def chat(max_tokens: int) -> Conversation:
    segment = Segment("hi", Source.USER, ("messages", 0, "content"), message_index=0)
    return Conversation(Endpoint.CHAT, "gpt-4o-mini", (segment,), params={"max_tokens": max_tokens})


async def test_a_restart_keeps_this_months_spend_and_recent_tokens(database: Database) -> None:
    repo = SpendLedgerRepository(database)
    last_month = datetime(2026, 10, 31, 23, 30, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()
    await repo.insert_many(
        [
            entry(NOW - 3600, 0.9),  # this month: counts
            entry(last_month, 50.0),  # October in Berlin: does not
            entry(NOW - 30, 0.0, prompt_tokens=600, completion_tokens=300),  # in the minute
            entry(NOW - 30, 5.0, team="support", app="desk"),  # other scopes
        ]
    )
    fresh = limiter(budget_usd=1.0)
    assert await rebuild(fresh, repo, NOW) >= 2
    with pytest.raises(BudgetExceeded, match="team=finance, environment=prod"):
        await fresh.reserve(FINANCE, chat(max_tokens=200_000), "gpt-4o-mini")  # > USD 0.1 left
    # 900 tokens of the last minute are back in the window: 100 left
    with pytest.raises(Exception, match="tokens per minute"):
        await fresh.reserve(FINANCE, chat(max_tokens=100), "gpt-4o-mini")
    reservation = await fresh.reserve(FINANCE, chat(max_tokens=50), "gpt-4o-mini")
    await fresh.settle(FINANCE, reservation, Usage(10, 10))
