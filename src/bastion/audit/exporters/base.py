"""The sink interface of audit exporters and the table of built-in kinds.

A sink receives batches of records in chain order and returns only once the receiver
acknowledged all of them; any failure raises ``SinkError`` (with a message safe to
log: status, exception class, never a record or a secret) and the runner delivers the
same batch again later. A sink may therefore see a batch twice (at-least-once); each
record's ``writer_id``/``seq`` identify it. Sinks own their connections: ``close``
releases them.

Kinds resolve lazily by name (``SINK_KINDS``: kind → ``module:Class``), so a gateway
without exporters imports none of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

from bastion.audit.exporters.records import ExportRecord
from bastion.errors import BastionError


class SinkError(BastionError):
    """A delivery failed; the batch is kept and retried."""


class Sink(Protocol):
    """Where an exporter delivers records (one instance per configured exporter)."""

    kind: ClassVar[str]

    async def send(self, records: Sequence[ExportRecord]) -> None:
        """Deliver ``records`` (1 to ``batch_size``, chain order); raise ``SinkError``
        unless the receiver acknowledged every one."""
        ...

    async def close(self) -> None:
        """Release connections; the sink is not used afterwards."""
        ...


SINK_KINDS: dict[str, str] = {
    "otlp": "bastion.audit.exporters.otlp:OtlpSink",
    "webhook": "bastion.audit.exporters.webhook:WebhookSink",
    "splunk_hec": "bastion.audit.exporters.webhook:SplunkHecSink",
    "syslog": "bastion.audit.exporters.syslog:SyslogSink",
}
"""Built-in sink kinds (the ``kind`` of an ``audit.exporters`` entry)."""


def build_sink(config: Any) -> Sink:
    """The sink for one ``audit.exporters`` entry (its class imported on first use)."""
    target = SINK_KINDS.get(config.kind)
    if target is None:
        known = ", ".join(sorted(SINK_KINDS))
        raise ValueError(f"unknown exporter kind {config.kind!r}; known kinds: {known}")
    module, _, name = target.partition(":")
    sink_class = getattr(importlib.import_module(module), name)
    sink: Sink = sink_class(config)
    return sink
