"""Overview aggregates from the hourly rollups give the same answers as grouped queries
over the records, on SQLite and PostgreSQL: for ranges with partial hours at either
end, buckets whose edges cut hours, records inserted twice, deleted, or stored before
the rollups existed."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Connection, insert, text
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.model import CallRecord, CallStatus, FindingSummary, Principal
from bastion.model.audit import record_to_json
from bastion.storage import CallRecordRepository, Database
from bastion.storage.call_search import CallFilter, CallSearch
from bastion.storage.call_stats import CallStats
from bastion.storage.database import MIGRATIONS_DIR
from bastion.storage.tables import CallRecordRow

START = 1_700_000_000.0 - 1_700_000_000.0 % 3600  # a whole hour
SPAN_S = 3 * 86400
ENVIRONMENTS = ("prod", "dev", "staging", None)
OWNERS = ("alice", "bob", None)
DECISIONS = ("allow", "allow", "allow", "redact", "block", "reroute", "require_exception")
INJECTIONS = ("injection.direct", "injection.indirect", "pii.email", "secret.aws_access_key")
SOURCES = ("user", "retrieved", "tool_result")


def generated(count: int, seed: int, first: int = 0) -> list[CallRecord]:
    """Records spread over three days with random principals, decisions and findings."""
    rng = random.Random(seed)
    records = []
    for n in range(first, first + count):
        environment = rng.choice(ENVIRONMENTS)
        who = None  # unauthenticated: no environment, no owner
        if environment is not None:
            who = Principal(
                key_id=f"k_{n % 7}", name="app", user=None, app="app", team="team",
                environment=environment, owner=rng.choice(OWNERS),
            )  # fmt: skip
        decision = rng.choice(DECISIONS)
        facts: dict[str, object] = {}
        if decision == "reroute" and rng.random() < 0.5:
            facts["redacted"] = {"pii.email": "mask"}
        if decision == "allow" and rng.random() < 0.2:
            facts["exception_applied"] = rng.choice(("exc_a", "exc_b", "exc_c"))
        findings = tuple(
            FindingSummary(rng.choice(INJECTIONS), rng.choice(SOURCES), "m.0", rng.randint(1, 3))
            for _ in range(rng.choice((0, 0, 1, 2, 3)))
        )
        refused = decision in ("block", "require_exception")
        record = CallRecord(
            request_id=f"req_{n:06d}",
            started_at=START + rng.random() * SPAN_S,
            endpoint="chat.completions",
            principal=who,
            model_requested="gpt-4o-mini",
            model_used="gpt-4o-mini",
            decision=decision,
            status=CallStatus.BLOCKED if refused else CallStatus.COMPLETED,
            http_status=403 if refused else 200,
            gateway_ms=rng.lognormvariate(0.0, 1.5),
            findings=findings,
            request_facts=facts,
        )
        records.append(record)
    return records


async def answers(stats: CallStats, where: Any, since: float, bucket_s: float) -> dict[str, Any]:
    buckets = await stats.calls_over_time(where, since=since, bucket_s=bucket_s)
    return {
        "buckets": sorted(
            (b.start, b.environment or "", b.calls, b.blocked, b.redacted) for b in buckets
        ),
        "decisions": await stats.decisions(where),
        "injections": await stats.injections(where),
        "exceptions": sorted(
            (u.owner or "", u.calls, u.exceptions) for u in await stats.exception_uses(where)
        ),
        "overhead": await stats.overhead_histogram(where),
    }


async def assert_rollups_match_records(database: Database, since: float, until: float) -> None:
    stats = CallStats(database)
    where = CallFilter(since=since, until=until)
    conditions = CallSearch(database).conditions(where)  # always the records
    for bucket_s in (3600.0, 7200.0, 86400.0, 600.0):
        from_rollups = await answers(stats, where, since, bucket_s)
        from_records = await answers(stats, conditions, since, bucket_s)
        assert from_rollups == from_records, (since, until, bucket_s)
        assert sum(from_rollups["decisions"].values()) > 0


RANGES = [
    pytest.param(START, START + SPAN_S, id="whole-hours"),
    pytest.param(START + 1234.5, START + 2 * 86400 + 17.25, id="partial-hours-at-both-ends"),
    pytest.param(START + 600, START + 3000, id="inside-one-hour"),
    pytest.param(START + 3599.75, START + 86400 + 0.5, id="edges-next-to-hours"),
    pytest.param(START - 86400, START + 7 * 3600, id="before-the-first-record"),
]


@pytest.mark.parametrize(("since", "until"), RANGES)
async def test_rollups_answer_like_the_records(
    database: Database, since: float, until: float
) -> None:
    records = generated(1500, seed=7)
    repository = CallRecordRepository(database)
    await repository.insert_many(records)
    await repository.insert_many(records[::3])  # already stored: counted once
    await assert_rollups_match_records(database, since, until)


async def test_deleted_records_leave_the_rollups(database: Database) -> None:
    await CallRecordRepository(database).insert_many(generated(800, seed=11))
    async with database.transaction("test delete") as session:
        await session.execute(text("DELETE FROM call_records WHERE request_id LIKE '%3'"))
    await assert_rollups_match_records(database, START + 1800.0, START + SPAN_S - 1800.0)


async def test_updated_records_move_between_rollup_rows(database: Database) -> None:
    await CallRecordRepository(database).insert_many(generated(800, seed=17))
    async with database.transaction("test update") as session:
        await session.execute(
            text(
                "UPDATE call_records SET decision = 'block', started_at = started_at + 5400,"
                " gateway_ms = gateway_ms * 10 WHERE request_id LIKE '%7'"
            )
        )
    await assert_rollups_match_records(database, START + 1800.0, START + SPAN_S + 3600.0)


async def test_records_stored_before_the_rollups_are_counted_once(database: Database) -> None:
    repository = CallRecordRepository(database)
    await repository.insert_many(generated(500, seed=3))
    async with database.engine.begin() as connection:
        await connection.run_sync(_migrate, "0008")  # back to before the rollups (0009)
    await repository.insert_many(generated(500, seed=4, first=500))
    await database.migrate()  # the rollups again, from every stored record
    await repository.insert_many(generated(300, seed=5, first=1000))
    await assert_rollups_match_records(database, START + 100.0, START + SPAN_S)
    stats = CallStats(database)
    decisions = await stats.decisions(CallFilter(since=START, until=START + SPAN_S))
    assert sum(decisions.values()) == 1300


def _migrate(connection: Connection, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def test_whole_hours_are_read_from_the_rollups(database: Database) -> None:
    await CallRecordRepository(database).insert_many(generated(300, seed=9))
    async with database.transaction("test empty rollups") as session:
        await session.execute(text("DELETE FROM call_hourly"))  # the records stay
    stats = CallStats(database)
    whole_day = await stats.decisions(CallFilter(since=START, until=START + 86400))
    partial = await stats.decisions(CallFilter(since=START + 60, until=START + 3540))
    assert whole_day == {} and sum(partial.values()) > 0


@pytest.mark.postgres
async def test_concurrent_writers_queue_instead_of_deadlocking(postgres_url: str) -> None:
    database = Database.from_url(postgres_url)
    await database.migrate()
    same_hour = {"started_at": START + 100, "decision": "allow", "gateway_ms": 1.0}
    prod, dev = (
        [
            replace(r, **same_hour)  # type: ignore[arg-type]
            for r in generated(400, seed=13)
            if r.principal and r.principal.environment == env
        ]
        for env in ("prod", "dev")
    )
    try:
        async with database.engine.connect() as first:
            await first.begin()
            await _insert_in(first, prod[0])  # holds the rollup rows of a prod call
            second = asyncio.create_task(_insert_both(database, dev[0], prod[1]))
            await asyncio.sleep(0.3)  # the second writer is waiting now
            await _insert_in(first, dev[1])  # opposite order: without the lock, a deadlock
            await first.commit()
        await asyncio.wait_for(second, timeout=10)
        decisions = await CallStats(database).decisions(
            CallFilter(since=START, until=START + SPAN_S)
        )
        assert sum(decisions.values()) == 4
    finally:
        await database.close()


async def _insert_both(database: Database, *records: CallRecord) -> None:
    async with database.engine.begin() as connection:
        for record in records:
            await _insert_in(connection, record)


async def _insert_in(connection: AsyncConnection, record: CallRecord) -> None:
    await connection.execute(insert(CallRecordRow.__table__).values(record_to_json(record)))
