"""Where budgets stand, from the spend ledger: per rule, budget and scope, for the
current calendar period or rolling window; match narrows what counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bastion.config.schema import LimitsConfig
from bastion.limits.budget_status import budget_statuses
from bastion.model.spend import PICO_USD, SpendTotal

NOW = datetime(2026, 12, 15, 12, 0, tzinfo=UTC).timestamp()
MONTH_START = datetime(2026, 12, 1, tzinfo=UTC).timestamp()


def total(
    team: str | None, app: str, usd: float, tokens: int = 100, model: str = "m"
) -> SpendTotal:
    return SpendTotal(
        key_id=f"k_{app}", user=None, app=app, team=team, environment="prod", model=model,
        tokens=tokens, cost_pusd=round(usd * PICO_USD), calls=1,
    )  # fmt: skip


class Ledger:
    """Totals since any instant: the same rows, and which instants were asked for."""

    def __init__(self, rows: Sequence[SpendTotal]) -> None:
        self.rows = rows
        self.asked: list[float] = []

    async def totals_since(self, since: float) -> Sequence[SpendTotal]:
        self.asked.append(since)
        return self.rows


def limits(*rules: dict[str, object]) -> LimitsConfig:
    return LimitsConfig.model_validate({"rules": list(rules)})


async def test_team_budget_sums_each_team_for_the_month() -> None:
    ledger = Ledger([total("fin", "shop", 1.5), total("fin", "pay", 0.5), total("sales", "crm", 4)])
    config = limits({"scope": ["team"], "budgets": [{"period": "month", "usd": 5}]})
    found = await budget_statuses(config, ledger, NOW)
    assert [(s.scope, s.spent, s.limit, s.period) for s in found] == [
        ({"team": "fin"}, 2.0, 5.0, "month:2026-12"),
        ({"team": "sales"}, 4.0, 5.0, "month:2026-12"),
    ]
    assert found[1].share == 0.8 and found[0].soft == 0.8
    assert ledger.asked == [MONTH_START]
    assert found[0].resets_at == datetime(2027, 1, 1, tzinfo=UTC).timestamp()


async def test_tokens_rolling_window_and_callers_without_a_value() -> None:
    ledger = Ledger([total(None, "shop", 1, tokens=300), total("fin", "shop", 1, tokens=200)])
    config = limits({"scope": ["team"], "budgets": [{"rolling_s": 3600, "tokens": 1000}]})
    found = await budget_statuses(config, ledger, NOW)
    assert [(s.scope, s.measure, s.spent, s.period) for s in found] == [
        ({"team": "-"}, "tokens", 300, None),
        ({"team": "fin"}, "tokens", 200, None),
    ]
    assert ledger.asked == [NOW - 3600] and found[0].window == "per 3600 s"


async def test_match_limits_what_a_rule_counts() -> None:
    ledger = Ledger([total("fin", "shop", 1, model="gpt-4o"), total("fin", "shop", 2, model="m")])
    config = limits(
        {"scope": ["app"], "match": {"model": "gpt-4o"}, "budgets": [{"period": "day", "usd": 3}]},
        {"name": "all", "requests_per_minute": 10},
    )
    found = await budget_statuses(config, ledger, NOW)
    assert [(s.rule, s.scope, s.spent) for s in found] == [("app", {"app": "shop"}, 1.0)]


async def test_no_budget_rules_no_statuses() -> None:
    assert await budget_statuses(limits({"requests_per_minute": 5}), Ledger([]), NOW) == []
