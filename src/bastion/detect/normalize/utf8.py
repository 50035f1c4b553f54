"""RE2 over a text's UTF-8 bytes, with code-point offsets back.

The ``re2`` binding re-encodes a ``str`` on every call and converts offsets per match,
which costs several microseconds a match. Every stage here encodes its text once and
matches the bytes; offsets are converted incrementally (free for ASCII), so a scan with
many matches stays linear and cheap.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class Utf8Text:
    """A text and its UTF-8 encoding; converts byte offsets of matches to char offsets.

    Conversions are cheapest in increasing order (each continues from the last one);
    an earlier offset restarts from the beginning. Raises ``UnicodeEncodeError`` for
    lone surrogates (``project`` replaces them first).
    """

    __slots__ = ("_byte", "_char", "data", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.data = text.encode("utf-8")
        self._byte = 0
        self._char = 0

    def char(self, byte: int) -> int:
        """The code-point offset of byte offset ``byte`` (a character boundary)."""
        if len(self.data) == len(self.text):
            return byte
        if byte < self._byte:
            self._byte = self._char = 0
        self._char += len(self.data[self._byte : byte].decode("utf-8"))
        self._byte = byte
        return self._char

    def search(self, regex: Any) -> bool:
        """Whether ``regex`` (an ``re2`` compiled pattern) matches anywhere."""
        return regex.search(self.data) is not None

    def spans(self, regex: Any) -> Iterator[tuple[int, int, Any]]:
        """``(start, end, match)`` for each match, with code-point offsets."""
        for match in regex.finditer(self.data):
            start, end = match.span()
            yield self.char(start), self.char(end), match
