"""``pii.street_address``: street lines, P.O. boxes, military and UK postcode addresses.

Shapes (two RE2 programs, linear; see ``address_shapes``):
* number first: "221B Baker Street", "1600 Pennsylvania Ave NW", "12 rue de la Paix";
* street type word first, number after: "Via Roma 5", "ul. Jesionowa 127", "Calle Mayor 3";
* street type fused to the name, number after: "Hauptstraße 5", "Kiannonkatu 98";
* boxes: "P.O. Box 123", "Postfach 1234", "PSC 1437, Box 3833 APO AA 66791";
* a full UK postcode ("SW1A 1AA").
A street line then grows over what follows it, line breaks included: a unit ("Apt. 4B",
"Suite 210"), a postcode and town ("10115 Berlin"), "City, ST 12345", a country.
Python checks the street words of each candidate (no stop words such as "the" or "of",
one capitalised word unless an address cue precedes), so "3 more items on the way" and
"2 hours drive" are not addresses.
"""

from __future__ import annotations

from bastion.detect.entities.address_shapes import (
    FUSED_ENDINGS,
    PREFIX_WORDS,
    bare_regex,
    tail_regex,
    typed_regex,
)
from bastion.detect.entities.gazetteer import places
from bastion.detect.entities.lexicon import (
    ADDRESS_CUES,
    COMMON_WORDS,
    NOT_NAMES,
    ORG_WORDS,
    STREET_SUFFIXES,
    UNIT_WORDS,
    WEAK_STREET_SUFFIXES,
)
from bastion.detect.entities.runs import token_key
from bastion.detect.entities.scanning import leftmost_spans, match_prefix
from bastion.detect.entities.words import next_word, previous_words

DATA_CLASS = "pii.street_address"
_MAX_TAIL = 5
_BOX_HEADS = frozenset({"psc", "cmr", "unit", "usns", "uss", "postfach"})
_STOP_WORDS = frozenset(
    {"the", "a", "an", "of", "and", "or", "to", "in", "on", "at", "for", "with", "from", "by"}
    | {"is", "are", "was", "be", "this", "that", "more", "than", "some", "any", "all", "my"}
    | {"your", "our", "their", "his", "her", "its", "it", "we", "you", "they", "i", "me"}
    | {"us", "them"}
)
SCORES = {
    "street": 0.85,
    "weak_street": 0.6,
    "bare_street": 0.7,
    "box": 0.85,
    "postcode": 0.6,
    "cue": 0.1,
}


class AddressTagger:
    """Finds street addresses in one text; see the module docstring for the shapes."""

    name = "entities.address"

    def tag(self, text: str, data: bytes, typed: bool = True) -> list[tuple[int, int, float]]:
        """Address hits ``(start, end, score)``, each grown over the unit, town and
        postcode lines after it. ``typed=False`` skips the shapes that need a street-type
        or box word (the caller knows the text has none)."""
        regexes = (typed_regex(), bare_regex()) if typed else (bare_regex(),)
        hits: list[tuple[int, int, float]] = []
        covered = 0
        for start, end in leftmost_spans(regexes, text, data):
            if start < covered:
                continue
            score = self._score(text, start, end)
            if score <= 0 and text[start : start + 1].isdigit():
                shorter = self._shorten(text, start, end)
                if shorter > start:
                    end, score = shorter, self._score(text, start, shorter)
            if score <= 0:
                continue
            grown = self._grow(text, end)
            if score == SCORES["bare_street"] and grown == end and not _bare_ok(text, start, end):
                continue
            end = grown
            if text[end - 1 : end] == "." and len(text[start:end].split()[-1]) > 4:
                end -= 1  # the sentence's full stop, not "St."
            covered = end
            hits.append((start, end, round(score, 3)))
        return hits

    def _score(self, text: str, start: int, end: int) -> float:
        candidate = text[start:end]
        folded = candidate.casefold()
        words = candidate.replace(",", " ").split()
        head = words[0].casefold()
        boxed = head in _BOX_HEADS or "box" in folded or "fpo" in folded
        if boxed or _uk_postcode(words):
            bonus = SCORES["cue"] if _cued(text, start) else 0.0
            return SCORES["box" if boxed else "postcode"] + bonus
        if len(words) < 2:
            return 0.0
        if words[-1][:1].isdigit() and not _typed(words):
            # most candidates: "<Name> <number>", often "Section 5"; the cue is read last
            bare = _bare_street(words)
            supported = bare > 0 or (bare < 0 and (head[:1].isdigit() or _cued(text, start)))
            return SCORES["bare_street"] if supported else 0.0
        cue = _cued(text, start)
        bonus = SCORES["cue"] if cue else 0.0
        if not head[:1].isdigit() or words[1].casefold() in PREFIX_WORDS:
            return _named_street(words) + bonus
        return _numbered_street(text, start, words, cue) + bonus

    def _shorten(self, text: str, start: int, end: int) -> int:
        """The end of the street line before its first stop word, if a suffix ends it
        there ("12 Main St and Park Ave" → "12 Main St"); ``start`` when none does."""
        words = text[start:end].split()
        for i, word in enumerate(words[1:], start=1):
            if token_key(word) in _STOP_WORDS:
                last = token_key(words[i - 1])
                if i >= 3 and (last in STREET_SUFFIXES or last in WEAK_STREET_SUFFIXES):
                    return text.find(words[i - 1], start) + len(words[i - 1])
                break
        return start

    def _grow(self, text: str, end: int) -> int:
        """The end of the address after its unit, town, postcode and country parts.

        An unknown town is taken only when a known part (postcode, state, country)
        follows it: "…Road\nCockle Bay\nNew Zealand 0617".
        """
        parts = 0
        while parts < _MAX_TAIL:
            first = _tail_at(text, end)
            if first is None:
                break
            if _good_tail(first[1]):
                end, parts = first[0], parts + 1
                continue
            second = _tail_at(text, first[0])
            if not _town_like(first[1]) or second is None:
                break
            if not _good_tail(second[1]) or _is_unit(second[1]):
                break
            end, parts = second[0], parts + 2
        return end


def _town_like(part: str) -> bool:
    """Whether an unknown part could be a town: capitalised, uncommon words only."""
    words = part.replace(",", " ").split()
    keys = [token_key(w) for w in words]
    return (
        bool(words)
        and all(w[:1].isupper() for w in words)
        and keys[0] not in NOT_NAMES
        and not any(k in ORG_WORDS for k in keys)
        and not all(k in COMMON_WORDS for k in keys)
    )


def _uk_postcode(words: list[str]) -> bool:
    """Whether the words are exactly a UK postcode ("SW1A", "1AA")."""
    if len(words) != 2:
        return False
    outward, inward = words
    return (
        2 <= len(outward) <= 4
        and outward[0].isalpha()
        and any(c.isdigit() for c in outward)
        and outward.isupper()
        and len(inward) == 3
        and inward[0].isdigit()
        and inward[1:].isalpha()
        and inward.isupper()
    )


def _tail_at(text: str, end: int) -> tuple[int, str] | None:
    """The next address part after ``end``: its end offset and its text."""
    window = text[end : end + 80]
    size = match_prefix(tail_regex(), window)
    return None if size <= 0 else (end + size, window[:size])


def _is_unit(part: str) -> bool:
    words = part.replace(",", " ").split()
    return bool(words) and words[0].casefold().rstrip(".") in UNIT_WORDS


def _typed(words: list[str]) -> bool:
    """Whether the candidate has a street type word ("Road", "Via", "…straße")."""
    keys = [token_key(w) for w in words]
    return any(k in STREET_SUFFIXES or k in PREFIX_WORDS for k in keys) or any(
        k.endswith(FUSED_ENDINGS) for k in keys
    )


def _bare_street(words: list[str]) -> int:
    """Whether "<Name> <number>" may be a street: 1 for title-case, uncommon name words,
    -1 when a name word is a common word (then it needs support: a leading number or
    an address cue), 0 when it cannot be one."""
    names = [w for w in words if not w[:1].isdigit()]
    keys = [token_key(w) for w in names]
    if not keys or any(
        len(k) < 3 or not w[1:2].islower() for k, w in zip(keys, names, strict=True)
    ):
        return 0  # "L 73", "PHQ 10": table codes and abbreviations
    if any(k in _STOP_WORDS or k in NOT_NAMES or k in ORG_WORDS for k in keys):
        return 0
    return -1 if any(k in COMMON_WORDS for k in keys) else 1


def _cued(text: str, start: int) -> bool:
    """Whether an address cue stands in the three words before ``start``."""
    return any(w in ADDRESS_CUES for w in previous_words(text, start, 3))


def _bare_ok(text: str, start: int, end: int) -> bool:
    """Support for a bare "<Name> <number>" with nothing after it: a leading house
    number or postcode, an address cue before it, or "street" right after it."""
    if text[start : start + 1].isdigit():
        return True
    if _cued(text, start):
        return True
    return next_word(text, end).rstrip(".") in ("street", "st", "road", "rd")


def _numbered_street(text: str, start: int, words: list[str], cue: bool) -> float:
    """Score of "<number> <name words> <suffix>"; 0 when the words read as prose."""
    number, name, suffix = words[0], words[1:-1], token_key(words[-1])
    if suffix in ("ne", "nw", "se", "sw", "n", "s", "e", "w") and name:
        name, suffix = name[:-1], token_key(words[-2])
    keys = [token_key(w) for w in name]
    if any(k in _STOP_WORDS for k in keys):
        return 0.0  # "3 more items on the way"; _shorten retries before the stop word
    year = len(number) == 4 and number[:2] in ("19", "20")
    before = previous_words(text, start, 1)
    if year and before and before[-1] in ("in", "since", "by", "from", "of", "until"):
        return 0.0
    capitalised = any(w[:1].isupper() or w[:1].isdigit() for w in name)
    if not name or not (capitalised or cue):
        return 0.0
    if suffix in STREET_SUFFIXES or suffix.rstrip(".") in STREET_SUFFIXES:
        return SCORES["street"]
    return SCORES["weak_street"] if capitalised and (cue or not year) else 0.0


def _named_street(words: list[str]) -> float:
    """Score of "<type word> <name> <number>" and "<Name>straße <number>"."""
    keys = [token_key(w) for w in words[1:-1]]
    if any(k in _STOP_WORDS for k in keys if k not in ("de", "la", "le", "du", "des")):
        return 0.0
    numbered = words[-1][:1].isdigit() or words[0][:1].isdigit()
    return SCORES["street"] if numbered else SCORES["weak_street"]


def _good_tail(part: str) -> bool:
    """Whether a following part belongs to the address (not the next sentence)."""
    words = part.replace(",", " ").split()
    if not words:
        return False
    head = words[0].casefold().rstrip(".")
    if head in UNIT_WORDS or head == "#" or words[0][:1].isdigit():
        return True
    if head in ("apo", "fpo", "dpo") or (len(words) <= 2 and words[0].isupper()):
        return True
    names = [token_key(w) for w in words if not w[:1].isdigit() and not w.isupper()]
    if names and (names[0] in NOT_NAMES or all(k in COMMON_WORDS for k in names)):
        return False  # "September 1304", "Thanks": prose, not a town line
    if words[-1].isdigit() or (len(words[-1]) == 2 and words[-1].isupper()):
        return True  # "Springfield, IL 62704", "Springfield IL"
    name = " ".join(token_key(w) for w in words)
    return places().kind(name) is not None or places().kind(token_key(words[0])) is not None
