"""EntityTagger as a whole: hit invariants, hostile input, overlap resolution, candidates."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.detect.entities import EntityTagger

_FULLWIDTH = {c: c + 0xFEE0 for c in range(0x21, 0x7F)}  # "Sarah" -> fullwidth letters


@pytest.fixture(scope="module")
def tagger() -> EntityTagger:
    entity_tagger = EntityTagger()
    entity_tagger.warm()
    return entity_tagger


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_hits_are_valid_spans_of_any_text(text: str) -> None:
    for hit in EntityTagger().detect(text):
        assert 0 <= hit.start < hit.end <= len(text)
        assert text[hit.start : hit.end] == hit.value
        assert 0.0 <= hit.score <= 1.0
        assert hit.data_class in {"pii.person", "pii.location", "pii.street_address"}


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("Jo\ud800hn Smith lives in Paris", id="lone-surrogate"),
        pytest.param("\u200bSarah\u200b Whitfield", id="zero-width"),
        pytest.param("Sarah Whitfield".translate(_FULLWIDTH), id="fullwidth"),
    ],
)
def test_odd_text_never_raises(tagger: EntityTagger, text: str) -> None:
    for hit in tagger.detect(text):
        assert text[hit.start : hit.end] == hit.value


def test_offsets_survive_multibyte_text_before_the_hit(tagger: EntityTagger) -> None:
    text = "日本語のテキスト 🙂🙂 — then Dr. Ana Ferreira flew to Lisbon."
    found = {(h.data_class, h.value) for h in tagger.detect(text)}
    assert found == {("pii.person", "Ana Ferreira"), ("pii.location", "Lisbon")}


def test_overlapping_person_and_location_keep_one(tagger: EntityTagger) -> None:
    hits = tagger.detect("Georgia Smith moved to Georgia.")
    assert [(h.data_class, h.value) for h in hits] == [
        ("pii.person", "Georgia Smith"),
        ("pii.location", "Georgia"),
    ]


@pytest.mark.parametrize(
    "unit",
    [
        pytest.param("7", id="digits"),
        pytest.param("@", id="at-signs"),
        pytest.param("Abc ", id="capitalised-words"),
        pytest.param("John Smith ", id="names"),
        pytest.param("Paris ", id="anchor-words"),
        pytest.param("12 Main Street, ", id="addresses"),
        pytest.param("eva lindqvist ", id="lower-case-names"),
        pytest.param(base64.b64encode(bytes(range(256))).decode(), id="base64"),
    ],
)
def test_hostile_repetitions_give_valid_hits(tagger: EntityTagger, unit: str) -> None:
    # time is measured outside the unit tests; here the hits must stay sane
    text = unit * (20_000 // len(unit))
    for hit in tagger.detect(text):
        assert text[hit.start : hit.end] == hit.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "Last year. Producer Ana Ferreira explained the plan.",
            [("pii.person", "Ana Ferreira")],
            id="role-word-opening-a-sentence",
        ),
        pytest.param(
            "We flew to \u201cLisbon\u201d and then to Porto\u2026",
            [("pii.location", "Lisbon"), ("pii.location", "Porto")],
            id="curly-quotes-around-places",
        ),
        pytest.param("Analysis of Annapolis data", [], id="anchor-inside-a-word"),
        pytest.param("see user_Paris or x@Paris", [], id="anchor-in-an-identifier"),
        pytest.param(
            "i moved from germany to bosnia and herzegovina last year",
            [("pii.location", "germany"), ("pii.location", "bosnia and herzegovina")],
            id="lower-case-places",
        ),
        pytest.param(
            "ok " * 300 + "then i called eva lindqvist about it",
            [("pii.person", "eva lindqvist")],
            id="lower-case-name-late-in-a-long-text",
        ),
        pytest.param(
            "VerticalNet, Inc. Suite 100      700 Dresher Road, Horsham, PA 19044",
            [("pii.street_address", "700 Dresher Road, Horsham, PA 19044")],
            id="street-after-a-rejected-candidate",
        ),
    ],
)
def test_candidates_found_without_a_scan_per_word(
    tagger: EntityTagger, text: str, expected: list[tuple[str, str]]
) -> None:
    found = [(h.data_class, h.value) for h in tagger.detect(text) if h.score >= 0.5]
    assert found == expected


def test_run_cache_does_not_change_answers() -> None:
    text = "Dear Priyanka, Sarah Whitfield flew from Toronto to Lisbon with Ana Ferreira."
    cold = EntityTagger()
    first = cold.detect(text)
    assert cold.detect(text) == first == EntityTagger().detect(text)
