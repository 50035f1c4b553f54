"""Offset maps: properties that hold for every projection of every text, and linearity."""

from __future__ import annotations

import base64
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.detect.normalize import OffsetMap, project
from bastion.detect.normalize.charsets import INVISIBLE
from bastion.detect.normalize.projection import MapBuilder

PIECES = st.sampled_from(
    [
        "a",
        "b",
        "x",
        "Z",
        "0",
        "1",
        "3",
        "7",
        "@",
        "$",
        ".",
        "-",
        " ",
        "  ",
        "\n",
        "\u200b",
        "\u200d",
        "\u2060",
        "\u00ad",
        "\u202e",
        "\ufeff",
        "\u3164",
        "\ufe0f",
        "\U000e0041",
        "\U000e0020",
        "\U000e007f",
        "\U000e0110",
        "\U000e0150",
        "\u0430",
        "\u043e",
        "\u0455",
        "\u03bf",
        "\u0661",
        "\uff41",
        "\uff10",
        "\ufb01",
        "\u2474",
        "\u00a0",
        "\ufdfa",
        "\U0001d41a",
        "😊",
        "👨",
        "🏴",
        "\u05d0",
        "john@example.com",
        "p4ssw0rd",
        "gur",
        "zl xrl",
        "a b c d e",
        "j.o.h.n",
        base64.b64encode(b"hello there world").decode(),
        "68656c6c6f20776f726c6421",
        "%41%42%43",
        "&#65;&#66;",
        "\\x41\\x42\\x43\\x44",
    ]
)
TEXTS = st.lists(PIECES, max_size=40).map("".join)
DELETIONS = {"despaced"}
CLEANING = {"visible", "nfkc", "skeleton"}


def spans(length: int) -> st.SearchStrategy[tuple[int, int]]:
    return st.tuples(st.integers(0, length), st.integers(0, length)).map(sorted).map(tuple)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(TEXTS, st.data())
def test_every_span_maps_to_an_ordered_in_bounds_span(text: str, data: st.DataObject) -> None:
    for projection in project(text).projections:
        n = len(projection.text)
        start, end = data.draw(spans(n))
        origin, finish = projection.to_original(start, end)
        assert 0 <= origin <= finish <= len(text), projection.name
        if start < end:
            assert origin < finish, projection.name
        inner = data.draw(spans(n))
        if start <= inner[0] < inner[1] <= end:  # an empty span sits between two chars
            a, b = projection.to_original(*inner)
            assert origin <= a <= b <= finish, projection.name


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(TEXTS)
def test_every_projected_character_maps_to_a_source_character(text: str) -> None:
    for projection in project(text).projections:
        previous = 0
        for index in range(len(projection.text)):
            origin, finish = projection.to_original(index, index + 1)
            assert finish > origin >= previous - 1, projection.name
            previous = origin


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(TEXTS)
def test_deletion_projections_only_delete(text: str) -> None:
    """``visible`` without decoded payloads, and ``despaced``: the projected text is the
    original with some characters removed, each kept one mapping to itself exactly."""
    result = project(text)
    payload = any(hit.data_class == "evasion.tag_payload" for hit in result.evasion)
    cleaned = any(p.name in CLEANING for p in result.projections)
    for projection in result.projections:
        if projection.name == "visible" and payload:
            continue
        if projection.name != "visible" and (projection.name not in DELETIONS or cleaned):
            continue  # decoders delete from the cleaned text, not from the original
        kept = []
        for index, char in enumerate(projection.text):
            origin, finish = projection.to_original(index, index + 1)
            assert finish == origin + 1 and text[origin] == char, projection.name
            kept.append(origin)
        assert kept == sorted(set(kept))
        removed = "".join(c for i, c in enumerate(text) if i not in set(kept))
        if projection.name == "visible":
            assert all(c in INVISIBLE for c in removed)
        else:
            assert all(not c.isalnum() for c in removed)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(max_size=60))
def test_any_text_projects_without_error(text: str) -> None:
    for projection in project(text).projections:
        assert projection.to_original(0, len(projection.text))[1] <= len(text)


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_nfkc_projection_is_per_character_nfkc(text: str) -> None:
    result = project(text)
    for projection in result.projections:
        if projection.name == "nfkc" and not any(p.name == "visible" for p in result.projections):
            expected = "".join(unicodedata.normalize("NFKC", c) for c in text)
            assert projection.text == expected


def test_lone_surrogates_do_not_raise() -> None:
    result = project("bad \ud800 text with p\u200ba\u200bss")
    assert result.evasion
    assert all(len(p.text) >= 1 for p in result.projections)


def test_out_of_bounds_span_is_rejected() -> None:
    projection = project("p\u200bassword").projections[0]
    with pytest.raises(ValueError, match="outside"):
        projection.to_original(0, len(projection.text) + 1)


def test_identity_and_composition() -> None:
    identity = OffsetMap.identity(5)
    assert identity.to_original(1, 3) == (1, 3)
    assert identity.to_original(5, 5) == (5, 5)
    outer = MapBuilder()  # "ab" + "XYZ"(decoded from [2, 4)) + "e" over a 5-char base
    outer.copy(0, 2)
    outer.collapse(3, 2, 4)
    outer.copy(4, 1)
    inner = MapBuilder()  # base = original minus the char at 1 (a deletion)
    inner.copy(0, 1)
    inner.copy(2, 4)
    composed = outer.build(5).then(inner.build(6))
    assert composed.length == 6 and composed.source_length == 6
    assert composed.to_original(0, 1) == (0, 1)
    assert composed.to_original(1, 2) == (2, 3)
    assert composed.to_original(3, 4) == (3, 5)  # inside the decoded run: the whole run
    assert composed.to_original(5, 6) == (5, 6)
    assert composed.to_original(0, 6) == (0, 6)


ADVERSARIAL = {
    "digits": lambda n: "7" * n,
    "at-signs": lambda n: "@" * n,
    "base64": lambda n: base64.b64encode(bytes(range(256)) * (n // 256 + 1)).decode()[:n],
    "base64-text": lambda n: base64.b64encode(b"plain words " * n).decode()[:n],
    "zero-width": lambda n: "\u200b" * n,
    "zero-width-in-words": lambda n: "ab\u200bc " * (n // 5),
    "tags": lambda n: "".join(chr(0xE0041 + i % 26) for i in range(n)),
    "spaced": lambda n: "a " * (n // 2),
    "homoglyph-words": lambda n: "p\u0430ypal " * (n // 7),
}


@pytest.mark.parametrize("make", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_adversarial_input_projects_within_bounds(make: object) -> None:
    # speed on these inputs is measured in bench/detect (linearity), not here
    text = make(100_000)  # type: ignore[operator]
    normalised = project(text)
    for projection in normalised.projections:
        start, end = projection.to_original(0, len(projection.text))
        assert 0 <= start <= end <= len(text)
