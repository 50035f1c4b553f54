"""Character spans of token windows, computed only for windows that are reported.

Scoring never needs offsets (``features.tokens`` is a translate and a split); a finding
does. Tokenisation is local to each character, so a text cut at a space or a line
break (or, in a stretch without either, at another separator or a mark that is a token
of its own: "@@@@", "a.b.c") tokenises as the concatenation of its pieces: the text is
counted piece by piece (C speed), the piece holding a wanted token is halved until it
is small, and only that small piece is walked character by character. Counting starts
at the nearest *anchor* before the token when the caller knows some (the cuts of
``MarkerSet.tokenise``, where its tokenisation is cut anyway) and stops at the next, so
a token deep in a long text costs a few pieces, not a second tokenisation of everything
before it, and the tokens counted are those of the cut tokenisation.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from functools import lru_cache

from bastion.detect.injection.features import DROPPED, tokens
from bastion.detect.regions import utf8

_PIECE = 4096  # characters per counted piece, cut at the next space or line break (``_cut``)
_SMALL = 64  # the piece holding a wanted token is halved down to about this size


@lru_cache(maxsize=4096)
def _kind_of(char: str) -> int:
    """``_kind`` of any character, from what the tokeniser makes of it alone."""
    if char == "\n":
        return 2
    mapped = tokens(char)
    if not mapped:
        return 3 if char in DROPPED else 0
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


def _cut(text: str, at: int, stop: int) -> int:
    """The first space or line break at or after ``at``; in a stretch without either,
    the first separator or mark that is a token of its own ("@@@@", "a.b.c") among the
    next ``_SMALL`` characters: the tokens on either side of any of these never join
    (``stop`` if there is none)."""
    if at >= stop:
        return stop
    space = text.find(" ", at, stop)
    newline = text.find("\n", at, space if space >= 0 else stop)
    if newline >= 0 or space >= 0:
        return newline if newline >= 0 else space
    for offset, char in enumerate(text[at : min(stop, at + _SMALL)]):
        if _kind(char) in (0, 2):
            return at + offset
    return stop


def _locate(
    text: str, pos: int, stop: int, count: int, wanted: int, out: dict[int, tuple[int, int]]
) -> tuple[int, int]:
    """Count tokens of ``text[pos:stop]`` (token ``count`` next) in pieces of ``_PIECE``
    characters up to the piece holding token ``wanted``, halve that piece down to about
    ``_SMALL`` characters around the token, and walk what is left. Returns where the
    piece holding the token starts and its first token's index (where the search for a
    later token may go on from)."""
    while pos < stop:
        cut = _cut(text, pos + _PIECE, stop)
        counted = len(tokens(text[pos:cut]))
        if wanted < count + counted:
            break
        count += counted
        pos = cut
    else:
        return pos, count
    resume = (pos, count)
    while cut - pos > _SMALL:
        middle = _cut(text, pos + (cut - pos) // 2, cut)
        if middle >= cut:
            break
        counted = len(tokens(text[pos:middle]))
        if wanted < count + counted:
            cut = middle
        else:
            pos, count = middle, count + counted
    _walk(text[pos:cut], pos, count, {wanted}, out)
    return resume


def token_char_spans(
    text: str, ranges: Sequence[tuple[int, int]], anchors: Sequence[tuple[int, int]] = ()
) -> list[tuple[int, int]]:
    """Character spans of token ranges ``[first, last)`` of ``features.tokens(text)``, or
    with ``anchors`` of the tokenisation cut there: ``(token index, byte offset into the
    text's UTF-8)`` of each cut, in text order (``MarkerSet.tokenise``)."""
    wanted = {first for first, _ in ranges} | {max(last - 1, first) for first, last in ranges}
    found: dict[int, tuple[int, int]] = {}
    raw = None if text.isascii() or not anchors else utf8(text)

    def char(offset: int) -> int:
        return offset if raw is None else len(raw[:offset].decode("utf-8", "surrogatepass"))

    segment, pos, count = -2, 0, 0
    for token in sorted(wanted):
        # counting stays between two cuts: a piece across one could join two tokens
        nearest = bisect_right(anchors, (token, len(text) * 4 + 1)) - 1
        if nearest != segment:
            segment = nearest
            count, pos = anchors[nearest] if nearest >= 0 else (0, 0)
            pos = char(pos)
        stop = char(anchors[nearest + 1][1]) if nearest + 1 < len(anchors) else len(text)
        pos, count = _locate(text, pos, stop, count, token, found)
    spans: list[tuple[int, int]] = []
    for first, last in ranges:
        start = found.get(first, (0, 0))[0]
        end = found.get(max(last - 1, first), (len(text), len(text)))[1]
        spans.append((start, max(start, end)))
    return spans


def token_char_span(text: str, first: int, last: int) -> tuple[int, int]:
    """The character span of tokens ``[first, last)``."""
    return token_char_spans(text, [(first, last)])[0]
