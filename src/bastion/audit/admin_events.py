"""Admin actions on the audit trail itself (content decrypted, purged or erased, legal
holds placed or released), recorded as events of their own hash chain.

The chain's writer is ``admin``: any process (a CLI command, a gateway's purge job)
appends to it in one database transaction, so it needs no write-ahead log. The event
names the call it concerns as its request id (a hold's id otherwise), so the
decryptions of one call can be listed next to it. When a signer is given, a signed
checkpoint follows each event (they are rare), so a truncated admin chain is detected
by ``bastion audit verify`` like any other. Bodies carry ids, counts and subjects of
admin tokens; never content, values or fingerprints of a subject.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bastion.audit.chain import Chain, canonical
from bastion.audit.checkpoints import CheckpointFile, Signer
from bastion.model.chain import ChainedEvent

ADMIN_WRITER = "admin"
"""The writer id of the admin chain."""
ADMIN = "admin"
"""The event kind of an admin action."""


class AdminChainStore(Protocol):
    """Where admin events are appended (``storage.AuditEventRepository``)."""

    async def append(
        self, writer_id: str, link: Callable[[int, str], ChainedEvent], now: float
    ) -> ChainedEvent: ...


@dataclass(frozen=True, slots=True)
class AdminAction:
    """One action of an admin identity (``actor``, its ``role``) on ``target``."""

    action: str
    actor: str
    role: str
    target: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "actor": self.actor,
            "role": self.role,
            "target": self.target,
            "details": dict(self.details),
        }


async def record_admin_action(
    store: AdminChainStore,
    action: AdminAction,
    at: float,
    *,
    signer: Signer | None = None,
    checkpoint_file: Path | None = None,
) -> ChainedEvent:
    """Chain ``action`` as an admin event (and checkpoint it when a signer is given)."""
    body = canonical(action.body())

    def link(head_seq: int, head_hash: str) -> ChainedEvent:
        return Chain(ADMIN_WRITER, head_seq, head_hash).link(ADMIN, action.target, at, body)

    event = await store.append(ADMIN_WRITER, link, at)
    if signer is not None and checkpoint_file is not None:
        CheckpointFile(checkpoint_file).append(signer.sign(ADMIN_WRITER, event.seq, event.hash, at))
    return event
