"""Verify the audit chain end to end and name the first bad record (RELIABILITY.md A3).

Per writer, in seq order: seqs are contiguous from 1 (a gap is a deleted record), each
event names its predecessor's hash (reordering breaks this), and its hash recomputes
from its fields (an edit breaks this). Each completion's call record must equal the
chained body (an edited or deleted row of ``call_records`` is caught), and every call
record must be chained (a row inserted around the gateway is caught). Each chain must
reach the head its writer's row in ``audit_writers`` holds, with that hash: a tail
deleted after the last checkpoint is caught too, unless the head was edited as well.
Signed checkpoints, read from outside the database, must match the chain where it
reaches them; one beyond the chain's end proves the tail was truncated.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bastion.audit.chain import COMPLETION, GENESIS, expected_hash
from bastion.audit.checkpoints import Checkpoint, signature_valid
from bastion.model.chain import ChainedEvent, WriterState


class ChainReader(Protocol):
    """What the verifier reads (``storage.AuditEventRepository``)."""

    async def chained_writers(self) -> list[str]: ...

    async def writers(self) -> list[WriterState]: ...

    def events(
        self, writer_id: str, *, page_size: int = 1000
    ) -> AsyncIterator[list[ChainedEvent]]: ...

    async def records_by_id(self, request_ids: Sequence[str]) -> dict[str, dict[str, Any]]: ...

    async def unchained_records(self, limit: int = 10) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class Problem:
    """The first thing that does not verify."""

    reason: str
    writer_id: str | None = None
    seq: int | None = None
    request_id: str | None = None

    def describe(self) -> str:
        where = []
        if self.writer_id is not None:
            where.append(f"writer {self.writer_id}")
        if self.seq is not None:
            where.append(f"seq {self.seq}")
        if self.request_id is not None:
            where.append(f"request {self.request_id}")
        return (", ".join(where) + ": " if where else "") + self.reason


@dataclass(slots=True)
class Verification:
    """What was checked, and the first problem if any."""

    heads: dict[str, int] = field(default_factory=dict)
    events: int = 0
    records: int = 0
    checkpoints: int = 0
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_json(self) -> dict[str, Any]:
        problem = None
        if self.problem is not None:
            problem = {
                "writer": self.problem.writer_id,
                "seq": self.problem.seq,
                "request_id": self.problem.request_id,
                "reason": self.problem.reason,
            }
        return {
            "ok": self.ok,
            "writers": self.heads,
            "events": self.events,
            "records": self.records,
            "checkpoints": self.checkpoints,
            "problem": problem,
        }


async def verify(
    store: ChainReader,
    checkpoints: Iterable[tuple[int, Checkpoint | None]] = (),
    keys: Mapping[str, Ed25519PublicKey] | None = None,
    *,
    any_key: bool = False,
) -> Verification:
    """Check every writer's chain, the call records, and the checkpoints."""
    result = Verification()
    signed: dict[str, dict[int, tuple[str, int]]] = {}
    for line, checkpoint in checkpoints:
        problem = _checkpoint_problem(line, checkpoint, keys or {}, any_key)
        if problem is not None:
            result.problem = problem
            return result
        assert checkpoint is not None
        signed.setdefault(checkpoint.writer_id, {})[checkpoint.seq] = (checkpoint.hash, line)
        result.checkpoints += 1
    # Heads are read before the chains: a gateway appending meanwhile only moves them on.
    stored = {state.writer_id: state for state in await store.writers()}
    heads = {writer_id for writer_id, state in stored.items() if state.head_seq}
    writers = sorted(set(await store.chained_writers()) | set(signed) | heads)
    for writer_id in writers:
        marks = signed.get(writer_id, {})
        problem = await _verify_writer(store, writer_id, marks, stored.get(writer_id), result)
        if problem is not None:
            result.problem = problem
            return result
    unchained = await store.unchained_records(limit=1)
    if unchained:
        result.problem = Problem(
            "call record is not in the audit chain (written around the gateway)",
            request_id=unchained[0],
        )
    return result


def _checkpoint_problem(
    line: int,
    checkpoint: Checkpoint | None,
    keys: Mapping[str, Ed25519PublicKey],
    any_key: bool,
) -> Problem | None:
    if checkpoint is None:
        return Problem(f"checkpoint file line {line} is not a checkpoint")
    if not keys:
        return Problem("no public key to check the checkpoints with")
    if not any_key and checkpoint.key_id not in keys:
        return Problem(f"checkpoint file line {line} names an unknown key {checkpoint.key_id}")
    if not signature_valid(checkpoint, keys, any_key):
        return Problem(f"checkpoint file line {line} has a bad signature")
    return None


async def _verify_writer(
    store: ChainReader,
    writer_id: str,
    signed: Mapping[int, tuple[str, int]],
    stored: WriterState | None,
    result: Verification,
) -> Problem | None:
    expected_seq, prev = 1, GENESIS
    head_seq, head_hash = (stored.head_seq, stored.head_hash) if stored else (0, GENESIS)
    async for page in store.events(writer_id):
        completions = [e.request_id for e in page if e.kind == COMPLETION]
        rows = await store.records_by_id(completions)
        for event in page:
            if event.seq != expected_seq:
                return Problem("record missing (deleted)", writer_id, expected_seq)
            reason = _event_problem(event, prev, signed, rows)
            if reason is None and event.seq == head_seq and event.hash != head_hash:
                reason = "differs from the writer's stored head (chain rewritten)"
            if reason is not None:
                return Problem(reason, writer_id, event.seq, event.request_id)
            if event.kind == COMPLETION:
                result.records += 1
            prev = event.hash
            expected_seq += 1
            result.events += 1
    head = expected_seq - 1
    result.heads[writer_id] = head
    beyond = [seq for seq in signed if seq > head]
    if beyond:
        last = max(beyond)
        return Problem(
            f"record missing: the chain ends at seq {head} but the checkpoint on line "
            f"{signed[last][1]} covers seq {last} (tail truncated)",
            writer_id=writer_id,
            seq=head + 1,
        )
    if head_seq > head:  # not signed yet, but the store's own head names it
        return Problem(
            f"record missing: the chain ends at seq {head} but the writer's stored head is"
            f" seq {head_seq} (tail truncated)",
            writer_id=writer_id,
            seq=head + 1,
        )
    return None


def _event_problem(
    event: ChainedEvent,
    prev: str,
    signed: Mapping[int, tuple[str, int]],
    rows: Mapping[str, Mapping[str, Any]],
) -> str | None:
    if event.prev_hash != prev:
        return "does not follow the previous record (reordered or altered)"
    if expected_hash(event) != event.hash:
        return "hash mismatch (the record was modified)"
    mark = signed.get(event.seq)
    if mark is not None and mark[0] != event.hash:
        return f"differs from the signed checkpoint on line {mark[1]} (chain rewritten)"
    if event.kind == COMPLETION:
        return record_problem(event, rows.get(event.request_id))
    return None


def record_problem(event: ChainedEvent, stored: Mapping[str, Any] | None) -> str | None:
    """Why a completion's stored call record does not match its chained body, or None."""
    if stored is None:
        return "its call record is missing (deleted)"
    chained: dict[str, Any] = orjson.loads(event.body)
    if chained.get("request_id") != event.request_id:
        return "its body names another request (altered)"
    changed = sorted(name for name, value in chained.items() if stored.get(name) != value)
    if changed:
        return f"its call record differs from the chained one in {', '.join(changed)} (modified)"
    return None
