"""pii.person from the fast entity tier: full names, titles, cues, and near-misses."""

from __future__ import annotations

import pytest

from bastion.detect.entities import EntityTagger
from bastion.detect.entities.person import SCORES


@pytest.fixture(scope="module")
def tagger() -> EntityTagger:
    return EntityTagger()


def persons(tagger: EntityTagger, text: str, threshold: float = 0.5) -> list[str]:
    return [
        h.value
        for h in tagger.detect(text)
        if h.data_class == "pii.person" and h.score >= threshold
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "Please forward the invoice to Sarah Whitfield today.",
            ["Sarah Whitfield"],
            id="first-last",
        ),
        pytest.param(
            "The review was done by Dr. Anand Kapoor last week.", ["Anand Kapoor"], id="title"
        ),
        pytest.param(
            "Our guest speaker is Hans-Peter Müller from Kiel.",
            ["Hans-Peter Müller"],
            id="hyphen-accent",
        ),
        pytest.param(
            "We met Ludwig van Beethoven at the party.", ["Ludwig van Beethoven"], id="particle"
        ),
        pytest.param(
            "The contract was signed by Maria J. Kowalska.",
            ["Maria J. Kowalska"],
            id="middle-initial",
        ),
        pytest.param(
            "Send the keys to Mr. Okonkwo before noon.", ["Okonkwo"], id="title-unknown-surname"
        ),
        pytest.param("Attendees: JOHN SMITH and others", ["JOHN SMITH"], id="all-caps"),
        pytest.param("I spoke with Zoë Faure yesterday.", ["Zoë Faure"], id="diaeresis"),
    ],
)
def test_full_names_are_found(tagger: EntityTagger, text: str, expected: list[str]) -> None:
    assert persons(tagger, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "hi, my name is jessica moreno and I need help",
            ["jessica moreno"],
            id="lowercase-after-cue",
        ),
        pytest.param("Dear Priyanka,\nthanks for the update.", ["Priyanka"], id="dear"),
        pytest.param(
            "Best regards,\nThomas Becker\nEngineering", ["Thomas Becker"], id="signature"
        ),
        pytest.param('"We are done," says Okafor.', ["Okafor"], id="speech-verb"),
        pytest.param(
            "Marta Kowalczyk joined in May. Later Kowalczyk left.",
            ["Marta Kowalczyk", "Kowalczyk"],
            id="repeat-mention",
        ),
        pytest.param(
            "please call eva lindqvist tomorrow", ["eva lindqvist"], id="all-lowercase-text"
        ),
    ],
)
def test_context_finds_names(tagger: EntityTagger, text: str, expected: list[str]) -> None:
    assert persons(tagger, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Will you send the report on Monday?", id="modal-verb-name"),
        pytest.param("The United Nations met in March.", id="organisation-and-month"),
        pytest.param("Apple released a new iPhone and Google answered.", id="brands"),
        pytest.param("Quarterly Business Review And Next Steps", id="title-case-heading"),
        pytest.param("Call getUserName() then parseJohnFile(path).", id="code-identifiers"),
        pytest.param("Grace period ends on Friday.", id="common-word-first-name"),
        pytest.param(
            "The Jane Doe Foundation funds schools.", id="organisation-named-after-person"
        ),
        pytest.param("Turn left onto Philip Bypass at the lights.", id="street-named-after-person"),
        pytest.param("Hello, Bastion", id="greeting-the-gateway"),
        pytest.param("Hi Copilot, summarise this thread for me.", id="greeting-an-assistant"),
    ],
)
def test_hard_negatives(tagger: EntityTagger, text: str) -> None:
    assert persons(tagger, text) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        pytest.param("Hello, my name is Tkachuková.", "Tkachuková", id="introduced"),
        pytest.param("Dear Tkachuková, thank you.", "Tkachuková", id="letter"),
        pytest.param("Hi Maria, thanks for the notes.", "Maria", id="greeted-known-name"),
    ],
)
def test_an_unknown_word_after_a_bare_greeting_is_weak_but_other_cues_are_not(
    tagger: EntityTagger, text: str, name: str
) -> None:
    assert persons(tagger, text) == [name]


def test_lone_first_name_scores_below_full_name(tagger: EntityTagger) -> None:
    lone = [h for h in tagger.detect("Ask Jennifer about it.") if h.data_class == "pii.person"]
    full = [
        h for h in tagger.detect("Ask Jennifer Alvarez about it.") if h.data_class == "pii.person"
    ]
    assert [h.value for h in lone] == ["Jennifer"]
    assert [h.value for h in full] == ["Jennifer Alvarez"]
    assert lone[0].score == SCORES["lone_first"] < full[0].score


def test_hits_carry_offsets_value_and_detector(tagger: EntityTagger) -> None:
    text = "Zażółć: we hired Agnieszka Wiśniewska."
    (hit,) = [h for h in tagger.detect(text) if h.data_class == "pii.person"]
    assert text[hit.start : hit.end] == hit.value == "Agnieszka Wiśniewska"
    assert hit.detector == "entities.person"
    assert 0.0 <= hit.score <= 1.0
