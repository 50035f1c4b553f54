"""What a detector found: a data class at a span of one segment."""

from __future__ import annotations

from dataclasses import dataclass, field

REQUEST = -1
"""``Finding.segment`` of findings about the request as a whole, not one text."""
ANSWER = -2
"""``Finding.segment`` of findings in the model's answer (offsets into one answer text)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """A detected data class (``pii.email``, ``secret.aws_access_key``, ...).

    ``segment`` indexes the conversation's segments (``REQUEST`` = the request as a whole,
    e.g. ``content.unscanned``); ``start``/``end`` are code-point offsets into that
    segment's text. ``fingerprint`` is a keyed digest of the value carrying its key id
    (``fp_1a2b3c4d:…``): records can be matched without ever holding the value.
    """

    data_class: str
    segment: int
    start: int
    end: int
    score: float
    detector: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    fingerprint: str = ""

    @property
    def dummy(self) -> bool:
        """A vendor's documented example credential or a filler body (``sk-xxxx…``):
        reported, but no credential; policy rules count it only when they ask to."""
        return self.meta.get("known_dummy") == "true"

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError("finding score must be within [0, 1]")
        if self.start < 0 or self.end < self.start:
            raise ValueError("finding span must be a non-negative, ordered range")
        if "." not in self.data_class:
            raise ValueError("data class names are dotted, e.g. pii.email")
