"""Searching the call records: filters on who, where, what was decided and found, newest
first, a page at a time (the admin API's audit explorer).

Pages are keyset-paginated on ``(started_at, request_id)`` descending, so a page deep
into a million records costs what the first one does (no OFFSET). Filters on principal
fields ride on the ``(field, started_at)`` indexes; ``rule`` reads ``call_record_rules``
(every rule that acted on the request or on the answer, newest first per rule: a page
of a rare rule's calls reads that rule's rows, not every record); ``data_class`` looks
inside the JSON column (``jsonb`` containment on PostgreSQL, ``json_each`` on SQLite).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import ColumnElement, and_, func, literal, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB

from bastion.model import CallRecord
from bastion.storage.call_records import _from_row
from bastion.storage.database import Database
from bastion.storage.tables import CallRecordRow, CallRecordRuleRow

_PRINCIPAL_COLUMNS = {
    "key_id": CallRecordRow.key_id,
    "user": CallRecordRow.user,
    "app": CallRecordRow.app,
    "team": CallRecordRow.team,
    "environment": CallRecordRow.environment,
    "owner": CallRecordRow.owner,
}


@dataclass(frozen=True, slots=True)
class CallFilter:
    """What to look for; every field given must match (``None``: any).

    ``rule`` is a rule that acted on the call: one that decided on the request, or an
    output or tool rule that acted on the answer (redacted or refused it, removed a
    tool or a tool call). ``data_class`` is a class name (``pii.email``) or a family
    pattern (``pii.*``);
    ``model`` matches the model asked for or the model used; ``since``/``until`` bound
    ``started_at`` (epoch seconds, ``[since, until)``).
    """

    since: float | None = None
    until: float | None = None
    key_id: str | None = None
    user: str | None = None
    app: str | None = None
    team: str | None = None
    environment: str | None = None
    owner: str | None = None
    decision: str | None = None
    status: str | None = None
    rule: str | None = None
    data_class: str | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class CallPage:
    """One page of records, newest first, and where the next one starts (or None)."""

    records: tuple[CallRecord, ...]
    after: tuple[float, str] | None


class CallSearch:
    """Filtered, paginated reads of ``call_records``."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def page(
        self, where: CallFilter, *, limit: int, after: tuple[float, str] | None = None
    ) -> CallPage:
        """Up to ``limit`` records matching ``where`` started before ``after`` (the
        ``(started_at, request_id)`` of the previous page's last record)."""
        statement = select(CallRecordRow)
        started_at, request_ids = CallRecordRow.started_at, CallRecordRow.request_id
        conditions: list[ColumnElement[bool]] = []
        if where.rule is not None:
            # the rule's calls newest first from its own rows (their keys are the record's)
            statement = statement.join(
                CallRecordRuleRow, CallRecordRuleRow.request_id == CallRecordRow.request_id
            )
            started_at, request_ids = CallRecordRuleRow.started_at, CallRecordRuleRow.request_id
            conditions.append(CallRecordRuleRow.rule == where.rule)
            if where.since is not None:
                conditions.append(started_at >= where.since)
            if where.until is not None:
                conditions.append(started_at < where.until)
            where = replace(where, rule=None)
        conditions += self.conditions(where)
        if after is not None:
            started, request_id = after
            conditions.append(
                or_(
                    started_at < started,
                    and_(started_at == started, request_ids < request_id),
                )
            )
        statement = (
            statement.where(*conditions)
            .order_by(started_at.desc(), request_ids.desc())
            .limit(limit + 1)
        )
        async with self._database.transaction("audit search") as session:
            rows = (await session.scalars(statement)).all()
            records = tuple(_from_row(row) for row in rows[:limit])
        more = len(rows) > limit
        last = records[-1] if more and records else None
        return CallPage(records, (last.started_at, last.request_id) if last else None)

    async def count(self, where: CallFilter) -> int:
        """How many records match ``where`` (an export's progress total)."""
        statement = select(func.count(CallRecordRow.request_id)).where(*self.conditions(where))
        async with self._database.transaction("audit search count") as session:
            return int(await session.scalar(statement) or 0)

    def conditions(self, where: CallFilter) -> list[ColumnElement[bool]]:
        """The SQL conditions of ``where`` (shared with the overview's aggregates)."""
        found: list[ColumnElement[bool]] = []
        if where.since is not None:
            found.append(CallRecordRow.started_at >= where.since)
        if where.until is not None:
            found.append(CallRecordRow.started_at < where.until)
        for name, column in _PRINCIPAL_COLUMNS.items():
            value = getattr(where, name)
            if value is not None:
                found.append(column == value)
        if where.decision is not None:
            found.append(CallRecordRow.decision == where.decision)
        if where.status is not None:
            found.append(CallRecordRow.status == where.status)
        if where.model is not None:
            found.append(
                or_(
                    CallRecordRow.model_requested == where.model,
                    CallRecordRow.model_used == where.model,
                )
            )
        if where.rule is not None:
            found.append(self._has_rule(where.rule))
        if where.data_class is not None:
            found.append(self._has_class(where.data_class))
        return found

    def _has_rule(self, rule: str) -> ColumnElement[bool]:
        acted = select(CallRecordRuleRow.request_id).where(CallRecordRuleRow.rule == rule)
        return CallRecordRow.request_id.in_(acted)

    def _has_class(self, pattern: str) -> ColumnElement[bool]:
        family = pattern[:-2] if pattern.endswith(".*") else None
        name: ColumnElement[str]
        if not self._database.is_sqlite:
            if family is None:
                findings = type_coerce(CallRecordRow.findings, JSONB)
                return findings.contains([{"data_class": pattern}])
            element = func.jsonb_array_elements(
                type_coerce(CallRecordRow.findings, JSONB)
            ).table_valued("value")
            name = element.c.value.op("->>")("data_class")
        else:
            element = func.json_each(CallRecordRow.findings).table_valued("value")
            name = func.json_extract(element.c.value, "$.data_class")
        if family is None:
            matches = name == pattern
        else:
            matches = name.startswith(family + ".", autoescape=True)
        return select(literal(1)).select_from(element).where(matches).exists()
