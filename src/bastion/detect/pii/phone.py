"""``pii.phone`` validators: digit-count and shape checks first, then ``phonenumbers``.

Four candidate shapes, strongest first: international (``+CC`` / ``00CC``), North
American (``(555) 123-4567``), national with a trunk ``0`` or a bracketed area code
(``0494 92 82 32``, ``(08) 8747 6301``), and loose digit groups that count only next to
a phone word. Each validator rejects dates, IPv4 addresses and US SSN shapes before it
spends a ``phonenumbers.parse`` (~15 µs) on a candidate. A national number is accepted
when it is valid in one of ``NATIONAL_REGIONS``; since such numbers are valid in several
countries at once, only international and North American numbers carry ``meta.country``.
"""

from __future__ import annotations

from collections.abc import Mapping

import phonenumbers

from bastion.detect.pii.dates import looks_like_date
from bastion.detect.pii.fragments import MAX_CANDIDATE_CHARS, digit_groups, meta

NATIONAL_REGIONS = (
    "DE", "FR", "GB", "IT", "AU", "NL", "IN", "BR", "ES", "BE", "CH", "AT", "SE", "RU",
)  # fmt: skip
"""Regions tried, in order (most permissive numbering plans first, so a valid number
usually stops the search early), for a number written in national format."""

_TRUNK_PREFIX = {"RU": "8", "ES": ""}
"""National trunk prefixes other than ``0`` among ``NATIONAL_REGIONS`` (Spain has none;
Italy keeps its leading zero, see ``_valid_in``)."""

_EXTENSION_MARKS = ("ext.", "ext", "x", "#")


def _split_extension(candidate: str) -> tuple[str, str]:
    """``('+1-903-140-4508', '769')`` for ``+1-903-140-4508x769``."""
    lowered = candidate.lower()
    for mark in _EXTENSION_MARKS:
        at = lowered.rfind(mark)
        if at > 0:
            return candidate[:at].rstrip(), candidate[at + len(mark) :].strip()
    return candidate, ""


def _not_a_phone_shape(number: str) -> bool:
    """Dates (also followed by a time), dotted quads, ``123-45-6789`` (an SSN) and
    ``01202-1308`` (ZIP+4, Brazilian CEP) are never phone numbers."""
    groups = digit_groups(number)
    lengths = [len(g) for g in groups]
    if len(groups) >= 3 and looks_like_date(_first_groups(number, 3)):
        return True
    if len(groups) == 4 and "." in number and max(lengths) <= 3:
        return True
    if lengths == [5, 3] or (lengths == [5, 4] and "-" in number):
        return True
    return lengths == [3, 2, 4] and "(" not in number


def _first_groups(number: str, count: int) -> str:
    """The prefix of ``number`` holding its first ``count`` digit groups."""
    seen = 0
    for at, ch in enumerate(number):
        if ch.isdigit() and (at + 1 == len(number) or not number[at + 1].isdigit()):
            seen += 1
            if seen == count:
                return number[: at + 1]
    return number


def _parse(number: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None


def _is_fully_possible(parsed: phonenumbers.PhoneNumber) -> bool:
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    return bool(reason == phonenumbers.ValidationResult.IS_POSSIBLE)


def _country(parsed: phonenumbers.PhoneNumber) -> str | None:
    """The region of a parsed number: the only one of its country code, or the one whose
    plan the number fits (``+1 416`` → CA), else the code's main region."""
    code = parsed.country_code or 0
    regions = phonenumbers.region_codes_for_country_code(code)
    if len(regions) == 1:
        region: str | None = regions[0]
    else:
        region = phonenumbers.region_code_for_number(parsed)
        if region is None or region == phonenumbers.UNKNOWN_REGION:
            region = phonenumbers.region_code_for_country_code(code)
    return None if region in (None, phonenumbers.UNKNOWN_REGION, "001") else region


def validate_international_phone(candidate: str) -> Mapping[str, str] | None:
    """Accept ``+CC ...`` / ``00CC ...`` when ``phonenumbers`` finds it a possible full
    number for that country; ``meta.country`` is the region it belongs to."""
    if len(candidate) > MAX_CANDIDATE_CHARS:
        return None
    number, _ = _split_extension(candidate)
    if number.startswith("(+"):  # (+358) 40 123 4567
        number = "+" + number[2:].replace(")", " ", 1)
    if number.startswith("00"):
        if number.isdigit():  # a bare 00-prefixed digit run is a code, not a dialled number
            return None
        number = "+" + number[2:]
    digit_count = sum(ch.isdigit() for ch in number)
    if not 8 <= digit_count <= 15:
        return None
    parsed = _parse(number, None)
    if parsed is None or not _is_fully_possible(parsed):
        return None
    country = _country(parsed)
    return meta(country=country) if country else meta()


def validate_nanp_phone(candidate: str) -> Mapping[str, str] | None:
    """Accept a North American number (area code starting with 2-9; the exchange code is
    not checked, as made-up and test numbers break that rule and are still phones);
    ``meta.country`` when the numbering plan knows the area code (US, CA, ...)."""
    if len(candidate) > MAX_CANDIDATE_CHARS:
        return None
    number, _ = _split_extension(candidate)
    digits = "".join(digit_groups(number))
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    if len(digits) != 10 or digits[0] in "01":
        return None
    if digits[1:3] == "11" or _not_a_phone_shape(number):  # N11 codes are services
        return None
    parsed = phonenumbers.PhoneNumber(country_code=1, national_number=int(digits))
    country = phonenumbers.region_code_for_number(parsed)  # None unless valid somewhere
    return meta(country=country) if country else meta()


def _is_nanp_shaped(digits: str) -> bool:
    return len(digits) == 10 and digits[0] not in "01"


def _valid_in(digits: str, region: str) -> bool:
    """Whether national-format ``digits`` form a valid number of ``region``.

    Builds the number directly (trunk prefix dropped; Italy keeps its leading zero)
    instead of calling ``phonenumbers.parse`` per region, which costs several times more.
    """
    trunk = _TRUNK_PREFIX.get(region, "0")
    if region == "IT":
        number = phonenumbers.PhoneNumber(
            country_code=39, national_number=int(digits), italian_leading_zero=digits[0] == "0"
        )
    else:
        significant = digits[len(trunk) :] if digits.startswith(trunk) else digits
        if not significant or significant[0] == "0":
            return False
        country_code = phonenumbers.country_code_for_region(region)
        number = phonenumbers.PhoneNumber(
            country_code=country_code, national_number=int(significant)
        )
    if not phonenumbers.is_possible_number(number):
        return False
    return bool(phonenumbers.is_valid_number_for_region(number, region))


def validate_national_phone(candidate: str) -> Mapping[str, str] | None:
    """Accept a trunk-``0`` or bracketed-area national number valid in one of
    ``NATIONAL_REGIONS``; North American shapes are left to their own row."""
    if len(candidate) > MAX_CANDIDATE_CHARS or _not_a_phone_shape(candidate):
        return None
    groups = digit_groups(candidate)
    digits = "".join(groups)
    if not 7 <= len(digits) <= 12 or len(groups) > 6 or digits.startswith("00"):
        return None
    if candidate.startswith("(") and _is_nanp_shaped(digits) and len(groups[0]) == 3:
        return None
    if any(_valid_in(digits, region) for region in NATIONAL_REGIONS):
        return meta()
    if candidate.startswith("(") and not candidate.startswith("(0"):
        # ``(351) 912 345 678``: a country code written in brackets without the plus
        parsed = _parse("+" + digits, None)
        if parsed is not None and phonenumbers.is_valid_number(parsed):
            country = _country(parsed)
            return meta(country=country) if country else meta()
    return None


def validate_loose_phone(candidate: str) -> Mapping[str, str] | None:
    """Accept 7-12 digits in at most five groups of two or more (``467 3395``,
    ``60-56-85-91``, ``5403926876``); the row requires a phone word nearby."""
    if len(candidate) > MAX_CANDIDATE_CHARS or _not_a_phone_shape(candidate):
        return None
    groups = digit_groups(candidate)
    digits = "".join(groups)
    if not 7 <= len(digits) <= 12 or len(groups) > 5 or min(len(g) for g in groups) < 2:
        return None
    if len(set(digits)) <= 2:  # 0000000, 1212121: fillers, not numbers
        return None
    return meta()
