"""The entity probe: which anchor, cue and street words a text holds, and where."""

from __future__ import annotations

import pytest

from bastion.detect.entities.probe import Probe, probe, vocabulary


def probed(text: str) -> Probe:
    data = text.encode()
    return probe(data, len(data) == len(text))


@pytest.mark.parametrize(
    ("text", "anchors"),
    [
        pytest.param("We flew to Lisbon with Sarah.", {b"Lisbon", b"Sarah"}, id="plain"),
        pytest.param("(Lisbon), Sarah; Toronto!", {b"Lisbon", b"Sarah", b"Toronto"}, id="punct"),
        pytest.param("\u201cLisbon\u201d\u2014Sarah\u2026", {b"Lisbon", b"Sarah"}, id="unicode"),
        pytest.param(
            "Sarah\u00a0Lisbon\u200bToronto", {b"Sarah", b"Lisbon", b"Toronto"}, id="nbsp"
        ),
        pytest.param("Analysis of Annapolis", set(), id="inside-longer-words"),
        pytest.param("Lisbon\u2019s and Sarah's", set(), id="possessive-is-another-word"),
        pytest.param("LISBON and lisbon", set(), id="not-title-case"),
        pytest.param("Dr and Mr", set(), id="titles-are-no-anchors"),
    ],
)
def test_anchors_are_whole_title_case_words(text: str, anchors: set[bytes]) -> None:
    assert probed(text).anchors == anchors


@pytest.mark.parametrize(
    ("text", "cues", "streets", "context"),
    [
        pytest.param("my name is sam", True, False, False, id="cue"),
        pytest.param("Send it to 5 Main Street", False, True, False, id="street"),
        pytest.param("Kind regards, Sam", False, False, True, id="context"),
        pytest.param("Okafor SAID so", True, False, True, id="speech-upper-case"),
        pytest.param("nothing to see here", False, False, False, id="none"),
    ],
)
def test_flags_say_which_scans_can_match(
    text: str, cues: bool, streets: bool, context: bool
) -> None:
    seen = probed(text)
    assert (seen.cues, seen.streets, seen.context) == (cues, streets, context)


@pytest.mark.parametrize(
    ("text", "digits", "spaced_digit"),
    [
        pytest.param("Storgata 5", True, True, id="number-after-space"),
        pytest.param("Storgata\t5", True, True, id="number-after-tab"),
        pytest.param("12345678 Summarise the notes", True, False, id="number-first"),
        pytest.param("version v2 and x86", True, False, id="digits-inside-words"),
        pytest.param("Hauptstra\u00dfe,5", True, True, id="after-punctuation-too"),
        pytest.param("no numbers here", False, False, id="none"),
    ],
)
def test_digit_flags_say_whether_an_address_can_end_here(
    text: str, digits: bool, spaced_digit: bool
) -> None:
    seen = probed(text)
    assert (seen.digits, seen.spaced_digit) == (digits, spaced_digit)


def test_no_vocabulary_word_holds_a_digit() -> None:
    # the probe reads every digit as "0"; a word with a digit could then never be found
    assert not [word for word in vocabulary().words if any(b in b"0123456789" for b in word)]


def test_where_finds_words_beside_numbers() -> None:
    seen = probed("Room 101, Lisbon 2024: Sarah")
    assert [word for _, word in seen.where(frozenset({b"Lisbon", b"Sarah"}))] == [
        b"Lisbon",
        b"Sarah",
    ]


def test_where_gives_byte_offsets_in_text_order() -> None:
    text = "Zoë met Sarah in Lisbon; later Sarah left Lisbon."
    seen = probed(text)
    data = text.encode()
    found = seen.where(frozenset({b"Sarah", b"Lisbon"}))
    assert [word for _, word in found] == [b"Sarah", b"Lisbon", b"Sarah", b"Lisbon"]
    assert all(data[at : at + len(word)] == word for at, word in found)
    assert [at for at, _ in found] == sorted(at for at, _ in found)
