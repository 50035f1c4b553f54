"""A SQLite file shared by the gateway processes of one machine, and who is using it.

The shared counter store (``sqlite_store``) and the shared idempotency store each keep
one such file. A file belongs to the processes that have it open: each holds a shared
``flock`` on a sidecar ``<file>.lock`` for as long as it runs (the kernel drops it when
a process dies, ``kill -9`` included). The first process to open a file that nobody
else holds clears what only living processes could still use (``on_alone``: the
counters, which are then rebuilt from the spend ledger, and claims of calls in flight),
so a file left by an earlier run, or by a run with other settings, never stands in for
the ledger. Locks and SQLite's own locking need a local disk: never NFS or SMB.

Connections use WAL, ``synchronous=OFF`` (a process crash loses nothing; after a power
loss every user is gone, so the next start clears and rebuilds the counters anyway) and
a ``busy_timeout``; every write is one short ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from bastion.errors import StorageError

FAILURES = (sqlite3.Error, OSError)


class SharedFile:
    """One process's connection to a shared SQLite file, with its claim on the file."""

    def __init__(
        self,
        path: Path,
        schema: tuple[str, ...],
        on_alone: tuple[str, ...],
        *,
        busy_timeout_s: float,
    ) -> None:
        self.path = path
        self._schema = schema
        self._on_alone = on_alone
        self._busy_ms = max(1, round(busy_timeout_s * 1000))
        self._lock_fd: int | None = None
        self._db: sqlite3.Connection | None = None
        self.found_alone = False
        """Whether this process found the file unused and cleared it when opening."""

    @property
    def db(self) -> sqlite3.Connection:
        """The open connection (opening the file on first use; StorageError on failure)."""
        if self._db is None:
            self.open()
        assert self._db is not None
        return self._db

    def open(self) -> None:
        """Claim the file (clearing it when no other process holds it) and connect."""
        if self._db is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StorageError(f"cannot open the shared limits file in {self.path.parent}") from exc
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = OFF")
            os.chmod(self.path, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                alone = True
            except BlockingIOError:
                alone = False
            if alone:
                # nobody else uses the file: what it holds is from an earlier run
                with self.write(db):
                    for statement in (*self._schema, *self._on_alone):
                        db.execute(statement)
            # a process that is clearing the file holds it exclusively: wait for it
            fcntl.flock(fd, fcntl.LOCK_SH)
            if not alone:
                with self.write(db):
                    for statement in self._schema:
                        db.execute(statement)
        except FAILURES as exc:
            os.close(fd)
            raise StorageError("cannot open the shared limits file") from exc
        self._lock_fd, self._db, self.found_alone = fd, db, alone

    @staticmethod
    @contextlib.contextmanager
    def write(db: sqlite3.Connection) -> Iterator[None]:
        """One ``BEGIN IMMEDIATE`` transaction, rolled back on any exception."""
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        """Close the connection and let go of the file."""
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # drops the flock
            self._lock_fd = None
