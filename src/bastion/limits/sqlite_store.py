"""The counter store shared by the gateway processes of one machine, in a SQLite file.

``limits.store: sqlite`` (and ``memory`` with ``server.workers > 1``): every worker of
a ``bastion serve``, and every gateway process on the host pointed at the same file,
counts against the same limits without Redis. The counting is the memory store's — a
sliding log per window, leases with a TTL, a running total per calendar period — kept
in tables, and each ``take`` (every hold of a call), ``settle`` and ``restore`` is one
``BEGIN IMMEDIATE`` transaction, so it is atomic across processes. Times are the
callers' ``time.time()``: one machine, one clock.

The file (``sqlite_file``) is cleared by the first process that opens it while no other
holds it; the counters are then rebuilt from the spend ledger exactly once, by
whichever process calls ``restore`` first (or by the first ``take``, through
``rebuild_from``, as with Redis). ``restore`` seeds only counters the file does not
hold, so a process that starts or reloads its config with a new budget later seeds
that budget's counters and leaves the others as they are. Expired rows are deleted as
takes meet them and by a periodic sweep, so the file stays as small as what is live.

Calls run on the event loop (``offload=False``: a transaction takes tens of µs; the
lock is held only that long) or on one thread of their own (``offload=True``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar, TypeVar

from bastion.errors import StorageError
from bastion.limits.sqlite_file import FAILURES, SharedFile
from bastion.limits.store import Granted, Hold, HoldKind, Refused, Restored, Settlement

log = logging.getLogger("bastion.limits")

_WINDOW, _LEASE, _TOTAL = HoldKind.WINDOW, HoldKind.LEASE, HoldKind.TOTAL
TOTAL_GRACE_S = 3600.0  # a period total is kept this long after its period ended
_SWEEP_EVERY_S = 30.0
_T = TypeVar("_T")
_WINDOW_STATE = (
    "SELECT w.total, (SELECT e.at FROM window_entries e WHERE e.key = w.key ORDER BY e.at "
    "LIMIT 1) FROM windows w WHERE w.key = ?"
)

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS windows "
    "(key TEXT PRIMARY KEY, total INTEGER NOT NULL, span REAL NOT NULL)",
    # AUTOINCREMENT: a ticket names its entries and leases by id, which must never be
    # reused for another call's once they expired
    "CREATE TABLE IF NOT EXISTS window_entries (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "key TEXT NOT NULL, at REAL NOT NULL, weight INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS window_entries_by_key ON window_entries (key, at)",
    "CREATE TABLE IF NOT EXISTS leases (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "key TEXT NOT NULL, until REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS leases_by_key ON leases (key, until)",
    "CREATE TABLE IF NOT EXISTS totals "
    "(key TEXT PRIMARY KEY, used INTEGER NOT NULL, expires_at REAL NOT NULL)",
)
CLEAR = (
    "DELETE FROM meta",
    "DELETE FROM windows",
    "DELETE FROM window_entries",
    "DELETE FROM leases",
    "DELETE FROM totals",
)
_SWEEP = (
    "DELETE FROM leases WHERE until <= :now",
    "DELETE FROM totals WHERE expires_at <= :now",
    "UPDATE windows SET total = total - (SELECT COALESCE(SUM(e.weight), 0) FROM window_entries e"
    " WHERE e.key = windows.key AND e.at <= :now - windows.span)",
    "DELETE FROM window_entries WHERE at <= :now - "
    "(SELECT w.span FROM windows w WHERE w.key = window_entries.key)",
    "DELETE FROM windows WHERE NOT EXISTS "
    "(SELECT 1 FROM window_entries e WHERE e.key = windows.key)",
)


class _Ticket:
    """Per hold of one take: its kind, counter key, row id (window entry, lease) and
    the amount it holds now (settling moves it)."""

    __slots__ = ("holds",)

    def __init__(self, holds: list[list[object]]) -> None:
        self.holds = holds


class SqliteCounterStore:
    """Counters in a SQLite file shared by the processes of one machine."""

    name: ClassVar[str] = "sqlite"

    def __init__(self, path: Path, *, busy_timeout_s: float = 5.0, offload: bool = False) -> None:
        self.file = SharedFile(path, SCHEMA, CLEAR, busy_timeout_s=busy_timeout_s)
        self._executor = (
            ThreadPoolExecutor(1, thread_name_prefix="bastion-limits-sqlite") if offload else None
        )
        self._ready = False
        self._recovery = asyncio.Lock()
        self._failing = False
        self._swept_at = 0.0
        self.rebuild_from: Callable[[], Awaitable[object]] | None = None

    @property
    def reachable(self) -> bool:
        """False from a failed transaction until one succeeds again."""
        return not self._failing

    async def take(self, holds: Sequence[Hold], now: float) -> Granted | Refused:
        if not self._ready:
            await self._recover()
        return await self._run(self._take, holds, now)

    async def settle(self, settlements: Sequence[Settlement], now: float) -> None:
        if not self._ready:
            await self._recover()
        await self._run(self._settle, settlements, now)

    async def restore(self, entries: Sequence[Restored]) -> int:
        """Seed the counters the file does not hold yet with the ledger's spend (all of
        them when it was found unused); those another process holds or seeded first
        stay as they are. Answers how many were seeded."""
        seeded = await self._run(self._restore, entries)
        self._ready = True
        return seeded

    async def close(self) -> None:
        if self._executor is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self.file.close)
            self._executor.shutdown(wait=True)
        else:
            self.file.close()

    async def used(self, key: str, kind: HoldKind, now: float) -> int:
        """What a counter holds now (0 when unknown)."""
        return await self._run(self._used, key, kind, now)

    # --- in one transaction each ------------------------------------------------------

    def _take(self, holds: Sequence[Hold], now: float) -> Granted | Refused:
        db = self.file.db
        if now - self._swept_at >= _SWEEP_EVERY_S:
            self._swept_at = now
            with SharedFile.write(db):
                for statement in _SWEEP:
                    db.execute(statement, {"now": now})
        handles: list[list[object]] = []
        remaining: list[int] = []
        resets: list[float] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            for index, (key, kind, limit, amount, span_s) in enumerate(holds):
                if kind is _WINDOW:
                    outcome = _take_window(db, key, limit, amount, span_s, now)
                elif kind is _LEASE:
                    outcome = _take_lease(db, key, limit, span_s, now)
                else:
                    outcome = _take_total(db, key, limit, amount, span_s, now)
                if len(outcome) == 2:  # (used, retry): nothing of this take stays
                    db.execute("ROLLBACK")
                    return Refused(index, int(outcome[0]), outcome[1])
                row_id, left, reset_s = outcome
                handles.append([kind, key, row_id, amount])
                remaining.append(left)
                resets.append(reset_s)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return Granted(_Ticket(handles), tuple(remaining), tuple(resets))

    def _settle(self, settlements: Sequence[Settlement], now: float) -> None:
        db = self.file.db
        with SharedFile.write(db):
            for ticket, amounts in settlements:
                assert isinstance(ticket, _Ticket)
                for handle, amount in zip(ticket.holds, amounts, strict=True):
                    kind, key, row_id, held = handle
                    if kind is _LEASE:
                        db.execute("DELETE FROM leases WHERE id = ?", (row_id,))
                        continue
                    if amount is None or amount == held:
                        continue
                    assert isinstance(held, int)
                    delta = amount - held
                    if kind is _WINDOW:
                        changed = db.execute(
                            "UPDATE window_entries SET weight = ? WHERE id = ?", (amount, row_id)
                        ).rowcount
                        if changed:  # ignored once it left the window
                            db.execute(
                                "UPDATE windows SET total = total + ? WHERE key = ?", (delta, key)
                            )
                    else:
                        db.execute(
                            "UPDATE totals SET used = used + ? WHERE key = ? AND expires_at > ?",
                            (delta, key, now),
                        )
                    handle[3] = amount

    def _restore(self, entries: Sequence[Restored]) -> int:
        db = self.file.db
        with SharedFile.write(db):
            now = time.time()
            fresh: dict[str, bool] = {}  # per counter: not held when the restore began
            seeded: set[str] = set()
            for entry in sorted(entries, key=lambda e: e.at):
                if entry.kind not in (_WINDOW, _TOTAL):
                    continue
                if entry.key not in fresh:
                    fresh[entry.key] = not _holds(db, entry.kind, entry.key, now)
                if not fresh[entry.key]:
                    continue
                if entry.kind is _WINDOW:
                    if entry.at > now - entry.span_s:
                        _add_window_entry(db, entry.key, entry.at, entry.amount, entry.span_s)
                        seeded.add(entry.key)
                else:
                    db.execute(  # an expired row of the key is replaced, not added to
                        "INSERT INTO totals (key, used, expires_at) VALUES (?, ?, ?) "
                        "ON CONFLICT (key) DO UPDATE SET used = CASE WHEN expires_at > ? "
                        "THEN used + excluded.used ELSE excluded.used END, "
                        "expires_at = MAX(expires_at, excluded.expires_at)",
                        (entry.key, entry.amount, entry.at + entry.span_s + TOTAL_GRACE_S, now),
                    )
                    seeded.add(entry.key)
            db.execute(
                "INSERT OR IGNORE INTO meta (name, value) VALUES ('epoch', ?)",
                (secrets.token_hex(8),),
            )
        return len(seeded)

    def _used(self, key: str, kind: HoldKind, now: float) -> int:
        db = self.file.db
        if kind is _WINDOW:
            row = db.execute(
                "SELECT COALESCE(SUM(weight), 0) FROM window_entries WHERE key = ? AND at > ?",
                (key, now - _span_of(db, key)),
            ).fetchone()
        elif kind is _LEASE:
            row = db.execute(
                "SELECT COUNT(*) FROM leases WHERE key = ? AND until > ?", (key, now)
            ).fetchone()
        else:
            row = db.execute(
                "SELECT used FROM totals WHERE key = ? AND expires_at > ?", (key, now)
            ).fetchone()
        return int(row[0]) if row is not None else 0

    def _has_counters(self) -> bool:
        db = self.file.db
        return db.execute("SELECT 1 FROM meta WHERE name = 'epoch'").fetchone() is not None

    # --- plumbing ---------------------------------------------------------------------

    async def _recover(self) -> None:
        """Make sure the file holds counters: rebuild them from the ledger when nobody
        has since this file was last cleared (one task per process at a time)."""
        async with self._recovery:
            if self._ready:
                return
            if not await self._run(self._has_counters):
                log.warning(
                    "limits: the shared counter file holds no counters; rebuilding them "
                    "from the spend ledger before admitting calls"
                )
                if self.rebuild_from is not None:
                    await self.rebuild_from()  # calls restore()
                else:
                    await self.restore(())
            self._ready = True

    async def _run(self, call: Callable[..., _T], *args: object) -> _T:
        try:
            if self._executor is None:
                result = call(*args)
            else:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(self._executor, call, *args)
        except (*FAILURES, StorageError) as exc:
            if not self._failing:
                self._failing = True
                log.error(
                    "limits: the shared counter file %s failed (%s); refusing calls with 503 "
                    "limits_unavailable until it works again",
                    self.file.path,
                    type(exc).__name__,
                )
            if isinstance(exc, StorageError):  # the file could not be opened: it says why
                raise
            raise StorageError(f"the shared limit counters in {self.file.path} failed") from exc
        if self._failing:
            self._failing = False
            log.warning("limits: the shared counter file works again")
        return result


def _holds(db: sqlite3.Connection, kind: HoldKind, key: str, now: float) -> bool:
    """Whether the file holds a counter (a window with entries, a live period total)."""
    if kind is _WINDOW:
        row = db.execute("SELECT 1 FROM windows WHERE key = ?", (key,)).fetchone()
    else:
        row = db.execute(
            "SELECT 1 FROM totals WHERE key = ? AND expires_at > ?", (key, now)
        ).fetchone()
    return row is not None


def _span_of(db: sqlite3.Connection, key: str) -> float:
    row = db.execute("SELECT span FROM windows WHERE key = ?", (key,)).fetchone()
    return float(row[0]) if row is not None else 0.0


def _add_window_entry(
    db: sqlite3.Connection, key: str, at: float, amount: int, span_s: float
) -> int:
    row_id = db.execute(
        "INSERT INTO window_entries (key, at, weight) VALUES (?, ?, ?)", (key, at, amount)
    ).lastrowid
    db.execute(
        "INSERT INTO windows (key, total, span) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE "
        "SET total = total + excluded.total, span = excluded.span",
        (key, amount, span_s),
    )
    assert row_id is not None
    return row_id


def _take_window(
    db: sqlite3.Connection, key: str, limit: int, amount: int, span_s: float, now: float
) -> tuple[int, int, float] | tuple[int, float]:
    """``(entry id, remaining, reset s)``, or ``(used, retry s)`` when it does not fit."""
    cutoff = now - span_s
    found = db.execute(_WINDOW_STATE, (key,)).fetchone()  # no row: an unused window
    total, oldest = (int(found[0]), found[1]) if found is not None else (0, None)
    if oldest is not None and oldest <= cutoff:  # the oldest entries have left the window
        gone = db.execute(
            "SELECT COALESCE(SUM(weight), 0) FROM window_entries WHERE key = ? AND at <= ?",
            (key, cutoff),
        ).fetchone()[0]
        db.execute("DELETE FROM window_entries WHERE key = ? AND at <= ?", (key, cutoff))
        db.execute("UPDATE windows SET total = total - ? WHERE key = ?", (gone, key))
        total -= int(gone)
        row = db.execute(
            "SELECT at FROM window_entries WHERE key = ? ORDER BY at LIMIT 1", (key,)
        ).fetchone()
        oldest = row[0] if row is not None else None
    if total + amount > limit:
        if amount > limit:
            return total, math.inf
        need, freed = total + amount - limit, 0
        for at, weight in db.execute(
            "SELECT at, weight FROM window_entries WHERE key = ? ORDER BY at", (key,)
        ):
            freed += weight
            if freed >= need:
                return total, max(at + span_s - now, 0.0)
        return total, math.inf
    row_id = _add_window_entry(db, key, now, amount, span_s)
    return row_id, limit - total - amount, (now if oldest is None else oldest) + span_s - now


def _take_lease(
    db: sqlite3.Connection, key: str, limit: int, span_s: float, now: float
) -> tuple[int, int, float] | tuple[int, float]:
    count = db.execute(
        "SELECT COUNT(*) FROM leases WHERE key = ? AND until > ?", (key, now)
    ).fetchone()[0]
    if count >= limit:
        db.execute("DELETE FROM leases WHERE key = ? AND until <= ?", (key, now))
        soonest = db.execute("SELECT MIN(until) FROM leases WHERE key = ?", (key,)).fetchone()[0]
        return count, max((soonest if soonest is not None else now) - now, 0.0)
    row_id = db.execute(
        "INSERT INTO leases (key, until) VALUES (?, ?)", (key, now + span_s)
    ).lastrowid
    assert row_id is not None
    return row_id, limit - count - 1, 0.0


def _take_total(
    db: sqlite3.Connection, key: str, limit: int, amount: int, span_s: float, now: float
) -> tuple[int, int, float] | tuple[int, float]:
    row = db.execute("SELECT used, expires_at FROM totals WHERE key = ?", (key,)).fetchone()
    expires_at = float(row[1]) if row is not None else 0.0
    used = int(row[0]) if row is not None and expires_at > now else 0
    if used + amount > limit:
        return used, math.inf
    if expires_at > now:
        db.execute("UPDATE totals SET used = used + ? WHERE key = ?", (amount, key))
        return 0, limit - used - amount, max(expires_at - TOTAL_GRACE_S - now, 0.0)
    db.execute(
        "INSERT OR REPLACE INTO totals (key, used, expires_at) VALUES (?, ?, ?)",
        (key, amount, now + span_s + TOTAL_GRACE_S),
    )
    return 0, limit - amount, span_s
