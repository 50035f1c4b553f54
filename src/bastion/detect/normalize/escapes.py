"""``\\uXXXX`` escapes (JSON, JavaScript, Java, Python), read as the characters they name.

Tool-call arguments are JSON text, and most JSON writers escape every non-ASCII
character (Python's ``json.dumps`` does by default): a phone number with no-break spaces
arrives as ``+1\\u00a0415\\u00a0555\\u00a00132``, a card in fullwidth digits as
``\\uff14\\uff11...``, a token with zero-width spaces as ``g\\u200bh\\u200bp...``. The model
reads those characters; detectors must too. ``unescape`` is the first cleaning stage: its
text then goes through the invisible, NFKC and skeleton stages like any non-ASCII text.

A surrogate pair (``\\ud83d\\ude00``) is one character; a lone surrogate reads as U+FFFD
(RE2 needs UTF-8). An escaped backslash (``\\\\u00e9``) is not an escape. Each decoded
character maps back to its whole escape, so a finding covers the escapes it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import re2

from bastion.detect.normalize.projection import MapBuilder, OffsetMap
from bastion.detect.normalize.utf8 import Utf8Text

ESCAPE = r"\\u[0-9A-Fa-f]{4}"
"""One escape (what the gate in ``normalised`` searches for before calling ``unescape``)."""
_WIDTH = 6  # len("\\u00e9")


@cache
def _runs() -> Any:  # re2 ships no type stubs
    return re2.compile(f"(?:{ESCAPE})+")


@dataclass(frozen=True, slots=True)
class Unescaped:
    text: str
    offsets: OffsetMap  # to the input text


def unescape(source: Utf8Text) -> Unescaped | None:
    """The text with its ``\\uXXXX`` escapes decoded; None when it has none."""
    text = source.text
    parts: list[str] = []
    builder = MapBuilder()
    done = 0
    for start, end, _ in source.spans(_runs()):
        at = start
        if _escaped_backslash(text, start):
            at += _WIDTH  # the first "\u" is literal text after an escaped backslash
        if at >= end:
            continue
        parts.append(text[done:at])
        builder.copy(done, at - done)
        while at < end:
            width, char = _decode_at(text, at, end)
            parts.append(char)
            builder.collapse(1, at, at + width)
            at += width
        done = end
    if not parts:
        return None
    parts.append(text[done:])
    builder.copy(done, len(text) - done)
    return Unescaped("".join(parts), builder.build(len(text)))


def _escaped_backslash(text: str, at: int) -> bool:
    """Whether the backslash at ``at`` is itself escaped (an odd run of them before it)."""
    count = 0
    while at - count > 0 and text[at - count - 1] == "\\":
        count += 1
    return count % 2 == 1


def _decode_at(text: str, at: int, end: int) -> tuple[int, str]:
    """(characters used, character) of the escape at ``at``; pairs of surrogates join."""
    code = int(text[at + 2 : at + _WIDTH], 16)
    if 0xD800 <= code <= 0xDBFF and at + 2 * _WIDTH <= end:
        low = int(text[at + _WIDTH + 2 : at + 2 * _WIDTH], 16)
        if 0xDC00 <= low <= 0xDFFF:
            return 2 * _WIDTH, chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00))
    if 0xD800 <= code <= 0xDFFF:
        return _WIDTH, "\ufffd"
    return _WIDTH, chr(code)
