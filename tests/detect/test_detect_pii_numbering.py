"""``numbering``: the compiled numbering plans give phonenumbers' own answers.

The phone validators rely on these functions instead of ``phonenumbers.parse``,
``is_possible_number_with_reason``, ``is_valid_number`` and ``region_code_for_number``;
if a phonenumbers release changed how its metadata is read, these tests say so.
"""

from __future__ import annotations

import random

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from bastion.detect.pii.numbering import (
    Length,
    calling_code_plan,
    region_plan,
    split_calling_code,
    valid_anywhere,
)

_TYPES = (
    PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE, PhoneNumberType.VOIP, PhoneNumberType.UAN,
)  # fmt: skip


def _reference(digits: str) -> tuple[int, str, bool, str | None, bool] | None:
    """What phonenumbers makes of ``+`` followed by ``digits``: calling code, national
    number, possible, region, valid (None when it cannot parse it)."""
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return None
    possible = (
        phonenumbers.is_possible_number_with_reason(number)
        == phonenumbers.ValidationResult.IS_POSSIBLE
    )
    return (
        number.country_code or 0,
        phonenumbers.national_significant_number(number),
        possible,
        phonenumbers.region_code_for_number(number),
        phonenumbers.is_valid_number(number),
    )


def _ours(digits: str) -> tuple[int, str, bool, str | None, bool] | None:
    split = split_calling_code(digits)
    if split is None:
        return None
    plan, national = split
    region = plan.region_for(national)
    valid = region is not None and valid_anywhere(((region, plan.code),), national)
    possible = plan.main.length_fit(national) is Length.POSSIBLE
    return plan.code, national, possible, region, valid


def _sample() -> list[str]:
    """Example numbers of every region and common type, each also with a digit changed,
    one added or one dropped, and with a trunk ``0`` written after the calling code."""
    rng = random.Random(7)
    examples = [
        example
        for region in sorted(phonenumbers.SUPPORTED_REGIONS)
        for kind in _TYPES
        if (example := phonenumbers.example_number_for_type(region, kind)) is not None
    ]
    examples += [
        example
        for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS)
        if (example := phonenumbers.example_number_for_non_geo_entity(code)) is not None
    ]
    sample = []
    for example in examples:
        code = str(example.country_code)
        national = phonenumbers.national_significant_number(example)
        at = rng.randrange(len(national))
        changed = national[:at] + rng.choice("0123456789") + national[at + 1 :]
        variants = (national, changed, national + "5", national[:-1], "0" + national)
        sample += [code + variant for variant in variants]
    return sample


def test_agrees_with_phonenumbers_on_every_region() -> None:
    sample = _sample()
    assert len(sample) > 2000
    disagreements = [d for d in sample if _ours(d) != _reference(d)]
    assert disagreements == []


@pytest.mark.parametrize(
    "digits",
    [
        pytest.param("4402079460958", id="trunk-zero-after-code-dropped"),
        pytest.param("390669821234", id="italian-leading-zero-kept"),
        pytest.param("14165550199", id="nanp-canada"),
        pytest.param("12684641234", id="nanp-leading-digits-region"),
        pytest.param("78001234567", id="shared-code-toll-free"),
        pytest.param("800123456789", id="non-geographic"),
        pytest.param("4420794609581234567", id="too-long"),
        pytest.param("441", id="too-short"),
        pytest.param("99912345678", id="no-such-code"),
        pytest.param("0441234567", id="leading-zero"),
    ],
)
def test_edge_cases_agree_with_phonenumbers(digits: str) -> None:
    assert _ours(digits) == _reference(digits)


def test_trunk_prefix_in_brackets_is_dropped() -> None:
    split = split_calling_code("4402079460958")  # +44 (0)20 7946 0958
    assert split is not None
    plan, national = split
    assert (plan.code, national, plan.region_for(national)) == (44, "2079460958", "GB")


def test_unknown_calling_code_has_no_plan() -> None:
    assert calling_code_plan(999) is None
    assert split_calling_code("99912345678") is None


def test_region_validity_is_per_region() -> None:
    us, ca = region_plan("US", 1), region_plan("CA", 1)
    assert us is not None and ca is not None
    assert ca.is_valid("4165550199") and not us.is_valid("4165550199")
    assert valid_anywhere((("US", 1), ("CA", 1)), "4165550199")
