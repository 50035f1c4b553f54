"""ClassSetRepository on SQLite and PostgreSQL, and reading call records by time window."""

from __future__ import annotations

import hashlib
from dataclasses import replace

from bastion.model import CallRecord, CallStatus
from bastion.model.facts import class_set_digest
from bastion.storage import CallRecordRepository, Database
from bastion.storage.class_sets import ClassSetRepository


async def test_save_returns_the_content_digest_and_round_trips(database: Database) -> None:
    repo = ClassSetRepository(database)
    digest = await repo.save(["secret.jwt", "pii.email", "pii.email"])
    assert digest == hashlib.sha256(b"pii.email\nsecret.jwt").hexdigest()
    assert digest == class_set_digest(["pii.email", "secret.jwt"])
    assert await repo.get_many([digest]) == {digest: frozenset({"pii.email", "secret.jwt"})}


async def test_saving_the_same_set_twice_is_idempotent(database: Database) -> None:
    repo = ClassSetRepository(database)
    first = await repo.save(["pii.email", "secret.jwt"])
    second = await repo.save(["secret.jwt", "pii.email"])
    other = await repo.save(["pii.email"])
    assert first == second != other
    found = await repo.get_many([first, other, "0" * 64])
    assert found == {first: {"pii.email", "secret.jwt"}, other: {"pii.email"}}


async def test_get_many_of_nothing_is_empty(database: Database) -> None:
    assert await ClassSetRepository(database).get_many([]) == {}


async def test_get_many_looks_up_more_digests_than_one_query_takes(database: Database) -> None:
    repo = ClassSetRepository(database)
    digests = [await repo.save([f"custom.c{i}"]) for i in range(3)]
    unknown = [f"{i:064x}" for i in range(1200)]
    found = await repo.get_many([*unknown, *digests])
    assert found == {d: {f"custom.c{i}"} for i, d in enumerate(digests)}


def _record(request_id: str, started_at: float) -> CallRecord:
    return CallRecord(
        request_id=request_id,
        started_at=started_at,
        endpoint="chat.completions",
        principal=None,
        model_requested="gpt-4o",
        model_used="gpt-4o",
        decision="allow",
        status=CallStatus.COMPLETED,
        http_status=200,
    )


async def test_records_of_a_window_come_in_pages_oldest_first(database: Database) -> None:
    repo = CallRecordRepository(database)
    # three calls share one start time: the request id orders them across pages
    times = [100.0, 200.0, 200.0, 200.0, 300.0, 400.0, 500.0]
    await repo.insert_many([_record(f"req_{i}", t) for i, t in enumerate(times)])
    pages = [page async for page in repo.pages_between(200.0, 500.0, page_size=2)]
    assert [[r.request_id for r in page] for page in pages] == [
        ["req_1", "req_2"],
        ["req_3", "req_4"],
        ["req_5"],
    ]
    assert await repo.count_between(200.0, 500.0) == 5
    assert await repo.count_between(200.0) == 6
    everything = [r async for page in repo.pages_between(0.0, page_size=7) for r in page]
    assert [r.request_id for r in everything] == [f"req_{i}" for i in range(7)]
    assert [page async for page in repo.pages_between(600.0)] == []


async def test_a_page_is_the_stored_record(database: Database) -> None:
    repo = CallRecordRepository(database)
    stored = replace(_record("req_1", 10.0), request_facts={"class_set": "a" * 64})
    await repo.insert_many([stored])
    assert [page async for page in repo.pages_between(0.0)] == [[stored]]
