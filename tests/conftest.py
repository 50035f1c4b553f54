"""Shared fixtures: a fresh database per test, on SQLite and on PostgreSQL.

``database_url`` is parametrized over both backends. The PostgreSQL parameter creates
a uniquely named database on 127.0.0.1:5432 (user ``postgres``) and drops it after the
test; when the server is unreachable the test is skipped, except with ``CI=true``,
where that is a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bastion.storage import Database

POSTGRES_HOST = "127.0.0.1"
POSTGRES_PORT = 5432
POSTGRES_USER = "postgres"
POSTGRES_ADMIN_DB = "test"


async def _postgres_admin(statement: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    connection = await asyncpg.connect(
        host=POSTGRES_HOST,
        port=POSTGRES_PORT,
        user=POSTGRES_USER,
        database=POSTGRES_ADMIN_DB,
        timeout=5,
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (``postgresql://`` URL), dropped afterwards."""
    with fresh_postgres_database() as url:
        yield url


@contextlib.contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create an empty PostgreSQL database and drop it afterwards; skipped when the
    server is unreachable, except with ``CI=true`` (then the test fails)."""
    name = f"bastion_test_{uuid.uuid4().hex[:16]}"
    try:
        asyncio.run(_postgres_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, TimeoutError) as exc:
        message = f"PostgreSQL not reachable at {POSTGRES_HOST}:{POSTGRES_PORT}: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield f"postgresql://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{name}"
    finally:
        asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file URL inside the test's temporary directory (not yet created)."""
    return f"sqlite:///{tmp_path / 'store' / 'bastion.db'}"


@pytest.fixture(
    params=[
        pytest.param("sqlite"),
        pytest.param("postgresql", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest) -> str:
    """A URL of a fresh database, once per backend."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A migrated database on each backend, closed after the test."""
    db = Database.from_url(database_url)
    await db.migrate()
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
async def sqlite_database(sqlite_url: str) -> AsyncIterator[Database]:
    """A migrated SQLite database, for tests whose subject does not depend on the backend."""
    db = Database.from_url(sqlite_url)
    await db.migrate()
    try:
        yield db
    finally:
        await db.close()
