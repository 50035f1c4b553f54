"""What an exporter sends: one JSON document per audit record, built from the chain.

A call's document holds exactly the fields of ``bastion audit export --format jsonl``
(``model.audit.record_document``: the record's fields and ``rules_acted``), an admin
action's the fields of its chained body; both add ``event`` (``call`` or ``admin``)
and the chain position (``writer_id``, ``seq``), which identify a record uniquely so a
sink can drop a repeated delivery.
Chained bodies never hold prompt or answer text (``audit.chain``), so neither do these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from bastion.audit.admin_events import ADMIN
from bastion.audit.chain import COMPLETION
from bastion.model.audit import record_document, record_from_json
from bastion.model.chain import ChainedEvent

EVENT_KINDS = {"call": COMPLETION, "admin": ADMIN}
"""Config's ``events`` names → the chain event kinds they export (intents never)."""


@dataclass(frozen=True, slots=True)
class ExportRecord:
    """One audit record ready for a sink: its chain position, time and document."""

    writer_id: str
    seq: int
    at: float
    event: str
    request_id: str
    document: dict[str, Any]

    def __post_init__(self) -> None:
        if self.event not in EVENT_KINDS:
            raise ValueError(f"unknown exported event {self.event!r}")

    def attribute(self, name: str) -> str | None:
        """A top-level string field of the document (``decision``, ``app``), or None."""
        value = self.document.get(name)
        return value if isinstance(value, str) else None

    def json(self) -> bytes:
        """The document as compact JSON (UTF-8)."""
        return orjson.dumps(self.document)


def export_record(event: ChainedEvent) -> ExportRecord:
    """The exported form of a completion or admin event."""
    body = orjson.loads(event.body)
    head = {"event": "", "writer_id": event.writer_id, "seq": event.seq}
    if event.kind == COMPLETION:
        head["event"] = "call"
        document = {**head, **record_document(record_from_json(body))}
    elif event.kind == ADMIN:
        head["event"] = "admin"
        document = {**head, "request_id": event.request_id, "at": event.at, **body}
    else:
        raise ValueError(f"chain events of kind {event.kind!r} are not exported")
    return ExportRecord(
        event.writer_id, event.seq, event.at, document["event"], event.request_id, document
    )
