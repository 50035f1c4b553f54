"""A request normalised across wire formats: the texts the model will read, and where."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Source(StrEnum):
    """Provenance of a text segment."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL_RESULT = "tool_result"
    RETRIEVED = "retrieved"
    METADATA = "metadata"


class Endpoint(StrEnum):
    """The API surface a call came in on."""

    CHAT = "chat.completions"
    RESPONSES = "responses"
    EMBEDDINGS = "embeddings"
    SCAN = "scan"


Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Segment:
    """One text the model will read.

    ``path`` locates the JSON string in the request body (keys and list indexes), so a
    transform can write a changed text back; ``start``/``end`` are code-point offsets
    of this segment inside that string (a string may hold several segments, e.g. a
    ``<retrieved>`` block inside a user message).

    ``names`` marks the one segment that lists, one per line, the field names and
    identifiers of the body (schema property names, metadata keys, tool and function
    names, ids): scanned like any text, but not a string a transform can rewrite.
    """

    text: str
    source: Source
    path: Path
    start: int = 0
    end: int | None = None
    message_index: int | None = None
    role: str | None = None
    names: bool = False

    def __post_init__(self) -> None:
        end = self.start + len(self.text) if self.end is None else self.end
        if self.start < 0 or end - self.start != len(self.text):
            raise ValueError("segment offsets must span exactly its text")
        object.__setattr__(self, "end", end)


@dataclass(frozen=True, slots=True)
class Conversation:
    """The parsed request: model, every text segment, tools offered and parameters."""

    endpoint: Endpoint
    model: str
    segments: tuple[Segment, ...]
    stream: bool = False
    tools: tuple[str, ...] = ()
    unscanned: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    end_user: str | None = None
    exception_id: str | None = None
    untrusted_marks: int = 0

    @property
    def text_chars(self) -> int:
        """Total characters of text the model will read."""
        return sum(len(s.text) for s in self.segments)
