"""HTTP sinks: a generic webhook (a JSON array per batch, optionally HMAC-signed) and
Splunk's HTTP Event Collector (HEC event format).

Webhook: ``POST url`` with the batch as a JSON array of record documents.
``X-Bastion-Delivery`` names the batch (``writer:first-last`` seqs; a redelivery has
the same name) and, with a ``secret``, ``signature_header`` carries
``sha256=<hex HMAC-SHA256 of the body>`` (the receiver recomputes it with the secret).

Splunk HEC: ``POST {endpoint}/services/collector/event`` with
``Authorization: Splunk <token>`` and one ``{"time", "source", "sourcetype", "event"}``
object per record, concatenated, as HEC batches are.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import ClassVar

import orjson

from bastion.audit.exporters._http import HttpPoster
from bastion.audit.exporters.records import ExportRecord
from bastion.config.exporters import SplunkHecExporterConfig, WebhookExporterConfig

DELIVERY_HEADER = "X-Bastion-Delivery"


def delivery_id(records: Sequence[ExportRecord]) -> str:
    """``writer:first-last``: the same for every delivery of one batch."""
    return f"{records[0].writer_id}:{records[0].seq}-{records[-1].seq}"


def sign(secret: bytes, body: bytes) -> str:
    """``sha256=<hex>``: the HMAC-SHA256 of ``body`` under ``secret``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class WebhookSink:
    """POSTs each batch as a JSON array to a URL."""

    kind: ClassVar[str] = "webhook"

    def __init__(self, config: WebhookExporterConfig) -> None:
        self._url = config.url
        self._headers = {
            **{name: value.get_secret_value() for name, value in config.headers.items()},
            "content-type": "application/json",
        }
        self._secret = config.secret.get_secret_value().encode() if config.secret else None
        self._signature_header = config.signature_header
        self._http = HttpPoster(config.timeout_s)

    async def send(self, records: Sequence[ExportRecord]) -> None:
        """POST the documents as one JSON array, signed when a secret is configured."""
        body = b"[" + b",".join(record.json() for record in records) + b"]"
        headers = {**self._headers, DELIVERY_HEADER: delivery_id(records)}
        if self._secret is not None:
            headers[self._signature_header] = sign(self._secret, body)
        await self._http.post(self._url, body, headers)

    async def close(self) -> None:
        await self._http.close()


class SplunkHecSink:
    """POSTs each batch to a Splunk HTTP Event Collector."""

    kind: ClassVar[str] = "splunk_hec"

    def __init__(self, config: SplunkHecExporterConfig) -> None:
        self._url = config.endpoint.rstrip("/") + "/services/collector/event"
        self._headers = {
            "authorization": f"Splunk {config.token.get_secret_value()}",
            "content-type": "application/json",
        }
        self._fields: dict[str, str] = {"source": config.source, "sourcetype": config.sourcetype}
        if config.index is not None:
            self._fields["index"] = config.index
        self._http = HttpPoster(config.timeout_s)

    def event(self, record: ExportRecord) -> bytes:
        """One HEC event object."""
        return orjson.dumps({"time": record.at, **self._fields, "event": record.document})

    async def send(self, records: Sequence[ExportRecord]) -> None:
        """POST the batch as concatenated HEC event objects."""
        body = b"\n".join(self.event(record) for record in records)
        headers = {**self._headers, DELIVERY_HEADER: delivery_id(records)}
        await self._http.post(self._url, body, headers)

    async def close(self) -> None:
        await self._http.close()
