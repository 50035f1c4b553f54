"""Invisible characters: remove them, decode what they smuggle, and judge their use.

The model reads what a human cannot see. This stage builds the ``visible`` projection —
the text with every invisible character deleted, except that Unicode tag characters
(U+E0020-E007E) are decoded in place to the ASCII they spell and a run of variation
selectors that spells UTF-8 bytes (VS1-16 = bytes 0-15, VS17-256 = bytes 16-255, the
"emoji smuggling" trick) is replaced by the text it encodes — and the evasion findings:

* ``evasion.tag_payload``: tag characters spelling text (``meta.carrier=tags``) or a
  variation-selector byte payload (``meta.carrier=variation_selectors``);
* ``evasion.invisible``: invisible characters between two letters or digits of a word or
  number written in Latin, Greek or Cyrillic; a bidi override outside right-to-left text;
  or a run of four or more invisible characters anywhere. A soft hyphen between two
  letters scores 0.4 (documents use them), below the default threshold.

Benign uses are neither flagged nor, alone, a reason to scan the projection: emoji ZWJ
sequences and U+FE0F/U+FE0E after emoji or symbols, keycaps, ideographic variation
sequences, subdivision-flag tag sequences (England's flag), bidi marks in or next to
right-to-left text, ZWJ/ZWNJ inside words of scripts that use them (Persian, Indic), and a
byte-order mark at the start. Only words holding an invisible character are visited, so
text without any costs one RE2 search.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import re2

from bastion.detect.normalize.charsets import (
    BIDI,
    BOM,
    EMOJI_JOINERS,
    INVISIBLE,
    OVERRIDES,
    SHY,
    SIMPLE,
    SOFT_HYPHEN_SCORE,
    TAG_RANGE,
    TAGS_AND_SELECTORS,
    ZWJ,
    ZWNJ,
    is_complex,
    is_rtl,
    is_symbol,
    is_vs,
    is_word,
    kind_of,
    suspicious_pattern,
)
from bastion.detect.normalize.projection import OffsetMap
from bastion.detect.normalize.smuggled import Flag, Writer, is_flag_sequence, put_tags, vs_run
from bastion.detect.normalize.utf8 import Utf8Text
from bastion.detect.patterns import Hit

DETECTOR = "normalize"
MAX_HITS = 256
"""Findings per class and stage for one text: enough evidence for any policy; past it the
projection still covers the whole text, only the findings stop."""


@cache
def _suspicious_words() -> Any:  # re2 ships no type stubs
    """Runs of words holding a suspicious invisible character: one match per run."""
    word = f"\\S*{suspicious_pattern()}"
    return re2.compile(f"{word}(?:\\S*\\s+{word})*\\S*")


@dataclass(frozen=True, slots=True)
class Revealed:
    """The ``visible`` text, its map to the original, the findings, and whether any
    invisible character was not benign (only then is the projection worth scanning)."""

    text: str
    offsets: OffsetMap
    hits: tuple[Hit, ...]
    worth_scanning: bool


def reveal(source: Utf8Text) -> Revealed | None:
    """The visible stage of ``text``; None when it holds no invisible character that is
    not obviously benign (benign ones inside a visited word are deleted too)."""
    text = source.text
    regions = list(source.spans(_suspicious_words()))
    if not regions:
        return None
    out = Writer(text)
    hits: list[Hit] = []
    worth = False
    for start, end, _ in regions:
        flagged: list[Flag] = []
        for first, last in _clusters(text, start, end):
            out.keep_until(first)
            worth |= _judge(text, first, last, out, flagged)
            out.skip_to(last)
        if len(hits) < MAX_HITS:
            hits.extend(_merge(text, flagged))
    out.keep_until(len(text))
    return Revealed(out.text(), out.builder.build(len(text)), tuple(hits), worth)


def _clusters(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Maximal runs of invisible characters inside ``text[start:end]``."""
    runs: list[tuple[int, int]] = []
    opened = -1
    for offset, char in enumerate(text[start:end], start):
        if char in INVISIBLE:
            if opened < 0:
                opened = offset
        elif opened >= 0:
            runs.append((opened, offset))
            opened = -1
    if opened >= 0:
        runs.append((opened, end))
    return runs


def _judge(text: str, first: int, last: int, out: Writer, flagged: list[Flag]) -> bool:
    """Write the cluster ``text[first:last]``'s replacement; return whether it is not benign."""
    if last - first == 1 and text[first] in SIMPLE:  # the common case, kept fast
        if first and last < len(text) and is_word(text[first - 1]) and is_word(text[last]):
            digits = text[first - 1].isdigit() and text[last].isdigit()
            score = 0.9 if text[first] != SHY or digits else SOFT_HYPHEN_SCORE
            flagged.append(Flag("evasion.invisible", first, last, score, kind_of(text[first])))
        return True
    if TAGS_AND_SELECTORS.isdisjoint(text[first:last]):  # no payload carriers: judge at once
        return _judge_plain(text, first, last, range(first, last), flagged)
    plain: list[int] = []
    worth = False
    at = first
    while at < last:
        code = ord(text[at])
        stop = at + 1
        if TAG_RANGE[0] <= code <= TAG_RANGE[1]:
            while stop < last and TAG_RANGE[0] <= ord(text[stop]) <= TAG_RANGE[1]:
                stop += 1
            if not is_flag_sequence(text, at, stop):
                if put_tags(text, at, stop, out):
                    flagged.append(Flag("evasion.tag_payload", at, stop, 0.95, "tags"))
                    worth = True
                else:
                    plain.extend(range(at, stop))
        elif is_vs(code):
            while stop < last and is_vs(ord(text[stop])):
                stop += 1
            worth |= vs_run(text, at, stop, out, flagged, plain)
        else:
            plain.append(at)
        at = stop
    if plain:
        worth |= _judge_plain(text, first, last, plain, flagged)
    return worth


def _judge_plain(
    text: str, first: int, last: int, plain: Sequence[int], flagged: list[Flag]
) -> bool:
    """Judge the ordinary invisibles of a cluster by their neighbours; True if not benign."""
    before = text[first - 1] if first else ""
    after = text[last] if last < len(text) else ""
    if isinstance(plain, range):
        chars = frozenset(text[plain.start : plain.stop])
    else:
        chars = frozenset(text[at] for at in plain)
    if len(plain) == 1 and plain[0] == 0 and chars == {BOM}:
        return False
    if chars <= EMOJI_JOINERS and (is_symbol(before) or is_symbol(after)):
        return False
    if chars <= {ZWJ, ZWNJ} and (is_complex(before) or is_complex(after)):
        return False
    between_word = is_word(before) and is_word(after)
    start, end = plain[0], plain[-1] + 1
    if chars <= BIDI:
        if chars & OVERRIDES and not (is_rtl(before) or is_rtl(after)):
            flagged.append(Flag("evasion.invisible", start, end, 0.9, "bidi_override"))
            return True
        if between_word:
            flagged.append(Flag("evasion.invisible", start, end, 0.9, "bidi"))
            return True
        return False
    if between_word:
        score = 0.9
        if chars == {SHY} and not (before.isdigit() and after.isdigit()):
            score = SOFT_HYPHEN_SCORE
        flagged.append(Flag("evasion.invisible", start, end, score, kind_of(text[start])))
    elif len(plain) >= 4:
        flagged.append(Flag("evasion.invisible", start, end, 0.8, "run"))
    return True


def _merge(text: str, flagged: list[Flag]) -> list[Hit]:
    """One hit per class per word: the span from its first to its last flagged character."""
    groups: list[list[Flag]] = []
    open_group: dict[str, list[Flag]] = {}
    for flag in flagged:
        group = open_group.get(flag.data_class)
        if group is not None and not _has_space(text, group[-1].end, flag.start):
            group.append(flag)
        else:
            open_group[flag.data_class] = group = [flag]
            groups.append(group)
    hits = []
    for flags in groups[:MAX_HITS]:
        data_class, start, end = flags[0].data_class, flags[0].start, flags[-1].end
        meta = {"kind": flags[0].kind, "count": str(len(flags))}
        if data_class == "evasion.tag_payload":
            meta = {"carrier": flags[0].kind, "count": str(len(flags))}
        score = max(flag.score for flag in flags)
        hits.append(Hit(data_class, start, end, score, DETECTOR, text[start:end], meta))
    return hits


def _has_space(text: str, start: int, end: int) -> bool:
    return any(char.isspace() for char in text[start:end])
