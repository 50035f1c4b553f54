"""What a capitalised run's own words say: tokens, name segments, place phrases (cached).

A run's analysis does not depend on the text around it, so each distinct run is analysed
once and kept in a bounded cache; most runs recur across requests ("This Agreement",
"New York"). A never-seen run first gets a cheap look: unless one of its words is a
known name, title, place or cue word, or an initial, neither tagger can find anything in
it (its words are common or unknown), so the full analysis is skipped. The exception is
a run of unknown words right after a cue or before a verb of speech ("patient Ganesha
Dirschka", "Okafor said"), which the caller detects with the probe's ``context`` flag.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from bastion.detect.entities.gazetteer import person_names
from bastion.detect.entities.lexicon import COMMON_WORDS, PERSON_CUES, SPEECH_VERBS, TITLES
from bastion.detect.entities.location import Place, place_words, run_places
from bastion.detect.entities.person import Segment, analyse_run
from bastion.detect.entities.runs import Run, Token, cacheable, split_run, token_key
from bastion.detect.entities.words import next_word, previous_word

_CACHE_SIZE = 32_768  # distinct runs kept; the cache is emptied when it is full
_CUES = PERSON_CUES | SPEECH_VERBS


@dataclass(frozen=True, slots=True)
class RunAnalysis:
    """What one run's words say on their own: tokens, name segments, place phrases."""

    tokens: tuple[Token, ...]
    persons: tuple[Segment, ...]
    places: tuple[Place, ...]


Entry = RunAnalysis | tuple[Token, ...] | None
"""A cached verdict: the analysis, the bare tokens of a run with no telling word (analysed
only beside a cue), or None for a run with nothing in it."""


@cache
def telling_keys() -> frozenset[str]:
    """Keys that can make a run a name or a place: uncommon given names and surnames,
    titles, cue words, places and the first words of multi-word places (single letters,
    initials as in "Ana K. Silva", are checked apart)."""
    names = person_names()
    return frozenset(((names.first | names.last) - COMMON_WORDS) | TITLES | _CUES) | place_words()


def analyse(tokens: tuple[Token, ...], keys: list[str] | None = None) -> RunAnalysis | None:
    """The full analysis of a run's tokens; None when it holds no name and no place."""
    if not tokens:
        return None
    words = [word for _, _, word in tokens]
    keys = keys or [token_key(word) for word in words]
    persons = analyse_run(words, keys)
    found = run_places(words, keys)
    return RunAnalysis(tokens, persons, found) if persons or found else None


def _first_look(run: str) -> Entry:
    tokens = split_run(run)
    keys = [token_key(word) for _, _, word in tokens]
    if telling_keys().isdisjoint(keys) and not any(len(key) == 1 for key in keys):
        return tokens or None
    return analyse(tokens, keys)


class RunAnalyser:
    """Analyses the runs of one text after another, with a cache shared between texts."""

    def __init__(self) -> None:
        self._cache: dict[str, Entry] = {}

    def analyse(
        self, text: str, runs: Iterable[Run], context: bool
    ) -> list[tuple[int, RunAnalysis]]:
        """``(offset, analysis)`` of every run that holds a name or a place.

        ``context`` says whether the text holds a cue word or a verb of speech anywhere
        (the probe knows); only then are runs without a telling word looked at closer.
        """
        cache = self._cache
        found: list[tuple[int, RunAnalysis]] = []
        for offset, run in runs:
            try:
                entry = cache[run]
            except KeyError:
                entry = _first_look(run)
                if cacheable(run):
                    if len(cache) >= _CACHE_SIZE:
                        cache.clear()
                    cache[run] = entry
            if isinstance(entry, tuple):
                if not (context and _cued(text, offset, entry)):
                    continue
                entry = analyse(entry)
            if entry is not None:
                found.append((offset, entry))
        return found

    def clear(self) -> None:
        """Forget every cached run (tests use it to measure uncached cost)."""
        self._cache.clear()


def _cued(text: str, offset: int, tokens: tuple[Token, ...]) -> bool:
    """Whether a cue word or a verb of speech stands right before or after the run."""
    return (
        previous_word(text, offset + tokens[0][0]) in _CUES
        or next_word(text, offset + tokens[-1][1]) in SPEECH_VERBS
    )
