"""Tamper evidence on SQLite and PostgreSQL: the chain verifies as written, and an edit,
a deletion, a reordering or a truncated tail fails verification at the first bad record."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from tests.audit.trail_calls import completed_call

from bastion.audit.checkpoints import Signer, public_keys, read_checkpoints
from bastion.audit.log import AuditLog
from bastion.audit.verify import Verification, verify
from bastion.crypto.keyring import Keyring
from bastion.model import CallRecord, FindingSummary
from bastion.storage import Database
from bastion.storage.audit_events import AuditEventRepository

RING = Keyring.generate()
CALLS = 6  # 12 events: intent + completion per call


def record(n: int) -> CallRecord:
    return completed_call(n, email_logged=True, with_request_facts=True)


@dataclasses.dataclass
class Trail:
    database: Database
    checkpoints: Path
    writer: str

    async def verify(self) -> Verification:
        return await verify(
            AuditEventRepository(self.database),
            list(read_checkpoints(self.checkpoints)),
            public_keys(RING),
        )

    async def sql(self, statement: str, **params: object) -> None:
        async with self.database.engine.begin() as connection:
            await connection.execute(text(statement), params)


@pytest.fixture
async def trail(database: Database, tmp_path: Path) -> AsyncIterator[Trail]:
    """Six audited calls, checkpointed every 4 events and at shutdown."""
    checkpoints = tmp_path / "checkpoints.jsonl"
    log = AuditLog(
        AuditEventRepository(database),
        tmp_path / "wal",
        signer=Signer(RING.active("signing")),
        checkpoint_file=checkpoints,
        checkpoint_every=4,
        max_batch=4,
    )
    await log.start()
    for n in range(CALLS):
        await log.intent(record(n))
        log.submit(record(n))
        await log.flush()
        log._checkpoint()  # as the shipper does after each round
    assert log.writer_id is not None
    writer = log.writer_id
    await log.close()
    yield Trail(database, checkpoints, writer)


async def test_an_untouched_trail_verifies(trail: Trail) -> None:
    result = await trail.verify()
    assert result.ok, result.problem
    assert result.heads == {trail.writer: 2 * CALLS}
    assert result.records == CALLS and result.checkpoints >= 3


async def test_an_edited_call_record_is_named(trail: Trail) -> None:
    await trail.sql("UPDATE call_records SET decision = 'block' WHERE request_id = 'req_2'")
    problem = (await trail.verify()).problem
    assert problem is not None
    assert (problem.seq, problem.request_id) == (6, "req_2")  # req_2's completion
    assert "decision" in problem.reason and "modified" in problem.reason


async def test_an_edited_chain_body_is_named(trail: Trail) -> None:
    await trail.sql(
        "UPDATE audit_events SET body = replace(body, 'pii.email', 'pii.phone') WHERE seq = 5"
    )
    problem = (await trail.verify()).problem
    assert problem is not None and problem.seq == 5 and "modified" in problem.reason


async def test_a_deleted_record_is_named(trail: Trail) -> None:
    await trail.sql("DELETE FROM audit_events WHERE seq = 4")
    problem = (await trail.verify()).problem
    assert problem is not None and problem.seq == 4 and "deleted" in problem.reason


async def test_a_deleted_call_record_is_named(trail: Trail) -> None:
    await trail.sql("DELETE FROM call_records WHERE request_id = 'req_1'")
    problem = (await trail.verify()).problem
    assert problem is not None and (problem.seq, problem.request_id) == (4, "req_1")


async def test_reordered_records_are_named(trail: Trail) -> None:
    await trail.sql("UPDATE audit_events SET seq = -1 WHERE seq = 3")
    await trail.sql("UPDATE audit_events SET seq = 3 WHERE seq = 4")
    await trail.sql("UPDATE audit_events SET seq = 4 WHERE seq = -1")
    problem = (await trail.verify()).problem
    assert problem is not None and problem.seq == 3 and "reordered" in problem.reason


async def test_a_truncated_tail_is_caught_by_the_checkpoints(trail: Trail) -> None:
    await trail.sql("DELETE FROM call_records WHERE request_id IN ('req_4', 'req_5')")
    await trail.sql("DELETE FROM audit_events WHERE seq > 8")
    problem = (await trail.verify()).problem
    assert problem is not None
    assert problem.seq == 9 and "truncated" in problem.reason
    assert "checkpoint on line" in problem.reason  # the signed evidence is named first


async def test_a_record_inserted_around_the_chain_is_named(trail: Trail) -> None:
    await trail.sql(
        "INSERT INTO call_records (request_id, started_at, endpoint, decision, status,"
        " http_status, stream, prompt_tokens, completion_tokens, usage_estimated, gateway_ms,"
        " upstream_ms, findings, rules, request_facts) VALUES ('req_fake', 1.0, 'chat',"
        " 'allow', 'completed', 200, false, 0, 0, false, 0, 0, '[]', '[]', '{}')"
    )
    problem = (await trail.verify()).problem
    assert problem is not None and problem.request_id == "req_fake"


async def test_a_forged_checkpoint_fails(trail: Trail) -> None:
    lines = trail.checkpoints.read_text().splitlines()
    lines[0] = lines[0].replace('"seq":4', '"seq":3')
    trail.checkpoints.write_text("\n".join(lines) + "\n")
    problem = (await trail.verify()).problem
    assert problem is not None and "signature" in problem.reason


async def test_a_tail_truncated_past_the_last_checkpoint_is_caught_by_the_writer_head(
    trail: Trail,
) -> None:
    # The newest records are not signed yet (the next checkpoint is due later), but the
    # store's own head of the writer still names them.
    lines = trail.checkpoints.read_text().splitlines()
    trail.checkpoints.write_text("\n".join(line for line in lines if '"seq":12' not in line))
    await trail.sql("DELETE FROM call_records WHERE request_id = 'req_5'")
    await trail.sql("DELETE FROM audit_events WHERE seq > 10")
    problem = (await trail.verify()).problem
    assert problem is not None
    assert (problem.writer_id, problem.seq) == (trail.writer, 11)
    assert "truncated" in problem.reason


async def test_a_writer_whose_every_record_was_deleted_is_named(trail: Trail) -> None:
    trail.checkpoints.write_text("")
    await trail.sql("DELETE FROM call_records")
    await trail.sql("DELETE FROM audit_events")
    problem = (await trail.verify()).problem
    assert problem is not None and (problem.writer_id, problem.seq) == (trail.writer, 1)


async def test_a_rewritten_tail_differs_from_the_writer_head(trail: Trail) -> None:
    trail.checkpoints.write_text("")
    await trail.sql(
        "UPDATE audit_writers SET head_hash = :digest WHERE writer_id = :writer",
        digest="f" * 64,
        writer=trail.writer,
    )
    problem = (await trail.verify()).problem
    assert problem is not None and (problem.writer_id, problem.seq) == (trail.writer, 12)


async def test_a_nul_character_a_caller_sent_neither_stops_shipping_nor_verifying(
    database: Database, tmp_path: Path
) -> None:
    # A caller controls the model name, its claimed user, tool names and metadata keys;
    # PostgreSQL stores no NUL in text or JSONB. One such record must not hold back the
    # trail: it is stored with U+FFFD in place of each NUL, and later records follow it.
    store = AuditEventRepository(database)
    log = AuditLog(store, tmp_path / "wal")
    await log.start()
    hostile = dataclasses.replace(
        record(0),
        model_requested="gpt-4o\x00x",
        end_user_claimed="bob\x00",
        findings=(FindingSummary("pii.email", "user", "metadata.k\x00", 1, 0.9),),
        request_facts={"tools": ["f\x00g"], "metadata\x00": 1},
    )
    await log.intent(hostile)
    log.submit(hostile)
    log.submit(record(1))
    await log.flush()
    assert log.pending == 0
    rows = await store.records_by_id(["req_0", "req_1"])
    assert set(rows) == {"req_0", "req_1"}
    assert rows["req_0"]["model_requested"] == "gpt-4o\ufffdx"
    assert rows["req_0"]["end_user_claimed"] == "bob\ufffd"
    assert rows["req_0"]["request_facts"] == {"tools": ["f\ufffdg"], "metadata\ufffd": 1}
    assert rows["req_0"]["findings"][0]["location"] == "metadata.k\ufffd"
    await log.close()
    result = await verify(store)
    assert result.ok, result.problem
    assert result.records == 2
