"""RE2 helpers shared by the entity scanners: compiling with a budget, cheap match loops.

RE2's Python binding is slow per match and per ``str`` offset, so texts are scanned as
UTF-8 bytes through the compiled object's own ``Match`` (``finditer`` builds a Python
match object per hit, which costs more than the search itself on short texts), and byte
offsets are mapped back to code points only for the hits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import re2


def compile_re2(pattern: str, max_mem: int = 8 << 20) -> Any:
    """``re2.compile`` with a memory budget and without RE2's stderr logging.

    The budget matters: when a DFA outgrows it RE2 falls back to its NFA, which is tens
    of times slower; the entity scanners need 32-64 MiB each.
    """
    options = re2.Options()
    options.max_mem = max_mem
    options.log_errors = False
    return re2.compile(pattern, options)


def spans(regex: Any, text: str, data: bytes) -> Iterator[tuple[int, int]]:
    """Code-point spans of ``regex``'s matches in ``text`` (``data`` is its UTF-8)."""
    search = regex._regexp.Match
    unanchored = re2._Anchor.UNANCHORED
    ascii_only = len(data) == len(text)
    byte_at = char_at = pos = 0
    size = len(data)
    while pos <= size:
        start, end = search(unanchored, data, pos, size)[0]
        if start < 0:
            return
        pos = end if end > start else end + 1
        if ascii_only:
            yield start, end
            continue
        # matches come in order, so one forward walk maps every offset
        char_at += len(data[byte_at:start].decode("utf-8", "replace"))
        first = char_at
        char_at += len(data[start:end].decode("utf-8", "replace"))
        byte_at = end
        yield first, char_at


def match_prefix(regex: Any, text: str) -> int:
    """Length in code points of ``regex``'s match anchored at the start of ``text``, or -1."""
    data = text.encode("utf-8", "replace")
    start, end = regex._regexp.Match(re2._Anchor.ANCHOR_START, data, 0, len(data))[0]
    if start < 0:
        return -1
    return end if len(data) == len(text) else len(data[:end].decode("utf-8", "replace"))


def char_offsets(data: bytes, offsets: Iterable[int]) -> list[int]:
    """Code-point offsets of ascending byte ``offsets`` into ``data`` (one forward walk)."""
    found: list[int] = []
    byte_at = char_at = 0
    for offset in offsets:
        char_at += len(data[byte_at:offset].decode("utf-8", "replace"))
        byte_at = offset
        found.append(char_at)
    return found


def leftmost_spans(regexes: Sequence[Any], text: str, data: bytes) -> Iterator[tuple[int, int]]:
    """Code-point spans of one leftmost-first scan with the union of ``regexes``.

    The same matches as one RE2 program joining the patterns with ``|`` in this order
    (at one position the earlier pattern wins), without that program's DFA, whose
    states multiply with each pattern added.
    """
    searches = [regex._regexp.Match for regex in regexes]
    unanchored = re2._Anchor.UNANCHORED
    size = len(data)
    ascii_only = len(data) == len(text)
    found = [search(unanchored, data, 0, size)[0] for search in searches]
    byte_at = char_at = 0
    while True:
        best = -1
        for k, (start, _) in enumerate(found):
            if start >= 0 and (best < 0 or start < found[best][0]):
                best = k
        if best < 0:
            return
        start, end = found[best]
        pos = end if end > start else end + 1
        for k, (other, _) in enumerate(found):
            if 0 <= other < pos:
                found[k] = searches[k](unanchored, data, pos, size)[0] if pos <= size else (-1, -1)
        if ascii_only:
            yield start, end
            continue
        char_at += len(data[byte_at:start].decode("utf-8", "replace"))
        first = char_at
        char_at += len(data[start:end].decode("utf-8", "replace"))
        byte_at = end
        yield first, char_at
