"""Process logging: plain text or JSON lines on stderr, with the request id of the call
being handled (``server.log_format``).

The proxy sets ``REQUEST_ID`` when it assigns a call its id; every log line written
while that call is handled (in its task, or in tasks it starts) carries it. Log calls
pass ids, names and counts, never prompt or answer text; the JSON formatter adds only
the fields below, so it cannot leak what a message does not hold.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal

import orjson

REQUEST_ID: ContextVar[str | None] = ContextVar("bastion_request_id", default=None)
"""The id of the call the current task is handling (None outside a call)."""


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, and
    ``request_id`` inside a call; ``exception`` with the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            line["request_id"] = request_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode("utf-8")


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message``, with ``[request id]`` inside a call."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)
        request_id = REQUEST_ID.get()
        return text if request_id is None else f"{text} [{request_id}]"


def configure_logging(log_format: Literal["text", "json"] = "text") -> None:
    """Log to stderr in ``log_format``; library chatter (alembic) kept to warnings."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)
