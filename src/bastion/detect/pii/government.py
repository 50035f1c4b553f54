"""``pii.us_ssn``, ``pii.passport`` and ``pii.us_driver_license``: US and travel documents.

An SSN in its usual ``123-45-6789`` form stands on its own (the SSA's area, group and
serial rules reject most other 3-2-4 numbers); spaced, dotted or bare nine-digit forms
count only next to an SSN word. Passport and driver's licence numbers have no check
digits and share their shapes with order numbers and ticket ids, so both always require
a context word; their validators only refuse dates and placeholder digit runs.
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.detect.patterns import Pattern
from bastion.detect.pii.dates import looks_like_date
from bastion.detect.pii.fragments import (
    DASH,
    NOT_IN_NUMBER,
    compact,
    digit_groups,
    digits_of,
    is_repetitive,
    meta,
    one_separator_kind,
)

SSN_CONTEXT = ("ssn", "ssn#", "social security", "social security number", "social", "ss#")
PASSPORT_CONTEXT = (
    "passport", "passport no", "passport number", "passport#", "reisepass", "reisepassnummer",
    "passnummer", "pass-nr", "passeport", "pasaporte", "passaporto", "paspoort",
    "paszport",
)  # fmt: skip
# "license" alone also precedes software, music and business licence numbers.
DRIVER_LICENSE_CONTEXT = (
    "driver's license", "driver license", "drivers license", "driver's licence",
    "driving licence", "driving license", "driver", "driver's", "drivers", "driving",
    "dl", "dln", "dl#", "dmv",
)  # fmt: skip

# US SSNs the SSA never issued but which circulate as examples.
_KNOWN_FAKE_SSNS = frozenset({"078051120", "219099999", "123456789"})

_SSN_DASHED = rf"{NOT_IN_NUMBER}(\d{{3}}{DASH}\d{{2}}{DASH}\d{{4}})\b"
_SSN_OTHER = rf"{NOT_IN_NUMBER}(\d{{3}}[ .]\d{{2}}[ .]\d{{4}}|\d{{9}})\b"

# US (9 digits or letter + 8), UK (9 digits), DE (9 of [CFGHJKLMNPRTVWXYZ0-9]),
# FR (99AA99999), IT (AA9999999), ES (AAA999999), NL (AA + 6 alnum + digit), IN, CA ...
_PASSPORT = (
    r"(?i)\b([A-Z]{1,3}\d{6,8}|\d{8,9}|\d{2}[A-Z]{2}\d{5}|[A-Z]{2}[A-Z0-9]{6}\d"
    r"|[CFGHJK][CFGHJKLMNPRTVWXYZ0-9]{8})\b"
)

# Dashed forms (``2270-66-1551``, ``D123-4567-8901``; first, so that RE2's leftmost-first
# alternation prefers the whole dashed number), letter prefixes plus 4-14 digits, and
# 6-13 digits; states differ too much for more precision.
_DRIVER_LICENSE = (
    r"(?i)\b([A-Z]?\d{2,4}-\d{2,4}-\d{2,4}(?:-\d{2,4}){0,2}|[A-Z]{1,2}\d{4,14}|\d{6,13})\b"
)


def validate_ssn(candidate: str) -> Mapping[str, str] | None:
    """Accept a US SSN: area 001-899 except 666, group 01-99, serial 0001-9999, one
    separator kind, not a placeholder (``111-11-1111``, ``078-05-1120``)."""
    digits = digits_of(candidate)
    if len(digits) != 9 or not one_separator_kind(candidate):
        return None
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return None
    if digits in _KNOWN_FAKE_SSNS or len(set(digits)) == 1:
        return None
    return meta(country="US")


def validate_passport(candidate: str) -> Mapping[str, str] | None:
    """Accept a passport-number shape with at least five digits that is not a date or a
    placeholder run; ``meta.country`` only where the shape is unique to one country."""
    number = compact(candidate)
    digits = digits_of(number)
    if len(digits) < 5 or is_repetitive(digits) or looks_like_date(candidate):
        return None
    if len(number) == 9 and number[:2].isdigit() and number[2:4].isalpha():
        return meta(country="FR")
    if len(number) == 9 and number[:3].isalpha() and number[3:].isdigit():
        return meta(country="ES")
    return meta()


def validate_driver_license(candidate: str) -> Mapping[str, str] | None:
    """Accept a licence-number shape with 5-16 digits and one separator kind that is not
    a date or a placeholder run."""
    groups = digit_groups(candidate)
    digits = "".join(groups)
    if not 5 <= len(digits) <= 16 or is_repetitive(digits) or looks_like_date(candidate):
        return None
    if not one_separator_kind(candidate):
        return None
    return meta(country="US")


GOVERNMENT_PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        id="pii.us_ssn",
        data_class="pii.us_ssn",
        regex=_SSN_DASHED,
        group=1,
        score=0.65,
        validator=validate_ssn,
        context=SSN_CONTEXT,
    ),
    Pattern(
        id="pii.us_ssn.undashed",
        data_class="pii.us_ssn",
        regex=_SSN_OTHER,
        group=1,
        score=0.5,
        validator=validate_ssn,
        context=SSN_CONTEXT,
        requires_context=True,
    ),
    Pattern(
        id="pii.passport",
        data_class="pii.passport",
        regex=_PASSPORT,
        group=1,
        score=0.5,
        validator=validate_passport,
        context=PASSPORT_CONTEXT,
        requires_context=True,
        case_insensitive=True,
    ),
    Pattern(
        id="pii.us_driver_license",
        data_class="pii.us_driver_license",
        regex=_DRIVER_LICENSE,
        group=1,
        score=0.5,
        validator=validate_driver_license,
        context=DRIVER_LICENSE_CONTEXT,
        requires_context=True,
        case_insensitive=True,
    ),
)
