"""A projection of a text (a normalised or decoded copy) and its exact map back.

Detectors scan projections as well as the original; every finding must still report
code-point offsets into the original (CONTRACT.md §8). An ``OffsetMap`` is a sequence of
pieces laid end to end over the projected text, each tied to a range of the original:

* an *exact* piece is a 1:1 copy (kept text, ROT13, leet, a skeleton letter, a decoded
  tag character): projected char ``p + k`` came from original char ``o + k``;
* a *collapsed* piece stands for a whole original range (a decoded base64 run, the
  ``"fi"`` NFKC makes of ``"ﬁ"``): any char inside maps to all of that range.

Characters a projection deletes simply have no piece. Maps compose, so a projection of a
projection still maps to the original, and a span always maps to an ordered, in-bounds
span that covers every original character its projected characters came from.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class OffsetMap:
    """Pieces over a projected text of ``length`` chars, from an original of ``source_length``.

    Piece ``i`` covers projected chars ``[starts[i], starts[i+1])`` (the last one ends at
    ``length``) and came from original chars ``[sources[i], source_ends[i])``.
    """

    length: int
    source_length: int
    starts: tuple[int, ...]
    sources: tuple[int, ...]
    source_ends: tuple[int, ...]
    exact: tuple[bool, ...]

    @classmethod
    def identity(cls, length: int) -> OffsetMap:
        """The map of a text onto itself (or of any same-length 1:1 rewrite of it)."""
        if length == 0:
            return cls(0, 0, (), (), (), ())
        return cls(length, length, (0,), (0,), (length,), (True,))

    @property
    def is_identity(self) -> bool:
        return self.length == self.source_length and self.exact == (True,) and not self.sources[0]

    def piece_end(self, index: int) -> int:
        return self.starts[index + 1] if index + 1 < len(self.starts) else self.length

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The original span a projected span ``[start, end)`` came from."""
        if not 0 <= start <= end <= self.length:
            raise ValueError(f"span [{start}, {end}) is outside a projection of {self.length}")
        if start == end:
            point = self._point(start)
            return point, point
        first = bisect_right(self.starts, start) - 1
        last = bisect_right(self.starts, end - 1) - 1
        if self.exact[first]:
            origin = self.sources[first] + start - self.starts[first]
        else:
            origin = self.sources[first]
        if self.exact[last]:
            finish = self.sources[last] + end - self.starts[last]
        else:
            finish = self.source_ends[last]
        return origin, finish

    def _point(self, position: int) -> int:
        """Where an empty span at ``position`` sits in the original."""
        if not self.starts:
            return 0
        if position == self.length:
            return self.source_ends[-1]
        index = bisect_right(self.starts, position) - 1
        if self.exact[index]:
            return self.sources[index] + position - self.starts[index]
        return self.sources[index]

    def then(self, inner: OffsetMap) -> OffsetMap:
        """This map (projection -> base) followed by ``inner`` (base -> original)."""
        if inner.is_identity or not self.starts:
            return OffsetMap(
                self.length,
                inner.source_length,
                self.starts,
                self.sources,
                self.source_ends,
                self.exact,
            )
        out = MapBuilder()
        at = 0  # inner piece holding the current base offset; base offsets only grow
        count = len(inner.starts)
        for index, start in enumerate(self.starts):
            size = self.piece_end(index) - start
            base, base_end = self.sources[index], self.source_ends[index]
            if not self.exact[index]:
                origin, finish = inner.to_original(base, base_end)
                out.collapse(size, origin, finish)
                continue
            while at + 1 < count and inner.starts[at + 1] <= base:
                at += 1
            while base < base_end:
                piece_end = inner.piece_end(at)
                step = min(base_end, piece_end) - base
                if inner.exact[at]:
                    out.copy(inner.sources[at] + base - inner.starts[at], step)
                else:
                    out.collapse(step, inner.sources[at], inner.source_ends[at])
                base += step
                if base >= piece_end and at + 1 < count:
                    at += 1
        return out.build(inner.source_length)


@dataclass(slots=True)
class MapBuilder:
    """Accumulates pieces left to right; adjacent compatible pieces are merged."""

    length: int = 0
    starts: list[int] = field(default_factory=list)
    sources: list[int] = field(default_factory=list)
    source_ends: list[int] = field(default_factory=list)
    exact: list[bool] = field(default_factory=list)

    def copy(self, source: int, size: int) -> None:
        """``size`` chars copied 1:1 from ``source`` onwards."""
        if size <= 0:
            return
        if self.exact and self.exact[-1] and self.source_ends[-1] == source:
            self.source_ends[-1] = source + size
        else:
            self._add(True, source, source + size)
        self.length += size

    def collapse(self, size: int, source: int, source_end: int) -> None:
        """``size`` chars that stand for the whole original range ``[source, source_end)``."""
        if size <= 0:
            return
        if (
            self.exact
            and not self.exact[-1]
            and self.sources[-1] == source
            and self.source_ends[-1] == source_end
        ):
            self.length += size
            return
        self._add(False, source, source_end)
        self.length += size

    def _add(self, exact: bool, source: int, source_end: int) -> None:
        self.starts.append(self.length)
        self.sources.append(source)
        self.source_ends.append(source_end)
        self.exact.append(exact)

    def build(self, source_length: int) -> OffsetMap:
        return OffsetMap(
            self.length,
            source_length,
            tuple(self.starts),
            tuple(self.sources),
            tuple(self.source_ends),
            tuple(self.exact),
        )


@dataclass(frozen=True, slots=True)
class Projection:
    """A text detectors scan besides the original, with the way back to it.

    ``alters_digits``: digits of the original may read as letters here (leetspeak turns
    ``1gn0re`` into ``ignore``); a pattern that matches only digits and separators and has
    no context words finds nothing new on it and may find noise, so the engine skips it.
    ``letters_only``: only letters differ from the cleaned text (ROT13, leet), so a
    pattern without letters in its regex or context words can skip this projection.
    ``decoded``: the text came out of an encoding or an obfuscation (base64, hex, URL
    escapes, ROT13, leet, spaced-out letters); a finding here is also ``evasion.encoded``.
    """

    name: str
    text: str
    offsets: OffsetMap = field(repr=False, compare=False)
    alters_digits: bool = False
    letters_only: bool = False
    decoded: bool = False

    def __post_init__(self) -> None:
        if self.offsets.length != len(self.text):
            raise ValueError(f"{self.name}: the offset map does not cover the projected text")

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Span in ``self.text`` -> span in the original text (code points)."""
        return self.offsets.to_original(start, end)
