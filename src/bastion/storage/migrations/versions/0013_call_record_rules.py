"""Every rule that acted on a call, one row each, for the audit search by rule.

A record's ``rules`` column holds the rules that decided on the request; a rule that
acted only on the answer is in its ``request_facts``: an output rule that redacted or
refused the answer (``output_redacted.rules``, ``output_blocked.rules``), a tool rule
that removed a tool from the request or a tool call from the answer
(``tools_stripped[].rule``, ``tool_calls_refused[].rule``). ``call_record_rules``
holds ``(rule, started_at, request_id)`` for each of them, so a search by rule reads
that rule's calls newest first from the primary key instead of looking inside the JSON
of every record. Triggers add a record's rules when it is inserted (``ON CONFLICT DO
NOTHING`` skips fire none), remove them when it is deleted, and do both on an update,
so the table stays exact whichever path writes the records (PostgreSQL: statement
triggers over the transition tables, as the rollups of 0012). Existing records are
indexed here.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

# ruff: noqa: S608 -- DDL built from constants (no value comes from outside)

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "call_record_rules"
_EVENTS = ("insert", "delete", "update")
_SOURCES: tuple[tuple[tuple[str, ...], str], ...] = (
    # (JSON path under the record, what each element is: a rule id or {"rule": id})
    (("rules",), "id"),
    (("request_facts", "output_redacted", "rules"), "id"),
    (("request_facts", "output_blocked", "rules"), "id"),
    (("request_facts", "tools_stripped"), "object"),
    (("request_facts", "tool_calls_refused"), "object"),
)
"""Where a record names the rules that acted on it."""


def upgrade() -> None:
    """Create the table and its triggers, then index the records already stored."""
    op.create_table(
        _TABLE,
        sa.Column("rule", sa.String(), primary_key=True),
        sa.Column("started_at", sa.Float(), primary_key=True),
        sa.Column("request_id", sa.String(), primary_key=True),
        sqlite_with_rowid=False,  # the key is the row: one B-tree less per rule written
    )
    op.create_index(f"ix_{_TABLE}_request_id", _TABLE, ["request_id"])
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _sqlite_triggers() if sqlite else _postgresql_triggers():
        op.execute(statement)
    for statement in _inserts(sqlite, "call_records"):
        op.execute(statement)


def downgrade() -> None:
    """Drop the triggers and the table."""
    for event in (*_EVENTS, "insert_facts"):  # insert_facts: SQLite only
        name = f"{_TABLE}_{event}"
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON call_records")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_index(f"ix_{_TABLE}_request_id", table_name=_TABLE)
    op.drop_table(_TABLE)


def _inserts(sqlite: bool, records: str, row: str | None = None) -> list[str]:
    """One statement per source adding the rules of the records in the table
    ``records`` (or of the single trigger row ``row``: NEW)."""
    rec = row or "rec"
    table = "" if row else f"{records} AS rec, "
    statements = []
    for path, kind in _SOURCES:
        column, keys = path[0], path[1:]
        if sqlite:
            where = f", '$.{'.'.join(keys)}'" if keys else ""
            elements = f"json_each({rec}.{column}{where}) AS element"
            if kind == "id":
                rule, wanted = "element.value", "element.type = 'text'"
            else:
                rule = "json_extract(element.value, '$.rule')"
                wanted = f"element.type = 'object' AND typeof({rule}) = 'text'"
            verb, conflict = "INSERT OR IGNORE INTO", ""
        else:
            value = f"{rec}.{column}" + "".join(f" -> '{key}'" for key in keys)
            array = f"CASE WHEN jsonb_typeof({value}) = 'array' THEN {value} END"
            elements = f"jsonb_array_elements({array}) AS element(value)"
            if kind == "id":
                rule, wanted = "element.value #>> '{}'", "jsonb_typeof(element.value) = 'string'"
            else:
                rule = "element.value ->> 'rule'"
                wanted = f"jsonb_typeof(element.value) = 'object' AND {rule} IS NOT NULL"
            verb, conflict = "INSERT INTO", " ON CONFLICT DO NOTHING"
        statements.append(
            f"{verb} {_TABLE} (rule, started_at, request_id)"
            f" SELECT {rule}, {rec}.started_at, {rec}.request_id"
            f" FROM {table}{elements} WHERE {wanted}{conflict}"
        )
    return statements


def _sqlite_triggers() -> list[str]:
    def trigger(name: str, event: str, body: list[str], when: str = "") -> str:
        statements = "".join(f"  {statement};\n" for statement in body)
        return (
            f"CREATE TRIGGER {_TABLE}_{name} AFTER {event.upper()} ON call_records\n"
            f"{when}BEGIN\n{statements}END"
        )

    removed = [f"DELETE FROM {_TABLE} WHERE request_id = OLD.request_id"]
    added = _inserts(True, "", row="NEW")
    # Most calls have no answer-side rule: a substring test spares them the four JSON
    # reads of request_facts (measured: ~35 µs of CPU per shipped call without it).
    in_facts = "WHEN instr(NEW.request_facts, '\"rule') > 0\n"
    return [
        trigger("insert", "insert", added[:1]),  # the rules column (first of _SOURCES)
        trigger("insert_facts", "insert", added[1:], in_facts),
        trigger("delete", "delete", removed),
        trigger("update", "update", removed + added),
    ]


def _postgresql_triggers() -> list[str]:
    removed = [
        f"DELETE FROM {_TABLE} AS kept USING removed WHERE kept.request_id = removed.request_id"
    ]
    added = _inserts(False, "added")
    bodies = {"insert": added, "delete": removed, "update": removed + added}
    tables = {"insert": ("NEW",), "delete": ("OLD",), "update": ("OLD", "NEW")}
    statements = []
    for event, body in bodies.items():
        name = f"{_TABLE}_{event}"
        lines = "".join(f"  {statement};\n" for statement in body)
        statements.append(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN\n{lines}  RETURN NULL;\nEND\n$$"
        )
        referencing = " ".join(
            f"{which} TABLE AS {'added' if which == 'NEW' else 'removed'}"
            for which in tables[event]
        )
        statements.append(
            f"CREATE TRIGGER {name} AFTER {event.upper()} ON call_records"
            f" REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    return statements
