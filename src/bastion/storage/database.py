"""The database handle: URL normalisation, async engine, sessions, migrations, errors.

Every repository goes through :meth:`Database.transaction`, the one place where
SQLAlchemy and driver exceptions become :class:`bastion.errors.StorageError`. Messages
name the operation and the exception class only: SQLAlchemy's own messages may carry
bound parameters (hashes, names) and must not reach logs.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bastion.errors import StorageError
from bastion.storage.sqlite_batch import SqliteBatchWriter, SqliteWork, T

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000
# start-up quick_check costs about 2 ms per MB: larger files are left to an offline check
QUICK_CHECK_MAX_BYTES = 1 << 30
# Serialises `migrate()` across replicas sharing one PostgreSQL (arbitrary constant).
_MIGRATION_LOCK_ID = 0x62A5_7104
# A migration script's file name: its revision, then a name (``0014_console_sessions.py``).
_MIGRATION_FILE = re.compile(r"(\d{4})_\w+\.py")
# Whether Alembic's version table exists (search_path on PostgreSQL, as Alembic's own).
_VERSION_TABLE_SQLITE = text(
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
)
_VERSION_TABLE_POSTGRESQL = text("SELECT 1 WHERE to_regclass('alembic_version') IS NOT NULL")
# session.info key: the change-feed kinds a transaction recorded (storage.changes)
CHANGED_KINDS = "bastion.changed_kinds"

# Called after a transaction that recorded changes committed, with their kinds.
CommitHook = Callable[[frozenset[str]], Awaitable[None]]

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def normalise_url(url: str) -> URL:
    """Turn a user-facing URL into its async-driver form (``sqlite+aiosqlite``, ``asyncpg``)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageError(
            "storage.url is not a database URL; expected sqlite:///path/to/bastion.db "
            "or postgresql://user@host:5432/db"
        ) from exc
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise StorageError(
            f"storage.url uses the unsupported scheme {parsed.drivername!r}; "
            "use sqlite:/// or postgresql://"
        )
    parsed = parsed.set(drivername=driver)
    if driver.startswith("sqlite") and parsed.database in (None, "", ":memory:"):
        raise StorageError(
            "storage.url must name a SQLite file (sqlite:///path/to/bastion.db); "
            "an in-memory database would lose every key and audit record"
        )
    return parsed


class Database:
    """An async engine plus session factory for one SQLite file or PostgreSQL database."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self.engine: AsyncEngine = _create_engine(url)
        self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False
        )
        self._commit_hooks: list[CommitHook] = []
        self._batch: SqliteBatchWriter | None = None
        if self.is_sqlite and url.database:
            self._batch = SqliteBatchWriter(url.database, lambda c: _sqlite_pragmas(c, None))

    @classmethod
    def from_url(cls, url: str) -> Database:
        """Open (lazily) the database at ``url``; a SQLite file's directory is created."""
        normalised = normalise_url(url)
        if normalised.drivername.startswith("sqlite") and normalised.database:
            try:
                Path(normalised.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(
                    f"cannot create the directory for the SQLite database: {exc.strerror}"
                ) from exc
        return cls(normalised)

    @property
    def is_sqlite(self) -> bool:
        """Whether this is the embedded SQLite store (single host)."""
        return self.url.get_backend_name() == "sqlite"

    @property
    def display_url(self) -> str:
        """The URL with any password masked, safe for messages."""
        return self.url.render_as_string(hide_password=True)

    def after_changes_commit(self, hook: CommitHook) -> None:
        """Await ``hook(kinds)`` after each transaction that recorded change-feed entries
        committed (e.g. to push a nudge to other replicas). A hook must not raise: the
        change is already committed, and the caller's operation has succeeded."""
        self._commit_hooks.append(hook)

    @asynccontextmanager
    async def transaction(self, operation: str) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction, committed on success, rolled back on error."""
        try:
            async with self.sessions() as session, session.begin():
                yield session
        except (SQLAlchemyError, OSError) as exc:
            raise StorageError(
                f"database {operation} failed on {self.url.get_backend_name()} "
                f"({type(exc).__name__}); check that {self.display_url} is reachable"
            ) from exc
        kinds: set[str] | None = session.info.pop(CHANGED_KINDS, None)
        if kinds:
            for hook in self._commit_hooks:
                await hook(frozenset(kinds))

    async def sqlite_batch(self, operation: str, work: SqliteWork[T]) -> T:
        """Run ``work`` on a raw SQLite connection in one ``BEGIN IMMEDIATE``
        transaction, in one hop to its own thread (``storage.sqlite_batch``): for
        batch writes on the hot side of the event loop. SQLite only."""
        if self._batch is None:
            raise StorageError(f"database {operation}: a SQLite batch needs a SQLite store")
        return await self._batch.run(operation, work)

    async def migrate(self) -> None:
        """Bring the schema to the newest revision (Alembic ``upgrade head``); idempotent.

        A database already at the head revision (every start but the first after an
        upgrade) is only read: Alembic and its migration scripts are not loaded. Any
        other state (a fresh database, an older revision, one this version does not
        know) goes to Alembic, behind the advisory lock on PostgreSQL, as before.
        """
        head = head_revision()
        try:
            if head is not None and await self._stored_revisions() == (head,):
                return
            async with self.engine.begin() as connection:
                if not self.is_sqlite:
                    await connection.execute(
                        text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _MIGRATION_LOCK_ID}
                    )
                await connection.run_sync(_upgrade_to_head)
        except (SQLAlchemyError, OSError) as exc:
            raise StorageError(
                f"database migration failed on {self.url.get_backend_name()} "
                f"({type(exc).__name__}); check that {self.display_url} is reachable"
            ) from exc

    async def _stored_revisions(self) -> tuple[str, ...]:
        """The revisions in ``alembic_version`` (none for a fresh database), read
        without the migration lock: a stale answer only sends ``migrate`` to Alembic."""
        exists = _VERSION_TABLE_SQLITE if self.is_sqlite else _VERSION_TABLE_POSTGRESQL
        async with self.engine.connect() as connection:
            if (await connection.execute(exists)).first() is None:
                return ()
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            return tuple(str(row[0]) for row in rows)

    async def scrub(self) -> bool:
        """Drop old page images after deleting sensitive rows (content purge, erasure).

        SQLite deletes with ``secure_delete`` (freed space is zeroed), but earlier page
        images stay in the ``-wal`` file until it is rewritten: a ``TRUNCATE`` checkpoint
        empties it. False when a reader kept it from completing (run again later).
        PostgreSQL keeps dead rows until its own vacuum (docs/audit.md): nothing to do here.
        """
        if not self.is_sqlite:
            return True
        try:
            async with self.engine.connect() as connection:
                row = (await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).one()
        except (SQLAlchemyError, OSError) as exc:
            raise StorageError(f"database checkpoint failed ({type(exc).__name__})") from exc
        return int(row[0]) == 0

    async def quick_check(self, max_bytes: int = QUICK_CHECK_MAX_BYTES) -> str | None:
        """SQLite's ``PRAGMA quick_check`` (pages, records, free list; not indexes against
        tables): its first complaint, or None when sound. Its cost grows with the file
        (about 2 ms per MB), so a file larger than ``max_bytes`` is not checked (None).
        PostgreSQL: always None (it checks its own pages; ``data_checksums``)."""
        if not self.is_sqlite or not self.url.database:
            return None
        with suppress(OSError):
            if os.stat(self.url.database).st_size > max_bytes:  # one stat, at start-up
                return None
        try:
            async with self.engine.connect() as connection:
                row = (await connection.exec_driver_sql("PRAGMA quick_check(1)")).one()
        except (SQLAlchemyError, OSError) as exc:
            raise StorageError(
                f"database integrity check failed to run ({type(exc).__name__}); check that "
                f"{self.display_url} is a readable SQLite file"
            ) from exc
        found = str(row[0])
        return None if found == "ok" else found[:200]

    async def close(self) -> None:
        """Close every pooled connection (and the batch connection)."""
        if self._batch is not None:
            await self._batch.close()
        await self.engine.dispose()


def _create_engine(url: URL) -> AsyncEngine:
    # hide_parameters: SQLAlchemy's error messages never carry bound values (retained
    # content, hashes), whoever logs them (RELIABILITY.md K1)
    if url.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True, hide_parameters=True)
    engine = create_async_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, hide_parameters=True
    )
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers proceed during the audit writer's group commits; busy_timeout
    # makes a second process (the CLI beside a running gateway) wait instead of failing.
    # secure_delete zeroes what a delete frees, so purged or erased content does not
    # linger in free pages (deletes are rare: the hot path only inserts).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


@cache
def head_revision() -> str | None:
    """The newest migration, from the names of the files in ``migrations/versions``.

    The scripts follow one convention (``NNNN_name.py`` holds ``revision = "NNNN"`` and
    ``down_revision`` the one before; a test checks it and that this agrees with
    Alembic's own head), so the head is the largest number: found without importing
    Alembic or any script. None when no file follows it (``migrate`` asks Alembic).
    """
    try:
        names = os.listdir(MIGRATIONS_DIR / "versions")
    except OSError:
        return None
    numbers = [match[1] for name in names if (match := _MIGRATION_FILE.fullmatch(name))]
    return max(numbers, default=None)


def _upgrade_to_head(connection: Connection) -> None:
    # Imported here: Alembic is needed only when migrating, not on every import.
    from alembic import command
    from alembic.config import Config
    from alembic.util import CommandError

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    try:
        command.upgrade(config, "head")
    except CommandError as exc:  # a revision none of this version's scripts holds
        raise StorageError(
            f"the database's schema is not one this version of Bastion knows ({exc}; the "
            f"newest it knows is {head_revision()}): it was likely upgraded by a newer "
            "Bastion. Run that version, or restore a backup taken before the upgrade"
        ) from exc
