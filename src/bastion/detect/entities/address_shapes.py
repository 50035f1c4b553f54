"""The RE2 shapes of street addresses, as two scanners plus the tail that grows a match.

* *typed* shapes hold a street-type or box word, so the tagger runs them only when the
  probe saw one: boxes ("P.O. Box 123", "PSC 1437, Box 3833"), number first ("221B Baker
  Street", "12 rue de la Paix"), type word first ("Via Roma 5", "ul. Jesionowa 127");
* *bare* shapes hold none: capitalised words then a number ("Storgata 5", "Hauptstraße
  5", "Brucker Bundes Str. 31"; Python tells fused type words from bare names), and a
  full UK postcode ("SW1A 1AA").

They are two programs, not one, on purpose: RE2's DFA for the union of all shapes has
so many states that never-seen text keeps building new ones (about 5x the cost of a
warm scan), while each half stays small enough to be complete after warm-up.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from bastion.detect.entities.lexicon import STREET_SUFFIXES, WEAK_STREET_SUFFIXES
from bastion.detect.entities.scanning import compile_re2

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
_BOX_WORDS = ("p", "po", "box", "postfach", "apartado", "caixa", "psc", "cmr", "usns", "uss")
_TYPED_SHAPES = (  # leftmost-first: at one position the earlier shape wins
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
)
_BARE_SHAPES = (
    # name then number: "Storgata 5", "87818 Dalmatinova 68", "Hauptstraße 5", "Haupt
    # Str. 5" (a bare name needs support: a leading number, a cue, a unit or town after
    # it; see address._bare_street)
    rf"\b(?:\d{{3,6}}[ \t]+)?{_CAPWORD}(?:[ \t]+{_LINKS}{_CAPWORD}){{0,3}}"
    rf"(?:[ \t]+(?i:{_FUSED}))?[ \t]+\d{{1,5}}[A-Za-z]?\b",
    rf"\b{_UK_POSTCODE_SPACED}\b",
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
_MAX_MEM = 64 << 20  # case-insensitive Unicode street words outgrow RE2's default 8 MiB

FUSED_ENDINGS = tuple(w.replace("\\", "") for w in _FUSED.split("|"))
PREFIX_WORDS = frozenset(w.replace("\\", "") for w in _PREFIXED.split("|"))
TYPE_WORDS = frozenset(
    word.rstrip(".")
    for word in (*STREET_SUFFIXES, *WEAK_STREET_SUFFIXES, *PREFIX_WORDS, *_BOX_WORDS)
)
"""Lower-case words one of which every typed shape holds (the probe looks for them)."""


@cache
def typed_regex() -> Any:
    """Shapes with a street-type or box word."""
    return compile_re2("|".join(_TYPED_SHAPES), _MAX_MEM)


@cache
def bare_regex() -> Any:
    """Capitalised words before a number, and UK postcodes."""
    return compile_re2("|".join(_BARE_SHAPES), _MAX_MEM)


@cache
def tail_regex() -> Any:
    """One part that may follow a street line (matched anchored, after the line)."""
    return compile_re2(_TAIL_PATTERN, _MAX_MEM)
