"""PostgreSQL keeps the call rollups once per statement, not once per record.

Migration 0009's row trigger took the advisory lock and ran four upserts for every
record, and the audit shipper writes its records a batch per statement: measured on
loopback (batches of 40), the trigger cost ~90-105 µs per record on top of the
~55-100 µs of the insert itself. Statement triggers see the rows a statement really
changed in transition tables (a row skipped by ``ON CONFLICT DO NOTHING`` is not in
them) and add or subtract them in one grouped upsert per rollup table, so the rollups
stay exact whichever path writes the records, as before. PostgreSQL allows transition
tables only on one-event triggers: one trigger per event. The counting expressions are
0009's own (hour, redacted, overhead bucket, findings), so every record counts as it
did. SQLite has no statement triggers; its row triggers stay.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

# ruff: noqa: S608 -- DDL built from constants (no value comes from outside)

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENTS = {  # trigger event -> transition tables it reads: (name, sign)
    "INSERT": (("added", 1),),
    "DELETE": (("removed", -1),),
    "UPDATE": (("removed", -1), ("added", 1)),
}


def _rollups_0009() -> ModuleType:
    """Migration 0009, for its counting expressions and its row trigger (downgrade)."""
    path = Path(__file__).with_name("0009_call_rollups.py")
    spec = importlib.util.spec_from_file_location("bastion_migration_0009", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    """Replace the row trigger with one statement trigger per event (PostgreSQL)."""
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute("DROP TRIGGER IF EXISTS call_rollups ON call_records")
    op.execute("DROP FUNCTION IF EXISTS call_rollups_apply()")
    rollups = _rollups_0009()
    for event, tables in _EVENTS.items():
        name = f"call_rollups_{event.lower()}"
        body = "".join(
            f"  {statement};\n"
            for table, sign in tables
            for statement in _grouped(rollups, table, sign)
        )
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            "BEGIN\n"
            f"  PERFORM pg_advisory_xact_lock({rollups._ROLLUP_LOCK_ID});\n"
            f"{body}"
            "  RETURN NULL;\n"
            "END\n$$"
        )
        referencing = " ".join(
            f"{'NEW' if table == 'added' else 'OLD'} TABLE AS {table}" for table, _ in tables
        )
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON call_records REFERENCING {referencing}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )


def downgrade() -> None:
    """Back to 0009's row trigger (PostgreSQL)."""
    if op.get_bind().dialect.name == "sqlite":
        return
    for event in _EVENTS:
        name = f"call_rollups_{event.lower()}"
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON call_records")
        op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    for statement in _rollups_0009()._postgresql_triggers():
        op.execute(statement)


def _grouped(rollups: ModuleType, rec: str, sign: int) -> list[str]:
    """Statements adding (``sign`` 1) or subtracting (-1) the records of ``rec``: one
    grouped upsert per rollup table (0009's per-record statements, summed)."""
    hour = rollups._hour(False, rec)
    applied = rollups._fact(False, rec, "exception_applied")
    data_class = rollups._finding(False, "data_class")
    source = rollups._finding(False, "source")
    return [
        "INSERT INTO call_hourly (hour, environment, decision, calls, redacted)"
        f" SELECT {hour}, COALESCE({rec}.environment, ''), {rec}.decision, {sign} * COUNT(*),"
        f" {sign} * SUM(CASE WHEN {rollups._redacted(False, rec)} THEN 1 ELSE 0 END)"
        f" FROM {rec} GROUP BY 1, 2, 3"
        " ON CONFLICT (hour, environment, decision) DO UPDATE SET"
        " calls = call_hourly.calls + excluded.calls,"
        " redacted = call_hourly.redacted + excluded.redacted",
        "INSERT INTO exception_hourly (hour, owner, exception_id, calls)"
        f" SELECT {hour}, COALESCE({rec}.owner, ''), {applied}, {sign} * COUNT(*)"
        f" FROM {rec} WHERE {applied} IS NOT NULL GROUP BY 1, 2, 3"
        " ON CONFLICT (hour, owner, exception_id) DO UPDATE SET"
        " calls = exception_hourly.calls + excluded.calls",
        "INSERT INTO overhead_hourly (hour, bucket, calls)"
        f" SELECT {hour}, {rollups._overhead_bucket(rec)}, {sign} * COUNT(*)"
        f" FROM {rec} GROUP BY 1, 2"
        " ON CONFLICT (hour, bucket) DO UPDATE SET"
        " calls = overhead_hourly.calls + excluded.calls",
        "INSERT INTO injection_hourly (hour, data_class, source, detections, calls)"
        f" SELECT {hour}, {data_class}, COALESCE({source}, ''),"
        f" {sign} * {rollups._detections(False)}, {sign} * COUNT(DISTINCT {rec}.request_id)"
        f" FROM {rec}, {rollups._findings(False, rec)}"
        f" WHERE {data_class} {rollups._INJECTION} GROUP BY 1, 2, 3"
        " ON CONFLICT (hour, data_class, source) DO UPDATE SET"
        " detections = injection_hourly.detections + excluded.detections,"
        " calls = injection_hourly.calls + excluded.calls",
    ]
