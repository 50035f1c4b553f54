"""The optional spaCy tier: skipped when spaCy or its English model is not installed."""

from __future__ import annotations

import pytest

from bastion.detect.entities.ner import NerUnavailable, SpacyTagger, combine, load_model
from bastion.detect.patterns import Hit

spacy = pytest.importorskip("spacy", reason="spaCy is not installed (extra: bastion-gateway[ner])")


@pytest.fixture(scope="module")
def ner() -> SpacyTagger:
    try:
        return SpacyTagger(load_model())
    except NerUnavailable as exc:
        pytest.skip(f"no spaCy English model: {exc}")


def test_missing_model_names_the_install_command() -> None:
    with pytest.raises(NerUnavailable, match=r"bastion-gateway\[ner\]"):
        load_model(("no_such_model_xyz",))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "Barack Obama visited Berlin in July.",
            {("pii.person", "Barack Obama"), ("pii.location", "Berlin")},
            id="person-and-city",
        ),
        pytest.param("The weather was fine all week.", set(), id="nothing"),
    ],
)
def test_spacy_labels_map_to_classes(
    ner: SpacyTagger, text: str, expected: set[tuple[str, str]]
) -> None:
    assert {(h.data_class, h.value) for h in ner.detect(text)} == expected


def test_long_text_is_processed_in_chunks_with_right_offsets(ner: SpacyTagger) -> None:
    text = ("The weather was fine all week.\n" * 1000) + "Angela Merkel spoke in Paris."
    hits = ner.detect(text)
    assert {(h.data_class, text[h.start : h.end]) for h in hits} >= {
        ("pii.person", "Angela Merkel"),
        ("pii.location", "Paris"),
    }


def test_combine_boosts_agreement_and_adds_only_ner_persons() -> None:
    fast = [
        Hit("pii.person", 0, 10, 0.6, "entities.person", "Jane Lopez"),
        Hit("pii.location", 40, 46, 0.7, "entities.location", "Lisbon"),
    ]
    ner = [
        Hit("pii.person", 0, 10, 0.8, "entities.ner", "Jane Lopez"),
        Hit("pii.person", 20, 30, 0.8, "entities.ner", "Ana Duarte"),
        Hit("pii.location", 40, 46, 0.8, "entities.ner", "Lisbon"),
        Hit("pii.location", 60, 66, 0.8, "entities.ner", "Oporto"),
    ]
    merged = combine(fast, ner)
    assert [(h.data_class, h.start, h.score) for h in merged] == [
        ("pii.person", 0, 0.8),  # both tiers: 0.6 boosted, then the stronger of the pair
        ("pii.person", 20, 0.8),  # spaCy alone may add a person
        ("pii.location", 40, 0.8),  # both tiers: 0.7 boosted to 0.8
    ]  # spaCy alone adds no place
