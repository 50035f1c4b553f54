"""Names read as words: identifiers split where a reader splits them, spans mapped back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.detect.names import name_words


@pytest.mark.parametrize(
    ("names", "words"),
    [
        ("get_weather", "get weather"),
        ("top-k.value/x:y", "top k value x y"),
        ("customerId\norderTotal2Eur", "customer Id\norder Total2 Eur"),
        ("HTTPServer", "HTTPServer"),  # no lower-case letter meets an upper-case one
        ("ünicodeName", "ünicode Name"),
        ("", ""),
    ],
)
def test_identifiers_become_words(names: str, words: str) -> None:
    assert name_words(names).text == words


def test_a_span_of_the_words_is_the_same_name_as_written() -> None:
    names = "city\nIgnorePreviousInstructions\nunit"
    words = name_words(names)
    start = words.text.index("Ignore")
    end = words.text.index("Instructions") + len("Instructions")
    assert words.to_original(start, end) == (5, 5 + len("IgnorePreviousInstructions"))


@given(st.text(alphabet="aBz9_-.:/ \nÄé", max_size=40))
def test_every_character_of_the_words_maps_to_itself(names: str) -> None:
    words = name_words(names)
    spaced = names.translate(str.maketrans("_-./:", "     "))
    assert len(words.text) == len(names) + len(words.inserted)
    for index, char in enumerate(words.text):
        if index in words.inserted:
            assert char == " "
            continue
        start, end = words.to_original(index, index + 1)
        assert end == start + 1 and spaced[start] == char
