"""``Database.migrate()`` at start-up: Alembic only when the schema is not current.

Every CLI command and every gateway start migrates. A database already at the head
revision is only read (Alembic and its scripts cost about 90 ms to load); a
fresh, older or unknown one goes through Alembic as before, behind the advisory lock on
PostgreSQL. The head is derived from the scripts' file names, so the convention they
follow is checked here against Alembic's own view.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from bastion.errors import StorageError
from bastion.storage.database import MIGRATIONS_DIR, Database, head_revision
from bastion.storage.tables import Base

VERSIONS = MIGRATIONS_DIR / "versions"


def _assigned(path: Path) -> dict[str, object]:
    """The module-level constants a migration script assigns (``revision`` ...)."""
    values: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            values[node.target.id] = ast.literal_eval(node.value)
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return values


def test_migration_scripts_follow_the_convention_the_head_is_derived_from() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    scripts = sorted(VERSIONS.glob("*.py"))
    assert scripts
    previous: str | None = None
    for number, path in enumerate(scripts, start=1):
        match = re.fullmatch(r"(\d{4})_\w+\.py", path.name)
        assert match, f"{path.name}: a migration is named NNNN_name.py"
        assert match[1] == f"{number:04d}", f"{path.name}: numbers run 0001, 0002, ..."
        values = _assigned(path)
        assert values.get("revision") == match[1], path.name
        assert values.get("down_revision") == previous, path.name
        assert values.get("branch_labels") is None, path.name
        assert values.get("depends_on") is None, path.name
        previous = match[1]

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    alembic_head = ScriptDirectory.from_config(config).get_current_head()
    assert head_revision() == alembic_head == previous


async def _revisions(database: Database) -> list[str]:
    async with database.transaction("test") as session:
        return list((await session.scalars(text("SELECT version_num FROM alembic_version"))).all())


async def _tables(database: Database) -> set[str]:
    async with database.engine.connect() as connection:
        return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))


def _sync_columns(connection: Connection) -> set[str]:
    found = inspect(connection)
    return {
        f"{table}.{column['name']}"
        for table in found.get_table_names()
        for column in found.get_columns(table)
    }


async def _columns(database: Database) -> set[str]:
    """Every ``table.column`` of the schema (a migration may add columns, not tables)."""
    async with database.engine.connect() as connection:
        return await connection.run_sync(_sync_columns)


def _downgrade(connection: Connection, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def test_a_fresh_database_is_migrated_to_the_head(database_url: str) -> None:
    database = Database.from_url(database_url)
    try:
        await database.migrate()
        assert await _revisions(database) == [head_revision()]
        assert set(Base.metadata.tables) <= await _tables(database)
    finally:
        await database.close()


_MIGRATE_IN_A_NEW_PROCESS = """
import asyncio, json, sys
from bastion.storage.database import Database

async def main():
    database = Database.from_url(sys.argv[1])
    try:
        await database.migrate()
    finally:
        await database.close()

asyncio.run(main())
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] == "alembic")))
"""


async def test_a_current_database_is_left_alone_without_loading_alembic(
    database_url: str,
) -> None:
    database = Database.from_url(database_url)
    try:
        await database.migrate()
        tables = await _tables(database)
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", _MIGRATE_IN_A_NEW_PROCESS, database_url],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout.strip().splitlines()[-1]) == []
        assert await _revisions(database) == [head_revision()]
        assert await _tables(database) == tables
    finally:
        await database.close()


async def test_an_older_schema_is_upgraded_to_the_head(database_url: str) -> None:
    database = Database.from_url(database_url)
    try:
        await database.migrate()
        current = await _columns(database)
        async with database.engine.begin() as connection:
            await connection.run_sync(_downgrade, "-1")
        assert await _revisions(database) != [head_revision()]
        assert await _columns(database) != current  # the last migration changed the schema

        await database.migrate()
        assert await _revisions(database) == [head_revision()]
        assert await _columns(database) == current
    finally:
        await database.close()


@pytest.mark.postgres
async def test_replicas_starting_together_on_an_older_schema_migrate_it_once(
    postgres_url: str,
) -> None:
    first = Database.from_url(postgres_url)
    replicas = [Database.from_url(postgres_url) for _ in range(4)]
    try:
        await first.migrate()
        current = await _columns(first)
        async with first.engine.begin() as connection:
            await connection.run_sync(_downgrade, "-1")
        # each would fail adding a column another one added, without the lock
        await asyncio.gather(*(replica.migrate() for replica in replicas))
        assert await _revisions(first) == [head_revision()]
        assert await _columns(first) == current
    finally:
        for database in (first, *replicas):
            await database.close()


async def test_a_database_newer_than_this_version_is_refused(database_url: str) -> None:
    database = Database.from_url(database_url)
    try:
        await database.migrate()
        async with database.transaction("test") as session:
            await session.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        with pytest.raises(StorageError, match=r"'9999'.*newer Bastion") as refused:
            await database.migrate()
        assert f"the newest it knows is {head_revision()}" in str(refused.value)
        assert await _revisions(database) == ["9999"]
    finally:
        await database.close()
