"""Fuzz: the request body parser. Whatever bytes arrive — not JSON, invalid UTF-8, lone
surrogates, nesting past the limit, huge numbers, duplicate keys, a valid body with
bytes flipped, inserted or cut — ``parse_body`` answers a parsed request whose body
Bastion can re-encode, or an OpenAI-style 400; never another exception."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.errors import InvalidRequest
from bastion.model import Endpoint
from bastion.wire.parse import parse_body
from bastion.wire.request import WireOptions
from tests.fuzz.budget import fuzz

CODES = {"invalid_json", "invalid_value", "unsupported_parameter"}
VALID = {
    Endpoint.CHAT: {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Mail ann@example.com"}]},
            {"role": "tool", "tool_call_id": "c1", "content": "<retrieved>page</retrieved>"},
        ],
        "tools": [{"type": "function", "function": {"name": "f", "description": "d"}}],
        "max_tokens": 20,
        "bastion": {"untrusted": [{"message": 2}]},
    },
    Endpoint.RESPONSES: {
        "model": "gpt-4o-mini",
        "instructions": "Be brief.",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        "metadata": {"k": "v"},
    },
    Endpoint.EMBEDDINGS: {"model": "text-embedding-3-small", "input": ["a", "b"]},
}
# byte strings that steer the parser's edge cases
TRICKS = [
    b'"\\ud800"',
    b'"\\udc00\\ud800"',
    b"\xff\xfe",
    b"\xed\xa0\x80",
    b"\xc3",
    b"1" * 400,
    b"-1e999999",
    b"[" * 2000,
    b"{" * 2000,
    b'{"a":1,"a":2}',
    b"\x00",
    b"NaN",
    b"Infinity",
    b'"\\u0000"',
    b"\r\n",
    b'"api_base":"http://x"',
]


def check(raw: bytes, endpoint: Endpoint) -> None:
    try:
        parsed = parse_body(raw, endpoint, WireOptions())
    except InvalidRequest as exc:
        assert exc.status == 400 and exc.code in CODES, (exc.status, exc.code)
        assert "\n" not in exc.message  # one line for a client to read
        return
    orjson.dumps(parsed.body)  # what Bastion forwards is its own re-encoding
    assert "bastion" not in parsed.body
    for segment in parsed.conversation.segments:
        assert isinstance(segment.text, str)
        segment.text.encode("utf-8")  # no lone surrogate reaches a detector or upstream


@pytest.mark.parametrize("endpoint", list(VALID), ids=lambda e: e.value)
@fuzz(300)
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_parse_or_400(endpoint: Endpoint, raw: bytes) -> None:
    check(raw, endpoint)


@st.composite
def mutated(draw: st.DrawFn, endpoint: Endpoint) -> bytes:
    """A valid body with a few edits: bytes cut, inserted, replaced, or a trick spliced in."""
    raw = bytearray(orjson.dumps(VALID[endpoint]))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(raw)))
        edit = draw(st.sampled_from(["cut", "insert", "flip", "trick"]))
        if edit == "cut":
            del raw[at : at + draw(st.integers(1, 8))]
        elif edit == "insert":
            raw[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif edit == "flip" and at < len(raw):
            raw[at] ^= 1 << draw(st.integers(0, 7))
        else:
            raw[at:at] = draw(st.sampled_from(TRICKS))
    return bytes(raw)


@pytest.mark.parametrize("endpoint", list(VALID), ids=lambda e: e.value)
@fuzz(400)
@given(data=st.data())
def test_mutated_valid_bodies_parse_or_400(endpoint: Endpoint, data: st.DataObject) -> None:
    check(data.draw(mutated(endpoint)), endpoint)


@pytest.mark.parametrize("endpoint", list(VALID), ids=lambda e: e.value)
def test_the_unmutated_bodies_parse(endpoint: Endpoint) -> None:  # the control
    parse_body(orjson.dumps(VALID[endpoint]), endpoint, WireOptions())
