"""The audit hash chain: one chain per writer, contiguous sequence numbers from 1.

Each event's hash is ``SHA-256(prev_hash || "\\n" || canonical JSON of its chained
metadata)``, where the metadata is the writer id, seq, kind, request id, time and the
event body. Canonical JSON is orjson with sorted keys: the body stored in the database
is exactly the text that was hashed, so a verifier recomputes every link from the rows
alone. Content (prompt or answer text, when a retention mode keeps it) is never part of
a body; a body may only name it by salted digest, so purging content keeps the chain.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from bastion.model.chain import ChainedEvent

GENESIS = "0" * 64
"""``prev_hash`` of a writer's first event."""

INTENT = "intent"
COMPLETION = "completion"
LATE_COMPLETION = "late_completion"
"""The real ending of a call another writer had already closed as unknown_after_crash
(its writer was adopted while it stalled or lay dead): kept as evidence, not a record."""


def canonical(value: Any) -> bytes:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def link_hash(
    prev_hash: str, writer_id: str, seq: int, kind: str, request_id: str, at: float, body: bytes
) -> str:
    """The hash of one event given its predecessor's hash and its canonical ``body``."""
    header = canonical({"w": writer_id, "s": seq, "k": kind, "r": request_id, "t": at})
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(header)
    digest.update(b"\n")
    digest.update(body)
    return digest.hexdigest()


def expected_hash(event: ChainedEvent) -> str:
    """What ``event.hash`` must be, recomputed from its other fields."""
    return link_hash(
        event.prev_hash,
        event.writer_id,
        event.seq,
        event.kind,
        event.request_id,
        event.at,
        event.body.encode("utf-8"),
    )


class Chain:
    """Appends events to one writer's chain (the shipper owns the only instance)."""

    def __init__(self, writer_id: str, head_seq: int = 0, head_hash: str = GENESIS) -> None:
        self.writer_id = writer_id
        self.head_seq = head_seq
        self.head_hash = head_hash

    def link(self, kind: str, request_id: str, at: float, body: bytes) -> ChainedEvent:
        """The next event of the chain (and advance the head)."""
        seq = self.head_seq + 1
        digest = link_hash(self.head_hash, self.writer_id, seq, kind, request_id, at, body)
        event = ChainedEvent(
            self.writer_id, seq, kind, request_id, at, body.decode("utf-8"), self.head_hash, digest
        )
        self.head_seq, self.head_hash = seq, digest
        return event
