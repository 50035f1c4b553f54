"""Character spans of token windows, computed only for windows that are reported.

Scoring never needs offsets (``features.tokens`` is a translate and a split); a finding
does. Tokenisation is local to each character, so a text cut at a space or a line
break tokenises as the concatenation of its pieces: the text is counted piece by piece
(C speed) and only the piece holding a wanted token is walked character by character.
"""

from __future__ import annotations

from collections.abc import Sequence

from bastion.detect.injection.features import tokens

_PIECE = 1024  # characters per counted piece, cut at the next space or line break


def _kind_of(char: str) -> int:
    if char == "\n":
        return 2
    mapped = tokens(char)
    if not mapped:
        return 3 if char in "'\u2019`" else 0
    return 2 if len(mapped[0]) == 1 and not mapped[0].isalnum() else 1


_ASCII_KINDS = {chr(code): _kind_of(chr(code)) for code in range(128)}


def _kind(char: str) -> int:
    """0: separator, 1: word character, 2: a token of its own, 3: dropped (apostrophe)."""
    kind = _ASCII_KINDS.get(char)
    return kind if kind is not None else _kind_of(char)


def _walk(
    piece: str, base: int, first_index: int, wanted: set[int], out: dict[int, tuple[int, int]]
) -> None:
    """Record ``(start, end)`` of every wanted token inside ``piece`` (offset ``base``)."""
    index = first_index - 1
    start = last = -1
    for at, char in enumerate(piece):
        kind = _kind(char)
        if kind == 1:
            if start < 0:
                start = at
                index += 1
            last = at
            continue
        if kind == 3:
            continue
        if start >= 0:
            if index in wanted:
                out[index] = (base + start, base + last + 1)
            start = -1
        if kind == 2:
            index += 1
            if index in wanted:
                out[index] = (base + at, base + at + 1)
    if start >= 0 and index in wanted:
        out[index] = (base + start, base + last + 1)


def _cut(text: str, at: int) -> int:
    if at >= len(text):
        return len(text)
    space = text.find(" ", at)
    newline = text.find("\n", at)
    found = [p for p in (space, newline) if p >= 0]
    return min(found) if found else len(text)


def token_char_spans(text: str, ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Character spans of token ranges ``[first, last)`` of ``features.tokens(text)``."""
    wanted = {first for first, _ in ranges} | {max(last - 1, first) for first, last in ranges}
    if not wanted:
        return []
    found: dict[int, tuple[int, int]] = {}
    highest = max(wanted)
    pos = count = 0
    while pos < len(text) and count <= highest:
        cut = _cut(text, pos + _PIECE)
        piece = text[pos:cut]
        size = len(tokens(piece))
        inside = {i for i in wanted if count <= i < count + size}
        if inside:
            _walk(piece, pos, count, inside, found)
        count += size
        pos = cut
    spans: list[tuple[int, int]] = []
    for first, last in ranges:
        start = found.get(first, (0, 0))[0]
        end = found.get(max(last - 1, first), (len(text), len(text)))[1]
        spans.append((start, max(start, end)))
    return spans


def token_char_span(text: str, first: int, last: int) -> tuple[int, int]:
    """The character span of tokens ``[first, last)``."""
    return token_char_spans(text, [(first, last)])[0]
