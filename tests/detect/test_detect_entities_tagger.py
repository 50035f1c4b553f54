"""EntityTagger as a whole: hit invariants, hostile input, overlap resolution, linearity."""

from __future__ import annotations

import base64
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.detect.entities import EntityTagger
from bastion.detect.entities.location import run_places
from bastion.detect.entities.person import analyse_run
from bastion.detect.entities.runs import split_run

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
        pytest.param("12 Main Street, ", id="addresses"),
        pytest.param(base64.b64encode(bytes(range(256))).decode(), id="base64"),
    ],
)
def test_time_grows_linearly_on_adversarial_input(tagger: EntityTagger, unit: str) -> None:
    def cold_seconds(text: str) -> float:
        for cached in (split_run, analyse_run, run_places):
            cached.cache_clear()  # per-run caches would hide the real cost of a repeat
        started = time.perf_counter()
        tagger.detect(text)
        return time.perf_counter() - started

    small_s = cold_seconds(unit * (10_000 // len(unit)))
    large_s = cold_seconds(unit * (80_000 // len(unit)))
    assert large_s < max(small_s, 0.005) * 8 * 3  # 8x the text, generous slack for noise
