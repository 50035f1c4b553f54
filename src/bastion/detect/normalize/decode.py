"""Encoded runs: base64, base64url, base32, hex and URL/HTML escapes, decoded in place.

RE2 finds candidate runs; each is decoded only if the result is mostly printable text
(images, hashes, UUIDs and random tokens decode to binary and are left alone). Decoding
is recursive up to ``max_depth`` levels (base64 of hex of text) and the total decoded
size is capped: past the budget a run is decoded only as far as the budget allows, and
later runs not at all. One projection per outer encoding replaces each decoded run by
its text; every character of it maps back to the whole encoded run in the original.
Where inner runs were decoded too, a second projection holds the outer decoding alone
(hex of a JWT reads as the JWT there, as its decoded JSON parts in the first).
"""

from __future__ import annotations

import base64
import binascii
import html
import string
from dataclasses import dataclass
from functools import cache
from itertools import permutations
from typing import Any
from urllib.parse import unquote_to_bytes

import re2

from bastion.detect.normalize.textcheck import looks_like_text, printable_text
from bastion.detect.normalize.utf8 import Utf8Text

URL_RUN = r"(?:[A-Za-z0-9._~+\-]*%[0-9A-Fa-f]{2})+[A-Za-z0-9._~+\-]*"
HTML_RUN = r"(?:[A-Za-z0-9._~+\-]*&#(?:[0-9]{2,7}|[xX][0-9A-Fa-f]{2,6});)+[A-Za-z0-9._~+\-]*"
HEX_ESCAPES = r"(?:\\x[0-9A-Fa-f]{2}){4,}"
HEX_PAIRS = r"(?:0[xX])?[0-9A-Fa-f]{2}(?:(?:, ?|[ :])(?:0[xX])?[0-9A-Fa-f]{2}){7,}"
# base64 / base64url: a run holding an upper-case letter, a lower-case letter and a digit
# (or + /) in any order -- hyphenated words, paths and dates do not; or a long run of
# letters alone: base64 of digits or of short text often has no digit at all
# ("4111 1111 1111 1111" -> "NDExMSAxMTExIDExMTEgMTExMQ==", "ZGFuYUBleGFtcGxlLmNvbQ==").
# Hex and base32: long runs of their alphabets. Python then checks length, alphabet and
# what they decode to (a long ordinary word is turned away there).
_B64 = r"[A-Za-z0-9+/_\-]"
_ANY_ORDER = ("[A-Z]", "[a-z]", "[0-9+/]")
BLOB = "|".join(
    f"{_B64}*{a}{_B64}*{b}{_B64}*{c}{_B64}*={{0,2}}" for a, b, c in permutations(_ANY_ORDER)
)
LETTERS_BLOB = r"[A-Za-z_\-]{16,}={0,2}"
HEX_RUN = r"[0-9A-Fa-f]{16,}"
BLOB32 = r"[A-Z2-7]{16,}={0,6}"
PATTERNS = (URL_RUN, HTML_RUN, HEX_ESCAPES, HEX_PAIRS, BLOB, HEX_RUN, BLOB32, LETTERS_BLOB)
_MIN_BLOB = 12  # 9 bytes of base64, 6 of hex
"""Candidate runs, in priority order (also used by the gate in ``normalised``)."""

_HEX = frozenset(string.hexdigits)
_BASE32 = frozenset(string.ascii_uppercase + "234567")
_PROBE = 96  # a large run is first judged by its first few characters' decoding


@cache
def _runs() -> Any:  # re2 ships no type stubs
    # no capture groups: RE2 then finds both ends with its DFA, never its slower NFA
    return re2.compile("|".join(f"(?:{pattern})" for pattern in PATTERNS))


@dataclass(frozen=True, slots=True)
class Decoded:
    """One run of the scanned text and what it decodes to (inner runs decoded too)."""

    start: int
    end: int
    encoding: str
    text: str
    shallow: str | None = None
    """The run's own decoding, when ``text`` has inner runs decoded as well: a value that
    is itself encoded-looking (a JWT's base64url parts) reads whole only here."""


@dataclass(slots=True)
class Budget:
    """Decoded characters still allowed for this text (shared across depths)."""

    chars: int


def decode_runs(source: Utf8Text, depth: int, budget: Budget) -> list[Decoded]:
    """The runs of the text that decode to text, left to right, at most ``depth`` levels."""
    if depth <= 0 or budget.chars <= 0:
        return []
    text = source.text
    found: list[Decoded] = []
    for start, end, _ in source.spans(_runs()):
        if budget.chars <= 0:
            break
        decoded = _decode(text[start:end], budget.chars)
        if decoded is None:
            continue
        encoding, plain = decoded
        budget.chars -= len(plain)
        inner = decode_runs(Utf8Text(plain), depth - 1, budget)
        shallow = None
        if inner:
            shallow, plain = plain, splice(plain, inner)
        found.append(Decoded(start, end, encoding, plain, shallow))
    return found


def splice(text: str, runs: list[Decoded]) -> str:
    """``text`` with each run replaced by its decoding."""
    parts, done = [], 0
    for run in runs:
        parts.append(text[done : run.start])
        parts.append(run.text)
        done = run.end
    parts.append(text[done:])
    return "".join(parts)


def _decode(run: str, budget: int) -> tuple[str, str] | None:
    """Decode one run; which pattern found it shows in its characters."""
    if "%" in run:
        return _text_of("url", unquote_to_bytes(run[: budget * 3]))
    if "&#" in run:
        plain = html.unescape(run[: budget * 10])
        return ("html", plain) if plain != run and looks_like_text(plain) else None
    if "\\" in run or " " in run or ":" in run or "," in run:
        digits = "".join(c for c in run.replace("0x", "").replace("0X", "") if c in _HEX)
        return _text_of("hex", _hex(digits[: budget * 2]))
    return _decode_blob(run, budget)


def _decode_blob(run: str, budget: int) -> tuple[str, str] | None:
    core = run.rstrip("=")
    if len(core) < _MIN_BLOB:
        return None
    if core.isalpha() and (core.islower() or (core[:1].isupper() and core[1:].islower())):
        return None  # an ordinary long word
    attempts: list[tuple[str, int, Any]] = []
    hexadecimal = _HEX.issuperset(core)
    if hexadecimal and len(core) % 2 == 0:
        attempts.append(("hex", 2, _hex))
    if _BASE32.issuperset(core):
        attempts.append(("base32", 8, _base32))
    if "-" in core or "_" in core:
        if "+" not in core and "/" not in core:
            attempts.append(("base64url", 4, _base64url))
    elif not hexadecimal:  # base64 of text is never all hex digits (ids, hashes)
        attempts.append(("base64", 4, _base64))
    if core.isdigit():  # a long number: hex only if it spells digits or words
        attempts = [(e, b, d) for e, b, d in attempts if e != "hex"]
        result = _text_of("hex", _hex(core[: budget * 2]))
        if result is not None and _plain_words(result[1]):
            return result
    for encoding, block, decoder in attempts:
        # 8 chars of base32 -> 5 bytes, 4 of base64 -> 3, 2 of hex -> 1: never over budget
        probe = core[: _PROBE - _PROBE % block]
        if len(core) > len(probe) and _text_of(encoding, decoder(probe)) is None:
            continue
        limit = budget * block // max(1, {"hex": 1, "base32": 5, "base64": 3}.get(encoding, 3))
        limit -= limit % block
        result = _text_of(encoding, decoder(core[:limit] if len(core) > limit else core))
        if result is not None:
            return result
    return None


def _plain_words(text: str) -> bool:
    """Letters, digits and spaces only: what hex of a number or a phrase decodes to,
    unlike the printable noise most long numbers (cards, ids) happen to decode to."""
    return text.replace(" ", "").isalnum()


def _text_of(encoding: str, data: bytes | None) -> tuple[str, str] | None:
    if data is None:
        return None
    text = printable_text(data)
    return (encoding, text) if text is not None else None


def _hex(digits: str) -> bytes | None:
    try:
        return bytes.fromhex(digits[: len(digits) - len(digits) % 2])
    except ValueError:
        return None


def _base64(core: str) -> bytes | None:
    if len(core) % 4 == 1:
        return None
    try:
        return base64.b64decode(core + "=" * (-len(core) % 4), validate=True)
    except binascii.Error:
        return None


def _base64url(core: str) -> bytes | None:
    if len(core) % 4 == 1:
        return None
    try:
        padded = core + "=" * (-len(core) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True)
    except binascii.Error:
        return None


def _base32(core: str) -> bytes | None:
    if len(core) % 8 in (1, 3, 6):
        return None
    try:
        return base64.b32decode(core + "=" * (-len(core) % 8))
    except binascii.Error:
        return None
