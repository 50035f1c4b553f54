"""``pii.national_id``: national identity and tax numbers, one row per country scheme.

Validation is python-stdnum's (check digits, embedded birth dates, letter rules), except
the UK National Insurance number, which stdnum lacks and which is checked here against
HMRC's prefix rules. Distinctive checksummed shapes (codice fiscale, DNI/NIE, NIR, HETU,
dotted AHV) stand on their own. A NINO's shape is shared by part numbers and a dashed
personnummer's by date-stamped order numbers, so their base scores sit just under the
default threshold and one context word lifts them over. Bare digit runs that only a
checksum tells apart from any other number (IdNr, BSN, PESEL, CPR, fødselsnummer, SIN,
Aadhaar, Belgian NN) require a context word. Every hit carries ``meta.country`` and
``meta.kind``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType

from stdnum import luhn, verhoeff
from stdnum.be import nn as be_nn
from stdnum.ca import sin as ca_sin
from stdnum.ch import ssn as ch_ahv
from stdnum.de import idnr as de_idnr
from stdnum.dk import cpr as dk_cpr
from stdnum.es import dni as es_dni
from stdnum.es import nie as es_nie
from stdnum.fi import hetu as fi_hetu
from stdnum.fr import nir as fr_nir
from stdnum.in_ import aadhaar as in_aadhaar
from stdnum.iso7064 import mod_11_10
from stdnum.it import codicefiscale as it_cf
from stdnum.nl import bsn as nl_bsn
from stdnum.no import fodselsnummer as no_fnr
from stdnum.pl import pesel as pl_pesel
from stdnum.se import personnummer as se_pnr

from bastion.detect.patterns import Pattern
from bastion.detect.pii.fragments import (
    MAX_CANDIDATE_CHARS,
    compact,
    digits_of,
    is_repetitive,
    meta,
)

Validator = Callable[[str], "Mapping[str, str] | None"]

# HMRC: first letter not D F I Q U V; second not D F I O Q U V; these pairs never issued.
_NINO_BAD_FIRST = frozenset("DFIQUV")
_NINO_BAD_SECOND = frozenset("DFIOQUV")
_NINO_BAD_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
_OMOCODE = "[0-9LMNPQRSTUV]"
_AHV_CONTEXT = ("ahv", "avs", "ahv-nr", "sozialversicherungsnummer", "social security")


def validate_nino(candidate: str) -> Mapping[str, str] | None:
    """Accept a UK National Insurance number (``AB 12 34 56 C``) by HMRC's prefix rules."""
    number = compact(candidate)
    if len(number) != 9 or not number[2:8].isdigit() or number[8] not in "ABCD":
        return None
    first, second = number[0], number[1]
    if first in _NINO_BAD_FIRST or second in _NINO_BAD_SECOND:
        return None
    if number[:2] in _NINO_BAD_PREFIXES:
        return None
    return meta(country="GB", kind="nino")


Precheck = Callable[[str], bool]
"""A cheap necessary condition on a candidate's digits (its check digits, its date), run
before python-stdnum, whose input cleaning alone costs several µs per candidate."""


def _se_check(digits: str) -> bool:
    return len(digits) in (10, 12) and luhn.is_valid(digits[-10:])


def _dk_date(digits: str) -> bool:
    return len(digits) == 10 and 1 <= int(digits[:2]) <= 31 and 1 <= int(digits[2:4]) <= 12


def _no_check(digits: str) -> bool:
    return (
        len(digits) == 11
        and no_fnr.calc_check_digit1(digits) == digits[-2]
        and no_fnr.calc_check_digit2(digits) == digits[-1]
    )


def _pl_check(digits: str) -> bool:
    return len(digits) == 11 and pl_pesel.calc_check_digit(digits[:-1]) == digits[-1]


def _de_check(digits: str) -> bool:
    return len(digits) == 11 and mod_11_10.is_valid(digits)


def _nl_check(digits: str) -> bool:
    return len(digits) <= 9 and nl_bsn.checksum(digits.zfill(9)) == 0


def _ca_check(digits: str) -> bool:
    return len(digits) == 9 and luhn.is_valid(digits)


def _in_check(digits: str) -> bool:
    return len(digits) == 12 and verhoeff.is_valid(digits)


def _be_check(digits: str) -> bool:
    """Mod 97 for a birth in either century (stdnum also asks which one fits today)."""
    if len(digits) != 11:
        return False
    check = int(digits[9:])
    return check in (97 - int(digits[:9]) % 97, 97 - int("2" + digits[:9]) % 97)


def _stdnum(
    module: ModuleType, country: str, kind: str, precheck: Precheck | None = None
) -> Validator:
    """A validator delegating to ``module.is_valid`` (after ``precheck``, when given, on
    the candidate's digits) and tagging country and kind."""

    def validate(candidate: str) -> Mapping[str, str] | None:
        if len(candidate) > MAX_CANDIDATE_CHARS:
            return None
        digits = digits_of(candidate)
        if is_repetitive(digits) or (precheck is not None and not precheck(digits)):
            return None
        if not module.is_valid(candidate):
            return None
        return meta(country=country, kind=kind)

    validate.__doc__ = f"Accept a valid {country} {kind} ({module.__name__})."
    return validate


def validate_es_document(candidate: str) -> Mapping[str, str] | None:
    """Accept a Spanish DNI (``12345678Z``) or NIE (``X1234567L``) by its check letter."""
    number = compact(candidate)
    if number[:1] in ("X", "Y", "Z"):
        return meta(country="ES", kind="nie") if es_nie.is_valid(number) else None
    return meta(country="ES", kind="dni") if es_dni.is_valid(number) else None


@dataclass(frozen=True, slots=True)
class _Scheme:
    """One national numbering scheme: its row id tail, shape and trust."""

    name: str
    regex: str
    validator: Validator
    context: tuple[str, ...]
    score: float = 0.7
    requires_context: bool = False


_SCHEMES: tuple[_Scheme, ...] = (
    _Scheme("gb_nino", r"(?i)\b([A-Z]{2}[ \-]?\d{2}[ \-]?\d{2}[ \-]?\d{2}[ \-]?[A-D])\b",
            validate_nino, ("nino", "national insurance", "ni number", "ni no", "insurance"),
            score=0.45),
    _Scheme("it_codice_fiscale",
            rf"(?i)\b([A-Z]{{6}}{_OMOCODE}{{2}}[ABCDEHLMPRST]{_OMOCODE}{{2}}[A-Z]"
            rf"{_OMOCODE}{{3}}[A-Z])\b",
            _stdnum(it_cf, "IT", "codice_fiscale"),
            ("codice fiscale", "cf", "c.f", "fiscale", "tessera sanitaria"), score=0.85),
    _Scheme("es_dni_nie", r"(?i)\b([XYZ][ \-]?\d{7}[ \-]?[A-Z]|\d{8}[ \-]?[A-Z])\b",
            validate_es_document, ("dni", "nie", "nif", "documento", "identidad"), score=0.6),
    _Scheme("fr_nir",
            r"\b([12][ .]?\d{2}[ .]?\d{2}[ .]?(?:\d{2}|2[ABab])[ .]?\d{3}[ .]?\d{3}[ .]?\d{2})\b",
            _stdnum(fr_nir, "FR", "nir"),
            ("nir", "sécurité sociale", "securite sociale", "insee", "carte vitale", "sécu"),
            score=0.65),
    _Scheme("se_personnummer", r"\b((?:19|20)?\d{6}[\-+]\d{4})\b",
            _stdnum(se_pnr, "SE", "personnummer", _se_check),
            ("personnummer", "personnr", "samordningsnummer"), score=0.45),
    _Scheme("se_personnummer_bare", r"\b((?:19|20)?\d{10})\b",
            _stdnum(se_pnr, "SE", "personnummer", _se_check),
            ("personnummer", "personnr", "samordningsnummer"), score=0.5,
            requires_context=True),
    _Scheme("fi_hetu", r"(?i)\b(\d{6}[\-+A-FU-Y]\d{3}[0-9A-Y])\b",
            _stdnum(fi_hetu, "FI", "hetu"), ("hetu", "henkilötunnus", "personbeteckning")),
    _Scheme("ch_ahv", r"\b(756\.\d{4}\.\d{4}\.\d{2})\b", _stdnum(ch_ahv, "CH", "ahv"),
            _AHV_CONTEXT),
    # undotted, an AHV number is a valid EAN-13 with the Swiss GS1 prefix: product codes
    _Scheme("ch_ahv_bare", r"\b(756[\-]?\d{4}[\-]?\d{4}[\-]?\d{2})\b",
            _stdnum(ch_ahv, "CH", "ahv"), _AHV_CONTEXT, score=0.5, requires_context=True),
    _Scheme("de_idnr", r"\b(\d{2}[ ]?\d{3}[ ]?\d{3}[ ]?\d{3})\b",
            _stdnum(de_idnr, "DE", "idnr", _de_check),
            ("steuer-id", "steuerid", "steueridentifikationsnummer", "idnr",
             "identifikationsnummer", "tax id", "tin"), score=0.5, requires_context=True),
    _Scheme("nl_bsn", r"\b(\d{9}|\d{4}\.\d{2}\.\d{3}|\d{3}[ .]\d{3}[ .]\d{3})\b",
            _stdnum(nl_bsn, "NL", "bsn", _nl_check),
            ("bsn", "burgerservicenummer", "sofinummer", "sofi"), score=0.5,
            requires_context=True),
    _Scheme("pl_pesel", r"\b(\d{11})\b", _stdnum(pl_pesel, "PL", "pesel", _pl_check), ("pesel",),
            score=0.5, requires_context=True),
    _Scheme("dk_cpr", r"\b(\d{6}-?\d{4})\b", _stdnum(dk_cpr, "DK", "cpr", _dk_date),
            ("cpr", "cpr-nr", "cpr-nummer", "personnummer"), score=0.5, requires_context=True),
    _Scheme("no_fodselsnummer", r"\b(\d{6}[ ]?\d{5})\b",
            _stdnum(no_fnr, "NO", "fodselsnummer", _no_check),
            ("fødselsnummer", "fodselsnummer", "personnummer"), score=0.5,
            requires_context=True),
    _Scheme("ca_sin", r"\b(\d{3}[ \-]?\d{3}[ \-]?\d{3})\b", _stdnum(ca_sin, "CA", "sin", _ca_check),
            ("sin", "social insurance", "nas", "numéro d'assurance sociale"), score=0.5,
            requires_context=True),
    _Scheme("in_aadhaar", r"\b([2-9]\d{3}[ \-]?\d{4}[ \-]?\d{4})\b",
            _stdnum(in_aadhaar, "IN", "aadhaar", _in_check), ("aadhaar", "aadhar", "uidai", "uid"),
            score=0.5, requires_context=True),
    _Scheme("be_nn", r"\b(\d{2}[.\-]?\d{2}[.\-]?\d{2}[.\-]?\d{3}[.\-]?\d{2})\b",
            _stdnum(be_nn, "BE", "nn", _be_check),
            ("rijksregisternummer", "national number", "numéro national", "insz", "niss",
             "registre national", "rrn"), score=0.5, requires_context=True),
)  # fmt: skip

NATIONAL_ID_PATTERNS: tuple[Pattern, ...] = tuple(
    Pattern(
        id=f"pii.national_id.{scheme.name}",
        data_class="pii.national_id",
        regex=scheme.regex,
        group=1,
        score=scheme.score,
        validator=scheme.validator,
        context=scheme.context,
        requires_context=scheme.requires_context,
        case_insensitive=scheme.regex.startswith("(?i)"),
    )
    for scheme in _SCHEMES
)
