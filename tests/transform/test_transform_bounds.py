"""Restoration replaces a fake only where it stands whole; a placeholder wherever it is."""

from __future__ import annotations

import json

import pytest

from bastion.pipeline.response import restore_answer
from bastion.pipeline.stream_hooks import ReplaceTextHook

MAPPING = {
    "morgan.marlowe2133@example.com": "dana@northwind.example",
    "Morgan Marlowe": "Dana Whitfield",
    "203.0.113.110": "93.184.216.34",
    "912-34-5678": "078-05-1120",
    "123 Alder Street": "9 Elm Road",
    "<EMAIL_1a2b3c4d>": "ann@corp.example",
}
RESTORER = ReplaceTextHook(MAPPING)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # whole: prose punctuation around a fake is not part of it
        pytest.param("Mail morgan.marlowe2133@example.com.", "Mail dana@northwind.example.",
                     id="email-before-full-stop"),
        pytest.param("(Morgan Marlowe's file)", "(Dana Whitfield's file)", id="possessive"),
        pytest.param("mailto:morgan.marlowe2133@example.com", "mailto:dana@northwind.example",
                     id="after-a-scheme"),
        pytest.param("host 203.0.113.110:8080", "host 93.184.216.34:8080", id="ip-with-port"),
        pytest.param("SSN: 912-34-5678, DOB", "SSN: 078-05-1120, DOB", id="ssn-in-a-list"),
        pytest.param("ship to 123 Alder Street", "ship to 9 Elm Road", id="street"),
        # glued: the fake is only part of a longer token, the model's own text
        pytest.param("morgan.marlowe2133@example.com.evil.net",
                     "morgan.marlowe2133@example.com.evil.net", id="email-in-a-longer-host"),
        pytest.param("xmorgan.marlowe2133@example.com", "xmorgan.marlowe2133@example.com",
                     id="email-after-a-letter"),
        pytest.param("a+morgan.marlowe2133@example.com", "a+morgan.marlowe2133@example.com",
                     id="email-after-a-joiner"),
        pytest.param("Morgan Marlowes and Morgan Marlowe-Smith",
                     "Morgan Marlowes and Morgan Marlowe-Smith", id="name-in-longer-names"),
        pytest.param("10.203.0.113.110 and 203.0.113.1101", "10.203.0.113.110 and 203.0.113.1101",
                     id="ip-inside-longer-numbers"),
        pytest.param("1912-34-5678", "1912-34-5678", id="ssn-after-a-digit"),
        pytest.param("unit 1123 Alder Street", "unit 1123 Alder Street", id="street-number-longer"),
        # placeholders carry their own delimiters: restored even glued to a word
        pytest.param("x<EMAIL_1a2b3c4d>y", "xann@corp.exampley", id="placeholder-glued"),
    ],
)  # fmt: skip
def test_a_fake_is_restored_only_where_it_stands_whole(text: str, expected: str) -> None:
    assert RESTORER.replace(text) == expected


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        pytest.param({"to": "Hi\nMorgan Marlowe"}, {"to": "Hi\nDana Whitfield"},
                     id="after-a-newline-escape"),
        pytest.param({"to": "Morgan Marlowe\tx"}, {"to": "Dana Whitfield\tx"},
                     id="before-a-tab-escape"),
        pytest.param({"to": "\u2014Morgan Marlowe"}, {"to": "\u2014Dana Whitfield"},
                     id="after-an-escaped-dash"),
        pytest.param({"to": "\u00e9Morgan Marlowe"}, {"to": "\u00e9Morgan Marlowe"},
                     id="after-an-escaped-letter"),
        pytest.param({"to": "\\nMorgan Marlowe"}, {"to": "\\nMorgan Marlowe"},
                     id="after-an-escaped-backslash-and-n"),
    ],
)  # fmt: skip
def test_in_json_text_an_escape_reads_as_the_character_it_spells(
    arguments: dict[str, str], expected: dict[str, str]
) -> None:
    call = {"id": "c", "type": "function", "function": {"name": "send", "arguments": ""}}
    call["function"]["arguments"] = json.dumps(arguments)  # \n, \t, \u2014 escaped
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    restore_answer({"choices": [{"index": 0, "message": message}]}, RESTORER)
    assert json.loads(call["function"]["arguments"]) == expected
