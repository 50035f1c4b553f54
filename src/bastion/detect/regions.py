"""Shared machinery of the document detectors: bounded chunks and one RE2 pass per chunk.

Document detectors (code, legal) judge a text by what its parts look like. They cut it
into chunks of at most ``CHUNK_LIMIT`` characters, preferably at blank lines, and ask one
RE2 set which of their signal patterns occur in each chunk: one linear pass over the
text in total, whatever it contains. Per-chunk numbers then come from ``str.count``
(C speed), never from a Python loop over characters or from ``finditer``, whose cost per
match in the ``re2`` binding grows with the text's length.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import re2

CHUNK_LIMIT = 2400
"""Longest chunk, in characters; densities are measured over about this much text."""
CHUNK_MIN = 400
"""A blank line closer than this to a chunk's start does not end the chunk."""
_MAX_MEM = 64 << 20  # the DFA budget of one set (RE2's default of 8 MB is tight)
_SENTINEL = r"\z"  # matches every text: its absence means the DFA gave up
# (only at the end: a sentinel such as "(?s)." puts the DFA in a matching state from the
# first byte on, and a set records its matches at every byte -- twice the cost per pass)


class SignalSet:
    """Which of a fixed list of RE2 patterns occur in a text, in one linear pass.

    Build once (at first use, through a cached builder); ``present`` is thread-safe.
    RE2's set matcher has no slow fallback: when its DFA runs out of memory it reports
    nothing. A sentinel pattern that matches every text (at its end) exposes that, and the
    patterns are then run one by one (each RE2 regex falls back to its NFA by itself).
    """

    def __init__(self, regexes: Sequence[str]) -> None:
        options = re2.Options()
        options.max_mem = _MAX_MEM
        options.log_errors = False
        self._options = options
        self._regexes = tuple(regexes)
        self._set = re2.Set.SearchSet(options)
        self._set.Add(_SENTINEL)
        for regex in self._regexes:
            self._set.Add(regex)
        self._set.Compile()
        self._single: tuple[Any, ...] | None = None

    def __len__(self) -> int:
        return len(self._regexes)

    def present(self, raw: bytes) -> list[int]:
        """Indices (into the constructor's list) of the patterns that match ``raw``."""
        if not raw:
            return []
        found = self._set.Match(raw)
        if found and 0 in found:
            return [index - 1 for index in found if index]
        return self._one_by_one(raw)

    def _one_by_one(self, raw: bytes) -> list[int]:
        if self._single is None:  # benign race: two threads may both compile, same result
            self._single = tuple(re2.compile(regex, self._options) for regex in self._regexes)
        return [index for index, regex in enumerate(self._single) if regex.search(raw)]


class Screen:
    """One RE2 regex asked only whether it occurs: an unanchored search that stops at the
    first hit. It calls the compiled program's own ``Match`` on bytes: the binding's
    ``search`` adds a generator, a match object and offset mapping per call."""

    def __init__(self, regex: str) -> None:
        options = re2.Options()
        options.never_capture = True  # only "whether": RE2's DFAs, never its NFA for groups
        self._match = re2.compile(regex, options)._regexp.Match
        self._unanchored = re2._Anchor.UNANCHORED

    def passes(self, raw: bytes) -> bool:
        start: int = self._match(self._unanchored, raw, 0, len(raw))[0][0]
        return start >= 0


def utf8(text: str) -> bytes:
    """``text`` as UTF-8 for RE2; never raises (lone surrogates pass through as bytes)."""
    return text.encode("utf-8", "surrogatepass")


def chunk_bounds(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """Consecutive ``(start, end)`` pieces of ``text[start:end]``, each at most
    ``CHUNK_LIMIT`` long, cut at the last blank line, else the last line break, else the
    last space before the limit (a single huge line is cut anywhere)."""
    stop = len(text) if end is None else end
    pos = start
    while stop - pos > CHUNK_LIMIT:
        limit = pos + CHUNK_LIMIT
        cut = text.rfind("\n\n", pos + CHUNK_MIN, limit)
        if cut < 0:
            cut = text.rfind("\n", pos + CHUNK_MIN, limit)
        if cut < 0:
            cut = text.rfind(" ", pos + CHUNK_MIN, limit)
        if cut < 0:
            cut = limit
        yield pos, cut
        pos = cut
    if stop > pos:
        yield pos, stop


def line_bounds(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each line of ``text[start:end]`` without its line break."""
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl < 0 else nl
        yield pos, stop
        pos = stop + 1


def line_bounds_reversed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """The lines of ``text[start:end]`` from the last to the first."""
    stop = end
    while stop > start:
        nl = text.rfind("\n", start, stop)
        yield nl + 1 if nl >= 0 else start, stop
        if nl < 0:
            return
        stop = nl
