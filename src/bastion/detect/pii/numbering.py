"""phonenumbers' numbering-plan metadata, compiled for per-candidate checks.

``phonenumbers.parse``, ``is_possible_number`` and ``region_code_for_number`` cost
15-60 µs per number: they re-derive everything from raw metadata on every call, and a
region lookup runs up to a dozen type patterns for each of the 25 regions sharing +1.
The functions here give the same answers from tables built on first use
(``functools.cache``, at most one entry per region, calling code or region set): the
calling code is split off with ``COUNTRY_CODE_TO_REGION_CODE``, the national prefix
stripped as ``parse`` does, the length checked against the main region's possible
lengths, and validity decided by one pattern per region (length and general pattern as
lookaheads, then every number type behind a lookahead for its own lengths). A shared
calling code's regions, and a set of regions any of which may accept a number, are tried
in one match; compiling a region costs a few milliseconds, once per process.

The patterns are phonenumbers' own, run with Python's ``re`` as phonenumbers runs them,
on national numbers of at most 17 ASCII digits: never on request text.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
from phonenumbers.phonemetadata import PhoneMetadata

NON_GEOGRAPHIC = "001"
"""phonenumbers' region for calling codes that belong to no country (+800, +882, ...)."""

MAX_NATIONAL_DIGITS = 17
"""The longest national significant number phonenumbers parses."""

_MIN_NATIONAL_DIGITS = 2
_CALLING_CODES = frozenset(str(code) for code in COUNTRY_CODE_TO_REGION_CODE)
_TYPE_DESCS = (
    "premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
    "voicemail", "fixed_line", "mobile",
)  # fmt: skip
"""Number types whose match makes a number valid (``_number_type_helper``'s list)."""


class Length(Enum):
    """How a national number's length fits a region (phonenumbers' ``ValidationResult``)."""

    POSSIBLE = "possible"
    LOCAL_ONLY = "local_only"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class RegionPlan:
    """One region's lengths and national-prefix rule, compiled."""

    region: str
    code: int
    lengths: tuple[int, ...]  # sorted possible lengths of any number of the region
    local_lengths: frozenset[int]  # lengths that are subscriber numbers without area code
    general: re.Pattern[str] | None  # the pattern every national number matches
    national_prefix: re.Pattern[str] | None
    transform: str | None  # rewrite applied when the national prefix captured a group
    fits: tuple[Length, ...] = ()  # ``length_fit`` by length, up to MAX_NATIONAL_DIGITS

    def length_fit(self, national: str) -> Length:
        """phonenumbers' ``_test_number_length`` for an unspecified number type."""
        size = len(national)
        if size < len(self.fits):
            return self.fits[size]
        return self._fit(size)

    def _fit(self, size: int) -> Length:
        if size in self.local_lengths:
            return Length.LOCAL_ONLY
        if size < self.lengths[0]:
            return Length.TOO_SHORT
        if size > self.lengths[-1]:
            return Length.TOO_LONG
        return Length.POSSIBLE if size in self.lengths else Length.INVALID

    def is_valid(self, national: str) -> bool:
        """Whether ``national`` is a valid number of this region (some number type fits)."""
        return valid_anywhere(((self.region, self.code),), national)

    def strip_national_prefix(self, national: str) -> str:
        """``national`` without its trunk prefix or carrier code, unless stripping would
        turn a number that fits the general pattern into one that does not."""
        if not national or self.national_prefix is None:
            return national
        found = self.national_prefix.match(national)
        if found is None:
            return national
        groups = found.groups()
        if not self.transform or not groups or groups[-1] is None:
            stripped = national[found.end() :]
        else:
            stripped = self.national_prefix.sub(self.transform, national, count=1)
        if self._fits_general(national) and not self._fits_general(stripped):
            return national
        return stripped

    def _fits_general(self, national: str) -> bool:
        return self.general is not None and self.general.fullmatch(national) is not None


def _metadata(region: str, calling_code: int) -> PhoneMetadata | None:
    if region == NON_GEOGRAPHIC:
        return PhoneMetadata.metadata_for_nongeo_region(calling_code)
    return PhoneMetadata.metadata_for_region(region)


@functools.cache
def region_plan(region: str, calling_code: int) -> RegionPlan | None:
    """The compiled plan of ``region`` (``NON_GEOGRAPHIC`` uses ``calling_code``)."""
    metadata = _metadata(region, calling_code)
    general = metadata.general_desc if metadata is not None else None
    if metadata is None or general is None or not general.possible_length:
        return None
    prefix = metadata.national_prefix_for_parsing
    pattern = general.national_number_pattern
    plan = RegionPlan(
        region=region,
        code=calling_code,
        lengths=tuple(sorted(general.possible_length)),
        local_lengths=frozenset(general.possible_length_local_only or ()),
        general=re.compile(pattern) if pattern else None,
        national_prefix=re.compile(prefix) if prefix else None,
        transform=metadata.national_prefix_transform_rule or None,
    )
    fits = tuple(plan._fit(size) for size in range(MAX_NATIONAL_DIGITS + 1))
    return dataclasses.replace(plan, fits=fits)


def _at_lengths(lengths: Iterable[int]) -> str:
    """A lookahead that holds only for a number of one of ``lengths`` digits (matched
    from its start); empty when every length is allowed."""
    sizes = sorted(set(lengths))
    if not sizes:
        return ""
    return "(?=(?:" + "|".join(f"[0-9]{{{size}}}" for size in sizes) + r")\Z)"


@functools.cache
def _valid_source(region: str, calling_code: int) -> str | None:
    """A pattern source matching exactly the valid numbers of a region: possible length
    and general pattern as lookaheads, then any number type, each behind a lookahead for
    its own lengths (a type without lengths allows all; phonenumbers marks an absent type
    with length -1). Mobile counts only where its pattern differs from fixed line, as in
    ``_number_type_helper``. Every pattern is compiled once per region, as phonenumbers
    compiles it, whatever lengths the numbers have."""
    metadata = _metadata(region, calling_code)
    general = metadata.general_desc if metadata is not None else None
    if metadata is None or general is None or not general.national_number_pattern:
        return None
    names = _TYPE_DESCS[:-1] if metadata.same_mobile_and_fixed_line_pattern else _TYPE_DESCS
    types = []
    for desc in (getattr(metadata, name) for name in names):
        if desc is None or not desc.national_number_pattern:
            continue
        lengths = [size for size in desc.possible_length if size > 0]
        if desc.possible_length and not lengths:
            continue  # the type does not exist in this region
        types.append(f"{_at_lengths(lengths)}(?:{desc.national_number_pattern})")
    if not types:
        return None
    alternatives = "|".join(dict.fromkeys(types))
    general_at = _at_lengths(general.possible_length)
    return rf"{general_at}(?=(?:{general.national_number_pattern})\Z)(?:{alternatives})\Z"


@functools.cache
def _any_valid(regions: tuple[tuple[str, int], ...]) -> re.Pattern[str] | None:
    sources = [s for region, code in regions if (s := _valid_source(region, code))]
    return re.compile("|".join(f"(?:{s})" for s in sources)) if sources else None


def valid_anywhere(regions: tuple[tuple[str, int], ...], national: str) -> bool:
    """Whether ``national`` is a valid number of any of ``regions`` (region, calling
    code pairs): one match per call, the pattern built once per set of regions."""
    pattern = _any_valid(regions)
    return pattern is not None and pattern.match(national) is not None


@dataclass(frozen=True, slots=True)
class CallingCodePlan:
    """A calling code's regions (main region first) and its main region's plan."""

    code: int
    regions: tuple[str, ...]
    main: RegionPlan

    def region_for(self, national: str) -> str | None:
        """phonenumbers' ``region_code_for_number`` for a number of this calling code:
        the only region, else the first (in phonenumbers' order) whose leading digits
        start the number or, for regions without them, whose plan the number fits."""
        if len(self.regions) == 1:
            return self.regions[0]
        pattern = _region_pattern(self.code)
        found = pattern.match(national) if pattern is not None else None
        if found is None or found.lastgroup is None:
            return None
        return self.regions[int(found.lastgroup[1:])]


@functools.cache
def _region_pattern(code: int) -> re.Pattern[str] | None:
    """One alternation over the regions of ``code``, in order, group ``r<i>`` for
    ``regions[i]``: Python's ``re`` takes the first alternative that matches, which is
    the region ``region_code_for_number`` would stop at."""
    alternatives = []
    for index, region in enumerate(COUNTRY_CODE_TO_REGION_CODE.get(code, ())):
        metadata = _metadata(region, code)
        if metadata is None:
            continue
        if metadata.leading_digits is not None:
            source: str | None = metadata.leading_digits
        else:
            source = _valid_source(region, code)
        if source is not None:
            alternatives.append(f"(?P<r{index}>{source})")
    return re.compile("|".join(alternatives)) if alternatives else None


@functools.cache
def calling_code_plan(code: int) -> CallingCodePlan | None:
    """The plan of calling code ``code``, or None when no region uses it."""
    regions = COUNTRY_CODE_TO_REGION_CODE.get(code)
    main = region_plan(regions[0], code) if regions else None
    if not regions or main is None:
        return None
    return CallingCodePlan(code, tuple(regions), main)


def split_calling_code(digits: str) -> tuple[CallingCodePlan, str] | None:
    """The calling code's plan and the national number of an international number's
    digits (as ``parse`` reads ``+`` followed by them), or None where ``parse`` fails."""
    if len(digits) <= _MIN_NATIONAL_DIGITS or digits[0] == "0":
        return None
    for size in (1, 2, 3):
        if digits[:size] in _CALLING_CODES:
            plan = calling_code_plan(int(digits[:size]))
            national = digits[size:]
            if plan is None or len(national) < _MIN_NATIONAL_DIGITS:
                return None
            stripped = plan.main.strip_national_prefix(national)
            if plan.main.length_fit(stripped) in (Length.POSSIBLE, Length.TOO_LONG):
                national = stripped
            if len(national) > MAX_NATIONAL_DIGITS:
                return None
            return plan, national
    return None
