"""Replacing spans of JSON text (tool-call arguments) so that it stays valid JSON.

A detector reads JSON text as text: a span may start or end inside an escape sequence
(``\\n`` read as part of an address), cover a bare number (``"card": 4111…``) or even
reach across a quote. Edges move out of escape sequences; inside a string the
replacement is escaped as string content; a number replaced becomes a string holding
the replacement; quotes and structure inside a span stay, and the value is replaced once.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections.abc import Sequence

import re2

_JSON_TOKEN = re2.compile(r'\\u[0-9A-Fa-f]{4}|\\[^u]|"')
_NUMBER_CHARS = frozenset("-+0123456789.eE")
"""Characters of a JSON number literal."""


def rewrite_json(text: str, edits: Sequence[tuple[int, int, str]], in_string: bool = False) -> str:
    """``text`` (JSON, starting inside a string when ``in_string``) with each sorted,
    non-overlapping ``(start, end, replacement)`` applied, keeping it valid JSON."""
    quotes, escapes = _json_tokens(text, in_string)
    escape_starts = [start for start, _ in escapes]
    parts: list[str] = []
    done = 0
    for start, end, replacement in edits:
        start = max(_out_of_escape(escapes, escape_starts, start, after=True), done)
        end = _out_of_escape(escapes, escape_starts, end, after=False)
        if end <= start:
            continue
        replacement = json.dumps(replacement, ensure_ascii=False)[1:-1]
        inside = in_string ^ (bisect_left(quotes, start) % 2 == 1)
        if not inside:  # a number: replace the whole literal, its sign included
            while start > done and text[start - 1] in _NUMBER_CHARS:
                start -= 1
            while end < len(text) and text[end] in _NUMBER_CHARS:
                end += 1
        parts.append(text[done:start])
        piece_start = start
        for quote in quotes[bisect_left(quotes, start) : bisect_left(quotes, end)]:
            parts.append(_json_piece(text[piece_start:quote], inside, replacement))
            replacement = ""  # the value is replaced once, its other pieces emptied
            parts.append('"')
            inside = not inside
            piece_start = quote + 1
        parts.append(_json_piece(text[piece_start:end], inside, replacement))
        done = end
    parts.append(text[done:])
    return "".join(parts)


def json_string_state(text: str, in_string: bool) -> bool:
    """Whether a window of JSON text that starts inside a string (or not) ends inside one."""
    if '"' not in text:
        return in_string
    tokens: list[str] = _JSON_TOKEN.findall(text)
    return in_string ^ (tokens.count('"') % 2 == 1)


def _json_tokens(text: str, in_string: bool) -> tuple[list[int], list[tuple[int, int]]]:
    """Positions of the quotes that open or close strings, and the escape sequences
    inside strings, of a window of JSON text starting inside a string or not."""
    quotes: list[int] = []
    escapes: list[tuple[int, int]] = []
    for match in _JSON_TOKEN.finditer(text):
        start, end = match.span()
        if end - start == 1:
            quotes.append(start)
            in_string = not in_string
        elif in_string:
            escapes.append((start, end))
    return quotes, escapes


def _out_of_escape(
    escapes: list[tuple[int, int]], starts: list[int], position: int, *, after: bool
) -> int:
    """``position`` moved out of an escape sequence it falls inside of: to its end
    (``after``) or to its start."""
    at = bisect_right(starts, position) - 1
    if at >= 0:
        start, end = escapes[at]
        if start < position < end:
            return end if after else start
    return position


def _json_piece(piece: str, inside: bool, replacement: str) -> str:
    """One piece of a replaced span: string content is replaced; outside strings a
    number becomes the replacement as a string, and structure stays as it is."""
    if inside:
        return replacement
    core = piece.strip(" \t\r\n,:[]{}")
    if core and all(char in _NUMBER_CHARS for char in core):
        at = piece.find(core)
        return f'{piece[:at]}"{replacement}"{piece[at + len(core) :]}'
    return piece
