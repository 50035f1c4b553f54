"""Links of the audit hash chain and a writer's position, as stored (no hashing here)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChainedEvent:
    """One event as stored: a link of its writer's chain (see ``bastion.audit.chain``)."""

    writer_id: str
    seq: int
    kind: str
    request_id: str
    at: float
    body: str
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class WriterState:
    """Where one writer stands: chain head, write-ahead-log position shipped, and the
    seq up to which every intent is known to have its terminal state."""

    writer_id: str
    head_seq: int
    head_hash: str
    wal_segment: int
    wal_offset: int
    closed_through: int
