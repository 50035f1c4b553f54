"""``custom.<name>`` classes declared in config: a regex with an optional checksum, exact
terms, and dictionary files.

Regexes join the fast tier's RE2 set like built-in patterns. Terms and dictionaries go
into one Aho-Corasick automaton (pyahocorasick), so 100k terms cost one linear pass per
text, independent of the number of terms; a term counts only as a whole word, and the
words of a term may be apart by any run of blanks in the text (a line break, NBSP).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ahocorasick

from bastion.detect.patterns import ACCEPT, Hit, Pattern, Validator
from bastion.errors import ConfigError
from bastion.model.checksums import iban_ok, luhn_ok, mod97_ok

_VALIDATORS: Mapping[str, Validator] = {
    "luhn": lambda value: ACCEPT if luhn_ok(value) else None,
    "iban": lambda value: ACCEPT if iban_ok(value) else None,
    "mod97": lambda value: ACCEPT if mod97_ok(value) else None,
}


@dataclass(frozen=True, slots=True)
class CustomClass:
    """One configured class, already read from config (no file access after build)."""

    name: str
    regex: str | None = None
    validator: str | None = None
    terms: tuple[str, ...] = ()
    case_sensitive: bool = False
    score: float = 0.9
    context: tuple[str, ...] = ()
    requires_context: bool = False

    @property
    def data_class(self) -> str:
        return f"custom.{self.name}"

    def pattern(self) -> Pattern | None:
        if self.regex is None:
            return None
        return Pattern(
            id=f"custom.{self.name}",
            data_class=self.data_class,
            regex=self.regex,
            score=self.score,
            validator=_VALIDATORS[self.validator] if self.validator else None,
            context=self.context,
            requires_context=self.requires_context and bool(self.context),
        )


def read_dictionary(path: Path) -> tuple[str, ...]:
    """Terms of a dictionary file: one per line; blank lines and ``#`` comments skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read dictionary {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"dictionary {path} is not UTF-8 text") from exc
    return tuple(term for line in lines if (term := line.strip()) and not term.startswith("#"))


class TermMatcher:
    """Whole-word exact-term search for every custom class at once."""

    name = "custom.terms"

    def __init__(self, classes: list[CustomClass]) -> None:
        self._exact: Any = None
        self._folded: Any = None
        self.spaced = False  # a term of several words: found across a space
        exact = ahocorasick.Automaton()
        folded = ahocorasick.Automaton()
        for entry in classes:
            target = exact if entry.case_sensitive else folded
            for term in entry.terms:
                key = " ".join(term.split())  # words apart by any blanks in the text
                key = key if entry.case_sensitive else key.lower()
                if key:
                    self.spaced = self.spaced or " " in key
                    # a term listed by several classes is found as each of them
                    found = target.get(key, ())
                    target.add_word(key, (*found, (len(key), entry.data_class, entry.score)))
        if len(exact):
            exact.make_automaton()
            self._exact = exact
        if len(folded):
            folded.make_automaton()
            self._folded = folded

    def __bool__(self) -> bool:
        return self._exact is not None or self._folded is not None

    def detect(self, text: str) -> list[Hit]:
        hits: list[Hit] = []
        spaced = _Blanks(text)
        if self._exact is not None:
            hits.extend(self._search(self._exact, spaced.text, text, spaced))
        if self._folded is not None:
            lowered = spaced.text.lower()
            if len(lowered) != len(spaced.text):  # a few letters ("İ") lower to two
                lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in spaced.text)
            hits.extend(self._search(self._folded, lowered, text, spaced))
        return hits

    def _search(self, automaton: Any, haystack: str, text: str, spaced: _Blanks) -> list[Hit]:
        hits: list[Hit] = []
        for last, entries in automaton.iter(haystack):
            for length, data_class, score in entries:
                start, end = last - length + 1, last + 1
                if _word_edge(haystack, start - 1) and _word_edge(haystack, end):
                    start, end = spaced.to_original(start, end)
                    hits.append(Hit(data_class, start, end, score, self.name, text[start:end]))
        return hits


_BLANK_RUN = re.compile(r"\s+")
_ODD_BLANKS = re.compile(r"[^\S ]| {2}")


class _Blanks:
    """``text`` with every run of blanks (line breaks, tabs, NBSP, double spaces) read as
    one space, so a multi-word term wrapped across lines is still found; ``to_original``
    maps offsets back. Text with single spaces only is used as it is."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._anchors: list[int] = []  # positions in ``text`` right after each blank run
        self._shift: list[int] = []  # characters dropped up to that run, included
        if _ODD_BLANKS.search(text) is None:
            return
        pieces: list[str] = []
        done = dropped = 0
        for run in _BLANK_RUN.finditer(text):
            pieces.append(text[done : run.start()])
            pieces.append(" ")
            done = run.end()
            if run.end() - run.start() > 1:
                self._anchors.append(run.start() - dropped + 1)  # after its one space
                dropped += run.end() - run.start() - 1
                self._shift.append(dropped)
        pieces.append(text[done:])
        self.text = "".join(pieces)

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        return self._at(start), self._at(end - 1) + 1

    def _at(self, index: int) -> int:
        at = bisect_right(self._anchors, index) - 1
        return index + (self._shift[at] if at >= 0 else 0)


def _word_edge(text: str, index: int) -> bool:
    return index < 0 or index >= len(text) or not text[index].isalnum()
