"""The shipper's batch on each backend: call records stored as logged, whatever shape
the log gave them (NULLs, booleans, a record logged before a column existed)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bastion.audit.chain import COMPLETION, Chain, canonical
from bastion.model import CallRecord, CallStatus, Principal, Usage
from bastion.model.audit import record_to_json
from bastion.model.chain import WriterState
from bastion.storage import Database
from bastion.storage.audit_events import AuditEventRepository
from bastion.storage.call_records import CallRecordRepository


def call(n: int, *, stream: bool, principal: Principal | None) -> CallRecord:
    return CallRecord(
        f"req_{n}",
        1_700_000_000.5 + n,
        "chat.completions",
        principal,
        "gpt-4o",
        None,
        "allow",
        CallStatus.COMPLETED,
        200,
        stream=stream,
        usage=Usage(10, 20, estimated=not stream),
        request_facts={"segments": [["user", 12]]},
    )


async def ship(database: Database, records: list[dict[str, object]]) -> None:
    chain = Chain("w_ship")
    events = [chain.link(COMPLETION, str(r["request_id"]), 1.0, canonical(r)) for r in records]
    state = WriterState("w_ship", chain.head_seq, chain.head_hash, 1, 0, 0)
    await AuditEventRepository(database).ship(events, records, state, 2.0, 32.0)


async def test_nulls_and_booleans_are_stored_as_logged(database: Database) -> None:
    calls = [
        call(1, stream=True, principal=None),
        call(2, stream=False, principal=Principal(key_id="k1", name="app", user="ana")),
    ]
    await ship(database, [record_to_json(c) for c in calls])
    repository = CallRecordRepository(database)
    assert [await repository.get(c.request_id) for c in calls] == calls
    if database.is_sqlite:  # the driver's own binding of a bool: the integer 1 or 0
        async with database.engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT stream, typeof(stream), usage_estimated, typeof(key_id)"
                    " FROM call_records ORDER BY request_id"
                )
            )
            assert [tuple(row) for row in rows] == [
                (1, "integer", 0, "null"),
                (0, "integer", 1, "text"),
            ]


@pytest.mark.parametrize("missing", [("provider",), ("cost_usd", "client_addr")])
async def test_a_record_logged_before_a_column_existed_stores_null_there(
    database: Database, missing: tuple[str, ...]
) -> None:
    values = record_to_json(call(3, stream=False, principal=None))
    values.update(provider="openai", cost_usd=0.5, client_addr="10.0.0.1")
    for name in missing:
        del values[name]
    await ship(database, [values])
    stored = await CallRecordRepository(database).get("req_3")
    assert stored is not None
    kept = {"provider": "openai", "cost_usd": 0.5, "client_addr": "10.0.0.1"}
    for name, value in kept.items():
        assert getattr(stored, name) == (None if name in missing else value)
