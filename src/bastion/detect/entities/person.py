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

from collections.abc import Iterable, Iterator, Sequence
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
from bastion.detect.entities.probe import Probe
from bastion.detect.entities.repeats import add_repeats
from bastion.detect.entities.runs import Token, token_key
from bastion.detect.entities.scanning import compile_re2, spans
from bastion.detect.entities.words import next_word, previous_word, sentence_initial

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
    "greeted_unknown": 0.45,
    "lone_last": 0.35,
}
_CUE_BOOST = 0.2
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
def cue_regex() -> Any:
    return compile_re2(_CUE_PATTERN)


@lru_cache(maxsize=65_536)
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


@lru_cache(maxsize=4096)
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


Found = tuple[int, int, float]
"""``(start, end, score)`` of one hit, before the tagger gives it a class."""
Segment = tuple[int, int, str, bool, bool, float]
"""``(first token, end token, core kinds, titled, starts with a big place, score of the
core alone)`` of a run."""


class PersonTagger:
    """Finds person names in one text; see the module docstring for the evidence."""

    name = "entities.person"

    def tag(
        self,
        text: str,
        data: bytes,
        runs: Iterable[tuple[int, Sequence[Token], Sequence[Segment]]],
        cues: bool = True,
        context: bool = True,
        seen: Probe | None = None,
    ) -> list[Found]:
        """Person hits from the analysed runs (``offset``, relative tokens, segments) plus,
        when ``cues`` says a cue word is present, the cue scan of ``text``. ``context=False``
        says the text holds no cue word and no verb of speech, so none is looked for; ``seen``,
        the text's probe, finds later mentions in a long text in one pass."""
        found: dict[tuple[int, int], float] = {}
        for offset, tokens, segments in runs:
            for start, end, score in self._from_run(text, offset, tokens, segments, context):
                found[(start, end)] = max(score, found.get((start, end), 0.0))
        if cues:
            for start, end, score in self._from_cues(text, data):
                found[(start, end)] = max(score, found.get((start, end), 0.0))
        if found:
            add_repeats(text, found, seen, SCORES["first_unknown"], SCORES["repeat"])
        return [
            (start, end, round(min(score, 1.0), 3))
            for (start, end), score in sorted(found.items())
            if score > 0
        ]

    def _from_run(
        self,
        text: str,
        offset: int,
        tokens: Sequence[Token],
        segments: Sequence[Segment],
        context: bool,
    ) -> Iterator[Found]:
        for i, j, core, titled, big_place, base in segments:
            start, end = offset + tokens[i][0], offset + tokens[j - 1][1]
            if core == "CAPS":
                yield start, end, SCORES["first_last"] - 0.1
                continue
            if (
                core[:2] == "UF"
                and len(core) > 2
                and tokens[i + 1][2][:1].isupper()
                and sentence_initial(text, start)
            ):
                # "Producer Ana Silva explained": a capitalised word opening the sentence
                i, core, start = i + 1, core[1:], offset + tokens[i + 1][0]
                base = score_name(core)
            if not context:  # no cue word, no verb of speech: the words alone decide
                if not (big_place and core == "F"):
                    score = SCORES["title"] if titled else base
                    if score > 0:
                        yield start, end, score
                continue
            before = previous_word(text, start)
            place_like = big_place and core == "F" and before not in PERSON_CUES
            if place_like and next_word(text, end) not in SPEECH_VERBS:
                continue  # "Berlin", "Georgia": the location tagger decides
            if titled:
                score = SCORES["title"]
            else:
                score = base
                if before in PERSON_CUES:
                    floor = 0.5 if core[0] == "A" else SCORES["cue"] if core[0] in "FLU" else 0.0
                    score = max(score + _CUE_BOOST, floor)
                elif before in SPEECH_VERBS or next_word(text, end) in SPEECH_VERBS:
                    plain = SCORES["speech"] if core in ("U", "UU", "UUU", "UIU") else 0.0
                    score = max(score + _CUE_BOOST if score else 0.0, plain)
            if score > 0:
                yield start, end, score

    def _from_cues(self, text: str, data: bytes) -> Iterator[Found]:
        for start, end in spans(cue_regex(), text, data):
            yield from _cue_names(text, start, end)


def analyse_run(words: Sequence[str], keys: Sequence[str]) -> tuple[Segment, ...]:
    """The name segments of a run (its words and their ``token_key``), independent of its
    context (so cacheable by its words).

    Segments are cut at common words and stops, lose leading titles and particles, and
    are dropped when they form a multi-word place ("Costa Rica"), precede an
    organisation or street word ("Jane Doe Foundation", "Philip Bypass"), or start with a
    big place followed by an unknown word ("Georgia Bulldogs").
    """
    kinds = list(map(token_kind, words, keys))
    _mark_places(keys, kinds)
    n = len(words)
    if " ".join(words).isupper():  # every token starts with a letter, so: all upper
        # a heading or a shouted line: only a short run of known given name + surname
        core = "".join(k for k in kinds if k not in "PI")
        capitals = n <= 4 and core in ("FL", "FF", "FLL")
        return ((0, n, "CAPS", False, False, SCORES["first_last"] - 0.1),) if capitals else ()
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
        for a, b in _split_names(kinds, i, j) if j - i > 3 else ((i, j),):
            titled = False
            while a < b and kinds[a] in "TP":
                titled = titled or kinds[a] == "T"
                a += 1
            while b > a and kinds[b - 1] == "P":
                b -= 1
            core = "".join(kinds[a:b]).replace("P", "")
            if not core:
                continue
            big = keys[a] in big_places()
            if big and core[0] == "F" and core[-1] == "U":
                continue  # "Georgia Bulldogs", "Victoria Station"
            base = score_name(core)
            if titled or base > 0 or core[0] in "FLUA":  # else no cue could make it a name
                segments.append((a, b, core, titled, big, base))
        i = j
    return tuple(segments)


def _cue_names(text: str, start: int, end: int) -> Iterator[Found]:
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
    if len(accepted) > 1 or kinds in ("F", "L"):
        score = SCORES["cue"]
    elif kinds == "U" and _greeting_only(lowered):
        # "Hello, Bastion", "Hi Copilot": people greet the assistant or a product by
        # name; one unknown word after a bare greeting is too weak to report alone
        score = SCORES["greeted_unknown"]
    else:
        score = SCORES["speech"]
    yield first_at, last_at, score


def _greeting_only(lowered: str) -> bool:
    """The cue is a bare hi / hello / hey (not "hi, my name is", "dear", "Mr.")."""
    words = lowered.split()
    return (
        len(words) == 2
        and words[0].rstrip(",") in _GREETINGS
        and not words[1].startswith(("mr", "mrs", "ms", "miss", "dr", "dear"))
    )


def _after_cue(words: list[str]) -> list[str]:
    """The words after the cue phrase itself ("hi, my name is", "dear", "Mr.")."""
    greeted = len(words) > 1 and words[0].casefold().rstrip(",") in _GREETINGS
    if greeted:
        words = words[1:]
    for size in (3, 2):
        if len(words) > size and " ".join(words[:size]).casefold().rstrip(".,:") in _CUE_HEADS:
            return [w.rstrip(",.") for w in words[size:]]
    return [w.rstrip(",.") for w in (words if greeted else words[1:])]


_GREETINGS = ("hi", "hello", "hey")
_CUE_HEADS = frozenset(
    {"my name is", "my name's", "name is", "i am", "i'm", "this is", "thank you"}
)


def _mark_places(keys: Sequence[str], kinds: list[str]) -> None:
    """Turn the tokens of a multi-word place inside a run into stops ("Los Angeles")."""
    geo = places()
    if geo.phrases.keys().isdisjoint(keys):
        return
    for i in range(len(keys) - 1):
        if keys[i] not in geo.phrases:
            continue
        for size in (3, 2):
            if i + size <= len(keys) and geo.kind(" ".join(keys[i : i + size])) is not None:
                kinds[i : i + size] = ["X"] * size
                break


def _split_names(kinds: Sequence[str], i: int, j: int) -> list[tuple[int, int]]:
    """Cut a long segment where a surname meets the next given name ("A B C D" lists)."""
    if j - i < 4:
        return [(i, j)]
    cuts = [k for k in range(i + 2, j - 1) if kinds[k - 1] in "LUA" and kinds[k] == "F"]
    return list(pairwise([i, *cuts, j]))


@cache
def big_places() -> frozenset[str]:
    """Keys of the countries, regions and cities of 100,000+ people."""
    geo = places()
    big = {key for key, people in geo.cities.items() if people >= 100_000}
    return frozenset(big) | geo.countries | geo.regions
