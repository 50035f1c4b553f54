"""The fast entity tier: persons, locations and street addresses in one call.

``EntityTagger.detect`` encodes the text once, probes it for anchor and cue words (one
set intersection in C), finds the capitalised runs once (shared by the person and
location taggers), scans for address shapes when the text holds a digit, and resolves
overlaps: an address swallows the names and places inside it; between a person and a
location over the same words the higher score wins (a tie goes to the person).

What a run's own words say (its tokens, name segments and place phrases) does not
depend on the text around it, so it is computed once per distinct run and cached; only
the few runs that hold a name or a place are then judged in context. Hits stay plain
tuples until overlaps are resolved, so discarded candidates cost no ``Hit`` objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol, TypeVar

from bastion.detect.entities import address, location, person
from bastion.detect.entities.address import AddressTagger
from bastion.detect.entities.address_shapes import bare_regex, typed_regex
from bastion.detect.entities.analysis import RunAnalyser, telling_keys
from bastion.detect.entities.lexicon import COMMON_WORDS
from bastion.detect.entities.location import LocationTagger
from bastion.detect.entities.person import PersonTagger, cue_regex, token_kind
from bastion.detect.entities.probe import probe, vocabulary
from bastion.detect.entities.runs import find_runs, run_regex, token_key
from bastion.detect.entities.scanning import char_offsets, spans
from bastion.detect.entities.warmup import warm_text
from bastion.detect.entities.words import WINDOW
from bastion.detect.patterns import Hit

_CLASS_RANK = {address.DATA_CLASS: 0, person.DATA_CLASS: 1, location.DATA_CLASS: 2}
_LOWERCASE_MAX_CHARS = 4096  # all-lower-case texts are re-read title-cased up to this size
_LOWERCASE_MIN_SCORE = 0.8  # ... keeping only full names and countries found that way
_LOWERCASE_SCORE = 0.7
_AFTER_TRIGGER = 64  # characters read after a trigger word in an all-lower-case text


class Candidate(NamedTuple):
    """A hit before overlaps are resolved (a tuple: cheap to make and to drop)."""

    data_class: str
    start: int
    end: int
    score: float
    detector: str


class EntityTagger:
    """Detects ``pii.person``, ``pii.location`` and ``pii.street_address`` without a model.

    Linear in the text (RE2 scans and C-level set lookups; Python only over candidates)
    and safe for any text. Gazetteers and regexes are built on first use or by ``warm``.
    """

    name = "entities"

    def __init__(self) -> None:
        self._person = PersonTagger()
        self._location = LocationTagger()
        self._address = AddressTagger()
        self._runs = RunAnalyser()

    def warm(self) -> None:
        """Build the gazetteers, compile the scanners and fill their DFA caches now.

        RE2 builds DFA states lazily, and building one costs far more than using it; a
        few hundred kilobytes of varied synthetic text create the states real text
        needs, so the first requests are as fast as the later ones.
        """
        vocabulary()
        text = warm_text()
        data = text.encode()
        for regex in (run_regex(), typed_regex(), bare_regex(), cue_regex()):
            for _ in spans(regex, text, data):
                pass
        self._address.tag(text, data)  # and the tail scanner after each street line
        telling_keys()
        for word in sorted(COMMON_WORDS):  # their token facts, which every text needs
            token_kind(word.title(), token_key(word.title()))
        self.detect("Dr. Jane Roe moved from Paris to 12 Baker Street, London.")

    def detect(self, text: str) -> list[Hit]:
        """Entity hits with code-point offsets into ``text``, sorted by position."""
        if not text:
            return []
        found = self._candidates(text)
        if len(text) <= _LOWERCASE_MAX_CHARS and text.islower():
            found += self._lowercase(text)
        return [
            Hit(c.data_class, c.start, c.end, c.score, c.detector, text[c.start : c.end])
            for c in resolve(found)
        ]

    def _candidates(self, text: str, addresses: bool = True) -> list[Candidate]:
        data = text.encode("utf-8", "replace")  # a lone surrogate becomes one "?" byte
        seen = probe(data, len(data) == len(text))
        runs = find_runs(text, data, seen)
        analysed = self._runs.analyse(text, runs, seen.context)
        found: list[Candidate] = []
        if addresses and (seen.spaced_digit or (seen.streets and seen.digits)):
            # every address has a digit, and one without a street-type or box word has a
            # number after a space or a tab: otherwise no shape can match
            kind, name = address.DATA_CLASS, self._address.name
            found += [
                Candidate(kind, s, e, v, name)
                for s, e, v in self._address.tag(text, data, seen.streets)
            ]
        names = [(offset, info.tokens, info.persons) for offset, info in analysed if info.persons]
        kind, name = person.DATA_CLASS, self._person.name
        found += [
            Candidate(kind, s, e, v, name)
            for s, e, v in self._person.tag(text, data, names, seen.cues, seen.context, seen)
        ]
        places = [(offset, info.tokens, info.places) for offset, info in analysed if info.places]
        if places:
            kind, name = location.DATA_CLASS, self._location.name
            found += [
                Candidate(kind, s, e, v, name) for s, e, v in self._location.tag(text, places)
            ]
        return found

    def _lowercase(self, text: str) -> list[Candidate]:
        """Full names and countries in a text typed without capitals ("eva kleist").

        The text is read title-cased, but only around the words that could start such a
        hit (a given name, a title, a country, a region, a big city): title-cased, a
        whole line is one capitalised run, too long to analyse for every request.
        """
        titled = text.title()
        if len(titled) != len(text):
            return []
        data = titled.encode("utf-8", "replace")
        seen = probe(data, len(data) == len(titled))
        found = seen.where(seen.anchors | seen.names)
        if not found:
            return []
        starts = [at for at, _ in found]
        if len(data) != len(titled):
            starts = char_offsets(data, starts)
        lowered: list[Candidate] = []
        for begin, end in _windows(titled, starts):
            for c in self._candidates(titled[begin:end], addresses=False):
                value = text[begin + c.start : begin + c.end]
                if (c.score >= _LOWERCASE_MIN_SCORE and " " in value) or c.score >= 0.85:
                    lowered.append(
                        Candidate(
                            c.data_class,
                            begin + c.start,
                            begin + c.end,
                            _LOWERCASE_SCORE,
                            c.detector,
                        )
                    )
        return lowered


def _windows(text: str, starts: Sequence[int]) -> list[tuple[int, int]]:
    """Merged stretches of ``text`` around ``starts``, cut at spaces: enough words before
    each for its cues (``words.WINDOW``) and after it for a name or a place phrase."""
    windows: list[tuple[int, int]] = []
    for at in starts:
        begin = max(0, at - WINDOW - 8)
        if begin:
            begin = min(at, text.find(" ", begin) + 1 or at)
        end = text.find(" ", min(len(text), at + _AFTER_TRIGGER))
        end = len(text) if end < 0 else end
        if windows and begin <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(end, windows[-1][1]))
        else:
            windows.append((begin, end))
    return windows


class _Scored(Protocol):
    @property
    def data_class(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def score(self) -> float: ...


_S = TypeVar("_S", bound=_Scored)


def resolve(hits: Sequence[_S]) -> list[_S]:
    """Among overlapping hits keep addresses first, then the higher score, then the longer.

    Hits are grouped into clusters of chained overlaps in one sorted sweep; each cluster
    (a few hits at most in real text) is settled greedily by that priority.
    """
    kept: list[_S] = []
    cluster: list[_S] = []
    cluster_end = -1
    for hit in sorted(hits, key=lambda h: (h.start, h.end)):
        if cluster and hit.start >= cluster_end:
            kept += _settle(cluster)
            cluster = []
        cluster.append(hit)
        cluster_end = max(cluster_end, hit.end) if len(cluster) > 1 else hit.end
    kept += _settle(cluster)
    kept.sort(key=lambda h: (h.start, h.end))
    return kept


def _settle(cluster: list[_S]) -> list[_S]:
    if len(cluster) < 2:
        return cluster
    ranked = sorted(
        cluster,
        key=lambda h: (_CLASS_RANK.get(h.data_class, 3) > 0, -h.score, h.start - h.end),
    )
    chosen: list[_S] = []
    for hit in ranked:
        if all(hit.end <= other.start or other.end <= hit.start for other in chosen):
            chosen.append(hit)
    return chosen
