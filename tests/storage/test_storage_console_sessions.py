"""ConsoleSessionRepository on SQLite and PostgreSQL: a session opened through one
connection pool is seen, and its logout honoured, through another (as by another
worker or replica); ended sessions stop counting and are pruned. Each keeps the role it
was opened with and when it was last used, written at most once a minute (migration
0015 adds both to sessions opened before it, as unknown)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, insert, inspect, select
from sqlalchemy.engine import Connection

from bastion.storage import Database
from bastion.storage.console_sessions import ConsoleSessionRepository, StoredConsoleSession
from bastion.storage.database import MIGRATIONS_DIR
from bastion.storage.tables import ConsoleSessionRow

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


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
    assert await there.use(session.id_hash, NOW + timedelta(minutes=1))

    assert await there.close(session.id_hash)
    assert not await here.use(session.id_hash, NOW + timedelta(minutes=2))
    assert not await there.use(session.id_hash, NOW + timedelta(minutes=2))
    assert await here.use(kept.id_hash, NOW + timedelta(minutes=2))
    assert not await here.close(session.id_hash)  # already ended


async def test_a_session_ends_at_its_time_and_is_pruned_by_a_later_login(
    database: Database,
) -> None:
    sessions = ConsoleSessionRepository(database)
    short = stored("short", hours=1)
    await sessions.open(short)
    assert await sessions.use(short.id_hash, short.expires_at - timedelta(seconds=1))
    assert not await sessions.use(short.id_hash, short.expires_at)

    later = stored("later", opened=short.expires_at + timedelta(seconds=1))
    await sessions.open(later)
    async with database.transaction("test") as db:
        kept = (await db.scalars(select(ConsoleSessionRow.id_hash))).all()
    assert kept == [later.id_hash]


async def test_an_unknown_session_is_not_open(database: Database) -> None:
    sessions = ConsoleSessionRepository(database)
    assert not await sessions.use(stored("never").id_hash, NOW)
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
    assert not await here.use(sam.id_hash, NOW)
    assert not await here.use(sam2.id_hash, NOW)
    assert await here.use(kim.id_hash, NOW)
    assert await there.close_all(NOW, subjects=[]) == 0
    assert await here.use(kim.id_hash, NOW)

    assert await there.close_all(NOW) == 1
    assert not await here.use(kim.id_hash, NOW)
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


def test_a_session_is_not_seen_before_it_opens() -> None:
    with pytest.raises(ValueError, match="console session"):
        StoredConsoleSession(
            "0" * 64, "admin", "x", NOW, NOW + timedelta(hours=8), last_seen_at=NOW - SECOND
        )


async def test_role_and_last_seen_are_stored_with_the_session(database: Database) -> None:
    sessions = ConsoleSessionRepository(database)
    kept = StoredConsoleSession(
        hashlib.sha256(b"r").hexdigest(),
        "oidc",
        "sam@example.com",
        NOW,
        NOW + timedelta(hours=8),
        role="security",
        last_seen_at=NOW,
    )
    await sessions.open(kept)
    await sessions.open(stored("no role"))
    assert await sessions.list_open(NOW) == [kept, stored("no role")]
    assert [s.role for s in await sessions.list_open(NOW)] == ["security", None]


class Updates:
    """Counts the UPDATE statements an engine runs (the writes a page view costs)."""

    def __init__(self, database: Database) -> None:
        self.count = 0
        self._engine = database.engine.sync_engine
        event.listen(self._engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: object) -> None:
        statement = args[2]
        if isinstance(statement, str) and statement.lstrip().upper().startswith("UPDATE"):
            self.count += 1

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._seen)


async def _last_seen(database: Database, id_hash: str) -> datetime | None:
    async with database.transaction("test") as db:
        statement = select(ConsoleSessionRow.last_seen_at).where(
            ConsoleSessionRow.id_hash == id_hash
        )
        seen: datetime | None = await db.scalar(statement)
        return seen


async def test_using_a_session_records_when_at_most_once_a_minute(
    database: Database, other: Database
) -> None:
    here, there = ConsoleSessionRepository(database), ConsoleSessionRepository(other)
    session = replace(stored("used"), last_seen_at=NOW)  # the console's: opening is a use
    await here.open(session)
    assert await _last_seen(database, session.id_hash) == NOW

    updates = Updates(other)
    try:
        for seconds in range(0, 60, 5):  # a page view every 5 s for a minute: no write
            assert await there.use(session.id_hash, NOW + timedelta(seconds=seconds))
        assert updates.count == 0
        assert await _last_seen(database, session.id_hash) == NOW

        assert await there.use(session.id_hash, NOW + timedelta(seconds=61))
        assert await here.use(session.id_hash, NOW + timedelta(seconds=62))  # another worker
        assert await there.use(session.id_hash, NOW + timedelta(seconds=120))
        assert updates.count == 1
        assert await _last_seen(database, session.id_hash) == NOW + timedelta(seconds=61)
        assert await there.use(session.id_hash, NOW + timedelta(seconds=121))
        assert updates.count == 2
    finally:
        updates.close()
    assert await _last_seen(database, session.id_hash) == NOW + timedelta(seconds=121)
    (listed,) = await here.list_open(NOW + timedelta(seconds=122))
    assert listed.last_seen_at == NOW + timedelta(seconds=121)


async def test_an_ended_or_unknown_session_is_not_used_and_not_written(
    database: Database,
) -> None:
    sessions = ConsoleSessionRepository(database)
    short = replace(stored("short", hours=1), last_seen_at=NOW)
    closed = stored("closed")
    await sessions.open(short)
    await sessions.open(closed)
    await sessions.close(closed.id_hash)
    updates = Updates(database)
    try:
        assert not await sessions.use(short.id_hash, short.expires_at)
        assert not await sessions.use(closed.id_hash, NOW + timedelta(minutes=5))
        assert not await sessions.use(stored("never").id_hash, NOW + timedelta(minutes=5))
        assert updates.count == 0
    finally:
        updates.close()
    assert await _last_seen(database, short.id_hash) == NOW


def _at_revision(connection: Connection, revision: str, downgrade: bool) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    (command.downgrade if downgrade else command.upgrade)(config, revision)


async def test_migration_0015_keeps_open_sessions_without_role_or_last_seen(
    database: Database,
) -> None:
    async with database.engine.begin() as connection:
        await connection.run_sync(_at_revision, "0014", True)
    async with database.transaction("test") as db:  # a session opened before the upgrade
        await db.execute(  # only the columns 0014 has
            insert(ConsoleSessionRow).values(
                id_hash="e" * 64,
                kind="oidc",
                subject="sam",
                created_at=NOW,
                expires_at=NOW + timedelta(hours=8),
            )
        )
    async with database.engine.begin() as connection:
        await connection.run_sync(_at_revision, "0015", False)

    sessions = ConsoleSessionRepository(database)
    (old,) = await sessions.list_open(NOW)
    assert (old.subject, old.role, old.last_seen_at) == ("sam", None, None)
    assert await sessions.use(old.id_hash, NOW + SECOND)  # its first use is recorded
    assert await _last_seen(database, old.id_hash) == NOW + SECOND

    async with database.engine.begin() as connection:  # and back: the columns go
        await connection.run_sync(_at_revision, "0014", True)
        columns = await connection.run_sync(
            lambda sync: {c["name"] for c in inspect(sync).get_columns("console_sessions")}
        )
    assert columns == {"id_hash", "kind", "subject", "created_at", "expires_at"}
    async with database.engine.begin() as connection:
        await connection.run_sync(_at_revision, "head", False)
