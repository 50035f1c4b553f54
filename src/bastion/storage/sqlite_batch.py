"""Whole transactions on SQLite in one hop to a worker thread: the audit shipper's path.

Through SQLAlchemy and aiosqlite every statement is several hops between the event
loop and the driver's thread (cursor, execute, fetch, close, begin, commit), each a
queue put, a thread wake-up and a loop wake-up. The shipper writes a batch every few
tens of milliseconds in four statements; measured (bench.audit, ``ship`` rows), those
hops and the statement building cost the event loop several milliseconds per batch,
more than the calls the batch records. Here the batch is one function run on a
dedicated ``sqlite3`` connection on its own thread, inside ``BEGIN IMMEDIATE`` …
``COMMIT``: one hop out and one back per transaction.

The connection has the pragmas of the engine's connections (``storage.database``); a
lock held by another process is waited for on the worker thread (``busy_timeout``),
never on the event loop. Errors become ``StorageError`` naming the operation and the
exception class only (never a bound value).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from bastion.errors import StorageError

T = TypeVar("T")
SqliteWork = Callable[[sqlite3.Connection], T]


class SqliteBatchWriter:
    """One SQLite connection, used only from its own thread, for batched transactions."""

    def __init__(self, path: str, pragmas: Callable[[sqlite3.Connection], None]) -> None:
        self._path = path
        self._pragmas = pragmas
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None  # touched only on the thread

    async def run(self, operation: str, work: SqliteWork[T]) -> T:
        """``work(connection)`` inside one ``BEGIN IMMEDIATE`` transaction, committed
        when it returns, rolled back when it raises. A ``StorageError`` from ``work``
        (e.g. a check that failed) passes unchanged; driver errors are converted."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="bastion-sqlite-batch")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._transaction, operation, work)

    def _transaction(self, operation: str, work: SqliteWork[T]) -> T:
        try:
            connection = self._connect()
            connection.execute("BEGIN IMMEDIATE")
            try:
                result = work(connection)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            return result
        except sqlite3.Error as exc:
            raise StorageError(
                f"database {operation} failed on sqlite ({type(exc).__name__}); "
                f"check that {self._path} is writable"
            ) from None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            # The driver binds None as NULL only after looking for an adapter of it, and
            # the failed lookup formats an AttributeError: ~0.25 us per NULL with the GIL
            # held (a shipped call record has several). An adapter that returns None is
            # found at once and binds the same NULL (registered for the process, it
            # changes nothing else a connection binds).
            sqlite3.register_adapter(type(None), _none)
            # autocommit mode: the transaction is opened and ended explicitly above
            connection = sqlite3.connect(self._path, isolation_level=None)
            self._pragmas(connection)
            self._connection = connection
        return self._connection

    async def close(self) -> None:
        """Close the connection (on its thread) and stop the thread."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(executor, self._close_connection)
        executor.shutdown(wait=False)

    def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def _none(value: None) -> None:
    """The adapter of None: None itself, which the driver binds as NULL."""
    return value
