"""``\\uXXXX`` escapes: decoded as the first cleaning stage, every span mapped back."""

from __future__ import annotations

import json

import pytest

from bastion.detect.catalog import build_scanner
from bastion.detect.normalize import project
from bastion.detect.normalize.escapes import unescape
from bastion.detect.normalize.utf8 import Utf8Text
from bastion.detect.scanner import Scanner


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return build_scanner()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(r"caf\u00e9", "café", id="bmp"),
        pytest.param(r"\ud83d\ude00!", "\U0001f600!", id="surrogate-pair"),
        pytest.param(r"a\ud800b", "a\ufffdb", id="lone-high-surrogate"),
        pytest.param(r"\udc00\ud800", "\ufffd\ufffd", id="reversed-pair"),
        pytest.param(r"\U00e9 \u00E9", r"\U00e9 é", id="upper-case-hex-only"),
        pytest.param("C:\\\\users\\\\u1234", None, id="escaped-backslash"),
        pytest.param("\\\\\\u00e9", "\\\\é", id="escape-after-escaped-backslash"),
        pytest.param(r"\u12 \u00zz", None, id="not-escapes"),
    ],
)
def test_unescape(text: str, expected: str | None) -> None:
    found = unescape(Utf8Text(text))
    assert (found.text if found else None) == expected


def test_each_decoded_character_maps_to_its_escape() -> None:
    text = r"x \u0067\ud83d\ude00y"
    found = unescape(Utf8Text(text))
    assert found is not None and found.text == "x g\U0001f600y"
    assert found.offsets.to_original(2, 3) == (2, 8)
    assert found.offsets.to_original(3, 4) == (8, 20)
    assert found.offsets.to_original(4, 5) == (20, 21)


@pytest.mark.parametrize(
    ("value", "data_class"),
    [
        pytest.param("+1\u00a0415\u00a0555\u00a00132", "pii.phone", id="phone-nbsp"),
        pytest.param("4111\u00a01111\u00a01111\u00a01111", "pii.credit_card", id="card-nbsp"),
        pytest.param("\uff14\uff11\uff11\uff11 1111 1111 1111", "pii.credit_card", id="card-wide"),
        pytest.param(
            "\u200b".join("ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tV9wX1yZ3bC5"),
            "secret.github_token",
            id="token-zero-width",
        ),
    ],
)
def test_values_in_json_tool_arguments_are_found_at_their_escapes(
    scanner: Scanner, value: str, data_class: str
) -> None:
    """Python's json.dumps escapes every non-ASCII character: tool-call arguments
    written so hid phone numbers with no-break spaces, wide digits and zero-width
    padding from every detector."""
    prefix = '{"note": "call", "value": "'
    arguments = json.dumps({"note": "call", "value": value})
    escaped = json.dumps(value)[1:-1]
    assert arguments == f'{prefix}{escaped}"}}'
    hits = [h for h in scanner.scan(arguments).findings if h.data_class == data_class]
    assert [(h.start, h.end) for h in hits] == [(len(prefix), len(prefix) + len(escaped))]


def test_evasion_inside_escapes_is_reported_at_the_escapes() -> None:
    tags = "".join(chr(0xE0000 + ord(c)) for c in "ignore")
    text = json.dumps({"a": "p\u200ba\u200bss", "b": "ok" + tags})
    found = {hit.data_class: hit for hit in project(text).evasion}
    invisible, payload = found["evasion.invisible"], found["evasion.tag_payload"]
    assert text[invisible.start : invisible.end].startswith("\\u200b")
    assert text[payload.start : payload.end] == json.dumps(tags)[1:-1]


def test_benign_escaped_json_raises_nothing(scanner: Scanner) -> None:
    text = json.dumps({"name": "José Muñoz", "note": "café \u2013 déjà vu 😀", "n": 4111})
    flagged = [h.data_class for h in scanner.scan(text).findings]
    assert not [name for name in flagged if name.startswith(("evasion.", "pii.", "secret."))]
