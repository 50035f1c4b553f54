"""Settled spend summed by the fields it was recorded under (the spend ledger), for
usage reports: calls, tokens and cost per team, app, user, key, environment or model
over a time range, optionally limited to some keys and apps (an app owner's)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select

from bastion.storage.database import Database
from bastion.storage.tables import SpendLedgerRow

GROUP_FIELDS = {
    "key_id": SpendLedgerRow.key_id,
    "user": SpendLedgerRow.user,
    "app": SpendLedgerRow.app,
    "team": SpendLedgerRow.team,
    "environment": SpendLedgerRow.environment,
    "model": SpendLedgerRow.model,
}
"""Fields spend can be grouped and filtered by."""


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


class SpendUsage:
    """Grouped sums over ``spend_ledger``."""

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
        columns = [GROUP_FIELDS[name] for name in group_by]
        conditions: list[ColumnElement[bool]] = [SpendLedgerRow.settled_at >= since]
        if until is not None:
            conditions.append(SpendLedgerRow.settled_at < until)
        for name, value in (filters or {}).items():
            conditions.append(GROUP_FIELDS[name] == value)
        if owned is not None:
            mine = [
                SpendLedgerRow.key_id.in_(list(owned.key_ids)),
                SpendLedgerRow.app.in_(list(owned.apps)),
            ]
            conditions.append(or_(false(), *mine))
        cost = func.sum(SpendLedgerRow.cost_pusd)
        statement = (
            select(
                *columns,
                func.count(),
                func.sum(SpendLedgerRow.prompt_tokens),
                func.sum(SpendLedgerRow.completion_tokens),
                cost,
            )
            .where(*conditions)
            .group_by(*columns)
            .order_by(cost.desc(), *columns)
        )
        async with self._database.transaction("spend usage") as session:
            rows = (await session.execute(statement)).all()
        width = len(columns)
        sums: list[tuple[Any, ...]] = [tuple(row) for row in rows]
        return [
            SpendGroup(
                dict(zip(group_by, row[:width], strict=True)),
                int(row[width]),
                int(row[width + 1] or 0),
                int(row[width + 2] or 0),
                int(row[width + 3] or 0),
            )
            for row in sums
        ]
