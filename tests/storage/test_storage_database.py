"""Database: URL handling, migrations, SQLite settings, error conversion."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bastion.errors import StorageError
from bastion.storage import Database
from bastion.storage.database import normalise_url
from bastion.storage.tables import Base


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("sqlite:///rel/b.db", "sqlite+aiosqlite"),
        ("sqlite:////abs/b.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///b.db", "sqlite+aiosqlite"),
        ("postgresql://u@h:5432/db", "postgresql+asyncpg"),
        ("postgres://u@h/db", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg"),
    ],
)
def test_urls_are_normalised_to_async_drivers(given: str, driver: str) -> None:
    assert normalise_url(given).drivername == driver


def test_relative_and_absolute_sqlite_paths_are_kept() -> None:
    assert normalise_url("sqlite:///rel/b.db").database == "rel/b.db"
    assert normalise_url("sqlite:////abs/b.db").database == "/abs/b.db"


@pytest.mark.parametrize(
    "bad", ["mysql://u@h/db", "sqlite://", "sqlite:///:memory:", "not a url at all"]
)
def test_unsupported_urls_are_refused_with_the_expected_form(bad: str) -> None:
    with pytest.raises(StorageError, match=r"sqlite:///"):
        normalise_url(bad)


async def test_sqlite_parent_directory_is_created_and_wal_enabled(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "b.db"
    db = Database.from_url(f"sqlite:///{path}")
    assert db.is_sqlite
    try:
        await db.migrate()
        async with db.transaction("test") as session:
            mode = await session.scalar(text("PRAGMA journal_mode"))
            timeout = await session.scalar(text("PRAGMA busy_timeout"))
        assert mode == "wal"
        assert timeout == 5000
        assert path.exists()
    finally:
        await db.close()


async def test_migrate_is_idempotent_and_creates_every_table(database: Database) -> None:
    await database.migrate()
    async with database.transaction("test") as session:
        version = await session.scalar(text("SELECT version_num FROM alembic_version"))
        tables = (
            "api_keys",
            "admin_tokens",
            "changes",
            "call_records",
            "policy_exceptions",
            "policy_versions",
            "policy_activations",
            "class_sets",
            "spend_ledger",
            "spend_daily",
            "console_sessions",
        )
        for table in tables:
            await session.execute(text(f"SELECT count(*) FROM {table}"))
    assert version == "0015"


async def test_migrations_match_the_table_definitions(database: Database) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with database.engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == []


def test_postgres_is_not_sqlite() -> None:
    assert not Database.from_url("postgresql://u@127.0.0.1/db").is_sqlite


async def test_unreachable_database_raises_storage_error_without_password() -> None:
    db = Database.from_url("postgresql://bastion:hunter2secret@127.0.0.1:1/nowhere")
    try:
        with pytest.raises(StorageError) as caught:
            await db.migrate()
        assert "hunter2secret" not in str(caught.value)
        with pytest.raises(StorageError, match="reachable"):
            async with db.transaction("probe") as session:
                await session.execute(text("SELECT 1"))
    finally:
        await db.close()


async def test_storage_error_does_not_echo_row_content(sqlite_database: Database) -> None:
    canary = "canary-row-value-7f3a"
    insert = text("INSERT INTO changes (seq, kind, at) VALUES (1, :kind, '2025-01-01 00:00:00')")
    async with sqlite_database.transaction("setup") as session:
        await session.execute(insert, {"kind": canary})
    with pytest.raises(StorageError) as caught:
        async with sqlite_database.transaction("duplicate insert") as session:
            await session.execute(insert, {"kind": canary})
    assert canary not in str(caught.value)
    assert "duplicate insert" in str(caught.value)
