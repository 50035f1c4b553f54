"""``pii.us_ssn``, ``pii.passport`` and ``pii.us_driver_license``: shapes, SSA rules and
the context words the ambiguous ones require."""

from __future__ import annotations

import pytest

from bastion.detect.engine import Engine
from bastion.detect.patterns import Hit
from bastion.detect.pii import pii_patterns

REPORTED = 0.5  # the scanner's default class threshold


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(pii_patterns())


def reported(engine: Engine, text: str, data_class: str) -> list[Hit]:
    return [h for h in engine.scan(text) if h.data_class == data_class and h.score >= REPORTED]


def values(engine: Engine, text: str, data_class: str) -> set[str]:
    return {h.value for h in reported(engine, text, data_class)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Here's my SSN: 536-22-8741", {"536-22-8741"}, id="labelled"),
        pytest.param("ref 536-22-8741 on file", {"536-22-8741"}, id="dashed-needs-no-context"),
        pytest.param("7xx areas: 772-41-0936", {"772-41-0936"}, id="randomised-era-area"),
        pytest.param("social security number 536 22 8741", {"536 22 8741"}, id="spaced"),
        pytest.param("SSN 536.22.8741", {"536.22.8741"}, id="dotted"),
        pytest.param("ref 536\u201322\u20138741", {"536\u201322\u20138741"}, id="en-dashes"),
        pytest.param("ref 536\u221222\u22128741", {"536\u221222\u22128741"}, id="minus-signs"),
        pytest.param("ssn: 536228741", {"536228741"}, id="bare-nine-digits"),
        pytest.param("536228741 is my SSN", {"536228741"}, id="context-after"),
        # punctuation glued on the left
        pytest.param("ssn#536-22-8741", {"536-22-8741"}, id="hash"),
        pytest.param("SSN:536-22-8741", {"536-22-8741"}, id="colon"),
        pytest.param("ssn=536228741&x=1", {"536228741"}, id="query-string"),
        pytest.param("(536-22-8741)", {"536-22-8741"}, id="brackets"),
        pytest.param("SSN/536-22-8741", {"536-22-8741"}, id="slash"),
        # near-misses
        pytest.param("id 536 22 8741", set(), id="spaced-without-context"),
        pytest.param("order 536228741", set(), id="bare-without-context"),
        pytest.param("SSN 000-22-8741", set(), id="area-000"),
        pytest.param("SSN 666-22-8741", set(), id="area-666"),
        pytest.param("SSN 912-22-8741", set(), id="area-9xx"),
        pytest.param("SSN 536-00-8741", set(), id="group-00"),
        pytest.param("SSN 536-22-0000", set(), id="serial-0000"),
        pytest.param("SSN 078-05-1120", set(), id="woolworth-wallet-card"),
        pytest.param("SSN 111-11-1111", set(), id="one-digit-repeated"),
        pytest.param("SSN 536-22.8741", set(), id="mixed-separators"),
        pytest.param("part 1-536-22-8741", set(), id="inside-longer-dashed-number"),
        pytest.param("part A536-22-8741", set(), id="glued-to-letters"),
        pytest.param("on 12/536-22-8741", set(), id="after-a-digit-and-slash"),
        pytest.param("SSN 536-22-87410", set(), id="serial-too-long"),
    ],
)
def test_ssn(engine: Engine, text: str, expected: set[str]) -> None:
    assert values(engine, text, "pii.us_ssn") == expected


def test_ssn_context_raises_score(engine: Engine) -> None:
    [bare] = reported(engine, "ref 536-22-8741", "pii.us_ssn")
    [near] = reported(engine, "SSN 536-22-8741", "pii.us_ssn")
    assert near.score > bare.score and bare.meta == {"country": "US"}


@pytest.mark.parametrize(
    ("text", "expected", "country"),
    [
        pytest.param("passport number 518027364", "518027364", None, id="nine-digits"),
        pytest.param("US passport no. A51802736", "A51802736", None, id="letter-and-eight"),
        pytest.param("Reisepass C01X00T47", "C01X00T47", None, id="german"),
        pytest.param("numéro de passeport 07XY52814", "07XY52814", "FR", id="french"),
        pytest.param("pasaporte XDD518273", "XDD518273", "ES", id="spanish"),
        pytest.param("passaporto YA5180273", "YA5180273", None, id="italian"),
        pytest.param("518027364 is my passport", "518027364", None, id="context-after"),
    ],
)
def test_passport_positives(engine: Engine, text: str, expected: str, country: str | None) -> None:
    [hit] = reported(engine, text, "pii.passport")
    assert hit.value == expected and hit.meta.get("country") == country


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("ticket 518027364", id="no-context"),
        pytest.param("passport 123456789", id="ascending-placeholder"),
        pytest.param("passport 000000000", id="zeros"),
        pytest.param("passport issued 12.04.2019", id="date"),
        pytest.param("passport photo 4x4", id="too-few-digits"),
        pytest.param("boarding pass 518027364", id="pass-is-not-passport"),
    ],
)
def test_passport_near_misses(engine: Engine, text: str) -> None:
    assert reported(engine, text, "pii.passport") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("my driver's license number is 2270-66-1551", {"2270-66-1551"}, id="dashed"),
        pytest.param("Driver License: F16282354011", {"F16282354011"}, id="letter-prefix"),
        pytest.param("DL# 6940579", {"6940579"}, id="seven-digits"),
        pytest.param("driving licence S5301-4928-7716", {"S5301-4928-7716"}, id="letter-dashed"),
        pytest.param("DMV record D739152846", {"D739152846"}, id="dmv"),
        # near-misses
        pytest.param("record label license number 545345", set(), id="other-licence"),
        pytest.param("invoice 6940579", set(), id="no-context"),
        pytest.param("driver's license expires 04/12/2027", set(), id="date"),
        pytest.param("driver's license 1234567", set(), id="placeholder-run"),
        pytest.param("driver's license 4417", set(), id="too-short"),
    ],
)
def test_driver_license(engine: Engine, text: str, expected: set[str]) -> None:
    assert values(engine, text, "pii.us_driver_license") == expected
