"""SQLite batches: one transaction in one hop, committed, rolled back, or refused clearly."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import text

from bastion.errors import StorageError
from bastion.storage import Database


async def _class_sets(db: Database) -> list[str]:
    async with db.transaction("test") as session:
        rows = await session.execute(text("SELECT digest FROM class_sets ORDER BY digest"))
        return [row[0] for row in rows]


def _insert(connection: sqlite3.Connection, digest: str) -> None:
    connection.execute(
        "INSERT INTO class_sets (digest, classes, created_at) VALUES (?, '[]', '2026-01-01')",
        (digest,),
    )


async def test_a_batch_commits_as_one_transaction_visible_to_the_engine(
    sqlite_database: Database,
) -> None:
    def work(connection: sqlite3.Connection) -> str:
        _insert(connection, "a")
        _insert(connection, "b")
        return threading.current_thread().name

    thread = await sqlite_database.sqlite_batch("test batch", work)
    assert thread.startswith("bastion-sqlite-batch")  # off the event loop's thread
    assert await _class_sets(sqlite_database) == ["a", "b"]


async def test_a_batch_that_raises_leaves_nothing_and_its_error_passes_unchanged(
    sqlite_database: Database,
) -> None:
    class Moved(StorageError):
        pass

    def work(connection: sqlite3.Connection) -> None:
        _insert(connection, "a")
        raise Moved("the head moved")

    with pytest.raises(Moved, match="the head moved"):
        await sqlite_database.sqlite_batch("test batch", work)
    assert await _class_sets(sqlite_database) == []
    await sqlite_database.sqlite_batch("test batch", lambda c: _insert(c, "c"))  # still usable
    assert await _class_sets(sqlite_database) == ["c"]


async def test_a_driver_error_is_a_storage_error_naming_the_operation_not_the_values(
    sqlite_database: Database,
) -> None:
    def _insert_twice(connection: sqlite3.Connection) -> None:
        _insert(connection, "secret-value")
        _insert(connection, "secret-value")

    with pytest.raises(StorageError) as raised:
        await sqlite_database.sqlite_batch("audit chain ship", _insert_twice)
    message = str(raised.value)
    assert "audit chain ship" in message and "IntegrityError" in message
    assert "secret-value" not in message
    assert await _class_sets(sqlite_database) == []  # the first insert was rolled back


@pytest.mark.postgres
async def test_postgresql_has_no_sqlite_batch(postgres_url: str) -> None:
    database = Database.from_url(postgres_url)
    try:
        with pytest.raises(StorageError, match="needs a SQLite store"):
            await database.sqlite_batch("test batch", lambda c: None)
    finally:
        await database.close()
