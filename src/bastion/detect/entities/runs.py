"""Candidate finding for names and places: capitalised runs from RE2, anchors from the probe.

A *run* is a sequence of capitalised tokens on one line (initials, hyphens, apostrophes,
accents, lower-case particles such as "van" or "de la" between them). Runs of two or
more tokens come from one RE2 scan whose pattern is small, so its DFA is complete after
warm-up and a never-seen text costs no more than a known one. A single token is a
candidate only when it is an *anchor* word (``probe.anchor_words``); those come from the
probe's set intersection and are placed with ``bytes.find``, because an alternation of
24,000 anchor words makes RE2 build DFA states for every new text.
"""

from __future__ import annotations

from bisect import bisect_right
from functools import cache, lru_cache
from typing import Any

from bastion.detect.entities.lexicon import PARTICLES
from bastion.detect.entities.probe import Probe
from bastion.detect.entities.scanning import char_offsets, compile_re2, spans

Token = tuple[int, int, str]
"""``(start, end, text)`` of one token, in code points of the scanned text."""
Run = tuple[int, str]
"""``(offset, text)`` of one candidate run: the matched text, boundary characters and all."""

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
# what the probe turns into spaces but ``_BEFORE``/``_AFTER`` exclude (as bytes)
_NOT_BEFORE = frozenset(b"_@/\\.")
_NOT_AFTER = frozenset(b"_@")
_MAX_MEM = 32 << 20
_CACHED_RUN_CHARS = 160  # longer runs are analysed afresh each time (see ``analysis``)


@cache
def run_regex() -> Any:
    """The compiled scanner for runs of two or more tokens (built once per process)."""
    return compile_re2(f"{_BEFORE}{TOKEN}(?:{SEPARATOR}{TOKEN})+{_AFTER}", _MAX_MEM)


def find_runs(text: str, data: bytes, seen: Probe) -> list[Run]:
    """Every candidate run, in text order: the scanned multi-token runs, then each
    anchor word the probe saw that stands alone (not inside one of those runs)."""
    runs = [(start, text[start:end]) for start, end in spans(run_regex(), text, data)]
    if not seen.anchors:
        return runs
    size = len(data)
    singles = [
        (at, word)
        for at, word in seen.where(seen.anchors)
        # the probe blanked these, but a run may not follow or precede them
        if not (at > 0 and data[at - 1] in _NOT_BEFORE)
        and not (at + len(word) < size and data[at + len(word)] in _NOT_AFTER)
    ]
    if not singles:
        return runs
    if len(data) == len(text):
        starts = [at for at, _ in singles]
    else:
        starts = char_offsets(data, (at for at, _ in singles))
    run_starts = [start for start, _ in runs]
    for start, (_, word) in zip(starts, singles, strict=True):
        k = bisect_right(run_starts, start) - 1
        if k < 0 or runs[k][0] + len(runs[k][1]) <= start:  # not inside "Paris Hilton"
            runs.append((start, word.decode()))
    runs.sort()
    return runs


def split_run(run: str) -> tuple[Token, ...]:
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


def cacheable(run: str) -> bool:
    """Whether a run is short enough to keep its analysis in a cache."""
    return len(run) <= _CACHED_RUN_CHARS


@lru_cache(maxsize=65_536)
def token_key(word: str) -> str:
    """The gazetteer key of a token: casefolded, without a possessive or a final dot."""
    word = word.replace("\u2019", "'")
    if word.endswith(("'s", "'S")):
        word = word[:-2]
    return word.rstrip(".").casefold()
