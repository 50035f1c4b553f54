"""Settled spend summed by the fields it was recorded under (the spend ledger), for
usage reports: calls, tokens and cost per team, app, user, key, environment or model
over a time range, optionally limited to some keys and apps (an app owner's).

Whole UTC days of a range are read from the daily rollup (``spend_daily``, migration
0011), the cut days at its ends from the ledger (at most a day each side), and the two
added up: a month of a million settled calls is a few thousand rollup rows.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, or_, select, text
from sqlalchemy.orm import InstrumentedAttribute

from bastion.storage.database import Database
from bastion.storage.tables import SpendDailyRow, SpendLedgerRow

GROUP_FIELDS = {
    "key_id": SpendLedgerRow.key_id,
    "user": SpendLedgerRow.user,
    "app": SpendLedgerRow.app,
    "team": SpendLedgerRow.team,
    "environment": SpendLedgerRow.environment,
    "model": SpendLedgerRow.model,
}
"""Fields spend can be grouped and filtered by."""

_DAILY_FIELDS: dict[str, InstrumentedAttribute[str]] = {
    "key_id": SpendDailyRow.key_id,
    "user": SpendDailyRow.user,
    "app": SpendDailyRow.app,
    "team": SpendDailyRow.team,
    "environment": SpendDailyRow.environment,
    "model": SpendDailyRow.model,
}
DAY_S = 86400


@dataclass(frozen=True, slots=True)
class SpendGroup:
    """Spend of one combination of the grouped fields."""

    values: Mapping[str, str | None]
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_pusd: int


@dataclass(frozen=True, slots=True)
class Owned:
    """Only spend by these keys or for these apps (an app owner's view)."""

    key_ids: Collection[str]
    apps: Collection[str]


@dataclass(frozen=True, slots=True)
class DayPlan:
    """Whole days ``[first_day, last_day)`` from the rollup (``last_day`` None: every day
    from ``first_day``), and ``[start, end)`` spans (``end`` None: open) from the ledger."""

    first_day: int
    last_day: int | None
    raw: tuple[tuple[float, float | None], ...]


def plan_days(since: float, until: float | None) -> DayPlan | None:
    """``[since, until)`` as whole UTC days and the cut days at its ends; None when the
    range holds no whole day (it is read from the ledger alone)."""
    first = math.ceil(since / DAY_S) * DAY_S
    if until is None:
        return DayPlan(first, None, ((since, float(first)),) if since < first else ())
    last = math.floor(until / DAY_S) * DAY_S
    if last <= first:
        return None
    raw: list[tuple[float, float | None]] = []
    if since < first:
        raw.append((since, float(first)))
    if last < until:
        raw.append((float(last), until))
    return DayPlan(first, last, tuple(raw))


class SpendUsage:
    """Grouped sums over ``spend_ledger`` and its daily rollup."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def grouped(
        self,
        *,
        since: float,
        until: float | None,
        group_by: Sequence[str],
        filters: Mapping[str, str] | None = None,
        owned: Owned | None = None,
    ) -> list[SpendGroup]:
        """Sums per value of ``group_by`` (fields of ``GROUP_FIELDS``) for calls settled
        in ``[since, until)``, most expensive first."""
        filters = filters or {}
        plan = _plan(since, until, filters, owned)
        spans = [(since, until)] if plan is None else list(plan.raw)
        totals: dict[tuple[str | None, ...], list[int]] = {}
        async with self._database.transaction("spend usage") as session:
            if plan is not None and not self._database.is_sqlite:
                # rollup and ledger read at one moment (SQLite reads from one already)
                await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            for start, end in spans:
                statement = _ledger_sums(start, end, group_by, filters, owned)
                for row in (await session.execute(statement)).all():
                    _add(totals, tuple(row[: len(group_by)]), row[len(group_by) :])
            if plan is not None:
                statement = _daily_sums(plan, group_by, filters, owned)
                for row in (await session.execute(statement)).all():
                    values = tuple(value or None for value in row[: len(group_by)])
                    _add(totals, values, row[len(group_by) :])
        null_first = self._database.is_sqlite  # each backend's order of NULL, as before

        def order(item: tuple[tuple[str | None, ...], list[int]]) -> tuple[Any, ...]:
            values, sums = item
            return (-sums[3], *(((v is None) != null_first, v or "") for v in values))

        return [
            SpendGroup(dict(zip(group_by, values, strict=True)), *sums)
            for values, sums in sorted(totals.items(), key=order)
            if sums[0]
        ]


def _plan(
    since: float, until: float | None, filters: Mapping[str, str], owned: Owned | None
) -> DayPlan | None:
    """The day plan, or None when the rollup can't tell the values apart: '' stands for
    NULL there, so a filter on '' is answered from the ledger."""
    wanted = [*filters.values(), *(owned.key_ids if owned else ()), *(owned.apps if owned else ())]
    return None if "" in wanted else plan_days(since, until)


def _add(totals: dict[tuple[str | None, ...], list[int]], key: Any, sums: Any) -> None:
    found = totals.setdefault(key, [0, 0, 0, 0])
    for index, value in enumerate(sums):
        found[index] += int(value or 0)


def _ledger_sums(
    since: float,
    until: float | None,
    group_by: Sequence[str],
    filters: Mapping[str, str],
    owned: Owned | None,
) -> Select[*tuple[Any, ...]]:
    columns = [GROUP_FIELDS[name] for name in group_by]
    conditions: list[ColumnElement[bool]] = [SpendLedgerRow.settled_at >= since]
    if until is not None:
        conditions.append(SpendLedgerRow.settled_at < until)
    conditions += _conditions(GROUP_FIELDS, filters, owned)
    return (
        select(
            *columns,
            func.count(),
            func.sum(SpendLedgerRow.prompt_tokens),
            func.sum(SpendLedgerRow.completion_tokens),
            func.sum(SpendLedgerRow.cost_pusd),
        )
        .where(*conditions)
        .group_by(*columns)
    )


def _daily_sums(
    plan: DayPlan, group_by: Sequence[str], filters: Mapping[str, str], owned: Owned | None
) -> Select[*tuple[Any, ...]]:
    columns = [_DAILY_FIELDS[name] for name in group_by]
    conditions: list[ColumnElement[bool]] = [SpendDailyRow.day >= plan.first_day]
    if plan.last_day is not None:
        conditions.append(SpendDailyRow.day < plan.last_day)
    conditions += _conditions(_DAILY_FIELDS, filters, owned)
    return (
        select(
            *columns,
            func.sum(SpendDailyRow.calls),
            func.sum(SpendDailyRow.prompt_tokens),
            func.sum(SpendDailyRow.completion_tokens),
            func.sum(SpendDailyRow.cost_pusd),
        )
        .where(*conditions)
        .group_by(*columns)
    )


def _conditions(
    fields: Mapping[str, Any], filters: Mapping[str, str], owned: Owned | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        fields[name] == value for name, value in filters.items()
    ]
    if owned is not None:
        mine = [fields["key_id"].in_(list(owned.key_ids)), fields["app"].in_(list(owned.apps))]
        conditions.append(or_(false(), *mine))
    return conditions
