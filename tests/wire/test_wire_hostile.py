"""Hostile bodies: whatever JSON arrives, parsing answers a 400 or a conversation, never a crash."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.errors import InvalidRequest
from bastion.model import Endpoint
from bastion.wire.parse import parse_body
from bastion.wire.request import WireOptions

# Leaves lean towards the words the walkers branch on, so generated bodies reach deep.
WORDS = [
    "user",
    "system",
    "assistant",
    "tool",
    "developer",
    "text",
    "function",
    "message",
    "function_call",
    "function_call_output",
    "input_text",
    "image_url",
    "refusal",
    "reasoning",
    "item_reference",
    "mcp",
    "<retrieved>x</retrieved>",
]
json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(WORDS)
)
json_any = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "role",
                    "content",
                    "type",
                    "text",
                    "name",
                    "tool_calls",
                    "function",
                    "arguments",
                    "output",
                    "input",
                    "message",
                    "part",
                    "range",
                    "x",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=25,
)
FIELDS = {
    Endpoint.CHAT: [
        "messages",
        "tools",
        "functions",
        "prediction",
        "response_format",
        "metadata",
        "stop",
        "user",
        "n",
        "max_tokens",
        "stream",
        "bastion",
    ],
    Endpoint.RESPONSES: [
        "input",
        "instructions",
        "tools",
        "text",
        "prompt",
        "metadata",
        "previous_response_id",
        "stream",
        "bastion",
    ],
    Endpoint.EMBEDDINGS: ["input", "dimensions", "encoding_format", "user", "bastion"],
}


@pytest.mark.parametrize("endpoint", list(FIELDS), ids=lambda e: e.value)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_json_body_is_answered_cleanly(endpoint: Endpoint, data: st.DataObject) -> None:
    fields = data.draw(st.dictionaries(st.sampled_from(FIELDS[endpoint]), json_any, max_size=4))
    body = {"model": "gpt-4o-mini", **fields}
    try:
        parsed = parse_body(json.dumps(body).encode(), endpoint, WireOptions())
    except InvalidRequest as exc:
        assert exc.status == 400 and exc.code in {
            "invalid_value",
            "invalid_json",
            "unsupported_parameter",
        }
        return
    assert "bastion" not in parsed.body
    for segment in parsed.conversation.segments:
        assert isinstance(segment.text, str)


def test_a_body_of_unclosed_retrieved_tags_parses_in_linear_time() -> None:
    """Thousands of ``<retrieved>`` that never close: parsed at once (a backtracking
    pattern took seconds on 90 KB and minutes on a megabyte, holding the event loop)."""
    text = "<retrieved>" * 100_000  # 1.1 MB
    raw = json.dumps({"model": "m", "messages": [{"role": "user", "content": text}]}).encode()
    started = time.process_time()
    parsed = parse_body(raw, Endpoint.CHAT, WireOptions())
    assert time.process_time() - started < 2.0  # measured: a few ms; the old pattern: hours
    assert [s.source.value for s in parsed.conversation.segments] == ["user"]
