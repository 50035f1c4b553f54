"""The local append-only write-ahead log: audit entries are durable before calls go on.

One directory per writer (``<wal_dir>/<writer id>/``), locked with ``flock`` by the
process that owns it, holding numbered segments of JSON lines. An entry is one
``write(2)`` of one line, so once ``append`` returns it survives ``kill -9`` of the
process (durability ``process``); with ``fsync`` the caller also awaits ``sync``, a
group fsync shared by every entry written before it started (survives power loss).

A failed write or fsync marks the log failed for good: the kernel may have dropped the
dirty pages, so retrying could report success for data that is gone (PostgreSQL's
"fsyncgate"). The gateway then refuses new calls until it is restarted.

Each start opens a fresh segment; older segments are only read (replayed and shipped)
and deleted once shipped. A line cut short by a crash is at the end of an old segment
and is skipped: its ``append`` never returned, so its call never went upstream.

The log is also the spool while the database is down. Its format is versioned: each
segment starts with a header line ``{"bastion_wal": <version>}``. Opening a directory
checks every segment first and refuses one of a version this code does not know
(``WalFormatError``, naming the file and both versions) instead of guessing at its
lines; segments without a header are format 0 (written before the header existed,
same entry lines) and are read as such.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import secrets
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

log = logging.getLogger("bastion.audit")

Durability = Literal["process", "fsync"]
_SUFFIX = ".wal"
WAL_FORMAT = 1
"""The segment format this code writes (and the newest it reads)."""
_HEADER_KEY = "bastion_wal"
_READABLE_FORMATS = frozenset({0, WAL_FORMAT})
_READ_CHUNK = 1 << 20
_TAIL_ENTRIES = 4096
"""Entries appended by this process that the shipper may take from memory (the newest)."""


class WalFailed(Exception):
    """The log can no longer promise durability (a write or fsync failed)."""


class WalFormatError(Exception):
    """A segment is of a format this code cannot read (written by another version)."""


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """A place in the log: segment number and byte offset within it."""

    segment: int
    offset: int


def _segment_name(index: int) -> str:
    return f"{index:012d}{_SUFFIX}"


class WriteAheadLog:
    """One writer's log directory, locked for this process."""

    def __init__(
        self,
        directory: Path,
        lock_fd: int,
        *,
        durability: Durability = "process",
        segment_bytes: int = 8 << 20,
        fsync: Callable[[int], None] = os.fsync,
    ) -> None:
        self.directory = directory
        self.writer_id = directory.name
        self.durability = durability
        self._lock_fd = lock_fd
        self._segment_bytes = segment_bytes
        self._fsync = fsync
        self.failed = False
        self._sizes: dict[int, int] = {}
        self._first_entry_at: dict[int, int] = {}  # segments opened here: past the header
        # this process's newest entries, oldest first, with where each starts and ends:
        # the shipper reads them from here instead of the file when it has shipped up
        # to the first one (always, unless it fell behind by more than _TAIL_ENTRIES)
        self._tail: deque[tuple[Position, Position, dict[str, Any]]] = deque(maxlen=_TAIL_ENTRIES)
        for path in directory.glob(f"*{_SUFFIX}"):
            with contextlib.suppress(ValueError):
                self._sizes[int(path.stem)] = path.stat().st_size
        for index in sorted(self._sizes):
            segment_format(directory / _segment_name(index))
        self._current = max(self._sizes, default=0) + 1
        self._fd = self._open_segment(self._current)
        self._written = 0
        self._synced = 0
        self._sync_task: asyncio.Future[None] | None = None

    @classmethod
    def open(
        cls,
        root: Path,
        *,
        durability: Durability = "process",
        segment_bytes: int = 8 << 20,
        fsync: Callable[[int], None] = os.fsync,
    ) -> WriteAheadLog:
        """Take over a writer directory no live process holds, or start a new writer."""
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        for directory in sorted(p for p in root.iterdir() if p.is_dir()):
            lock_fd = _try_lock(directory)
            if lock_fd is not None:
                return cls(
                    directory,
                    lock_fd,
                    durability=durability,
                    segment_bytes=segment_bytes,
                    fsync=fsync,
                )
        while True:
            directory = root / f"w_{secrets.token_hex(6)}"
            try:
                directory.mkdir(mode=0o700)
            except FileExistsError:
                continue
            lock_fd = _try_lock(directory)
            if lock_fd is not None:
                _fsync_dir(root)
                return cls(
                    directory,
                    lock_fd,
                    durability=durability,
                    segment_bytes=segment_bytes,
                    fsync=fsync,
                )

    # --- writing (the hot path) ---

    def append(self, entry: dict[str, Any]) -> Position:
        """Write one entry with one write(2): the position past it. Raises WalFailed once
        the log has failed. The shipper may take ``entry`` itself from memory: never
        change it (or anything it holds) afterwards."""
        if self.failed:
            raise WalFailed("the audit log failed earlier")
        line = orjson.dumps(entry) + b"\n"
        try:
            written = os.write(self._fd, line)
            if written != len(line):
                raise OSError(f"short write ({written} of {len(line)} bytes)")
        except OSError as exc:
            self._fail("write", exc)
            raise WalFailed(str(exc)) from None
        self._written += 1
        start = self._sizes[self._current]
        size = start + len(line)
        self._sizes[self._current] = size
        end = Position(self._current, size)
        self._tail.append((Position(self._current, start), end, entry))
        if size >= self._segment_bytes:
            self._rotate()
        return end

    async def sync(self) -> None:
        """Wait until every entry appended so far is fsynced (one fsync for the group)."""
        target = self._written
        while self._synced < target:
            if self.failed:
                raise WalFailed("the audit log failed earlier")
            if self._sync_task is None:
                self._sync_task = asyncio.ensure_future(self._fsync_group())
            await asyncio.shield(self._sync_task)
        if self.failed:
            raise WalFailed("the audit log failed earlier")

    async def _fsync_group(self) -> None:
        upto, fd = self._written, self._fd
        try:
            await asyncio.to_thread(self._fsync, fd)
            self._synced = max(self._synced, upto)
        except OSError as exc:
            self._fail("fsync", exc)
        finally:
            self._sync_task = None

    def _fail(self, what: str, exc: OSError) -> None:
        if not self.failed:
            log.critical(
                "audit log %s failed (%s); refusing new calls until restart",
                what,
                exc.strerror or type(exc).__name__,
            )
        self.failed = True

    def _rotate(self) -> None:
        old = self._fd
        try:
            if self.durability == "fsync":
                self._fsync(old)  # rare (once per segment): the group fsync covers new fds
            self._current += 1
            self._fd = self._open_segment(self._current)
        except OSError as exc:
            self._fail("rotate", exc)
            return
        self._synced = self._written if self.durability == "fsync" else self._synced
        os.close(old)

    def _open_segment(self, index: int) -> int:
        fd = os.open(
            self.directory / _segment_name(index),
            os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC,
            0o600,
        )
        size = os.fstat(fd).st_size
        if size == 0:
            header = orjson.dumps({_HEADER_KEY: WAL_FORMAT}) + b"\n"
            try:
                if os.write(fd, header) != len(header):
                    raise OSError("short write of the segment header")
            except OSError:
                os.close(fd)
                raise
            size = len(header)
        self._sizes[index] = self._first_entry_at[index] = size
        _fsync_dir(self.directory)
        return fd

    # --- reading (the shipper) ---

    @property
    def start(self) -> Position:
        """The oldest position still in the log."""
        return Position(min(self._sizes, default=self._current), 0)

    def read(self, after: Position, limit: int) -> tuple[list[dict[str, Any]], Position]:
        """Up to ``limit`` complete entries after ``after``, and the position past them."""
        position = after if after.segment in self._sizes else self._next_segment(after)
        while self._tail and self._tail[0][1] <= position:
            self._tail.popleft()  # read from the file meanwhile (after a failed ship)
        if self._tail and self._continues_at(position, self._tail[0][0]):
            return self._take_tail(limit)
        entries: list[dict[str, Any]] = []
        while len(entries) < limit and position.segment in self._sizes:
            chunk = self._read_chunk(position)
            end = chunk.rfind(b"\n")
            if end < 0:
                if position.segment == self._current or len(chunk) >= _READ_CHUNK:
                    break  # nothing complete yet (or a line longer than a chunk: never ours)
                position = self._next_segment(position)  # a torn last line: skip it
                continue
            consumed = 0
            for line in chunk[: end + 1].split(b"\n")[:-1]:
                consumed += len(line) + 1
                try:
                    entry = orjson.loads(line)
                except orjson.JSONDecodeError:
                    log.error("audit log %s: an unreadable line skipped", self.writer_id)
                    continue
                if isinstance(entry, dict) and _HEADER_KEY in entry:
                    continue  # the segment header (checked at open)
                entries.append(entry)
                if len(entries) >= limit:
                    break
            position = self._onward(Position(position.segment, position.offset + consumed))
        return entries, position

    def _onward(self, position: Position) -> Position:
        """``position``, or the next segment's start when it is a finished segment's end."""
        if position.segment != self._current and position.offset >= self._sizes.get(
            position.segment, 0
        ):
            return self._next_segment(position)
        return position

    def _continues_at(self, position: Position, start: Position) -> bool:
        """Whether the entry starting at ``start`` is the next one after ``position``."""
        position = self._onward(position)
        if position.segment != start.segment:
            return False
        first = self._first_entry_at.get(start.segment)
        return position.offset == start.offset or (
            start.offset == first and position.offset < first  # at the header
        )

    def _take_tail(self, limit: int) -> tuple[list[dict[str, Any]], Position]:
        """The oldest ``limit`` entries of the tail, removed from it: the shipper reads
        each once (after a failed ship it reads them again from the file)."""
        entries: list[dict[str, Any]] = []
        end = self._tail[0][0]
        while self._tail and len(entries) < limit:
            _, end, entry = self._tail.popleft()
            entries.append(entry)
        return entries, self._onward(end)

    def _read_chunk(self, position: Position) -> bytes:
        path = self.directory / _segment_name(position.segment)
        with path.open("rb") as handle:
            handle.seek(position.offset)
            return handle.read(_READ_CHUNK)

    def _next_segment(self, position: Position) -> Position:
        later = [index for index in self._sizes if index > position.segment]
        return Position(min(later), 0) if later else position

    def release(self, shipped: Position) -> None:
        """Delete the segments wholly before ``shipped`` (their entries are stored)."""
        for index in sorted(self._sizes):
            if index >= shipped.segment or index == self._current:
                break
            with contextlib.suppress(FileNotFoundError):
                (self.directory / _segment_name(index)).unlink()
            del self._sizes[index]
            self._first_entry_at.pop(index, None)

    def unshipped_bytes(self, shipped: Position) -> int:
        """Bytes written after ``shipped``: the spool."""
        total = sum(size for index, size in self._sizes.items() if index >= shipped.segment)
        return total - (shipped.offset if shipped.segment in self._sizes else 0)

    def segments(self) -> Iterator[Path]:
        """The segment files, oldest first."""
        for index in sorted(self._sizes):
            yield self.directory / _segment_name(index)

    def close(self) -> None:
        """Close the segment and give up the writer directory."""
        with contextlib.suppress(OSError):
            if self.durability == "fsync" and not self.failed:
                self._fsync(self._fd)
            os.close(self._fd)
        with contextlib.suppress(OSError):
            os.close(self._lock_fd)


def segment_format(path: Path) -> int:
    """The format version of one segment file; raises WalFormatError when unknown."""
    with path.open("rb") as handle:
        first = handle.readline(4096)
    if not first:
        return WAL_FORMAT  # empty: created, header not yet written (a crash between)
    try:
        value = orjson.loads(first)
    except orjson.JSONDecodeError:
        if not first.endswith(b"\n"):
            return WAL_FORMAT  # a torn first line: nothing in it was ever acknowledged
        raise WalFormatError(
            f"{path}: not a Bastion write-ahead log segment (its first line is not JSON);"
            " move it out of the log directory"
        ) from None
    version = value.get(_HEADER_KEY, None) if isinstance(value, dict) else None
    if version is None and isinstance(value, dict) and "k" in value:
        version = 0  # written before segments had a header
    if version not in _READABLE_FORMATS:
        raise WalFormatError(
            f"{path}: write-ahead log format {version!r}; this Bastion reads formats"
            f" {sorted(_READABLE_FORMATS)}. Start the version that wrote it on this log"
            " directory until its spool is shipped (the log empties), then upgrade."
        )
    return int(version)


def _try_lock(directory: Path) -> int | None:
    fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
