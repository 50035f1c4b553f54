"""ConsoleSessionRepository on SQLite and PostgreSQL: a session opened through one
connection pool is seen, and its logout honoured, through another (as by another
worker or replica); ended sessions stop counting and are pruned."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bastion.storage import Database
from bastion.storage.console_sessions import ConsoleSessionRepository, StoredConsoleSession
from bastion.storage.tables import ConsoleSessionRow

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def stored(name: str, *, opened: datetime = NOW, hours: float = 8) -> StoredConsoleSession:
    return StoredConsoleSession(
        id_hash=hashlib.sha256(name.encode()).hexdigest(),
        kind="admin",
        subject="tok12345",
        created_at=opened,
        expires_at=opened + timedelta(hours=hours),
    )


@pytest.fixture
async def other(database: Database, database_url: str) -> AsyncIterator[Database]:
    """A second engine on the same database: another worker or replica."""
    second = Database.from_url(database_url)
    try:
        yield second
    finally:
        await second.close()


async def test_a_logout_through_one_pool_ends_the_session_for_another(
    database: Database, other: Database
) -> None:
    here, there = ConsoleSessionRepository(database), ConsoleSessionRepository(other)
    session, kept = stored("a"), stored("b")
    await here.open(session)
    await here.open(kept)
    assert await there.is_open(session.id_hash, NOW + timedelta(minutes=1))

    assert await there.close(session.id_hash)
    assert not await here.is_open(session.id_hash, NOW + timedelta(minutes=2))
    assert not await there.is_open(session.id_hash, NOW + timedelta(minutes=2))
    assert await here.is_open(kept.id_hash, NOW + timedelta(minutes=2))
    assert not await here.close(session.id_hash)  # already ended


async def test_a_session_ends_at_its_time_and_is_pruned_by_a_later_login(
    database: Database,
) -> None:
    sessions = ConsoleSessionRepository(database)
    short = stored("short", hours=1)
    await sessions.open(short)
    assert await sessions.is_open(short.id_hash, short.expires_at - timedelta(seconds=1))
    assert not await sessions.is_open(short.id_hash, short.expires_at)

    later = stored("later", opened=short.expires_at + timedelta(seconds=1))
    await sessions.open(later)
    async with database.transaction("test") as db:
        kept = (await db.scalars(select(ConsoleSessionRow.id_hash))).all()
    assert kept == [later.id_hash]


async def test_an_unknown_session_is_not_open(database: Database) -> None:
    sessions = ConsoleSessionRepository(database)
    assert not await sessions.is_open(stored("never").id_hash, NOW)
    assert not await sessions.close(stored("never").id_hash)


@pytest.mark.parametrize(
    ("id_hash", "hours"),
    [pytest.param("not-a-digest", 8, id="raw id"), pytest.param("0" * 64, 0, id="no lifetime")],
)
def test_a_malformed_record_is_refused(id_hash: str, hours: float) -> None:
    with pytest.raises(ValueError, match="console session"):
        StoredConsoleSession(id_hash, "admin", "x", NOW, NOW + timedelta(hours=hours))


async def test_closing_all_sessions_or_one_holders_ends_them_for_every_pool(
    database: Database, other: Database
) -> None:
    here, there = ConsoleSessionRepository(database), ConsoleSessionRepository(other)

    def held(name: str, subject: str, *, hours: float = 8) -> StoredConsoleSession:
        opened = NOW - timedelta(hours=1)
        return StoredConsoleSession(
            hashlib.sha256(name.encode()).hexdigest(),
            "oidc",
            subject,
            opened,
            opened + timedelta(hours=hours),
        )

    sam, sam2, kim = held("a", "sam"), held("b", "sam"), held("c", "kim")
    ended = held("d", "sam", hours=0.5)  # already over at NOW
    for session in (sam, sam2, kim, ended):
        await here.open(session)

    assert await there.close_all(NOW, subjects=["sam", "nobody"]) == 2  # not the ended one
    assert not await here.is_open(sam.id_hash, NOW)
    assert not await here.is_open(sam2.id_hash, NOW)
    assert await here.is_open(kim.id_hash, NOW)
    assert await there.close_all(NOW, subjects=[]) == 0
    assert await here.is_open(kim.id_hash, NOW)

    assert await there.close_all(NOW) == 1
    assert not await here.is_open(kim.id_hash, NOW)
    assert await there.close_all(NOW) == 0
    async with database.transaction("test") as db:
        assert (await db.scalars(select(ConsoleSessionRow.id_hash))).all() == []


async def test_open_sessions_are_listed_oldest_first_for_every_pool(
    database: Database, other: Database
) -> None:
    here, there = ConsoleSessionRepository(database), ConsoleSessionRepository(other)

    def held(name: str, subject: str, opened: datetime, hours: float) -> StoredConsoleSession:
        digest = hashlib.sha256(name.encode()).hexdigest()
        return StoredConsoleSession(
            digest, "oidc", subject, opened, opened + timedelta(hours=hours)
        )

    kim = held("a", "kim", NOW - timedelta(hours=1), 8)
    sam = held("b", "sam", NOW - timedelta(hours=2), 8)
    ended = held("c", "sam", NOW - timedelta(hours=3), 1)  # over at NOW, its row still there
    for session in (kim, sam, ended):  # opened last: nothing prunes it
        await here.open(session)

    assert await there.list_open(NOW) == [sam, kim]
    assert await there.list_open(NOW, subjects=["sam", "nobody"]) == [sam]
    assert await there.list_open(NOW, subjects=[]) == []
    assert await there.list_open(kim.expires_at) == []
    await here.close(sam.id_hash)
    assert await there.list_open(NOW) == [kim]
