"""How often each policy rule acted on a call, counted in the database over the call
records (the evidence report's "top rules")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, case, func, or_, select

from bastion.model import CallStatus
from bastion.storage.call_stats import REFUSALS
from bastion.storage.database import Database
from bastion.storage.tables import CallRecordRow, CallRecordRuleRow


@dataclass(frozen=True, slots=True)
class RuleCount:
    """Calls one rule acted on, and how many of them were refused."""

    rule: str
    calls: int
    refused: int


class RuleStats:
    """Grouped reads of ``call_record_rules`` (every rule that acted on a call, on its
    request or on its answer) over the records ``conditions`` (from ``CallSearch``) keep."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def top_rules(
        self, conditions: Sequence[ColumnElement[bool]], *, limit: int = 10
    ) -> list[RuleCount]:
        """The ``limit`` rules that acted on the most calls, most first; a call is refused
        when the policy refused the request or a rule refused the answer (``blocked``)."""
        rule = CallRecordRuleRow.rule
        calls = func.count(func.distinct(CallRecordRow.request_id))
        was_refused = or_(
            CallRecordRow.decision.in_(REFUSALS),
            CallRecordRow.status == CallStatus.BLOCKED.value,
        )
        refused = func.count(func.distinct(case((was_refused, CallRecordRow.request_id))))
        statement = (
            select(rule, calls, refused)
            .select_from(CallRecordRow)
            .join(CallRecordRuleRow, CallRecordRuleRow.request_id == CallRecordRow.request_id)
            .where(*conditions)
            .group_by(rule)
            .order_by(calls.desc(), rule)
            .limit(max(1, limit))
        )
        async with self._database.transaction("report top rules") as session:
            rows = (await session.execute(statement)).all()
        return [RuleCount(str(r[0]), int(r[1]), int(r[2] or 0)) for r in rows]
