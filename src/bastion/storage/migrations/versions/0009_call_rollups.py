"""Hourly rollups of the call records for the admin overview, kept by the database.

Four tables count the calls of each hour (``hour``: the epoch second it starts at):
``call_hourly`` by environment and decision (with redacted calls), ``exception_hourly``
by owner and exception, ``overhead_hourly`` by overhead histogram bucket (the edges of
``call_stats.OVERHEAD_EDGES_MS``, frozen here) and ``injection_hourly`` by injection
class and source. Row triggers add a record when it is really inserted (``ON CONFLICT
DO NOTHING`` skips fire none), subtract it when it is deleted, and do both on an update,
so the rollups stay exact whichever path writes the records. Existing records are
counted once here, under the triggers' lock. Key columns hold '' for NULL. On
PostgreSQL the trigger first takes a transaction advisory lock, so writers of call
records queue instead of deadlocking on rollup rows locked in different orders.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

# ruff: noqa: S608 -- DDL built from constants (no value comes from outside)

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EDGES_MS = tuple(round(0.01 * 1.2**n, 6) for n in range(76))
_ROLLUP_LOCK_ID = 0x62A5_0C11
"""Transactions writing call records take this lock (PostgreSQL) before their first
rollup row: each holds rollup rows until it commits and would otherwise lock them in
its records' order, so two writers could deadlock; with it they queue (they already
queue on the hour's rows)."""
_TABLES = ("call_hourly", "exception_hourly", "overhead_hourly", "injection_hourly")
_SQLITE_TRIGGERS = ("call_rollups_insert", "call_rollups_delete", "call_rollups_update")


def upgrade() -> None:
    """Create the rollup tables and triggers, then count the records already stored."""
    op.create_table(
        "call_hourly",
        _hour_column(),
        sa.Column("environment", sa.String(), primary_key=True),
        sa.Column("decision", sa.String(), primary_key=True),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("redacted", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "exception_hourly",
        _hour_column(),
        sa.Column("owner", sa.String(), primary_key=True),
        sa.Column("exception_id", sa.String(), primary_key=True),
        sa.Column("calls", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "overhead_hourly",
        _hour_column(),
        sa.Column("bucket", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "injection_hourly",
        _hour_column(),
        sa.Column("data_class", sa.String(), primary_key=True),
        sa.Column("source", sa.String(), primary_key=True),
        sa.Column("detections", sa.BigInteger(), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _sqlite_triggers() if sqlite else _postgresql_triggers():
        op.execute(statement)
    for statement in _backfill(sqlite):
        op.execute(statement)


def _hour_column() -> sa.Column[int]:
    return sa.Column("hour", sa.BigInteger(), primary_key=True, autoincrement=False)


def downgrade() -> None:
    """Drop the triggers and the rollup tables."""
    if op.get_bind().dialect.name == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS call_rollups ON call_records")
        op.execute("DROP FUNCTION IF EXISTS call_rollups_apply()")
    for table in reversed(_TABLES):
        op.drop_table(table)


def _hour(sqlite: bool, rec: str) -> str:
    """The start of the hour of ``rec.started_at``: the largest multiple of 3600 not
    above it (corrected by one hour where the division rounded across a boundary)."""
    at = f"{rec}.started_at"
    floor = f"CAST({at} / 3600 AS INTEGER)" if sqlite else f"CAST(floor({at} / 3600) AS BIGINT)"
    base = f"({floor} * 3600)"
    return (
        f"({base} - CASE WHEN {base} > {at} THEN 3600"
        f" WHEN {base} + 3600 <= {at} THEN -3600 ELSE 0 END)"
    )


def _fact(sqlite: bool, rec: str, name: str) -> str:
    if sqlite:
        return f"json_extract({rec}.request_facts, '$.{name}')"
    return f"({rec}.request_facts ->> '{name}')"


def _redacted(sqlite: bool, rec: str) -> str:
    rerouted = f"({rec}.decision = 'reroute' AND {_fact(sqlite, rec, 'redacted')} IS NOT NULL)"
    return f"({rec}.decision = 'redact' OR {rerouted})"


def _overhead_bucket(rec: str) -> str:
    whens = " ".join(
        f"WHEN {rec}.gateway_ms <= {edge!r} THEN {index}" for index, edge in enumerate(_EDGES_MS)
    )
    return f"CASE {whens} ELSE {len(_EDGES_MS)} END"


def _finding(sqlite: bool, key: str) -> str:
    return f"json_extract(value, '$.{key}')" if sqlite else f"(value ->> '{key}')"


def _findings(sqlite: bool, rec: str) -> str:
    if sqlite:
        return f"json_each({rec}.findings)"
    return f"jsonb_array_elements({rec}.findings) AS element(value)"


def _detections(sqlite: bool) -> str:
    count = _finding(sqlite, "count")
    return f"COALESCE(SUM({count if sqlite else f'CAST({count} AS INTEGER)'}), 0)"


_INJECTION = "LIKE 'injection.%' ESCAPE '/'"


def _apply(sqlite: bool, rec: str, sign: int) -> list[str]:
    """Statements adding (``sign`` 1) or removing (-1) one record ``rec`` (NEW/OLD)."""
    hour = _hour(sqlite, rec)
    applied = _fact(sqlite, rec, "exception_applied")
    data_class = _finding(sqlite, "data_class")
    return [
        "INSERT INTO call_hourly (hour, environment, decision, calls, redacted)"
        f" VALUES ({hour}, COALESCE({rec}.environment, ''), {rec}.decision, {sign},"
        f" CASE WHEN {_redacted(sqlite, rec)} THEN {sign} ELSE 0 END)"
        " ON CONFLICT (hour, environment, decision) DO UPDATE SET"
        " calls = call_hourly.calls + excluded.calls,"
        " redacted = call_hourly.redacted + excluded.redacted",
        "INSERT INTO exception_hourly (hour, owner, exception_id, calls)"
        f" SELECT {hour}, COALESCE({rec}.owner, ''), {applied}, {sign}"
        f" WHERE {applied} IS NOT NULL"
        " ON CONFLICT (hour, owner, exception_id) DO UPDATE SET"
        " calls = exception_hourly.calls + excluded.calls",
        "INSERT INTO overhead_hourly (hour, bucket, calls)"
        f" VALUES ({hour}, {_overhead_bucket(rec)}, {sign})"
        " ON CONFLICT (hour, bucket) DO UPDATE SET"
        " calls = overhead_hourly.calls + excluded.calls",
        "INSERT INTO injection_hourly (hour, data_class, source, detections, calls)"
        f" SELECT {hour}, {data_class}, COALESCE({_finding(sqlite, 'source')}, ''),"
        f" {sign} * {_detections(sqlite)}, {sign}"
        f" FROM {_findings(sqlite, rec)} WHERE {data_class} {_INJECTION} GROUP BY 1, 2, 3"
        " ON CONFLICT (hour, data_class, source) DO UPDATE SET"
        " detections = injection_hourly.detections + excluded.detections,"
        " calls = injection_hourly.calls + excluded.calls",
    ]


def _sqlite_triggers() -> list[str]:
    def trigger(name: str, event: str, body: list[str]) -> str:
        statements = "".join(f"  {statement};\n" for statement in body)
        return f"CREATE TRIGGER {name} AFTER {event} ON call_records\nBEGIN\n{statements}END"

    added = _apply(True, "NEW", 1)
    removed = _apply(True, "OLD", -1)
    return [
        trigger("call_rollups_insert", "INSERT", added),
        trigger("call_rollups_delete", "DELETE", removed),
        trigger("call_rollups_update", "UPDATE", removed + added),
    ]


def _postgresql_triggers() -> list[str]:
    removed = "".join(f"    {statement};\n" for statement in _apply(False, "OLD", -1))
    added = "".join(f"    {statement};\n" for statement in _apply(False, "NEW", 1))
    function = (
        "CREATE FUNCTION call_rollups_apply() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        f"  PERFORM pg_advisory_xact_lock({_ROLLUP_LOCK_ID});\n"
        f"  IF TG_OP <> 'INSERT' THEN\n{removed}  END IF;\n"
        f"  IF TG_OP <> 'DELETE' THEN\n{added}  END IF;\n"
        "  RETURN NULL;\n"
        "END\n$$"
    )
    trigger = (
        "CREATE TRIGGER call_rollups AFTER INSERT OR UPDATE OR DELETE ON call_records"
        " FOR EACH ROW EXECUTE FUNCTION call_rollups_apply()"
    )
    return [function, trigger]


def _backfill(sqlite: bool) -> list[str]:
    """Count the records stored before the triggers, one grouped query per table."""
    rec = "call_records"
    hour = _hour(sqlite, rec)
    applied = _fact(sqlite, rec, "exception_applied")
    data_class = _finding(sqlite, "data_class")
    return [
        "INSERT INTO call_hourly (hour, environment, decision, calls, redacted)"
        f" SELECT {hour}, COALESCE(environment, ''), decision, COUNT(*),"
        f" SUM(CASE WHEN {_redacted(sqlite, rec)} THEN 1 ELSE 0 END)"
        f" FROM {rec} GROUP BY 1, 2, 3",
        "INSERT INTO exception_hourly (hour, owner, exception_id, calls)"
        f" SELECT {hour}, COALESCE(owner, ''), {applied}, COUNT(*)"
        f" FROM {rec} WHERE {applied} IS NOT NULL GROUP BY 1, 2, 3",
        "INSERT INTO overhead_hourly (hour, bucket, calls)"
        f" SELECT {hour}, {_overhead_bucket(rec)}, COUNT(*) FROM {rec} GROUP BY 1, 2",
        "INSERT INTO injection_hourly (hour, data_class, source, detections, calls)"
        f" SELECT {hour}, {data_class}, COALESCE({_finding(sqlite, 'source')}, ''),"
        f" {_detections(sqlite)}, COUNT(DISTINCT {rec}.request_id)"
        f" FROM {rec}, {_findings(sqlite, rec)} WHERE {data_class} {_INJECTION}"
        " GROUP BY 1, 2, 3",
    ]
