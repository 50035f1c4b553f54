"""OpenTelemetry collector sink: OTLP/HTTP with JSON encoding, one log record per
audit record (``POST {endpoint}/v1/logs``).

The resource carries ``service.name=bastion``; each log record's body is the record's
JSON document and its attributes the fields a collector routes on: event, request id,
decision, app, environment, and the chain position. A 2xx answer acknowledges the
batch (a ``partialSuccess`` is the collector rejecting records it will never accept,
so retrying could not help).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import orjson

from bastion.audit.exporters._http import HttpPoster
from bastion.audit.exporters.records import ExportRecord
from bastion.config.exporters import OtlpExporterConfig

SCOPE = "bastion.audit"
_ATTRIBUTES = (
    ("bastion.request_id", "request_id"),
    ("bastion.decision", "decision"),
    ("bastion.app", "app"),
    ("bastion.environment", "environment"),
    ("bastion.status", "status"),
    ("bastion.admin.action", "action"),
)
_SEVERITY_INFO = 9


def _string(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def log_record(record: ExportRecord) -> dict[str, Any]:
    """The OTLP ``LogRecord`` (JSON mapping) of one audit record."""
    attributes = [
        _string("bastion.event", record.event),
        _string("bastion.audit.writer_id", record.writer_id),
        {"key": "bastion.audit.seq", "value": {"intValue": str(record.seq)}},
    ]
    for key, field in _ATTRIBUTES:
        value = record.attribute(field)
        if value is not None:
            attributes.append(_string(key, value))
    return {
        "timeUnixNano": str(int(record.at * 1_000_000_000)),
        "severityNumber": _SEVERITY_INFO,
        "severityText": "INFO",
        "body": {"stringValue": record.json().decode("utf-8")},
        "attributes": attributes,
    }


def logs_request(records: Sequence[ExportRecord]) -> bytes:
    """An ``ExportLogsServiceRequest`` in OTLP JSON."""
    return orjson.dumps(
        {
            "resourceLogs": [
                {
                    "resource": {"attributes": [_string("service.name", "bastion")]},
                    "scopeLogs": [
                        {
                            "scope": {"name": SCOPE},
                            "logRecords": [log_record(record) for record in records],
                        }
                    ],
                }
            ]
        }
    )


class OtlpSink:
    """Delivers to an OpenTelemetry collector's OTLP/HTTP logs endpoint."""

    kind: ClassVar[str] = "otlp"

    def __init__(self, config: OtlpExporterConfig) -> None:
        base = config.endpoint.rstrip("/")
        self._url = base if base.endswith("/v1/logs") else base + "/v1/logs"
        self._headers = {
            **{name: value.get_secret_value() for name, value in config.headers.items()},
            "content-type": "application/json",
        }
        self._http = HttpPoster(config.timeout_s)

    async def send(self, records: Sequence[ExportRecord]) -> None:
        """POST the batch as one ``ExportLogsServiceRequest``."""
        await self._http.post(self._url, logs_request(records), self._headers)

    async def close(self) -> None:
        await self._http.close()
