"""``pii.date_of_birth``: dates in numeric and written forms, only next to birth words."""

from __future__ import annotations

import datetime

import pytest

from bastion.detect.engine import Engine
from bastion.detect.patterns import Hit
from bastion.detect.pii import pii_patterns
from bastion.detect.pii.dates import looks_like_date

REPORTED = 0.5  # the scanner's default class threshold


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(pii_patterns())


def values(engine: Engine, text: str) -> set[str]:
    found: list[Hit] = engine.scan(text)
    return {h.value for h in found if h.data_class == "pii.date_of_birth" and h.score >= REPORTED}


NEXT_YEAR = datetime.date.today().year + 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("DOB: 1990-04-12", "1990-04-12", id="iso"),
        pytest.param("DOB: 1990\u201304\u201312", "1990\u201304\u201312", id="en-dashes"),
        pytest.param("date of birth 12/04/1990", "12/04/1990", id="slashes"),
        pytest.param("born 4/12/90", "4/12/90", id="two-digit-year"),
        pytest.param("Geburtsdatum: 12.04.1990", "12.04.1990", id="dotted-german"),
        pytest.param("born on April 12, 1990", "April 12, 1990", id="month-day-year"),
        pytest.param("birthday: 12th of April 1990", "12th of April 1990", id="ordinal-of"),
        pytest.param("b. day? born Apr. 12 1990", "Apr. 12 1990", id="abbreviated-month"),
        pytest.param("geboren am 12. März 1990", "12. März 1990", id="german-written"),
        pytest.param("né le 1er avril 1990", "1er avril 1990", id="french-written"),
        pytest.param("fecha de nacimiento: 12 de abril de 1990", "12 de abril de 1990",
                     id="spanish-written"),
        pytest.param("nato il 12 aprile 1990", "12 aprile 1990", id="italian-written"),
        pytest.param("1990-04-12 is my birthday", "1990-04-12", id="context-after"),
        pytest.param("D.O.B. 12/04/1990", "12/04/1990", id="dotted-abbreviation"),
    ],
)  # fmt: skip
def test_birth_dates(engine: Engine, text: str, expected: str) -> None:
    assert values(engine, text) == {expected}


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("The meeting is on 12/04/1990.", id="no-birth-word"),
        pytest.param("Invoice dated April 12, 1990", id="written-no-birth-word"),
        pytest.param("born 1990-02-30", id="not-a-real-date"),
        pytest.param("born 31/31/1990", id="no-reading-is-real"),
        pytest.param("born 12 April 1850", id="before-1900"),
        pytest.param(f"DOB: {NEXT_YEAR}-01-01", id="in-the-future"),
        pytest.param("born 12-04/1990", id="mixed-separators"),
        pytest.param("born 12 Smarch 1990", id="unknown-month"),
        pytest.param("stubborn 12/04/1990", id="birth-word-inside-another-word"),
        pytest.param(
            "born in Leeds, she moved to York in 1999 and on 12/04/2010 opened a shop",
            id="birth-word-too-far",
        ),
    ],
)
def test_birth_date_near_misses(engine: Engine, text: str) -> None:
    assert values(engine, text) == set()


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        pytest.param("2023-01-15", True, id="iso"),
        pytest.param("15.01.2023", True, id="day-first"),
        pytest.param("01/15/23", True, id="month-first-short-year"),
        pytest.param("04 15 39", False, id="blanks-are-not-date-separators"),
        pytest.param("2023-13-45", False, id="impossible"),
        pytest.param("123-45-6789", False, id="ssn-shape"),
    ],
)
def test_looks_like_date(candidate: str, expected: bool) -> None:
    assert looks_like_date(candidate) is expected
