"""Audit call records in the store: batched inserts (group commit) and reads.

Inserts are idempotent per ``request_id``: replaying a spool after a crash skips the
records that already committed instead of failing the whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bastion.model import CallRecord, CallStatus, FindingSummary, Principal, Usage
from bastion.storage.database import Database
from bastion.storage.tables import CallRecordRow


class CallRecordRepository:
    """Write and read ``call_records``."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def insert_many(self, records: Sequence[CallRecord]) -> None:
        """Insert ``records`` in one transaction; already stored request ids are skipped."""
        if not records:
            return
        insert = sqlite_insert if self._database.is_sqlite else postgresql_insert
        statement = insert(CallRecordRow).on_conflict_do_nothing(index_elements=["request_id"])
        rows = [_to_values(record) for record in records]
        async with self._database.transaction("audit batch insert") as session:
            await session.execute(statement, rows)

    async def get(self, request_id: str) -> CallRecord | None:
        """The record of one call, or None."""
        async with self._database.transaction("audit record lookup") as session:
            row = await session.get(CallRecordRow, request_id)
            return None if row is None else _from_row(row)

    async def recent(self, limit: int = 100) -> list[CallRecord]:
        """The ``limit`` most recently started calls, newest first."""
        statement = (
            select(CallRecordRow)
            .order_by(CallRecordRow.started_at.desc(), CallRecordRow.request_id)
            .limit(limit)
        )
        async with self._database.transaction("audit record list") as session:
            return [_from_row(row) for row in (await session.scalars(statement)).all()]

    async def count(self) -> int:
        """How many call records are stored."""
        async with self._database.transaction("audit record count") as session:
            return int(await session.scalar(select(func.count(CallRecordRow.request_id))) or 0)


def _to_values(record: CallRecord) -> dict[str, Any]:
    principal = record.principal
    return {
        "request_id": record.request_id,
        "started_at": record.started_at,
        "endpoint": record.endpoint,
        "key_id": principal.key_id if principal else None,
        "name": principal.name if principal else None,
        "user": principal.user if principal else None,
        "app": principal.app if principal else None,
        "team": principal.team if principal else None,
        "environment": principal.environment if principal else None,
        "roles": list(principal.roles) if principal else None,
        "owner": principal.owner if principal else None,
        "model_requested": record.model_requested,
        "model_used": record.model_used,
        "provider": record.provider,
        "decision": record.decision,
        "status": record.status.value,
        "http_status": record.http_status,
        "error_code": record.error_code,
        "stream": record.stream,
        "prompt_tokens": record.usage.prompt_tokens,
        "completion_tokens": record.usage.completion_tokens,
        "usage_estimated": record.usage.estimated,
        "gateway_ms": record.gateway_ms,
        "upstream_ms": record.upstream_ms,
        "findings": [_finding_to_json(finding) for finding in record.findings],
        "rules": list(record.rules),
        "policy_version": record.policy_version,
        "cost_usd": record.cost_usd,
        "end_user_claimed": record.end_user_claimed,
        "client_addr": record.client_addr,
        "request_facts": record.request_facts,
    }


def _finding_to_json(finding: FindingSummary) -> dict[str, Any]:
    return {
        "data_class": finding.data_class,
        "source": finding.source,
        "location": finding.location,
        "count": finding.count,
        "score": finding.score,
    }


def _from_row(row: CallRecordRow) -> CallRecord:
    principal = None
    if row.key_id is not None:
        principal = Principal(
            key_id=row.key_id,
            name=row.name or "",
            user=row.user,
            app=row.app,
            team=row.team,
            environment=row.environment or "dev",
            roles=tuple(row.roles or ()),
            owner=row.owner,
        )
    return CallRecord(
        request_id=row.request_id,
        started_at=row.started_at,
        endpoint=row.endpoint,
        principal=principal,
        model_requested=row.model_requested,
        model_used=row.model_used,
        decision=row.decision,
        status=CallStatus(row.status),
        http_status=row.http_status,
        error_code=row.error_code,
        stream=row.stream,
        usage=Usage(
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            estimated=row.usage_estimated,
        ),
        gateway_ms=row.gateway_ms,
        upstream_ms=row.upstream_ms,
        findings=tuple(FindingSummary(**finding) for finding in row.findings),
        rules=tuple(row.rules),
        policy_version=row.policy_version,
        cost_usd=row.cost_usd,
        provider=row.provider,
        end_user_claimed=row.end_user_claimed,
        client_addr=row.client_addr,
        request_facts=dict(row.request_facts),
    )
