"""Idempotency slots in a SQLite file shared by the gateway processes of one machine.

The sqlite counter store's sibling (``limits.store: sqlite``, or ``memory`` with several
workers): a retry that lands on another worker finds the first call's slot. Each slot is
one row: its name, the whole slot sealed as in Redis (the content key's id, a dot, then
the AES-GCM sealed header and body, bound to the slot's name), the claiming call's
token, and when it expires. The file holds no prompt digest or answer in the clear.

A claim of a call in flight frees itself after ``in_flight_ttl_s``, and is dropped at
once when the file is next opened with no process using it (``sqlite_file``); a done
slot is deleted ``ttl_s`` after its call ended, and the oldest done slots go first when
the answers kept pass ``max_bytes``. Calls run on one thread of their own: an answer
may be a megabyte.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar, TypeVar

from bastion.crypto.content import ContentUnreadable
from bastion.crypto.keyring import Keyring
from bastion.errors import StorageError
from bastion.limits.idempotency import (
    Claimed,
    InFlight,
    Outcome,
    Reused,
    StoredAnswer,
    decode_slot,
    encode_slot,
    seal_slot,
    unseal_slot,
)
from bastion.limits.sqlite_file import FAILURES, SharedFile

_T = TypeVar("_T")

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS slots (scope TEXT PRIMARY KEY, value BLOB NOT NULL, "
    "token TEXT NOT NULL, done INTEGER NOT NULL, size INTEGER NOT NULL, "
    "expires_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS slots_by_expiry ON slots (expires_at)",
)
CLEAR_IN_FLIGHT = ("DELETE FROM slots WHERE done = 0",)


def idempotency_file(counters: Path) -> Path:
    """The slots' file beside the counter file ``counters`` (``limits.db`` →
    ``limits-idempotency.db``)."""
    return counters.with_name(f"{counters.stem}-idempotency{counters.suffix or '.db'}")


class SqliteIdempotencyStore:
    """Slots in a SQLite file shared by the processes of one machine."""

    name: ClassVar[str] = "sqlite"

    def __init__(
        self,
        path: Path,
        keyring: Keyring,
        *,
        ttl_s: float,
        in_flight_ttl_s: float,
        max_bytes: int,
        busy_timeout_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.file = SharedFile(path, SCHEMA, CLEAR_IN_FLIGHT, busy_timeout_s=busy_timeout_s)
        self._ring = keyring
        self._ttl_s = ttl_s
        self._in_flight_ttl_s = in_flight_ttl_s
        self._max_bytes = max_bytes
        self._clock = clock
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="bastion-idempotency")

    async def claim(self, scope: str, fingerprint: bytes) -> Outcome:
        mine = seal_slot(self._ring, scope, encode_slot({"fp": fingerprint.hex()}, None))
        token = secrets.token_hex(16)
        current = await self._run(self._claim, scope, mine, token)
        if current is None:
            return Claimed((token, fingerprint.hex()))
        try:
            header, answer = decode_slot(unseal_slot(self._ring, scope, current))
        except ContentUnreadable:
            return Reused()
        if header.get("fp") != fingerprint.hex():
            return Reused()
        return answer if answer is not None else InFlight()

    async def complete(self, scope: str, token: object, answer: StoredAnswer) -> None:
        mine, fingerprint = _owned(token)
        done = seal_slot(self._ring, scope, encode_slot({"fp": fingerprint}, answer))
        await self._run(self._complete, scope, mine, done)

    async def release(self, scope: str, token: object) -> None:
        mine, _ = _owned(token)
        await self._run(self._release, scope, mine)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self.file.close)
        self._executor.shutdown(wait=True)

    # --- on the store's thread, one transaction each ----------------------------------

    def _claim(self, scope: str, value: bytes, token: str) -> bytes | None:
        db, now = self.file.db, self._clock()
        with SharedFile.write(db):
            db.execute("DELETE FROM slots WHERE expires_at <= ?", (now,))
            row = db.execute("SELECT value FROM slots WHERE scope = ?", (scope,)).fetchone()
            if row is not None:
                return bytes(row[0])
            db.execute(
                "INSERT INTO slots (scope, value, token, done, size, expires_at) "
                "VALUES (?, ?, ?, 0, 0, ?)",
                (scope, value, token, now + self._in_flight_ttl_s),
            )
        return None

    def _complete(self, scope: str, token: str, value: bytes) -> None:
        db, now = self.file.db, self._clock()
        with SharedFile.write(db):
            if len(value) > self._max_bytes:
                db.execute("DELETE FROM slots WHERE scope = ? AND token = ?", (scope, token))
                return
            changed = db.execute(
                "UPDATE slots SET value = ?, done = 1, size = ?, expires_at = ? "
                "WHERE scope = ? AND token = ? AND done = 0",
                (value, len(value), now + self._ttl_s, scope, token),
            ).rowcount
            if not changed:
                return
            held = db.execute("SELECT COALESCE(SUM(size), 0) FROM slots WHERE done = 1").fetchone()
            excess = int(held[0]) - self._max_bytes
            if excess <= 0:
                return
            oldest = db.execute(
                "SELECT scope, size FROM slots WHERE done = 1 ORDER BY expires_at"
            ).fetchall()
            for name, size in oldest:
                db.execute("DELETE FROM slots WHERE scope = ?", (name,))
                excess -= size
                if excess <= 0:
                    break

    def _release(self, scope: str, token: str) -> None:
        db = self.file.db
        with SharedFile.write(db):
            db.execute(
                "DELETE FROM slots WHERE scope = ? AND token = ? AND done = 0", (scope, token)
            )

    def stored_bytes(self) -> int:
        """Bytes of sealed answers held now (for tests and reports)."""
        row = self.file.db.execute("SELECT COALESCE(SUM(size), 0) FROM slots WHERE done = 1")
        return int(row.fetchone()[0])

    async def _run(self, call: Callable[..., _T], *args: object) -> _T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, call, *args)
        except (*FAILURES, StorageError) as exc:
            raise StorageError("the idempotency store (shared file) cannot be used") from exc


def _owned(token: object) -> tuple[str, str]:
    """The claiming call's token and the fingerprint it claimed with (hex)."""
    assert isinstance(token, tuple)
    mine, fingerprint = token
    assert isinstance(mine, str) and isinstance(fingerprint, str)
    return mine, fingerprint
