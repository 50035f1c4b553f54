"""``pii.phone`` validators: digit-count and shape checks first, then ``phonenumbers``.

Four candidate shapes, strongest first: international (``+CC`` / ``00CC``), North
American (``(555) 123-4567``), national with a trunk ``0`` or a bracketed area code
(``0494 92 82 32``, ``(08) 8747 6301``), and loose digit groups that count only next to
a phone word. Each validator rejects dates, IPv4 addresses and US SSN shapes by their
digit groups before it consults the numbering plans, which ``numbering.py`` compiles
from phonenumbers' metadata (the same answers as ``phonenumbers.parse`` and its region
lookups, at a fraction of their cost). A national number is accepted when it is valid in
one of ``NATIONAL_REGIONS``; since such numbers are valid in several countries at once,
only international and North American numbers carry ``meta.country``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import phonenumbers

from bastion.detect.pii.dates import looks_like_date
from bastion.detect.pii.fragments import DASHES, MAX_CANDIDATE_CHARS, digit_groups, meta
from bastion.detect.pii.numbering import (
    NON_GEOGRAPHIC,
    CallingCodePlan,
    Length,
    calling_code_plan,
    split_calling_code,
    valid_anywhere,
)

NATIONAL_REGIONS = (
    "DE", "FR", "GB", "IT", "AU", "NL", "IN", "BR", "ES", "BE", "CH", "AT", "SE", "RU",
)  # fmt: skip
"""Regions tried, in order (most permissive numbering plans first, so a valid number
usually stops the search early), for a number written in national format."""

_TRUNK_PREFIX = {"RU": "8", "ES": ""}
"""National trunk prefixes other than ``0`` among ``NATIONAL_REGIONS`` (Spain has none;
Italy keeps its leading zero)."""

_EXTENSION_MARKS = ("ext.", "ext", "x", "#")
_ASCII_SEPARATORS = b"-./() \t"
_ASCII_PHONE_CHARS = b"0123456789" + _ASCII_SEPARATORS
_PHONE_CHARS = _ASCII_PHONE_CHARS.decode() + "\u00a0\u2007\u2009\u202f" + DASHES
"""What an international number may consist of: digits, the rows' separators and blanks."""
_DROP_PHONE_CHARS = str.maketrans(dict.fromkeys(_PHONE_CHARS))


def _split_extension(candidate: str) -> tuple[str, str]:
    """``('+1-903-140-4508', '769')`` for ``+1-903-140-4508x769``."""
    if "#" not in candidate and "x" not in candidate and "X" not in candidate:
        return candidate, ""  # every mark has an x or is #: the common case, at C speed
    lowered = candidate.lower()
    for mark in _EXTENSION_MARKS:
        at = lowered.rfind(mark)
        if at > 0:
            return candidate[:at].rstrip(), candidate[at + len(mark) :].strip()
    return candidate, ""


def _not_a_phone_shape(number: str, groups: list[str]) -> bool:
    """Dates (also followed by a time), dotted quads, ``123-45-6789`` (an SSN) and
    ``01202-1308`` (ZIP+4, Brazilian CEP) are never phone numbers."""
    lengths = [len(g) for g in groups]
    if len(groups) >= 3 and _date_shaped(*lengths[:3]):
        prefix = _first_groups(number, groups, 3)
        # a date has one kind of dash, dot or slash between its groups: not a blank
        if " " not in prefix and "(" not in prefix and looks_like_date(prefix):
            return True
    if len(groups) == 4 and "." in number and max(lengths) <= 3:
        return True
    if lengths == [5, 3] or (lengths == [5, 4] and "-" in number):
        return True
    return lengths == [3, 2, 4] and "(" not in number


def _date_shaped(first: int, second: int, third: int) -> bool:
    """Whether three digit groups have the lengths of a date (``2023-10-05``,
    ``05.10.23``); the lengths ``looks_like_date`` needs before it reads the values."""
    if first == 4:
        return second <= 2 and third <= 2
    return first <= 2 and second <= 2 and third in (2, 4)


def _first_groups(number: str, groups: list[str], count: int) -> str:
    """The prefix of ``number`` holding its first ``count`` digit ``groups`` (each group
    is the next run of digits, so ``find`` lands on it)."""
    end = 0
    for group in groups[:count]:
        end = number.find(group, end) + len(group)
    return number[:end]


def _country(plan: CallingCodePlan, national: str) -> str | None:
    """The region of a number: the only one of its calling code, or the one whose plan
    the number fits (``+1 416`` → CA), else the code's main region."""
    region = plan.region_for(national) or plan.regions[0]
    return None if region in (phonenumbers.UNKNOWN_REGION, NON_GEOGRAPHIC) else region


def _with_country(plan: CallingCodePlan, national: str) -> Mapping[str, str]:
    country = _country(plan, national)
    return meta(country=country) if country else meta()


def _international_digits(candidate: str) -> str | None:
    """The digits after the ``+`` (or ``00``) of an international candidate, extension
    dropped; None when it holds anything but digits and separators."""
    number, _ = _split_extension(candidate)
    if number.startswith("(+"):  # (+358) 40 123 4567
        number = "+" + number[2:].replace(")", " ", 1)
    if number.startswith("00"):
        if number.isdigit():  # a bare 00-prefixed digit run is a code, not a dialled number
            return None
        number = "+" + number[2:]
    if not number.startswith("+"):
        return None
    if number.isascii():  # the common case: byte-table passes only
        rest = number[1:].encode()
        if rest.translate(None, _ASCII_PHONE_CHARS):
            return None
        return rest.translate(None, _ASCII_SEPARATORS).decode()
    if number[1:].translate(_DROP_PHONE_CHARS):
        return None
    return "".join(digit_groups(number))


def validate_international_phone(candidate: str) -> Mapping[str, str] | None:
    """Accept ``+CC ...`` / ``00CC ...`` when its national number has a possible length
    for that calling code (trunk ``(0)`` dropped, as ``phonenumbers.parse`` does);
    ``meta.country`` is the region it belongs to."""
    if len(candidate) > MAX_CANDIDATE_CHARS:
        return None
    digits = _international_digits(candidate)
    if digits is None or not 8 <= len(digits) <= 15:
        return None
    split = split_calling_code(digits)
    if split is None:
        return None
    plan, national = split
    if plan.main.length_fit(national) is not Length.POSSIBLE:
        return None
    return _with_country(plan, national)


def validate_nanp_phone(candidate: str) -> Mapping[str, str] | None:
    """Accept a North American number (area code starting with 2-9; the exchange code is
    not checked, as made-up and test numbers break that rule and are still phones);
    ``meta.country`` when the numbering plan knows the area code (US, CA, ...)."""
    if len(candidate) > MAX_CANDIDATE_CHARS:
        return None
    number, _ = _split_extension(candidate)
    groups = digit_groups(number)
    digits = "".join(groups)
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    if len(digits) != 10 or digits[0] in "01":
        return None
    if digits[1:3] == "11" or _not_a_phone_shape(number, groups):  # N11 codes are services
        return None
    plan = calling_code_plan(1)
    country = plan.region_for(digits) if plan is not None else None  # None unless valid
    return meta(country=country) if country else meta()


def _is_nanp_shaped(digits: str) -> bool:
    return len(digits) == 10 and digits[0] not in "01"


@functools.cache
def _national_regions() -> tuple[tuple[str, tuple[tuple[str, int], ...]], ...]:
    """``NATIONAL_REGIONS`` with their calling codes, grouped by how a national number
    drops its trunk prefix (``"IT"``: it keeps it), so each reading is checked once.
    All are their calling code's main region, whose possible lengths every valid number
    has (so ``is_possible_number`` adds nothing to validity here)."""
    groups: dict[str, list[tuple[str, int]]] = {}
    for region in NATIONAL_REGIONS:
        code = phonenumbers.country_code_for_region(region)
        trunk = "IT" if region == "IT" else _TRUNK_PREFIX.get(region, "0")
        groups.setdefault(trunk, []).append((region, code))
    return tuple((trunk, tuple(regions)) for trunk, regions in groups.items())


def _valid_nationally(digits: str) -> bool:
    """Whether national-format ``digits`` form a valid number of one of
    ``NATIONAL_REGIONS``: trunk prefix dropped (Italy keeps its leading zero), then some
    number type of the region fits."""
    for trunk, regions in _national_regions():
        if trunk == "IT":
            national = digits
        else:
            national = digits[len(trunk) :] if digits.startswith(trunk) else digits
            if not national or national[0] == "0":
                continue
        if valid_anywhere(regions, national):
            return True
    return False


def _bracketed_country_code(digits: str) -> Mapping[str, str] | None:
    """``(351) 912 345 678``: a country code written in brackets without the plus."""
    split = split_calling_code(digits)
    if split is None:
        return None
    plan, national = split
    region = plan.region_for(national)
    if region is None or not valid_anywhere(((region, plan.code),), national):
        return None
    return _with_country(plan, national)


def validate_national_phone(candidate: str) -> Mapping[str, str] | None:
    """Accept a trunk-``0`` or bracketed-area national number valid in one of
    ``NATIONAL_REGIONS``; North American shapes are left to their own row."""
    if len(candidate) > MAX_CANDIDATE_CHARS:
        return None
    groups = digit_groups(candidate)
    digits = "".join(groups)
    if not 7 <= len(digits) <= 12 or len(groups) > 6 or digits.startswith("00"):
        return None
    if _not_a_phone_shape(candidate, groups):
        return None
    if candidate.startswith("(") and _is_nanp_shaped(digits) and len(groups[0]) == 3:
        return None
    if _valid_nationally(digits):
        return meta()
    if candidate.startswith("(") and not candidate.startswith("(0"):
        return _bracketed_country_code(digits)
    return None


def validate_loose_phone(candidate: str) -> Mapping[str, str] | None:
    """Accept 7-12 digits in at most five groups of two or more (``467 3395``,
    ``60-56-85-91``, ``5403926876``); the row requires a phone word nearby."""
    if len(candidate) > MAX_CANDIDATE_CHARS:
        return None
    groups = digit_groups(candidate)
    if _not_a_phone_shape(candidate, groups):
        return None
    digits = "".join(groups)
    if not 7 <= len(digits) <= 12 or len(groups) > 5 or min(len(g) for g in groups) < 2:
        return None
    if len(set(digits)) <= 2:  # 0000000, 1212121: fillers, not numbers
        return None
    return meta()
