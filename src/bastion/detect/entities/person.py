"""``pii.person``: names from capitalised runs, titles, cue phrases and repeat mentions.

Evidence, strongest first: a title ("Dr. Roe"); a known given name followed by a surname,
initial or unknown capitalised word ("Sarah Whitfield", "Jan K. Nowak", "Ludwig van
Beethoven"); a cue phrase ("my name is", "Dear", "Regards,", "patient") before even a
lower-case or unknown name; a verb of speech beside a bare surname ("says Okafor"); a
later mention of part of a name already found. A lone given name scores below the bar
of a full name (see ``SCORES``). Common English words that are also names ("Will",
"Grace") count only beside a known surname or after a cue.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from functools import cache, lru_cache
from itertools import pairwise
from typing import Any

from bastion.detect.entities.gazetteer import person_names, places
from bastion.detect.entities.lexicon import (
    COMMON_WORDS,
    NOT_NAMES,
    ORG_WORDS,
    PARTICLES,
    PERSON_CUES,
    PLACE_WORDS,
    SPEECH_VERBS,
    STREET_SUFFIXES,
    TITLES,
    UNIT_WORDS,
    WEAK_STREET_SUFFIXES,
)
from bastion.detect.entities.runs import CACHED_RUN_WORDS, Token, compile_re2, spans, token_key
from bastion.detect.entities.words import next_word, previous_word
from bastion.detect.patterns import Hit

DATA_CLASS = "pii.person"
SCORES = {
    "title": 0.9,
    "first_last": 0.9,
    "first_unknown": 0.85,
    "initial_last": 0.75,
    "initial_middle": 0.8,
    "unknown_last": 0.7,
    "ambiguous_last": 0.7,
    "repeat": 0.7,
    "cue": 0.75,
    "lone_first": 0.6,
    "speech": 0.55,
    "lone_last": 0.35,
}
_CUE_BOOST = 0.2
_MAX_REPEAT_WORDS = 16
_STOPS = UNIT_WORDS | STREET_SUFFIXES | WEAK_STREET_SUFFIXES
_NOT_AFTER_NAME = ORG_WORDS | STREET_SUFFIXES | WEAK_STREET_SUFFIXES | PLACE_WORDS

# "my name is john smith", "Regards,\nThomas", "says Okafor", "Okafor said"
_NAME = r"[\p{L}][\p{L}\p{M}'\x{2019}-]*"
_CUE_PATTERN = (
    r"(?i:\b(?:(?:hi|hello|hey)[ \t]*,?[ \t]+)?(?:my name is|my name's|name is|name:|i am|"
    r"i'm|dear|hi|hello|hey|signed|patient|mr|mrs|ms|miss|dr)\.?)"
    rf"(?:,?[ \t]+|,?[ \t]*\n[ \t]*){_NAME}(?:[ \t]+{_NAME}){{0,2}}"
    rf"|\b(?:said|says|according to)[ \t]+\p{{Lu}}{_NAME}"
    rf"|\p{{Lu}}{_NAME}[ \t]+(?:said|says)\b"
)


@cache
def _cue_regex() -> Any:
    return compile_re2(_CUE_PATTERN)


def token_kind(word: str, key: str) -> str:
    """One letter: Title, Initial, Particle, First, Last, Ambiguous, Common, stop (X),
    Unknown."""
    if key in PARTICLES and word.islower():
        return "P"
    if key in TITLES and word[:1].isupper():
        return "T"
    if key in NOT_NAMES or key in ORG_WORDS or key in _STOPS:
        return "X"
    letters = key.replace(".", "")
    if len(letters) == 1 and word[:1].isupper():
        return "I"
    names = person_names()
    common = key in COMMON_WORDS
    if key in names.first:
        return "A" if common else "F"
    if key in names.last:
        return "A" if common else "L"
    if common or not word[:1].isupper() or not letters.isalpha():
        return "C"
    if word.isupper() and len(letters) <= 3:
        return "C"  # "MP", "TV": abbreviations, not surnames
    return "U"


def score_name(kinds: str) -> float:
    """Score of a name core (kinds of its tokens, particles removed); 0 if no name."""
    if not kinds:
        return 0.0
    first, last, n = kinds[0], kinds[-1], len(kinds)
    if n == 1:
        return {"F": SCORES["lone_first"], "L": SCORES["lone_last"]}.get(first, 0.0)
    if "C" in kinds or "X" in kinds:
        return 0.0
    if n >= 3 and "I" in kinds[1:-1] and first in "FLUA" and last in "FLUA":
        return SCORES["initial_middle"]  # "Janka M. Szász": a strong shape on its own
    if first == "F":
        score = {"L": SCORES["first_last"], "F": SCORES["first_last"]}.get(
            last, SCORES["first_unknown"] if last in "UI" else SCORES["ambiguous_last"]
        )
    elif first == "I" and last in "LF":
        score = SCORES["initial_last"]
    elif first in "UA" and last in "L":
        score = SCORES["unknown_last"] if first == "U" else SCORES["ambiguous_last"]
    elif first == "L" and last in "LF":
        score = SCORES["unknown_last"]
    else:
        return 0.0
    return score - 0.2 if n > 4 else score


class PersonTagger:
    """Finds person names in one text; see the module docstring for the evidence."""

    name = "entities.person"

    def tag(
        self, text: str, data: bytes, runs: Sequence[tuple[int, int, list[Token]]]
    ) -> list[Hit]:
        """Person hits from the shared runs plus the cue scan of ``text``."""
        found: dict[tuple[int, int], float] = {}
        for _, _, tokens in runs:
            for start, end, score in self._from_run(text, tokens):
                found[(start, end)] = max(score, found.get((start, end), 0.0))
        for start, end, score in self._from_cues(text, data):
            found[(start, end)] = max(score, found.get((start, end), 0.0))
        _add_repeats(text, found)
        return [
            Hit(DATA_CLASS, start, end, round(min(score, 1.0), 3), self.name, text[start:end])
            for (start, end), score in sorted(found.items())
            if score > 0
        ]

    def _from_run(self, text: str, tokens: list[Token]) -> Iterator[tuple[int, int, float]]:
        words = tuple(w for _, _, w in tokens)
        segments = analyse_run(words) if len(words) <= CACHED_RUN_WORDS else _analyse_run(words)
        for i, j, core, titled, big_place in segments:
            start, end = tokens[i][0], tokens[j - 1][1]
            if core == "CAPS":
                yield start, end, SCORES["first_last"] - 0.1
                continue
            before = previous_word(text, start)
            place_like = big_place and core == "F" and before not in PERSON_CUES
            if place_like and next_word(text, end) not in SPEECH_VERBS:
                continue  # "Berlin", "Georgia": the location tagger decides
            if titled:
                score = SCORES["title"]
            else:
                score = score_name(core)
                if before in PERSON_CUES:
                    floor = 0.5 if core[0] == "A" else SCORES["cue"] if core[0] in "FLU" else 0.0
                    score = max(score + _CUE_BOOST, floor)
                elif before in SPEECH_VERBS or next_word(text, end) in SPEECH_VERBS:
                    plain = SCORES["speech"] if core in ("U", "UU", "UUU", "UIU") else 0.0
                    score = max(score + _CUE_BOOST if score else 0.0, plain)
            if score > 0:
                yield start, end, score

    def _from_cues(self, text: str, data: bytes) -> Iterator[tuple[int, int, float]]:
        for start, end in spans(_cue_regex(), text, data):
            yield from _cue_names(text, start, end)


Segment = tuple[int, int, str, bool, bool]
"""``(first token, end token, core kinds, titled, starts with a big place)`` of a run."""


def _analyse_run(words: tuple[str, ...]) -> tuple[Segment, ...]:
    """The name segments of a run, independent of its context (so cacheable by its words).

    Segments are cut at common words and stops, lose leading titles and particles, and
    are dropped when they form a multi-word place ("Costa Rica"), precede an
    organisation or street word ("Jane Doe Foundation", "Philip Bypass"), or start with a
    big place followed by an unknown word ("Georgia Bulldogs").
    """
    keys = [token_key(word) for word in words]
    kinds = [token_kind(word, key) for word, key in zip(words, keys, strict=True)]
    _mark_places(keys, kinds)
    n = len(words)
    if all(word.isupper() for word in words):
        # a heading or a shouted line: only a short run of known given name + surname
        core = "".join(k for k in kinds if k not in "PI")
        return ((0, n, "CAPS", False, False),) if n <= 4 and core in ("FL", "FF", "FLL") else ()
    segments: list[Segment] = []
    i = 0
    while i < n:
        if kinds[i] in "CXP":
            i += 1
            continue
        j = i
        while j < n and kinds[j] not in "CX":
            j += 1
        if j < n and kinds[j] == "X" and keys[j] in _NOT_AFTER_NAME:
            break  # "Jane Doe Foundation", "Philip Bypass": an organisation or street
        for a, b in _split_names(kinds, i, j):
            titled = False
            while a < b and kinds[a] in "TP":
                titled = titled or kinds[a] == "T"
                a += 1
            while b > a and kinds[b - 1] == "P":
                b -= 1
            core = "".join(k for k in kinds[a:b] if k != "P")
            if not core:
                continue
            big = _big_place(keys[a])
            if big and core[0] == "F" and core[-1] == "U":
                continue  # "Georgia Bulldogs", "Victoria Station"
            segments.append((a, b, core, titled, big))
        i = j
    return tuple(segments)


analyse_run = lru_cache(maxsize=16_384)(_analyse_run)
"""``_analyse_run`` cached for short runs (long ones would make the cache costly)."""


def _cue_names(text: str, start: int, end: int) -> Iterator[tuple[int, int, float]]:
    """The name after (or before) a cue phrase, as far as its tokens look like a name."""
    match = text[start:end]
    words = match.split()
    lowered = match.casefold()
    if lowered.endswith(("said", "says")):
        candidates = words[:1]
    elif lowered.startswith(("said", "says", "according")):
        candidates = words[-1:]
    else:
        candidates = _after_cue(words)
    accepted: list[str] = []
    kinds = ""
    for word in candidates:
        kind = token_kind(word, token_key(word))
        lower = not word[:1].isupper()
        if kind in "CXTP" or (lower and (kind not in "FL" or kind + kinds == "L")):
            break  # lower-case words count only as known names, starting with a given name
        accepted.append(word)
        kinds += kind
    if not accepted or kinds.replace("I", "") == "":
        return
    first_at = text.find(accepted[0], start, end)
    last_at = text.find(accepted[-1], first_at, end) + len(accepted[-1])
    if lowered.endswith(("said", "says")) or lowered.startswith(("said", "says", "accord")):
        yield first_at, last_at, SCORES["speech"] if kinds in ("U", "L", "F") else 0.0
        return
    score = SCORES["cue"] if len(accepted) > 1 or kinds in ("F", "L") else SCORES["speech"]
    yield first_at, last_at, score


def _after_cue(words: list[str]) -> list[str]:
    """The words after the cue phrase itself ("hi, my name is", "dear", "Mr.")."""
    greeted = len(words) > 1 and words[0].casefold().rstrip(",") in ("hi", "hello", "hey")
    if greeted:
        words = words[1:]
    for size in (3, 2):
        if len(words) > size and " ".join(words[:size]).casefold().rstrip(".,:") in _CUE_HEADS:
            return [w.rstrip(",.") for w in words[size:]]
    return [w.rstrip(",.") for w in (words if greeted else words[1:])]


_CUE_HEADS = frozenset(
    {"my name is", "my name's", "name is", "i am", "i'm", "this is", "thank you"}
)


def _mark_places(keys: list[str], kinds: list[str]) -> None:
    """Turn the tokens of a multi-word place inside a run into stops ("Los Angeles")."""
    geo = places()
    for i in range(len(keys) - 1):
        for size in (3, 2):
            if i + size <= len(keys) and geo.kind(" ".join(keys[i : i + size])) is not None:
                kinds[i : i + size] = ["X"] * size
                break


def _split_names(kinds: list[str], i: int, j: int) -> list[tuple[int, int]]:
    """Cut a long segment where a surname meets the next given name ("A B C D" lists)."""
    if j - i < 4:
        return [(i, j)]
    cuts = [k for k in range(i + 2, j - 1) if kinds[k - 1] in "LUA" and kinds[k] == "F"]
    return list(pairwise([i, *cuts, j]))


def _big_place(key: str) -> bool:
    """Whether a key names a country, a region or a city of 100,000+ people."""
    geo = places()
    kind = geo.kind(key)
    return kind in ("country", "region") or (kind == "city" and geo.cities[key] >= 100_000)


def _add_repeats(text: str, found: dict[tuple[int, int], float]) -> None:
    """Later bare mentions of a word of a confident full name ("... early Yefremova")."""
    words: set[str] = set()
    for (start, end), score in found.items():
        parts = text[start:end].split()
        if score >= SCORES["first_unknown"] and len(parts) >= 2:
            for part in parts:
                word = part.removesuffix("'s").removesuffix("\u2019s").rstrip(".,")
                if len(word) > 2 and word[:1].isupper() and not word.isupper():
                    words.add(word)
    if not words:
        return
    spans_ = sorted(found)
    starts = [s for s, _ in spans_]
    ends = [e for _, e in spans_]
    for word in sorted(words)[:_MAX_REPEAT_WORDS]:
        if token_key(word) in COMMON_WORDS or token_key(word) in TITLES:
            continue
        at = text.find(word)
        while at >= 0:
            end = at + len(word)
            k = bisect_right(starts, at) - 1
            inside = k >= 0 and ends[k] > at and (starts[k], ends[k]) != (at, end)
            if not inside and _bounded(text, at, end):
                found[(at, end)] = max(found.get((at, end), 0.0), SCORES["repeat"])
            at = text.find(word, end)


def _bounded(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return not (before.isalnum() or after.isalnum() or before in "-_@" or after in "-_@")
