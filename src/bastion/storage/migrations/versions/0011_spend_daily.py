"""Daily rollups of the spend ledger for usage reports and the overview's spend by team.

``spend_daily`` sums the calls settled in each UTC day (``day``: the epoch second it
starts at) by every field spend is grouped or filtered by (key, user, app, team,
environment, model; '' for NULL, as keys can't be NULL). Row triggers add a ledger row
when it is inserted, subtract it when it is deleted, and do both on an update, so the
rollup stays exact whichever path writes the ledger. Existing rows are summed once
here. On PostgreSQL the trigger first takes a transaction advisory lock, so writers of
the ledger queue instead of deadlocking on rollup rows locked in different orders.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

# ruff: noqa: S608 -- DDL built from constants (no value comes from outside)

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LOCK_ID = 0x62A5_5D11
"""Transactions writing the ledger take this lock (PostgreSQL) before their first rollup
row (see migration 0009's lock: the same deadlock, the same cure)."""
_KEYS = ("key_id", "user", "app", "team", "environment", "model")
_SUMS = ("prompt_tokens", "completion_tokens", "cost_pusd")
_SQLITE_TRIGGERS = ("spend_daily_insert", "spend_daily_delete", "spend_daily_update")


def upgrade() -> None:
    """Create the rollup table and its triggers, then sum the rows already stored."""
    op.create_table(
        "spend_daily",
        sa.Column("day", sa.BigInteger(), primary_key=True, autoincrement=False),
        *(sa.Column(key, sa.String(), primary_key=True) for key in _KEYS),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _SUMS),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _sqlite_triggers() if sqlite else _postgresql_triggers():
        op.execute(statement)
    op.execute(
        f"INSERT INTO spend_daily (day, {_columns(_KEYS)}, calls, {_columns(_SUMS)})"
        f" SELECT {_day(sqlite, 'spend_ledger')}, {_keys('spend_ledger')}, COUNT(*),"
        f" {', '.join(f'SUM({name})' for name in _SUMS)}"
        f" FROM spend_ledger GROUP BY {', '.join(str(n) for n in range(1, len(_KEYS) + 2))}"
    )


def downgrade() -> None:
    """Drop the triggers and the rollup table."""
    if op.get_bind().dialect.name == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS spend_daily ON spend_ledger")
        op.execute("DROP FUNCTION IF EXISTS spend_daily_apply()")
    op.drop_table("spend_daily")


def _columns(names: Sequence[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _keys(row: str) -> str:
    return ", ".join(f"COALESCE({row}.\"{key}\", '')" for key in _KEYS)


def _day(sqlite: bool, row: str) -> str:
    """The start of the UTC day of ``row.settled_at``: the largest multiple of 86400 not
    above it (corrected by one day where the division rounded across a boundary)."""
    at = f"{row}.settled_at"
    floor = f"CAST({at} / 86400 AS INTEGER)" if sqlite else f"CAST(floor({at} / 86400) AS BIGINT)"
    base = f"({floor} * 86400)"
    return (
        f"({base} - CASE WHEN {base} > {at} THEN 86400"
        f" WHEN {base} + 86400 <= {at} THEN -86400 ELSE 0 END)"
    )


def _apply(sqlite: bool, row: str, sign: int) -> str:
    """The statement adding (``sign`` 1) or removing (-1) one ledger row (NEW/OLD)."""
    sums = ", ".join(f"{sign} * {row}.{name}" for name in _SUMS)
    updates = ", ".join(
        f"{name} = spend_daily.{name} + excluded.{name}" for name in ("calls", *_SUMS)
    )
    return (
        f"INSERT INTO spend_daily (day, {_columns(_KEYS)}, calls, {_columns(_SUMS)})"
        f" VALUES ({_day(sqlite, row)}, {_keys(row)}, {sign}, {sums})"
        f" ON CONFLICT (day, {_columns(_KEYS)}) DO UPDATE SET {updates}"
    )


def _sqlite_triggers() -> list[str]:
    def trigger(name: str, event: str, body: list[str]) -> str:
        statements = "".join(f"  {statement};\n" for statement in body)
        return f"CREATE TRIGGER {name} AFTER {event} ON spend_ledger\nBEGIN\n{statements}END"

    added, removed = _apply(True, "NEW", 1), _apply(True, "OLD", -1)
    return [
        trigger("spend_daily_insert", "INSERT", [added]),
        trigger("spend_daily_delete", "DELETE", [removed]),
        trigger("spend_daily_update", "UPDATE", [removed, added]),
    ]


def _postgresql_triggers() -> list[str]:
    function = (
        "CREATE FUNCTION spend_daily_apply() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        f"  PERFORM pg_advisory_xact_lock({_LOCK_ID});\n"
        f"  IF TG_OP <> 'INSERT' THEN\n    {_apply(False, 'OLD', -1)};\n  END IF;\n"
        f"  IF TG_OP <> 'DELETE' THEN\n    {_apply(False, 'NEW', 1)};\n  END IF;\n"
        "  RETURN NULL;\n"
        "END\n$$"
    )
    trigger = (
        "CREATE TRIGGER spend_daily AFTER INSERT OR UPDATE OR DELETE ON spend_ledger"
        " FOR EACH ROW EXECUTE FUNCTION spend_daily_apply()"
    )
    return [function, trigger]
