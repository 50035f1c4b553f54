"""The spend ledger in the store: settled calls written in batches, summed at start-up.

Rows are only ever inserted (one per settled call); budgets for the current periods
are rebuilt by summing rows since each period's start, grouped by the fields a limit
may be scoped by, so a changed rule applies to the spend already recorded.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, insert, select

from bastion.model.spend import SpendEntry, SpendTotal
from bastion.storage.database import Database
from bastion.storage.tables import SpendLedgerRow

_GROUP = (
    SpendLedgerRow.key_id,
    SpendLedgerRow.user,
    SpendLedgerRow.app,
    SpendLedgerRow.team,
    SpendLedgerRow.environment,
    SpendLedgerRow.model,
)


class SpendLedgerRepository:
    """Append settled spend; sum it by scope fields."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def insert_many(self, entries: Sequence[SpendEntry]) -> None:
        """Write a batch of settled calls in one transaction."""
        if not entries:
            return
        rows = [
            {
                "settled_at": e.settled_at,
                "key_id": e.key_id,
                "user": e.user,
                "app": e.app,
                "team": e.team,
                "environment": e.environment,
                "model": e.model,
                "prompt_tokens": e.prompt_tokens,
                "completion_tokens": e.completion_tokens,
                "cost_pusd": e.cost_pusd,
                "estimated": e.estimated,
            }
            for e in entries
        ]
        async with self._database.transaction("spend ledger write") as session:
            await session.execute(insert(SpendLedgerRow), rows)

    async def totals_since(self, since: float) -> list[SpendTotal]:
        """Tokens, cost and calls settled at or after ``since``, by scope fields."""
        statement = (
            select(
                *_GROUP,
                func.sum(SpendLedgerRow.prompt_tokens + SpendLedgerRow.completion_tokens),
                func.sum(SpendLedgerRow.cost_pusd),
                func.count(),
            )
            .where(SpendLedgerRow.settled_at >= since)
            .group_by(*_GROUP)
        )
        async with self._database.transaction("spend ledger totals") as session:
            rows = (await session.execute(statement)).all()
        return [
            SpendTotal(r[0], r[1], r[2], r[3], r[4], r[5], int(r[6]), int(r[7]), int(r[8]))
            for r in rows
        ]

    async def entries_since(self, since: float) -> list[SpendEntry]:
        """Every call settled at or after ``since``, oldest first (rolling windows)."""
        statement = (
            select(SpendLedgerRow)
            .where(SpendLedgerRow.settled_at >= since)
            .order_by(SpendLedgerRow.settled_at, SpendLedgerRow.id)
        )
        async with self._database.transaction("spend ledger read") as session:
            rows = (await session.execute(statement)).scalars().all()
        return [
            SpendEntry(
                settled_at=r.settled_at,
                key_id=r.key_id,
                user=r.user,
                app=r.app,
                team=r.team,
                environment=r.environment,
                model=r.model,
                prompt_tokens=r.prompt_tokens,
                completion_tokens=r.completion_tokens,
                cost_pusd=r.cost_pusd,
                estimated=r.estimated,
            )
            for r in rows
        ]
