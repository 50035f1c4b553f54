"""Field names and identifiers leave the company too: they are listed in one segment.

A schema's property names, ``metadata`` keys, tool and function names, ids and an
unknown key's name reach the upstream as the caller wrote them; the model reads most of
them. They are collected into the names segment (``Segment.names``) and scanned; the
wire format's own words are not listed, so ordinary calls have no names segment.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from bastion.crypto.keyring import Keyring
from bastion.model import Decision, Endpoint, Finding, Segment, Source
from bastion.model.decision import Action
from bastion.transform.base import Unrewritable
from bastion.transform.redact import Redactor
from bastion.wire.parse import parse_body
from bastion.wire.request import WireOptions
from bastion.wire.segments import NAMES_PATH

MODEL = "gpt-4o-mini"
AWS_KEY = "AKIA" + "Q3EGRTZ5LXKW7NUC"


def parse(body: dict[str, Any], endpoint: Endpoint = Endpoint.CHAT) -> tuple[Segment, ...]:
    return parse_body(orjson.dumps(body), endpoint, WireOptions()).conversation.segments


def names_of(segments: tuple[Segment, ...]) -> list[str]:
    listed = [s for s in segments if s.names]
    assert len(listed) <= 1
    if not listed:
        return []
    (segment,) = listed
    assert (segment.source, segment.path) == (Source.METADATA, NAMES_PATH)
    return segment.text.split("\n")


def tool(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": list(properties)}
    return {"type": "function", "function": {"name": name, "parameters": schema}}


def test_an_ordinary_call_has_no_names_segment() -> None:
    body = {
        "model": MODEL,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "tool_choice": "auto",
    }
    assert names_of(parse(body)) == []


def test_property_names_tool_names_and_metadata_keys_are_listed_sorted() -> None:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "weather?"}],
        "tools": [tool("get_weather", {"city": {"type": "string"}, AWS_KEY: {"type": "string"}})],
        "metadata": {"ticket owner": "ops"},
        "prompt_cache_key": "tenant-42",
    }
    assert names_of(parse(body)) == sorted(
        [AWS_KEY, "city", "get_weather", "ticket owner", "tenant-42"]
    )


def test_ids_function_call_names_and_unknown_keys_are_listed() -> None:
    body = {
        "model": MODEL,
        "input": [
            {"type": "function_call", "id": "fc_1", "call_id": "call_9", "name": "lookup",
             "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_9", "output": "ok"},
            {"role": "user", "content": "go on", "x-note by dana@example.com": "?"},
        ],
    }  # fmt: skip
    listed = names_of(parse(body, Endpoint.RESPONSES))
    assert listed == sorted(["call_9", "fc_1", "lookup", "x-note by dana@example.com"])


def test_credentials_and_payloads_are_not_listed_but_file_names_are() -> None:
    body = {
        "model": MODEL,
        "input": [
            {"role": "user", "content": [
                {"type": "input_file", "file_data": "JVBERi0=", "filename": "salaries.pdf"},
                {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="},
            ]},
        ],
        "tools": [{"type": "mcp", "server_label": "crm", "server_url": "https://mcp.example",
                   "authorization": "tok-secret", "headers": {"X-Key": "tok-2"}}],
    }  # fmt: skip
    listed = names_of(parse(body, Endpoint.RESPONSES))
    assert "salaries.pdf" in listed
    assert not {"tok-secret", "tok-2", "JVBERi0="} & set(listed)
    assert not any(name.startswith("data:") for name in listed)


def test_a_message_name_already_scanned_as_text_is_not_listed_again() -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi", "name": "dana_w"}]}
    segments = parse(body)
    assert "dana_w" in [s.text for s in segments if not s.names]
    assert names_of(segments) == []


# ---- the transform: a name cannot be rewritten --------------------------------------------


def redact_names(transform: str) -> tuple[dict[str, Any], object]:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "metadata": {"dana@example.com": "owner"},
    }
    parsed = parse_body(orjson.dumps(body), Endpoint.CHAT, WireOptions())
    segments = parsed.conversation.segments
    index = next(i for i, s in enumerate(segments) if s.names)
    start = segments[index].text.index("dana@example.com")
    finding = Finding("pii.email", index, start, start + 16, 0.9, "pattern")
    decision = Decision(
        Action.REDACT, redactions=(("pii.email", transform),), redacted_classes=("pii.email",)
    )
    redactor = Redactor(Keyring.generate())
    return redactor.apply(parsed.body, parsed.conversation, [finding], decision)


@pytest.mark.parametrize("transform", ["mask", "pseudonymise", "hash", "drop"])
def test_redacting_a_value_in_a_name_refuses_instead_of_forwarding_it(transform: str) -> None:
    with pytest.raises(Unrewritable) as refused:
        redact_names(transform)
    assert refused.value.classes == ("pii.email",)
    assert "dana" not in str(refused.value)


def test_spotlighting_a_name_forwards_the_body_unchanged() -> None:
    body, applied = redact_names("spotlight")
    assert body["metadata"] == {"dana@example.com": "owner"}
    assert applied is None
