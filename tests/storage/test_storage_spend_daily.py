"""Spend usage from the daily rollup (migration 0011) on SQLite and PostgreSQL: the
same sums as the ledger alone, for ranges that cut days, filters and owners' views,
and the rollup follows rows deleted from the ledger."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import replace

import pytest
from sqlalchemy import text

from bastion.model.spend import SpendEntry
from bastion.storage import Database, SpendLedgerRepository
from bastion.storage.spend_usage import DAY_S, DayPlan, Owned, SpendGroup, SpendUsage, plan_days

START = 1_796_000_000.0  # a few days of spend from here


def entries(count: int) -> list[SpendEntry]:
    rng = random.Random(11)
    return [
        SpendEntry(
            settled_at=START + rng.uniform(0, 4 * DAY_S),
            key_id=f"k{rng.randrange(6)}",
            user=rng.choice([None, "ana", "bo"]),
            app=rng.choice([None, "shop", "crm"]),
            team=rng.choice([None, "fin", "sales"]),
            environment=rng.choice(["prod", "dev"]),
            model=rng.choice(["gpt-4o-mini", "gpt-4o"]),
            prompt_tokens=rng.randrange(1, 500),
            completion_tokens=rng.randrange(1, 500),
            cost_pusd=rng.randrange(1, 10**9),
            estimated=False,
        )
        for _ in range(count)
    ]


def expected(
    rows: list[SpendEntry],
    since: float,
    until: float | None,
    group_by: list[str],
    filters: Mapping[str, str],
    owned: Owned | None,
) -> dict[tuple[str | None, ...], tuple[int, int, int, int]]:
    sums: dict[tuple[str | None, ...], list[int]] = {}
    for row in rows:
        if row.settled_at < since or (until is not None and row.settled_at >= until):
            continue
        if any(getattr(row, name) != value for name, value in filters.items()):
            continue
        if owned is not None and row.key_id not in owned.key_ids and row.app not in owned.apps:
            continue
        found = sums.setdefault(tuple(getattr(row, name) for name in group_by), [0, 0, 0, 0])
        for index, value in enumerate((1, row.prompt_tokens, row.completion_tokens, row.cost_pusd)):
            found[index] += value
    return {key: (s[0], s[1], s[2], s[3]) for key, s in sums.items()}


def answered(
    groups: list[SpendGroup], group_by: list[str]
) -> dict[tuple[str | None, ...], tuple[int, int, int, int]]:
    return {
        tuple(g.values[name] for name in group_by): (
            g.calls, g.prompt_tokens, g.completion_tokens, g.cost_pusd
        )
        for g in groups
    }  # fmt: skip


RANGES = [
    (START, None),  # open: every whole day from the rollup, today's included
    (START + 0.3 * DAY_S, START + 3.7 * DAY_S),  # both ends cut a day
    (START + 1.5 * DAY_S, START + 1.9 * DAY_S),  # inside one day: the ledger alone
    (START - DAY_S, START + 10 * DAY_S),
]
QUERIES: list[tuple[list[str], dict[str, str], Owned | None]] = [
    (["team"], {}, None),
    (["user", "app"], {}, None),
    (["key_id", "model"], {"environment": "prod"}, None),
    (["team"], {}, Owned(key_ids={"k1", "k2"}, apps={"crm"})),
    (["environment"], {"team": ""}, None),  # '' stands for NULL in the rollup
]


@pytest.mark.parametrize(("since", "until"), RANGES)
async def test_rollup_sums_match_the_ledger(
    database: Database, since: float, until: float | None
) -> None:
    rows = entries(400)
    await SpendLedgerRepository(database).insert_many(rows)
    usage = SpendUsage(database)
    for group_by, filters, owned in QUERIES:
        groups = await usage.grouped(
            since=since, until=until, group_by=group_by, filters=filters, owned=owned
        )
        want = expected(rows, since, until, group_by, filters, owned)
        assert answered(groups, group_by) == want, (group_by, filters, owned)
        costs = [g.cost_pusd for g in groups]
        assert costs == sorted(costs, reverse=True)


async def test_rollup_follows_deleted_and_updated_ledger_rows(database: Database) -> None:
    rows = entries(100)
    await SpendLedgerRepository(database).insert_many(rows)
    cut = START + 2 * DAY_S
    async with database.transaction("test") as session:
        await session.execute(
            text("DELETE FROM spend_ledger WHERE settled_at < :cut"), {"cut": cut}
        )
        await session.execute(text("UPDATE spend_ledger SET team = 'ops' WHERE team = 'fin'"))
    kept = [
        row if row.team != "fin" else replace(row, team="ops")
        for row in rows
        if row.settled_at >= cut
    ]
    groups = await SpendUsage(database).grouped(since=START, until=None, group_by=["team"])
    assert answered(groups, ["team"]) == expected(kept, START, None, ["team"], {}, None)
    assert {g.values["team"] for g in groups} == {None, "ops", "sales"}


def test_day_plans() -> None:
    assert plan_days(DAY_S * 10, None) == DayPlan(DAY_S * 10, None, ())
    plan = plan_days(DAY_S * 10.5, DAY_S * 13.25)
    assert plan is not None
    assert (plan.first_day, plan.last_day) == (DAY_S * 11, DAY_S * 13)
    assert plan.raw == ((DAY_S * 10.5, DAY_S * 11.0), (DAY_S * 13.0, DAY_S * 13.25))
    assert plan_days(DAY_S * 10.5, DAY_S * 11.5) is None
