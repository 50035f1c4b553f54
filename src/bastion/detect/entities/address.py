"""``pii.street_address``: street lines, P.O. boxes, military and UK postcode addresses.

Shapes (one RE2 program, linear):
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

from functools import cache
from typing import Any

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
from bastion.detect.entities.runs import compile_re2, match_prefix, spans, token_key
from bastion.detect.entities.words import next_word, previous_words
from bastion.detect.patterns import Hit

DATA_CLASS = "pii.street_address"
_WORD = r"[\p{L}\p{N}'\x{2019}.-]+"
_CAPWORD = r"\p{Lu}[\p{L}\p{M}'\x{2019}.-]*"
_NUMBER = r"\d{1,6}[A-Za-z]?(?:[-/]\d{1,4}[A-Za-z]?)?"
_SUFFIXES = "|".join(sorted(STREET_SUFFIXES | WEAK_STREET_SUFFIXES))
_FUSED = (
    "straße|strasse|str\\.|weg|gasse|allee|platz|ring|damm|ufer|vej|gade|gatan|vägen|"
    "veien|katu|tie|kuja|straat|laan|gracht|plein|utca|út|tér"
)
_PREFIXED = (
    "rue|avenue|boulevard|bd|place|chemin|allée|impasse|quai|route|via|viale|piazza|"
    "piazzale|corso|largo|vicolo|strada|calle|avenida|av\\.|plaza|paseo|carrer|camino|rua|"
    "travessa|praça|estrada|alameda|rúa|ul\\.|ulica|al\\.|aleja|plac|ulice|náměstí|třída"
)
_LINKS = r"(?:(?:de|del|della|di|da|do|dos|das|la|le|les|du|des)[ \t]+|[dl]['\x{2019}])*"
_UK_POSTCODE = r"(?:[A-Z]{1,2}\d[A-Z\d]?|GIR)[ \t]?\d[A-Z]{2}"
_UK_POSTCODE_SPACED = r"(?:[A-Z]{1,2}\d[A-Z\d]?|GIR)[ \t]\d[A-Z]{2}"  # alone: "SW1A 1AA"
_DIRECTION = r"(?:[ \t]+(?:North|South|East|West|[NS][EW]?|[EW])\b\.?)?"
_STREET_PATTERN = "|".join(
    (  # leftmost-first: at one position the earlier shape wins
        # boxes: "P.O. Box 123", "PSC 1437, Box 3833", "USNS Comfort\nFPO AE 09512"
        r"\b(?i:p\.?[ \t]?o\.?[ \t]*box|post[ \t]+office[ \t]+box|postfach|apartado|"
        r"caixa[ \t]+postal)[ \t]*#?[ \t]*\d{1,6}\b",
        r"\b(?:PSC|CMR|Unit)[ \t]+\d{1,5},?[ \t]+Box[ \t]+\d{1,5}\b",
        rf"\b(?:USNS|USS)[ \t]+{_CAPWORD}(?:[ \t]+{_CAPWORD})?[ \t,]*\n?[ \t]*FPO[ \t]+A[AEP]"
        r"[ \t]+\d{5}\b",
        # number first, French: "12 rue de la Paix", "8 bis, avenue Foch"
        rf"\b(?:\d{{1,6}}[ \t]+)?\d{{1,4}}(?:[ \t]?(?:bis|ter))?,?[ \t]+(?i:{_PREFIXED})[ \t]+"
        rf"{_LINKS}{_CAPWORD}(?:[ \t]+{_LINKS}{_CAPWORD}){{0,3}}",
        # number first, US/UK: "221B Baker Street", "1600 Pennsylvania Ave NW"
        rf"\b{_NUMBER},?[ \t]+(?:{_WORD}[ \t]+){{0,4}}(?i:{_SUFFIXES})\b\.?{_DIRECTION}",
        # type word first, number after: "Via Roma 5", "ul. Jesionowa 127"
        rf"\b(?i:{_PREFIXED})[ \t]+{_LINKS}{_CAPWORD}(?:[ \t]+{_LINKS}{_CAPWORD}){{0,3}}"
        rf",?[ \t]+\d{{1,5}}[A-Za-z]?\b",
        # fused type word, number after: "Hauptstraße 5", "Brucker Bundesstrasse 31"
        rf"\b(?:\d{{1,6}}[ \t]+)?(?:{_CAPWORD}[ \t]+)?(?:\p{{Lu}}[\p{{L}}\p{{M}}-]*(?i:{_FUSED})"
        rf"|{_CAPWORD}[ \t]+(?i:{_FUSED}))[ \t]+\d{{1,4}}[A-Za-z]?\b",
        # name then number, no type word: "Storgata 5", "87818 Dalmatinova 68" (needs
        # support: a leading number, a cue, a unit or town after it; see _bare_street)
        rf"\b(?:\d{{3,6}}[ \t]+)?{_CAPWORD}(?:[ \t]+{_LINKS}{_CAPWORD}){{0,3}}[ \t]+"
        r"\d{1,5}[A-Za-z]?\b",
        rf"\b{_UK_POSTCODE_SPACED}\b",
    )
)
# what may follow a street line: unit, "City, ST 12345", "10115 Berlin", APO, a country
_TAIL_PATTERN = (
    r"\.?(?:[ \t]*[,\n][ \t]*|[ \t]+)"
    r"(?:(?i:apt|apartment|suite|ste|unit|fl|floor|flat|room|rm|#)\.?[ \t]*#?[\p{L}\p{N}-]{1,6}"
    r"|(?:APO|FPO|DPO)[ \t]+A[AEP][ \t]+\d{5}"
    rf"|\d{{4,5}}(?:-\d{{4}})?(?:[ \t]+{_CAPWORD}(?:[ \t]+{_CAPWORD}){{0,2}})?"
    rf"|{_UK_POSTCODE}\b"
    rf"|{_CAPWORD}(?:,?[ \t]+(?:{_UK_POSTCODE}\b|[A-Z]{{2}}(?:[ \t]+\d{{5}}(?:-\d{{4}})?)?\b"
    rf"|\d{{5}}(?:-\d{{4}})?\b|{_CAPWORD})){{0,3}})"
)
_MAX_TAIL = 5
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


_FUSED_ENDINGS = tuple(w.replace("\\", "") for w in _FUSED.split("|"))
_PREFIX_WORDS = frozenset(w.replace("\\", "") for w in _PREFIXED.split("|"))
_MAX_MEM = 64 << 20  # case-insensitive Unicode street words outgrow RE2's default 8 MiB


@cache
def _street_regex() -> Any:
    return compile_re2(_STREET_PATTERN, _MAX_MEM)


@cache
def _tail_regex() -> Any:
    return compile_re2(_TAIL_PATTERN, _MAX_MEM)


class AddressTagger:
    """Finds street addresses in one text; see the module docstring for the shapes."""

    name = "entities.address"

    def tag(self, text: str, data: bytes) -> list[Hit]:
        """Address hits, each grown over the unit, town and postcode lines after it."""
        hits: list[Hit] = []
        covered = 0
        for start, end in spans(_street_regex(), text, data):
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
            hits.append(Hit(DATA_CLASS, start, end, round(score, 3), self.name, text[start:end]))
        return hits

    def _score(self, text: str, start: int, end: int) -> float:
        candidate = text[start:end]
        words = candidate.replace(",", " ").split()
        head = words[0].casefold()
        cue = any(w in ADDRESS_CUES for w in previous_words(text, start, 3))
        bonus = SCORES["cue"] if cue else 0.0
        boxed = "box" in candidate.casefold() or "fpo" in candidate.casefold()
        if head in ("psc", "cmr", "unit", "usns", "uss", "postfach") or boxed:
            return SCORES["box"] + bonus
        if _uk_postcode(words):
            return SCORES["postcode"] + bonus
        if len(words) < 2:
            return 0.0
        if words[-1][:1].isdigit() and not _typed(words):
            return _bare_street(words, head[:1].isdigit() or cue)
        if not head[:1].isdigit() or words[1].casefold() in _PREFIX_WORDS:
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
    size = match_prefix(_tail_regex(), window)
    return None if size <= 0 else (end + size, window[:size])


def _is_unit(part: str) -> bool:
    words = part.replace(",", " ").split()
    return bool(words) and words[0].casefold().rstrip(".") in UNIT_WORDS


def _typed(words: list[str]) -> bool:
    """Whether the candidate has a street type word ("Road", "Via", "…straße")."""
    keys = [token_key(w) for w in words]
    return any(k in STREET_SUFFIXES or k in _PREFIX_WORDS for k in keys) or any(
        k.endswith(_FUSED_ENDINGS) for k in keys
    )


def _bare_street(words: list[str], supported: bool) -> float:
    """Score of "<Name> <number>": plausible only for title-case, uncommon name words."""
    names = [w for w in words if not w[:1].isdigit()]
    keys = [token_key(w) for w in names]
    if not keys or any(
        len(k) < 3 or not w[1:2].islower() for k, w in zip(keys, names, strict=True)
    ):
        return 0.0  # "L 73", "PHQ 10": table codes and abbreviations
    if any(k in _STOP_WORDS or k in NOT_NAMES or k in ORG_WORDS for k in keys):
        return 0.0
    if any(k in COMMON_WORDS for k in keys) and not supported:
        return 0.0
    return SCORES["bare_street"]


def _bare_ok(text: str, start: int, end: int) -> bool:
    """Support for a bare "<Name> <number>" with nothing after it: a leading house
    number or postcode, an address cue before it, or "street" right after it."""
    if text[start : start + 1].isdigit():
        return True
    if any(w in ADDRESS_CUES for w in previous_words(text, start, 3)):
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
