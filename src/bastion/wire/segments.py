"""Splitting one request string into segments by provenance (tags and untrusted marks)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from bastion.model import Segment, Source
from bastion.model.conversation import Path


@lru_cache(maxsize=16)
def retrieved_pattern(tags: tuple[str, ...]) -> re.Pattern[str]:
    """A pattern matching ``<tag>…</tag>`` for any configured tag (linear: lazy, no nesting)."""
    names = "|".join(re.escape(t) for t in tags)
    return re.compile(rf"<(?P<tag>{names})>(?P<body>.*?)</(?P=tag)>", re.DOTALL)


class SegmentCollector:
    """Collects the segments of one request, in document order."""

    __slots__ = ("_pattern", "_tags", "segments")

    def __init__(self, retrieved_tags: Sequence[str]) -> None:
        self.segments: list[Segment] = []
        self._tags = tuple(retrieved_tags)
        self._pattern = retrieved_pattern(self._tags) if self._tags else None

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
        if self._pattern is not None and "<" in text:
            overrides.extend(m.span("body") for m in self._pattern.finditer(text))
        if not overrides:
            self.segments.append(Segment(text, source, path, 0, None, message_index, role))
            return
        for start, end, src in _split(len(text), source, overrides):
            self.segments.append(
                Segment(text[start:end], src, path, start, end, message_index, role)
            )


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
