"""Meta-tests for the ``pii.*`` pattern table: every row is valid RE2, the rows compile into
one RE2 set, the class list is complete, and scanning stays linear on hostile input."""

from __future__ import annotations

import subprocess
import sys

import pytest
import re2

from bastion.detect.patterns import Pattern
from bastion.detect.pii import pii_patterns

CLASSES = {
    "pii.email", "pii.phone", "pii.credit_card", "pii.iban", "pii.us_ssn", "pii.national_id",
    "pii.vat_id", "pii.passport", "pii.ip_address", "pii.mac_address", "pii.date_of_birth",
    "pii.us_driver_license",
}  # fmt: skip
PROSE = (
    "Thanks for the notes from Tuesday's meeting. The team agreed to move the launch to the "
    "second week of March, after the design review, so that support has time to update the "
    "help centre articles. Two open questions remain: whether the pricing page should show "
    "annual plans first, and who owns the migration guide for customers on the old API. "
    "Please send comments by Friday; I will collect them and circulate a revised plan. "
) * 6


def _options() -> re2.Options:
    options = re2.Options()
    options.max_mem = 64 << 20
    return options


def _source(regex: str, case_insensitive: bool) -> str:
    return f"(?i){regex}" if case_insensitive else regex


def test_every_class_is_produced() -> None:
    assert {p.data_class for p in pii_patterns()} == CLASSES


def test_ids_are_unique_and_named_after_their_class() -> None:
    ids = [p.id for p in pii_patterns()]
    assert len(ids) == len(set(ids))
    assert all(p.id.startswith(p.data_class) for p in pii_patterns())


def test_every_row_validates_and_has_context_words() -> None:
    assert all(p.validator is not None and p.context for p in pii_patterns())


@pytest.mark.parametrize("pattern", pii_patterns(), ids=lambda p: p.id)
def test_regex_compiles_in_re2(pattern: Pattern) -> None:
    regex = re2.compile(_source(pattern.regex, pattern.case_insensitive), _options())
    assert regex.groups >= pattern.group


def test_all_rows_compile_into_one_set() -> None:
    patterns = pii_patterns()
    matcher = re2.Set.SearchSet(_options())
    for pattern in patterns:
        matcher.Add(_source(pattern.regex, pattern.case_insensitive))
    matcher.Compile()
    text = "call +44 20 7946 0958 or mail a.b@example.com"
    matched = {patterns[i].id for i in matcher.Match(text)}
    assert {"pii.phone.international", "pii.email"} <= matched


def test_importing_the_package_defers_heavy_dependencies() -> None:
    code = "import sys, bastion.detect.pii; print('phonenumbers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
