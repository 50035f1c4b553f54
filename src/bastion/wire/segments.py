"""Splitting one request string into segments by provenance (tags and untrusted marks)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bastion.model import Segment, Source
from bastion.model.conversation import Path

NAMES_PATH: Path = ("$names",)
"""Where the names segment says it sits: no key of any request body."""


def retrieved_spans(text: str, tags: Sequence[str]) -> list[tuple[int, int]]:
    """The ``(start, end)`` of every ``<tag>…</tag>`` body in ``text``, left to right.

    Each body runs to the first closing tag of its own name (no nesting); after a body
    the scan continues past its closing tag. Linear in ``len(text)`` for each tag: the
    next opening of each tag is looked up once per position it can be at, and a tag
    with no closing tag left is dropped (a backtracking regex here was quadratic on a
    body of unclosed tags).
    """
    openings = {tag: (f"<{tag}>", f"</{tag}>") for tag in tags}
    next_at = {tag: text.find(opening) for tag, (opening, _) in openings.items()}
    spans: list[tuple[int, int]] = []
    pos = 0
    while True:
        live = [(at, tag) for tag, at in next_at.items() if at >= 0]
        if not live:
            return spans
        at, tag = min(live)
        opening, closing = openings[tag]
        body = at + len(opening)
        end = text.find(closing, body)
        if end < 0:  # never closed: no later opening of this tag can close either
            del next_at[tag]
            continue
        spans.append((body, end))
        pos = end + len(closing)
        for name, found in next_at.items():
            if 0 <= found < pos:
                next_at[name] = text.find(openings[name][0], pos)


class SegmentCollector:
    """Collects the segments of one request, in document order."""

    __slots__ = ("_tags", "segments")

    def __init__(self, retrieved_tags: Sequence[str]) -> None:
        self.segments: list[Segment] = []
        self._tags = tuple(retrieved_tags)

    def add(
        self,
        text: str,
        source: Source,
        path: Path,
        *,
        message_index: int | None = None,
        role: str | None = None,
        untrusted: Sequence[tuple[int, int]] = (),
    ) -> None:
        """Add one string, split where retrieved tags or untrusted ranges change provenance."""
        if not text:
            return
        overrides = list(untrusted)
        if self._tags and "<" in text:
            overrides.extend(retrieved_spans(text, self._tags))
        if not overrides:
            self.segments.append(Segment(text, source, path, 0, None, message_index, role))
            return
        for start, end, src in _split(len(text), source, overrides):
            self.segments.append(
                Segment(text[start:end], src, path, start, end, message_index, role)
            )

    def add_names(self, names: Iterable[str]) -> None:
        """Add the body's field names and identifiers as one ``metadata`` segment, one
        per line, sorted (the same tools and schemas make the same text, call after
        call, so its scan is remembered)."""
        listed = sorted({name for name in names if name})
        if listed:
            text = "\n".join(listed)
            self.segments.append(Segment(text, Source.METADATA, NAMES_PATH, names=True))


def _split(
    length: int, base: Source, retrieved: list[tuple[int, int]]
) -> list[tuple[int, int, Source]]:
    """Partition [0, length) into runs of ``base`` and ``retrieved`` provenance."""
    marks = sorted((max(0, s), min(length, e)) for s, e in retrieved if e > s)
    runs: list[tuple[int, int, Source]] = []
    pos = 0
    for start, end in marks:
        if end <= pos:
            continue
        start = max(start, pos)
        if start > pos:
            runs.append((pos, start, base))
        runs.append((start, end, Source.RETRIEVED))
        pos = end
    if pos < length:
        runs.append((pos, length, base))
    return runs
