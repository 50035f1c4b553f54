"""Pattern detectors as data: a named RE2 pattern, a base score, context words, a validator.

A new secret format or identifier is one ``Pattern`` row (STYLE.md 7). Every regex is
RE2 syntax (no lookaround, no backreferences): the engine compiles all patterns into one
RE2 set and scans each text once, in linear time, then runs a pattern's own regex only
where the set says it matched, and its validator only on those candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

Validator = Callable[[str], "Mapping[str, str] | None"]
"""Checks one candidate value (the pattern's ``group``); returns extra ``meta`` to attach
(``{}`` when there is nothing to add) or None to reject the candidate."""

ACCEPT: Mapping[str, str] = {}
"""What a validator returns for a valid candidate with nothing to add."""


def ascii_translation(table: Mapping[int, int | str | None]) -> dict[int, int | str | None]:
    """``table`` (from ``str.maketrans``) with every other ASCII character mapped to itself.

    For each distinct character a table lacks, ``str.translate`` raises and clears a
    LookupError inside CPython; on short strings of prose that was a few dozen exceptions
    per call. A table covering ASCII leaves only non-ASCII characters to that path."""
    return {**{code: code for code in range(128)}, **table}


@dataclass(frozen=True, slots=True)
class Pattern:
    """One fast-tier pattern producing one data class.

    ``score`` is the confidence of a validated match without context; each context word
    found within ``context_window`` characters before the match (case-insensitive, whole
    word) adds ``context_boost``, capped at 1.0. With ``requires_context`` a match without
    any context word is dropped (dates of birth, passports, bare nine-digit numbers).
    ``group`` names the capture group holding the value (0: the whole match); spans and
    fingerprints use only that group.
    """

    id: str
    data_class: str
    regex: str
    score: float = 0.9
    group: int = 0
    validator: Validator | None = None
    context: tuple[str, ...] = ()
    context_boost: float = 0.15
    context_window: int = 64
    requires_context: bool = False
    case_insensitive: bool = False
    meta: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"{self.id}: score must be within [0, 1]")
        if "." not in self.data_class:
            raise ValueError(f"{self.id}: data class names are dotted, e.g. pii.email")
        if self.requires_context and not self.context:
            raise ValueError(f"{self.id}: requires_context needs context words")


@dataclass(frozen=True, slots=True)
class Hit:
    """One detection in one text, before it is tied to a conversation segment.

    ``start``/``end`` are code-point offsets into the text that was scanned (the
    original, never a normalised projection). ``value`` is the matched original text;
    it stays inside the call (fingerprints and pseudonyms are derived from it) and is
    never logged or stored.
    """

    data_class: str
    start: int
    end: int
    score: float
    detector: str
    value: str = ""
    meta: Mapping[str, str] = field(default_factory=dict)


class DocumentDetector(Protocol):
    """A detector that judges a whole text (``code.<language>``, ``legal.contract``).

    ``detect`` returns at most a few hits whose span is the region that triggered them;
    it must be linear in the text's length and never raise for any text.
    """

    name: str

    def detect(self, text: str) -> list[Hit]: ...
