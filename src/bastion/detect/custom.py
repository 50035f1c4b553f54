"""``custom.<name>`` classes declared in config: a regex with an optional checksum, exact
terms, and dictionary files.

Regexes join the fast tier's RE2 set like built-in patterns. Terms and dictionaries go
into one Aho-Corasick automaton (pyahocorasick), so 100k terms cost one linear pass per
text, independent of the number of terms; a term counts only as a whole word.
"""

from __future__ import annotations

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
        exact = ahocorasick.Automaton()
        folded = ahocorasick.Automaton()
        for entry in classes:
            target = exact if entry.case_sensitive else folded
            for term in entry.terms:
                key = term if entry.case_sensitive else term.lower()
                if key:
                    target.add_word(key, (len(key), entry.data_class, entry.score))
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
        if self._exact is not None:
            hits.extend(self._search(self._exact, text, text))
        if self._folded is not None:
            lowered = text.lower()
            if len(lowered) != len(text):  # a few letters ("İ") lower to two code points
                lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
            hits.extend(self._search(self._folded, lowered, text))
        return hits

    def _search(self, automaton: Any, haystack: str, text: str) -> list[Hit]:
        hits: list[Hit] = []
        for last, (length, data_class, score) in automaton.iter(haystack):
            start, end = last - length + 1, last + 1
            if _word_edge(haystack, start - 1) and _word_edge(haystack, end):
                hits.append(Hit(data_class, start, end, score, self.name, text[start:end]))
        return hits


def _word_edge(text: str, index: int) -> bool:
    return index < 0 or index >= len(text) or not text[index].isalnum()
