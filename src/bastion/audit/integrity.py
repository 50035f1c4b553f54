"""The integrity check at start-up (RELIABILITY.md "Faults to drill": database locked,
disk full, ... integrity check at start-up).

Before a writer appends to its chain again, a bounded look at what it would build on:

- the store's own structural check (SQLite ``PRAGMA quick_check``);
- the writer's last ``records`` chained events: seqs contiguous, each hash recomputes,
  each names its predecessor's hash, the last one is the head ``audit_writers`` holds,
  and each completion's call record equals its chained body;
- the newest signed checkpoint of this writer (read from the end of the checkpoint
  file): not beyond the head (a truncated tail), and equal to the chain where the tail
  reaches it (a rewritten tail). Signatures are left to ``bastion audit verify``.

On a problem the gateway refuses to start with one line naming it and the command to
investigate (``AuditIntegrityError``): appending would bury the damage under new records.
The full chain is checked on demand with ``bastion audit verify`` (its cost grows with
the trail; this check's does not).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import orjson

from bastion.audit import location
from bastion.audit.chain import COMPLETION, expected_hash
from bastion.audit.verify import Problem, record_problem
from bastion.config.schema import BastionConfig
from bastion.errors import StorageError
from bastion.model.chain import ChainedEvent, WriterState

_CHECKPOINT_TAIL_BYTES = 1 << 16  # the end of the checkpoint file holds the newest lines


class AuditIntegrityError(StorageError):
    """The audit trail failed the start-up check; the message names the first problem."""


class TailReader(Protocol):
    """What the start-up check reads (``storage.AuditEventRepository``)."""

    async def tail(self, writer_id: str, count: int) -> list[ChainedEvent]: ...

    async def records_by_id(self, request_ids: Sequence[str]) -> dict[str, dict[str, Any]]: ...

    async def quick_check(self) -> str | None: ...


class StartupCheck:
    """Checks the tail of one writer's chain, and the store, before the writer resumes."""

    def __init__(
        self,
        store: TailReader,
        *,
        records: int = 1000,
        checkpoint_file: Path | None = None,
        hint: str = "bastion audit verify",
    ) -> None:
        self._store = store
        self._records = records
        self._checkpoint_file = checkpoint_file
        self._hint = hint

    async def run(self, state: WriterState | None) -> None:
        """Raise ``AuditIntegrityError`` naming the first problem found; None when sound."""
        found = await self._store.quick_check()
        if found is not None:
            self._refuse(f"the database's structural check failed: {found}")
        if state is None or self._records <= 0:
            return
        problem = await self.tail_problem(state)
        if problem is not None:
            self._refuse(problem.describe())

    async def tail_problem(self, state: WriterState) -> Problem | None:
        """The first problem in the tail of ``state``'s chain, or None."""
        writer = state.writer_id
        events = await self._store.tail(writer, self._records) if state.head_seq else []
        last_seq = events[-1].seq if events else 0
        if last_seq != state.head_seq:
            return Problem(
                f"the chain ends at seq {last_seq} but the writer's head is seq"
                f" {state.head_seq} (records deleted or the head altered)",
                writer,
                min(last_seq, state.head_seq) + 1,
            )
        if events and events[-1].hash != state.head_hash:
            return Problem("the head hash differs from the last record (altered)", writer, last_seq)
        problem = await self._events_problem(events)
        if problem is not None:
            return problem
        return self._checkpoint_problem(writer, events, last_seq)

    async def _events_problem(self, events: Sequence[ChainedEvent]) -> Problem | None:
        completions = [event.request_id for event in events if event.kind == COMPLETION]
        rows = await self._store.records_by_id(completions)
        previous: ChainedEvent | None = None
        for event in events:
            where = (event.writer_id, event.seq, event.request_id)
            if previous is not None and event.seq != previous.seq + 1:
                return Problem("record missing (deleted)", event.writer_id, previous.seq + 1)
            if previous is not None and event.prev_hash != previous.hash:
                return Problem("does not follow the previous record (reordered or altered)", *where)
            if expected_hash(event) != event.hash:
                return Problem("hash mismatch (the record was modified)", *where)
            if event.kind == COMPLETION:
                reason = record_problem(event, rows.get(event.request_id))
                if reason is not None:
                    return Problem(reason, *where)
            previous = event
        return None

    def _checkpoint_problem(
        self, writer: str, events: Sequence[ChainedEvent], head: int
    ) -> Problem | None:
        newest = _newest_checkpoint(self._checkpoint_file, writer)
        if newest is None:
            return None
        seq, digest = newest
        if seq > head:
            return Problem(
                f"record missing: the chain ends at seq {head} but a signed checkpoint"
                f" covers seq {seq} (tail truncated)",
                writer,
                head + 1,
            )
        by_seq = {event.seq: event.hash for event in events}
        if seq in by_seq and by_seq[seq] != digest:
            reason = "differs from the newest signed checkpoint (chain rewritten)"
            return Problem(reason, writer, seq)
        return None

    def _refuse(self, problem: str) -> None:
        raise AuditIntegrityError(
            f"audit integrity check at start-up failed: {problem}. Investigate with"
            f" `{self._hint}`; the gateway does not append to a damaged trail"
            " (audit.verify_at_start: 0 skips this check)"
        )


def build_startup_check(config: BastionConfig, store: TailReader) -> StartupCheck | None:
    """The check ``audit.verify_at_start`` asks for (None when it is 0)."""
    records = config.audit.verify_at_start
    if records <= 0:
        return None
    return StartupCheck(store, records=records, checkpoint_file=location.checkpoint_file(config))


def _newest_checkpoint(path: Path | None, writer: str) -> tuple[int, str] | None:
    """(seq, hash) of the newest checkpoint of ``writer`` near the end of ``path``."""
    if path is None:
        return None
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(size - _CHECKPOINT_TAIL_BYTES, 0))
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return None
    newest: tuple[int, str] | None = None
    for line in lines:
        try:
            data = orjson.loads(line)
            if not isinstance(data, dict) or data.get("writer") != writer:
                continue
            seq, digest = int(data["seq"]), str(data["hash"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            continue  # a partial first line of the window, or not a checkpoint
        if newest is None or seq > newest[0]:
            newest = (seq, digest)
    return newest
