"""Server-sent events: an incremental parser and an encoder for the OpenAI streams.

The parser follows the WHATWG EventSource rules (``text/event-stream``): lines end in
``\\r\\n``, ``\\n`` or ``\\r``; ``:`` starts a comment; ``data`` lines of one event are
joined with ``\\n``; an event is dispatched at a blank line and only if it had data.
Upstream chunks may split anywhere (inside a line terminator or a UTF-8 character), so
bytes are decoded incrementally and the unfinished line is carried to the next chunk.
Two deliberate departures, both for a relay: ``id``/``retry`` belong to the event they
appear in (a relay re-emits them where they were, it does not track a "last event
id"), and :meth:`SseParser.finish` dispatches a last event that lacks its blank line.
"""

from __future__ import annotations

import re
from codecs import utf_8_decode as _utf8_decode
from dataclasses import dataclass

from bastion.errors import UpstreamFailed

DONE = "[DONE]"
"""The data of the last event of a chat completions stream."""

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class SseEventTooLarge(UpstreamFailed):
    """One upstream event (or unterminated line) grew past the size limit: a 502."""


@dataclass(slots=True)
class SseEvent:
    """One dispatched event; ``event``/``id``/``retry`` are None when the event had none."""

    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None


class SseParser:
    """Incremental ``text/event-stream`` parser: feed bytes, get complete events.

    ``max_event_bytes`` bounds the memory one event may take; it is measured in decoded
    characters (never more than the bytes received). ``comments`` counts the comment
    lines seen (upstream keep-alives). Invalid UTF-8 becomes U+FFFD; nothing fed in
    makes the parser raise except an oversized event.
    """

    __slots__ = (
        "_buf",
        "_data",
        "_data_chars",
        "_event",
        "_id",
        "_pending_cr",
        "_raw",
        "_retry",
        "_started",
        "comments",
        "max_event_bytes",
    )

    def __init__(self, max_event_bytes: int = 16 * 1024 * 1024) -> None:
        if max_event_bytes <= 0:
            raise ValueError("max_event_bytes must be positive")
        self.max_event_bytes = max_event_bytes
        self._raw = b""  # the start of a UTF-8 character split by the chunk boundary
        self._started = False
        self._buf = ""
        self._pending_cr = False
        self._data: list[str] = []
        self._data_chars = 0
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None
        self.comments = 0

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Parse one chunk of the stream; returns the events it completed, in order."""
        if (
            chunk.startswith(b"data: ")
            and chunk.endswith(b"\n\n")
            and chunk.find(b"\n") == len(chunk) - 2
            and self._is_clean()
            and b"\r" not in chunk
            and len(chunk) <= self.max_event_bytes
        ):
            # Fast path for the usual upstream chunk: exactly one plain data event.
            self._started = True
            return [SseEvent(chunk[6:-2].decode("utf-8", "replace"))]
        if self._raw:
            chunk = self._raw + chunk
        text, used = _utf8_decode(chunk, "replace", False)
        self._raw = chunk[used:] if used < len(chunk) else b""
        if not text:
            return []
        if not self._started:
            self._started = True
            if text[0] == "\ufeff":  # a byte order mark may open the stream
                text = text[1:]
                if not text:
                    return []
        if self._pending_cr:
            # The previous chunk ended in "\r": a "\n" here belongs to that line break.
            self._pending_cr = False
            if text[0] == "\n":
                text = text[1:]
                if not text:
                    return []
        if self._buf:
            text = self._buf + text
        lines = _LINE_BREAK.split(text) if "\r" in text else text.split("\n")
        self._buf = lines.pop()
        if not self._buf and text[-1] == "\r":
            self._pending_cr = True
        if len(self._buf) + self._data_chars > self.max_event_bytes:
            self._too_large()
        return self._process(lines)

    def finish(self) -> list[SseEvent]:
        """End of stream: flush the decoder and dispatch a last unterminated event."""
        tail = self._buf + _utf8_decode(self._raw, "replace", True)[0]
        self._buf = ""
        self._raw = b""
        self._pending_cr = False
        lines = _LINE_BREAK.split(tail) if tail else []
        if lines and lines[-1] == "":
            lines.pop()
        lines.append("")
        return self._process(lines)

    def _process(self, lines: list[str]) -> list[SseEvent]:
        events: list[SseEvent] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    joined = data[0] if len(data) == 1 else "\n".join(data)
                    events.append(SseEvent(joined, self._event, self._id, self._retry))
                    data = self._data = []
                    self._data_chars = 0
                    self._event = self._id = self._retry = None
                elif self._event is not None or self._id is not None or self._retry is not None:
                    self._event = self._id = self._retry = None
            elif line.startswith("data:"):
                value = line[6:] if line.startswith(" ", 5) else line[5:]
                data.append(value)
                self._data_chars += len(value) + 1
                if self._data_chars > self.max_event_bytes:
                    self._too_large()
            elif line[0] == ":":
                self.comments += 1
            else:
                self._field(line)
        return events

    def _is_clean(self) -> bool:
        """Whether no line, event or character is pending from earlier chunks."""
        return not (
            self._buf
            or self._raw
            or self._data
            or self._pending_cr
            or self._event is not None
            or self._id is not None
            or self._retry is not None
        )

    def _field(self, line: str) -> None:
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "event":
            self._event = value or None
        elif name == "data":  # "data" without a colon: an empty data line
            self._data.append(value)
            self._data_chars += 1
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
        # Unknown fields are ignored, as the spec requires.

    def _too_large(self) -> None:
        self._data = []
        self._data_chars = 0
        self._buf = ""
        raise SseEventTooLarge(f"an upstream SSE event exceeded {self.max_event_bytes} bytes")


def encode_event(ev: SseEvent) -> bytes:
    """The wire form of one event: field lines, one ``data:`` line per line of data."""
    head = ""
    if ev.event is not None:
        head = f"event: {ev.event}\n"
    if ev.id is not None:
        head += f"id: {ev.id}\n"
    if ev.retry is not None:
        head += f"retry: {ev.retry}\n"
    data = ev.data
    if "\n" in data or "\r" in data:
        data = "\ndata: ".join(_LINE_BREAK.split(data))
    return f"{head}data: {data}\n\n".encode()


def encode_comment(text: str) -> bytes:
    """A comment line (``: text``), which clients ignore; line breaks become spaces."""
    if "\n" in text or "\r" in text:
        text = " ".join(_LINE_BREAK.split(text))
    return f": {text}\n\n".encode()
