"""How random a candidate value looks: Shannon entropy and a few shape statistics.

Keyword-anchored patterns (``api_key = "..."``) see many values that are not secrets:
identifiers, words, placeholders such as ``abcdef123456``. Generated credentials are
long, draw on several character classes and have no long runs or counting sequences;
these helpers measure exactly that, in one pass over a short string (values are capped
by their regexes, so the cost per candidate is bounded).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter

HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def shannon(value: str) -> float:
    """Bits of entropy per character of ``value`` (0.0 for the empty string)."""
    if not value:
        return 0.0
    size = len(value)
    return -sum(n / size * math.log2(n / size) for n in Counter(value).values())


def char_classes(value: str) -> int:
    """How many of lower case, upper case, digits and other characters ``value`` uses."""
    lower = upper = digit = other = 0
    for char in value:
        if char.islower():
            lower = 1
        elif char.isupper():
            upper = 1
        elif char.isdigit():
            digit = 1
        else:
            other = 1
    return lower + upper + digit + other


def longest_run(value: str) -> int:
    """Length of the longest run of one repeated character (``aaaa`` → 4)."""
    best = run = 0
    previous = ""
    for char in value:
        run = run + 1 if char == previous else 1
        previous = char
        best = max(best, run)
    return best


def sequential_fraction(value: str) -> float:
    """Share of neighbouring pairs that count up or down by one (``abcd``, ``4321``).

    Also measured between every second character (the larger share wins), so
    interleaved keyboard fillers such as ``a1b2c3d4`` count as sequential too.
    Compared case-insensitively.
    """
    folded = value.lower()
    if len(folded) < 3:
        return 0.0
    best = 0.0
    for gap in (1, 2):
        pairs = zip(folded, folded[gap:], strict=False)
        steps = sum(1 for a, b in pairs if a.isalnum() and abs(ord(b) - ord(a)) == 1)
        best = max(best, steps / (len(folded) - gap))
    return best


def counting_run(value: str) -> int:
    """Length of the longest run counting up or down by one (``xx12345`` → 5)."""
    folded = value.lower()
    best = run = min(len(folded), 1)
    step = 0
    for left, right in itertools.pairwise(folded):
        delta = ord(right) - ord(left)
        if left.isalnum() and right.isalnum() and abs(delta) == 1:
            run = run + 1 if delta == step else 2
        else:
            run = 1
        step = delta
        best = max(best, run)
    return best


def is_hex(value: str) -> bool:
    """Whether every character is a hexadecimal digit."""
    return bool(value) and HEX_DIGITS.issuperset(value)


def looks_random(value: str, *, min_length: int = 12, min_entropy: float = 3.0) -> bool:
    """Whether ``value`` has the shape of a generated secret rather than a word or filler.

    Long enough, at least two character classes (hex digests qualify), entropy above
    ``min_entropy`` bits per character (scaled down for short values, whose entropy is
    bounded by ``log2(len)``), and no long repeats or counting runs.
    """
    size = len(value)
    if size < min_length or char_classes(value) < 2:
        return False
    ceiling = math.log2(size)
    if shannon(value) < min(min_entropy, 0.8 * ceiling):
        return False
    if longest_run(value) > max(4, size // 4) or counting_run(value) >= 6:
        return False
    return sequential_fraction(value) < 0.3
