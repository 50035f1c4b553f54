"""Candidate finding for names and places: one RE2 pass, then tokens in Python.

A *run* is a sequence of capitalised tokens on one line (initials, hyphens, apostrophes,
accents, lower-case particles such as "van" or "de la" between them). The scanner
reports runs of two or more tokens, and single tokens that are *anchor* words: a
common given name of the main locales, a country, region or city of 100,000+ people, or
a title. Ordinary capitalised words alone (sentence starts, "I") cost Python nothing.

The anchor list is kept to about 25,000 words on purpose: RE2 builds its DFA lazily and
each new state of a very large alternation is costly, so the full gazetteers (surnames,
small towns, every locale) are looked up in Python sets over the runs instead.

RE2's Python binding is slow per match and per ``str`` offset, so the text is scanned
as UTF-8 bytes and byte offsets are mapped back to code points only for the hits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache, lru_cache
from typing import Any

import re2

from bastion.detect.entities.gazetteer import anchor_names, places
from bastion.detect.entities.lexicon import COMMON_WORDS, NOT_NAMES, PARTICLES, TITLES

Token = tuple[int, int, str]
"""``(start, end, text)`` of one token, in code points of the scanned text."""

_LETTERS = r"\p{L}\p{M}'\x{2019}"
_CAP = rf"\p{{Lu}}[{_LETTERS}]*(?:-[{_LETTERS}]+)*"
_ABBREVIATION = r"\p{Lu}\p{Ll}{0,3}\."  # "D.", "Dr.", "Mrs."
_ARABIC_PREFIX = rf"(?:al|el|ad|bin|ibn)-\p{{Lu}}[{_LETTERS}]*"  # "al-Rashid"
TOKEN = rf"(?:{_ABBREVIATION}|{_CAP}|{_ARABIC_PREFIX})"
_PARTICLE = "(?:" + "|".join(sorted(PARTICLES)) + ")"
_GAP = r"(?:[ ]{1,2}|\t)"  # wider gaps are table columns, not one name
SEPARATOR = rf"{_GAP}(?:{_PARTICLE}{_GAP}){{0,3}}"
# what may stand right before and right after a run (consumed, then trimmed in Python)
_BEFORE = r"(?:^|[^\p{L}\p{M}\p{N}_@/\\.'\x{2019}-])"
_AFTER = r"(?:[^\p{L}\p{M}\p{N}_@'\x{2019}-]|$)"
_ANCHOR_CITY_POPULATION = 100_000
_MAX_MEM = 128 << 20
CACHED_RUN_WORDS = 12  # runs up to this many words are analysed once and cached
_CACHED_RUN_CHARS = 160  # the anchor alternation needs more than RE2's default 8 MiB


def anchor_words() -> frozenset[str]:
    """Keys that make a single capitalised token a candidate on its own."""
    geo = places()
    cities = {name for name, people in geo.cities.items() if people >= _ANCHOR_CITY_POPULATION}
    names = anchor_names() - COMMON_WORDS - NOT_NAMES
    # places stay even when they are common words ("Reading"): the tagger asks for a cue
    return names | geo.countries | geo.regions | cities | TITLES


def _alternative(word: str) -> str:
    """One anchor word as RE2, in title case ("new york" → ``New[ \\t]+York``)."""
    if not word[:1].isalpha() or len(word[0].upper()) != 1:
        return ""  # no single capital letter (ß): the word cannot start a run
    return r"[ \t]+".join(re2.escape(part[:1].upper() + part[1:]) for part in word.split())


def compile_re2(pattern: str, max_mem: int = 8 << 20) -> Any:
    """``re2.compile`` with a memory budget and without RE2's stderr logging."""
    options = re2.Options()
    options.max_mem = max_mem
    options.log_errors = False
    return re2.compile(pattern, options)


@cache
def run_regex() -> Any:
    """The compiled run scanner (built once per process)."""
    anchors = "|".join(sorted({alt for alt in map(_alternative, anchor_words()) if alt}))
    pattern = f"{_BEFORE}(?:{TOKEN}(?:{SEPARATOR}{TOKEN})+|(?:{anchors})\\.?){_AFTER}"
    return compile_re2(pattern, _MAX_MEM)


def spans(regex: Any, text: str, data: bytes) -> Iterator[tuple[int, int]]:
    """Code-point spans of ``regex``'s matches in ``text`` (``data`` is its UTF-8).

    Calls the binding's compiled object directly: its ``finditer`` builds a Python
    match object per hit, which costs more than the search itself on short texts.
    """
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


def find_runs(text: str, data: bytes) -> list[tuple[int, int, list[Token]]]:
    """Every candidate run: ``(start, end, tokens)`` with boundary characters trimmed."""
    runs: list[tuple[int, int, list[Token]]] = []
    for start, end in spans(run_regex(), text, data):
        run = text[start:end]
        parts = split_run(run) if len(run) <= _CACHED_RUN_CHARS else _split_run(run)
        tokens = [(start + a, start + b, word) for a, b, word in parts]
        if tokens:
            runs.append((tokens[0][0], tokens[-1][1], tokens))
    return runs


def _split_run(run: str) -> tuple[Token, ...]:
    """The tokens of one matched run, offsets relative to it, boundary characters off."""
    tokens: list[Token] = []
    at = 0
    for word in run.split():
        at = run.find(word, at)
        tokens.append((at, at + len(word), word))
        at += len(word)
    if not tokens:
        return ()
    first_start, first_end, first = tokens[0]
    if not first[0].isalpha():  # the consumed character before the run
        first = first[1:]
        tokens[0] = (first_start + 1, first_end, first)
        if not first:
            tokens.pop(0)
    if tokens:
        last_start, _, last = tokens[-1]
        trimmed = last.rstrip(',;:!?)]}"\u201d»/') if not last[-1:].isalpha() else last
        if trimmed.endswith(".") and len(trimmed) > 4:  # a sentence end, not "Dr." or "D."
            trimmed = trimmed[:-1]
        if trimmed != last:
            tokens[-1] = (last_start, last_start + len(trimmed), trimmed)
            if not trimmed:
                tokens.pop()
    return tuple(tokens)


split_run = lru_cache(maxsize=16_384)(_split_run)
"""``_split_run`` cached for short runs: names and places recur across requests."""


def token_key(word: str) -> str:
    """The gazetteer key of a token: casefolded, without a possessive or a final dot."""
    word = word.replace("\u2019", "'")
    if word.endswith(("'s", "'S")):
        word = word[:-2]
    return word.rstrip(".").casefold()


def keys(tokens: Iterable[Token]) -> list[str]:
    """``token_key`` of each token."""
    return [token_key(word) for _, _, word in tokens]
