"""The invisible characters, and the neighbours that make their use benign or not.

Character sets and small predicates shared by the visible stage (``invisible``) and the
payload decoders (``smuggled``). "Plain" scripts are Latin, Greek and Cyrillic: they never
need joiners, so an invisible character between two of their letters or digits hides
something; Arabic, Indic and other scripts use ZWJ/ZWNJ inside words.
"""

from __future__ import annotations

import unicodedata
from functools import cache

FORMAT_RANGES = (
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x061C, 0x061C),  # Arabic letter mark
    (0x115F, 0x1160),  # Hangul choseong / jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian variation selectors and vowel separator
    (0x200B, 0x200F),  # ZWSP, ZWNJ, ZWJ, LRM, RLM
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x206F),  # word joiner, invisible operators, isolates, deprecated formats
    (0x3164, 0x3164),  # Hangul filler
    (0xFEFF, 0xFEFF),  # byte-order mark / zero-width no-break space
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF9, 0xFFFB),  # interlinear annotation
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical format controls
)
VS_RANGES = ((0xFE00, 0xFE0F), (0xE0100, 0xE01EF))
TAG_RANGE = (0xE0000, 0xE007F)
RANGES = (*FORMAT_RANGES, *VS_RANGES, TAG_RANGE)

INVISIBLE = frozenset(chr(c) for lo, hi in RANGES for c in range(lo, hi + 1))
"""Every character this stage deletes (or decodes, for tags and variation selectors)."""

ZWJ, ZWNJ, BOM, SHY = "\u200d", "\u200c", "\ufeff", "\u00ad"
SOFT_HYPHEN_SCORE = 0.4
"""Soft hyphens inside words mostly come from documents (``non\u00adcompliance``,
hyphenation hints in HTML): below the default threshold, a candidate only. Inside a
number, where nothing ever hyphenates, they score like any invisible character."""
EMOJI_JOINERS = frozenset({ZWJ, ZWNJ, "\ufe0e", "\ufe0f"})
BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
OVERRIDES = frozenset("\u202d\u202e")
SIMPLE = frozenset(  # judged by their neighbours alone: no tags, selectors, joiners, bidi
    c for c in INVISIBLE if c not in BIDI and c not in "\ufeff\u200c\u200d" and c < "\ufe00"
) | frozenset("\uffa0\ufff9\ufffa\ufffb\U0001bca0\U0001bca1\U0001bca2\U0001bca3")
TAGS_AND_SELECTORS = frozenset(
    chr(c) for lo, hi in (*VS_RANGES, TAG_RANGE) for c in range(lo, hi + 1)
)
_RTL_RANGES = ((0x0590, 0x08FF), (0xFB1D, 0xFDFF), (0xFE70, 0xFEFE), (0x10800, 0x10FFF))
_PLAIN_RANGES = ((0x1D00, 0x1FFF), (0x2C60, 0x2C7F), (0xA640, 0xA7FF), (0xAB30, 0xAB6F))
_PLAIN_RANGES_WIDE = ((0xFF10, 0xFF5A), (0x1D400, 0x1D7FF))


_JOINERS = "\u200c\u200d\ufe0e\ufe0f"
_MARKS = "\u061c\u200e\u200f\u202a\u202b\u202c\u2066\u2067\u2068\u2069"
_JOINER_FRIENDS = (  # what an emoji joiner / ZWNJ / VS16 may follow without suspicion
    r"\p{So}\p{Sk}\p{Sm}\p{Me}\x{FE0E}\x{FE0F}\x{200C}\x{200D}\p{Arabic}\p{Hebrew}\p{Syriac}"
    r"\p{Thaana}\p{Nko}\p{Devanagari}\p{Bengali}\p{Gurmukhi}\p{Gujarati}\p{Oriya}\p{Tamil}"
    r"\p{Telugu}\p{Kannada}\p{Malayalam}\p{Sinhala}\p{Thai}\p{Lao}\p{Tibetan}\p{Myanmar}"
    r"\p{Khmer}\p{Mongolian}\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}"
)


def _class(codes: list[int]) -> str:
    return "".join(f"\\x{{{code:X}}}" for code in codes)


@cache
def suspicious_pattern() -> str:
    """An invisible character that is not obviously benign (RE2 syntax, one match each).

    Joiners and VS15/16 after emoji, symbols or letters of scripts that use them, and
    bidi marks not right after a Latin/Greek/Cyrillic letter or digit, are left out: the
    judge would call them benign anyway, and texts full of emoji or RTL stay cheap.
    """
    lenient = set(_JOINERS) | set(_MARKS)
    others = _class(sorted(ord(c) for c in INVISIBLE if c not in lenient))
    joiners = _class([ord(c) for c in _JOINERS])
    marks = _class([ord(c) for c in _MARKS])
    return (
        f"(?:[{others}]|(?:^|[^{_JOINER_FRIENDS}])[{joiners}]"
        f"|[\\p{{Latin}}\\p{{Greek}}\\p{{Cyrillic}}\\p{{Nd}}][{marks}])"
    )


def is_vs(code: int) -> bool:
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF


def kind_of(char: str) -> str:
    code = ord(char)
    if char == SHY:
        return "soft_hyphen"
    if 0x2061 <= code <= 0x2064:
        return "invisible_operator"
    if char in BIDI:
        return "bidi"
    if char in "\u115f\u1160\u3164\uffa0":
        return "hangul_filler"
    if is_vs(code):
        return "variation_selector"
    if 0xE0000 <= code <= 0xE007F:
        return "tag"
    return "zero_width"


def is_word(char: str) -> bool:
    """A letter or digit of Latin, Greek or Cyrillic (the scripts that never need joiners)."""
    if char.isascii():
        return char.isalnum()
    if not char.isalnum():
        return False
    code = ord(char)
    if code < 0x0590:
        return True
    return any(lo <= code <= hi for lo, hi in _PLAIN_RANGES) or any(
        lo <= code <= hi for lo, hi in _PLAIN_RANGES_WIDE
    )


def is_complex(char: str) -> bool:
    """A letter, mark or digit of a script that uses ZWJ/ZWNJ (Arabic, Indic, ...)."""
    return bool(char) and not is_word(char) and unicodedata.category(char)[0] in "LMN"


def is_symbol(char: str) -> bool:
    """An emoji or other symbol (including skin-tone modifiers and the keycap mark)."""
    return bool(char) and unicodedata.category(char) in ("So", "Sk", "Sm", "Me")


def is_rtl(char: str) -> bool:
    if not char:
        return False
    code = ord(char)
    return any(lo <= code <= hi for lo, hi in _RTL_RANGES)
