"""How often each policy rule matched, counted in the database over the call records
(the evidence report's "top rules")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, case, func, select, true, type_coerce
from sqlalchemy.dialects.postgresql import JSONB

from bastion.storage.call_stats import REFUSALS
from bastion.storage.database import Database
from bastion.storage.tables import CallRecordRow


@dataclass(frozen=True, slots=True)
class RuleCount:
    """Calls one rule matched, and how many of them the policy refused."""

    rule: str
    calls: int
    refused: int


class RuleStats:
    """Grouped reads of the ``rules`` of ``call_records`` (``conditions`` from ``CallSearch``)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def top_rules(
        self, conditions: Sequence[ColumnElement[bool]], *, limit: int = 10
    ) -> list[RuleCount]:
        """The ``limit`` rules that matched the most calls, most first."""
        rule: ColumnElement[str]
        if self._database.is_sqlite:
            element = func.json_each(CallRecordRow.rules).table_valued("value")
            rule = element.c.value
        else:
            element = func.jsonb_array_elements_text(
                type_coerce(CallRecordRow.rules, JSONB)
            ).table_valued("value")
            rule = element.c.value
        calls = func.count(func.distinct(CallRecordRow.request_id))
        refused_id = case((CallRecordRow.decision.in_(REFUSALS), CallRecordRow.request_id))
        refused = func.count(func.distinct(refused_id))
        statement = (
            select(rule, calls, refused)
            .select_from(CallRecordRow)
            .join(element, true())  # each record with its own rules
            .where(*conditions)
            .group_by(rule)
            .order_by(calls.desc(), rule)
            .limit(max(1, limit))
        )
        async with self._database.transaction("report top rules") as session:
            rows = (await session.execute(statement)).all()
        return [RuleCount(str(r[0]), int(r[1]), int(r[2] or 0)) for r in rows]
