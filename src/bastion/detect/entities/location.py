"""``pii.location``: countries, regions and cities found in the shared capitalised runs.

The longest gazetteer phrase inside a run wins ("Rio de Janeiro" over "Rio"). A place
whose name is also a common word ("Reading", "Nice", "Mobile", "Bath") counts only
mid-sentence after a place cue ("moved to Reading") or before ", <country or state>".
A place that is part of a person's full name ("Paris Hilton"), an organisation ("Bank of
America", "Toronto University") or a longer proper noun scores lower or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

from bastion.detect.entities.gazetteer import Places, person_names, places
from bastion.detect.entities.lexicon import (
    COMMON_WORDS,
    LOCATION_CUES,
    NOT_NAMES,
    ORG_WORDS,
    PERSON_CUES,
)
from bastion.detect.entities.runs import Token
from bastion.detect.entities.words import next_word, previous_words, sentence_initial

DATA_CLASS = "pii.location"
_MAX_PHRASE = 4
_CUE_BOOST = 0.1
_LONGER_NOUN_PENALTY = 0.2
_PREPOSITIONS = frozenset({"in", "from", "to", "at", "near", "via", "into", "outside", "around"})
_ABBREVIATIONS = frozenset({"usa", "uk", "uae", "us", "u.s", "u.k", "u.s.a"})


CONTINENT_SCORE = 0.35
"""Below the default threshold even after a cue: "servers in Europe" says where no one
is (shown with all_scores; a lower ``detectors.thresholds`` for pii.location reports
them)."""
_TZ_AREAS = frozenset({
    "Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe",
    "Indian", "Pacific", "Etc",
})  # fmt: skip
"""The first part of an IANA time zone ("Europe/Paris", "America/New_York")."""


def place_score(geo: Places, key: str) -> float:
    """Base score of a place key by kind and size; 0 when it is no known place."""
    if key in geo.continents:
        return CONTINENT_SCORE
    kind = geo.kind(key)
    if kind in ("country", "region"):
        return 0.85
    if kind == "city":
        people = geo.cities[key]
        return 0.8 if people >= 1_000_000 else 0.7 if people >= 100_000 else 0.55
    return 0.0


Found = tuple[int, int, float]
"""``(start, end, score)`` of one hit, before the tagger gives it a class."""
Place = tuple[int, int, float, bool, bool]
"""``(first token, end token, score, common word, given-name town)`` in a run."""


class LocationTagger:
    """Finds place names in one text from the runs ``runs.find_runs`` reported."""

    name = "entities.location"

    def tag(
        self, text: str, runs: Iterable[tuple[int, Sequence[Token], Sequence[Place]]]
    ) -> list[Found]:
        """Location hits, one per place phrase, from the analysed runs (``offset``,
        relative tokens, places)."""
        found: list[Found] = []
        for offset, tokens, judged in runs:
            for i, j, score, common, town in judged:
                start, end = offset + tokens[i][0], offset + tokens[j - 1][1]
                score = _in_context(text, start, end, score, common, town)
                if score > 0:
                    found.append((start, end, round(score, 3)))
        return found


def _in_context(text: str, start: int, end: int, score: float, common: bool, town: bool) -> float:
    """The place's score given the words around it; 0 when they say it is no place."""
    if _in_time_zone(text, start, end):
        return 0.0
    before = previous_words(text, start)
    last = before[-1] if before else ""
    cue = last in LOCATION_CUES
    trailer = _place_follows(text, end)
    if common:
        near = last in _PREPOSITIONS and not sentence_initial(text, start)
        if not (near or trailer):
            return 0.0  # "Reading the report", "Nice to meet you"
    if len(before) == 2 and before[1] == "of" and before[0] in ORG_WORDS:
        return 0.0  # "Bank of America", "University of Toronto"
    if last in PERSON_CUES or (town and not cue):
        return 0.0  # "Dear Georgia"; "Linda", "Florence" without a place cue
    if cue or trailer:
        score += _CUE_BOOST
    return min(score, 0.95)


def _in_time_zone(text: str, start: int, end: int) -> bool:
    """The place is part of an IANA time zone name: ``Europe/Paris``, ``America/New_York``
    (a setting, not where someone is)."""
    if text[end : end + 1] == "/" and text[start:end] in _TZ_AREAS:
        return True
    if start and text[start - 1] == "/":
        area_start = max(text.rfind(" ", 0, start - 1), text.rfind("=", 0, start - 1)) + 1
        return text[area_start : start - 1] in _TZ_AREAS
    return False


def run_places(words: Sequence[str], keys: Sequence[str]) -> tuple[Place, ...]:
    """The place phrases of a run (its words and their ``token_key``) and what its own
    words say about them."""
    geo = places()
    if place_words().isdisjoint(keys):
        return ()
    found: list[Place] = []
    i, n = 0, len(keys)
    while i < n:
        longest = min(_MAX_PHRASE, n - i, geo.phrases.get(keys[i], 1))
        for size in range(longest, 0, -1):
            j = i + size
            score = place_score(geo, " ".join(keys[i:j]))
            if score and not words[i][:1].islower():
                place = _judge(words, keys, i, j, score)
                if place is not None:
                    found.append(place)
                i = j
                break
        else:
            i += 1
    return tuple(found)


@cache
def place_words() -> frozenset[str]:
    """Keys a place phrase can start with: one-word places and first words of longer ones."""
    geo = places()
    single = (key for key in (*geo.countries, *geo.regions, *geo.cities) if " " not in key)
    return frozenset((*single, *geo.phrases))


def _judge(words: Sequence[str], keys: Sequence[str], i: int, j: int, score: float) -> Place | None:
    phrase = keys[i:j]
    if any(k in ORG_WORDS for k in phrase) or (j < len(keys) and keys[j] in ORG_WORDS):
        return None  # "Toronto University", "London Stock Exchange"
    if any(len(w) <= 3 and w.isupper() for w in words[i:j]) and phrase[0] not in _ABBREVIATIONS:
        return None  # "OF", "MS": headings and abbreviations, not towns
    if _in_person_name(keys, i, j):
        return None  # "Paris Hilton", "Jordan Peterson"
    common = all(k in COMMON_WORDS or k in NOT_NAMES for k in phrase)
    if common and not words[i][1:].islower():
        return None  # "READING", "NICE": shouted common words
    neighbours = [*keys[i - 1 : i], *keys[j : j + 1]]
    if any(k not in COMMON_WORDS and k not in NOT_NAMES for k in neighbours):
        score -= _LONGER_NOUN_PENALTY  # part of a longer proper noun
    town = j - i == 1 and _given_name_town(keys[i])
    return i, j, score, common, town


def _place_follows(text: str, end: int) -> bool:
    """Whether ", <country or region>" follows ("Springfield, Illinois")."""
    if not text.startswith(",", end):
        return False
    geo = places()
    word = next_word(text, end + 1)
    return geo.kind(word) in ("country", "region") or (word.upper() == word and len(word) == 2)


def _given_name_town(key: str) -> bool:
    """Whether a key is a given name and only a town (not a country, region or metropolis)."""
    geo = places()
    return (
        key in person_names().first
        and key not in COMMON_WORDS
        and geo.kind(key) == "city"
        and geo.cities[key] < 1_000_000
    )


def _in_person_name(keys: Sequence[str], i: int, j: int) -> bool:
    """Whether the place is a given name followed by a surname in the same run."""
    if j - i != 1 or j >= len(keys):
        return False
    names = person_names()
    return keys[i] in names.first and (keys[j] in names.last or keys[j] in names.first)
