"""``pii.date_of_birth``: a calendar date right after words that say it is a birth date.

A date alone is not personal data (contracts, logs and news are full of them), so every
row requires a birth context word ("born", "DOB", "geboren", "né le", ...) within a short
window before it. Validators accept only a real calendar date in a plausible birth range.
``looks_like_date`` is also used by the number families to turn dates away.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from bastion.detect.patterns import Pattern
from bastion.detect.pii.fragments import DASH, DASHES, MAX_CANDIDATE_CHARS, digit_groups, meta

EARLIEST_BIRTH_YEAR = 1900
_DATE_SEPARATORS = frozenset("-/." + DASHES)

MONTHS: Mapping[str, int] = {
    # English
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4,
    "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11,
    "nov": 11, "december": 12, "dec": 12,
    # German
    "januar": 1, "jänner": 1, "februar": 2, "märz": 3, "maerz": 3, "mai": 5, "juni": 6,
    "juli": 7, "oktober": 10, "okt": 10, "dezember": 12, "dez": 12,
    # French
    "janvier": 1, "février": 2, "fevrier": 2, "mars": 3, "avril": 4, "juin": 6,
    "juillet": 7, "août": 8, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11,
    "décembre": 12, "decembre": 12,
    # Spanish, Italian, Portuguese, Dutch
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7,
    "agosto": 8, "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11,
    "diciembre": 12, "gennaio": 1, "febbraio": 2, "aprile": 4, "maggio": 5, "giugno": 6,
    "luglio": 7, "settembre": 9, "ottobre": 10, "dicembre": 12, "janeiro": 1,
    "fevereiro": 2, "março": 3, "maio": 5, "junho": 6, "julho": 7, "setembro": 9,
    "outubro": 10, "novembro": 11, "dezembro": 12, "januari": 1, "februari": 2, "maart": 3,
    "mei": 5, "augustus": 8,
}  # fmt: skip

_MONTH_ALT = "|".join(sorted(MONTHS, key=len, reverse=True))
_ORDINAL = r"(?:st|nd|rd|th|er|\.)?"
_MARK = rf"(?:{DASH}|[/.])"
_NUMERIC = (
    rf"\d{{4}}{_MARK}\d{{1,2}}{_MARK}\d{{1,2}}|\d{{1,2}}{_MARK}\d{{1,2}}{_MARK}(?:\d{{4}}|\d{{2}})"
)
_DAY_MONTH_YEAR = (
    rf"\d{{1,2}}{_ORDINAL}(?:\s+of|\s+de)?\s+(?:{_MONTH_ALT})\.?(?:\s+de)?,?\s+\d{{4}}"
)
_MONTH_DAY_YEAR = rf"(?:{_MONTH_ALT})\.?\s+\d{{1,2}}{_ORDINAL},?\s+\d{{4}}"

BIRTH_CONTEXT = (
    "born", "birth", "birthday", "birthdate", "dob", "d.o.b", "date of birth",
    "né", "née", "né le", "naissance", "date de naissance", "geboren", "geb",
    "geburtsdatum", "geburtstag", "nacido", "nacida", "nacimiento",
    "fecha de nacimiento", "nato", "nata", "nascita", "data di nascita", "nascimento",
    "data de nascimento", "geboortedatum", "födelsedatum", "født", "urodzony",
    "urodzona", "data urodzenia",
)  # fmt: skip


def _year(text: str) -> int:
    value = int(text)
    if len(text) == 2:  # a two-digit year of birth: 00-29 read as 20xx, the rest 19xx
        return 2000 + value if value < 30 else 1900 + value
    return value


def _real_date(year: int, month: int, day: int) -> datetime.date | None:
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


def looks_like_date(candidate: str) -> bool:
    """True when a numeric candidate reads as a calendar date (``2023-01-15``,
    ``15.01.2023``, ``01/15/23``: one kind of dash, dot or slash) in any common order,
    so number families can drop it."""
    groups = digit_groups(candidate)
    if len(groups) != 3:
        return False
    separators = {ch for ch in set(candidate) if not ch.isdigit()}
    if len(separators) != 1 or not separators <= _DATE_SEPARATORS:
        return False
    a, b, c = groups
    if len(a) == 4 and len(b) <= 2 and len(c) <= 2:
        return _real_date(int(a), int(b), int(c)) is not None
    if len(a) <= 2 and len(b) <= 2 and len(c) in (2, 4):
        year = _year(c)
        return (
            _real_date(year, int(b), int(a)) is not None
            or _real_date(year, int(a), int(b)) is not None
        )
    return False


def _plausible_birth(date: datetime.date | None) -> bool:
    return date is not None and date.year >= EARLIEST_BIRTH_YEAR and date <= datetime.date.today()


def validate_numeric_birth_date(candidate: str) -> Mapping[str, str] | None:
    """Accept ``YYYY-MM-DD`` or ``DD/MM/YYYY`` / ``MM/DD/YYYY`` (one separator kind) when
    some reading is a real date between 1900 and today."""
    groups = digit_groups(candidate)
    if len(candidate) > MAX_CANDIDATE_CHARS or len(groups) != 3:
        return None
    separators = {ch for ch in set(candidate) if not ch.isdigit()}
    if len(separators) != 1:
        return None
    a, b, c = groups
    if len(a) == 4:
        readings = [_real_date(int(a), int(b), int(c))]
    else:
        year = _year(c)
        readings = [_real_date(year, int(b), int(a)), _real_date(year, int(a), int(b))]
    return meta() if any(_plausible_birth(d) for d in readings) else None


def validate_written_birth_date(candidate: str) -> Mapping[str, str] | None:
    """Accept ``12 April 1990`` / ``April 12th, 1990`` / ``12. März 1990`` when the month
    name is known and the date is real and between 1900 and today."""
    if len(candidate) > MAX_CANDIDATE_CHARS:
        return None
    words = candidate.lower().replace(",", " ").replace(".", " ").split()
    month = next((MONTHS[w] for w in words if w in MONTHS), None)
    numbers = digit_groups(candidate)
    if month is None or len(numbers) != 2:
        return None
    day, year = (int(n) for n in sorted(numbers, key=len))
    return meta() if _plausible_birth(_real_date(year, month, day)) else None


DATE_OF_BIRTH_PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        id="pii.date_of_birth.numeric",
        data_class="pii.date_of_birth",
        regex=rf"\b({_NUMERIC})\b",
        group=1,
        score=0.7,
        validator=validate_numeric_birth_date,
        context=BIRTH_CONTEXT,
        context_window=40,
        requires_context=True,
    ),
    Pattern(
        id="pii.date_of_birth.written",
        data_class="pii.date_of_birth",
        regex=rf"(?i)\b({_DAY_MONTH_YEAR}|{_MONTH_DAY_YEAR})\b",
        group=1,
        score=0.7,
        validator=validate_written_birth_date,
        context=BIRTH_CONTEXT,
        context_window=40,
        requires_context=True,
        case_insensitive=True,
    ),
)
