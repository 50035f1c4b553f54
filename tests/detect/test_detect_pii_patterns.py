"""Meta-tests for the ``pii.*`` pattern table: every row is valid RE2, the rows compile into
one RE2 set, the class list is complete, and scanning stays linear on hostile input."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import re2

from bastion.detect.engine import Engine
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


def _groups(separator: str, first: str = "") -> str:
    """100 KB of four-digit groups: every four of them are a card-shaped window."""
    return separator.join(f"{first}{n * 7919 % 10_000:04d}"[:4] for n in range(20_000))


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("7" * 100_000, id="digits"),
        pytest.param(_groups(" "), id="four-digit-groups"),
        pytest.param(_groups("-"), id="dashed-groups"),
        pytest.param(_groups("\n"), id="groups-on-lines"),
        pytest.param(_groups(" ", first="0"), id="trunk-zero-groups"),
        pytest.param("1 " * 50_000, id="spaced-out-digits"),
        pytest.param("+44 20 7946 0958 5 " * 5_000, id="phones-each-followed-by-a-number"),
        pytest.param("DE89 " * 20_000, id="iban-starts"),
        pytest.param("a1" * 50_000, id="letters-and-digits"),
    ],
)
def test_hostile_input_scans_in_linear_time(text: str) -> None:
    engine = Engine(pii_patterns())
    engine.scan(text[:1000])
    start = time.perf_counter()
    engine.scan(text)
    # A hang guard, not a performance target: quadratic behaviour on 100 KB takes
    # minutes; growth is measured in bench/detect (adversarial rows).
    assert time.perf_counter() - start < 10.0
