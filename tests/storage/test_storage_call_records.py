"""CallRecordRepository on SQLite and PostgreSQL: group commit, idempotence, reads."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bastion.errors import StorageError
from bastion.model import CallRecord, CallStatus, FindingSummary, Principal, Usage
from bastion.storage import CallRecordRepository, Database

PRINCIPAL = Principal(
    key_id="abcd1234",
    name="support bot",
    user="ana",
    app="helpdesk",
    team="support",
    environment="prod",
    roles=("agent",),
    owner="ops-lead",
)


def make_record(request_id: str = "req_1", started_at: float = 1000.0) -> CallRecord:
    return CallRecord(
        request_id=request_id,
        started_at=started_at,
        endpoint="chat.completions",
        principal=PRINCIPAL,
        model_requested="gpt-4o",
        model_used="gpt-4o-mini",
        decision="redact",
        status=CallStatus.COMPLETED,
        http_status=200,
        stream=True,
        usage=Usage(prompt_tokens=12, completion_tokens=30, estimated=True),
        gateway_ms=0.7,
        upstream_ms=812.5,
        findings=(FindingSummary("pii.email", "user", "messages[0]", count=2, score=0.9),),
        rules=("pii.redact_email", "model.reroute"),
        policy_version="enterprise@v3+abc123def456",
        cost_usd=0.00042,
        provider="openai",
        end_user_claimed="customer-77",
        client_addr="10.0.0.5",
        request_facts={"tools": ["search"], "n": 1, "nested": {"ok": True}},
    )


async def test_record_round_trips_with_principal(database: Database) -> None:
    repo = CallRecordRepository(database)
    record = make_record()
    await repo.insert_many([record])
    assert await repo.get("req_1") == record
    assert await repo.get("req_missing") is None


async def test_record_without_principal_round_trips(database: Database) -> None:
    repo = CallRecordRepository(database)
    record = replace(
        make_record("req_anon"),
        principal=None,
        status=CallStatus.BLOCKED,
        http_status=401,
        error_code="invalid_api_key",
        cost_usd=None,
        findings=(),
        request_facts={},
    )
    await repo.insert_many([record])
    assert await repo.get("req_anon") == record


async def test_batch_insert_recent_and_count(database: Database) -> None:
    repo = CallRecordRepository(database)
    await repo.insert_many([make_record(f"req_{i:03d}", started_at=1000.0 + i) for i in range(50)])
    assert await repo.count() == 50
    recent = await repo.recent(limit=3)
    assert [r.request_id for r in recent] == ["req_049", "req_048", "req_047"]
    await repo.insert_many([])
    assert await repo.count() == 50


async def test_a_large_batch_round_trips_whatever_its_size(database: Database) -> None:
    # PostgreSQL writes a batch as a few multi-row statements (256 + 32 + 8 + 4 rows here)
    repo = CallRecordRepository(database)
    records = [
        replace(make_record(f"req_{i:04d}", started_at=1000.0 + i), http_status=200 + i % 7)
        for i in range(300)
    ]
    await repo.insert_many(records[::2])
    await repo.insert_many(records)  # the even ones again: skipped, the odd ones stored
    assert await repo.count() == 300
    for record in (records[0], records[257], records[299]):
        assert await repo.get(record.request_id) == record


async def test_replayed_records_are_skipped_not_fatal(database: Database) -> None:
    repo = CallRecordRepository(database)
    await repo.insert_many([make_record("req_a")])
    changed = replace(make_record("req_a"), http_status=500)
    await repo.insert_many([changed, make_record("req_b")])
    assert await repo.count() == 2
    stored = await repo.get("req_a")
    assert stored is not None and stored.http_status == 200


async def test_a_failing_batch_stores_nothing(database: Database) -> None:
    repo = CallRecordRepository(database)
    unserialisable = replace(make_record("req_bad"), request_facts={"x": object()})
    with pytest.raises(StorageError):
        await repo.insert_many([make_record("req_ok"), unserialisable])
    assert await repo.count() == 0
