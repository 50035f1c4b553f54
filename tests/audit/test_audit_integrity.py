"""The integrity check at start-up, on SQLite and PostgreSQL: a writer whose chain tail
was edited, deleted or truncated, or whose database file is damaged, refuses to resume
(and names the problem); an untouched trail starts as before."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from tests.audit.trail_calls import completed_call

from bastion.audit.checkpoints import Signer
from bastion.audit.integrity import AuditIntegrityError, StartupCheck
from bastion.audit.log import AuditLog
from bastion.crypto.keyring import Keyring
from bastion.model import CallRecord
from bastion.storage import Database
from bastion.storage.audit_events import AuditEventRepository

RING = Keyring.generate()
CALLS = 6  # 12 events


def record(n: int) -> CallRecord:
    return completed_call(n, email_logged=True)


@dataclasses.dataclass
class Trail:
    database: Database
    wal: Path
    checkpoints: Path

    def log(self, records: int = 1000) -> AuditLog:
        events = AuditEventRepository(self.database)
        check = StartupCheck(events, records=records, checkpoint_file=self.checkpoints)
        return AuditLog(
            events,
            self.wal,
            signer=Signer(RING.active("signing")),
            checkpoint_file=self.checkpoints,
            startup_check=check,
        )

    async def restart(self, records: int = 1000) -> None:
        log = self.log(records)
        await log.start()
        await log.close()

    async def refused(self) -> str:
        log = self.log()
        with pytest.raises(AuditIntegrityError) as refused:
            await log.start()
        assert log.wal is None  # the writer directory is free again
        return str(refused.value)

    async def sql(self, statement: str) -> None:
        async with self.database.engine.begin() as connection:
            await connection.execute(text(statement))


@pytest.fixture
async def trail(database: Database, tmp_path: Path) -> AsyncIterator[Trail]:
    """Six calls shipped by one writer, checkpointed at shutdown (seq 12)."""
    made = Trail(database, tmp_path / "wal", tmp_path / "checkpoints.jsonl")
    log = made.log()
    await log.start()
    for n in range(CALLS):
        await log.intent(record(n))
        log.submit(record(n))
    await log.close()
    yield made


async def test_an_untouched_trail_starts(trail: Trail) -> None:
    await trail.restart()
    await trail.restart()  # and again, on top of what the first restart appended


async def test_an_edited_last_record_refuses_the_start(trail: Trail) -> None:
    await trail.sql("UPDATE audit_events SET body = replace(body, 'allow', 'block') WHERE seq = 12")
    message = await trail.refused()
    assert "seq 12" in message and "modified" in message
    assert "bastion audit verify" in message and "verify_at_start: 0" in message


async def test_an_edited_call_record_refuses_the_start(trail: Trail) -> None:
    await trail.sql("UPDATE call_records SET status = 'failed' WHERE request_id = 'req_5'")
    message = await trail.refused()
    assert "req_5" in message and "status" in message


async def test_deleted_tail_records_refuse_the_start(trail: Trail) -> None:
    await trail.sql("DELETE FROM audit_events WHERE seq > 10")
    message = await trail.refused()
    assert "ends at seq 10" in message and "head is seq 12" in message


async def test_a_tail_truncated_with_its_head_is_caught_by_the_checkpoint(trail: Trail) -> None:
    await trail.sql("DELETE FROM call_records WHERE request_id = 'req_5'")
    await trail.sql("DELETE FROM audit_events WHERE seq > 10")
    await trail.sql(
        "UPDATE audit_writers SET head_seq = 10,"
        " head_hash = (SELECT hash FROM audit_events WHERE seq = 10)"
    )
    message = await trail.refused()
    assert "checkpoint covers seq 12" in message and "truncated" in message


async def test_damage_older_than_the_checked_tail_is_left_to_the_verifier(trail: Trail) -> None:
    await trail.sql("UPDATE audit_events SET body = replace(body, 'allow', 'block') WHERE seq = 2")
    await trail.restart(records=4)  # bounded: seq 2 is not among the last four
    await trail.sql("UPDATE audit_events SET body = replace(body, 'block', 'allow') WHERE seq = 2")


async def test_a_damaged_sqlite_file_refuses_the_start(tmp_path: Path) -> None:
    path = tmp_path / "bastion.db"
    database = Database.from_url(f"sqlite:///{path}")
    await database.migrate()
    trail = Trail(database, tmp_path / "wal", tmp_path / "checkpoints.jsonl")
    log = trail.log()
    await log.start()
    for n in range(200):
        await log.intent(record(n))
        log.submit(record(n))
    await log.close()
    await database.scrub()  # everything in the main file, nothing left in its -wal
    await database.close()
    page = 4096
    with path.open("r+b") as handle:  # garbage over a page of the b-trees
        size = handle.seek(0, 2)
        assert size > 8 * page
        handle.seek(size - 3 * page)
        handle.write(b"\xa5" * page)
    database = Database.from_url(f"sqlite:///{path}")
    try:
        assert await database.quick_check(max_bytes=4096) is None  # too large: not checked
        trail.database = database
        message = await trail.refused()
        assert "structural check failed" in message, message
    finally:
        await database.close()
