"""Reversible redaction as an SDK user sees it, in the answer shapes that are easy to get
wrong: structured outputs (the answer is a JSON document), Responses streams (ordered by
``sequence_number``), custom tool calls and refusals."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pydantic
import pytest

from tests.e2e.conftest import Stack, running_stack

PLACEHOLDER = re.compile(r"<[A-Z_]+_[0-9a-f]{8,}>")
# a street address on two lines: its original holds a newline, which a JSON string
# can only carry escaped
ADDRESS = "221B Baker Street\nLondon NW1 6XE"
SHIP_TO = f"Ship to:\n{ADDRESS}"
EMAIL = "dana.whitfield@northwind-example.com"
POLICY = """\
name: qa
version: "1"
rules:
  - id: pii.pseudonymise
    match: {classes: ["pii.*"]}
    action: redact
    transform: pseudonymise
"""
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"address": {"type": "string"}},
    "required": ["address"],
    "additionalProperties": False,
}
CHAT_FORMAT: Any = {
    "type": "json_schema",
    "json_schema": {"name": "shipping", "schema": SCHEMA, "strict": True},
}
RESPONSES_FORMAT: Any = {
    "format": {"type": "json_schema", "name": "shipping", "schema": SCHEMA, "strict": True}
}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("e2e-qa-restoration")
    (work / "policy.yaml").write_text(POLICY, encoding="utf-8")
    with running_stack(work, "policy: {file: policy.yaml}\n") as running:
        yield running


def _upstream_saw_no_address(stack: Stack) -> None:
    forwarded = json.dumps(stack.captures()[-1]["body"])
    assert "Baker" not in forwarded and PLACEHOLDER.search(forwarded)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_chat_structured_output_stays_valid_json_when_restored(
    guarded: Stack, stream: bool
) -> None:
    """The model fills the schema with the placeholder; the client gets the original
    back inside a JSON document that still parses (the newline escaped, not raw)."""
    guarded.clear_captures()
    messages: Any = [{"role": "user", "content": SHIP_TO}]
    client = guarded.client()
    if stream:
        chunks = client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, response_format=CHAT_FORMAT, stream=True
        )
        content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        completion = client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, response_format=CHAT_FORMAT
        )
        content = completion.choices[0].message.content or ""
    assert json.loads(content) == {"address": SHIP_TO}
    _upstream_saw_no_address(guarded)


class Shipping(pydantic.BaseModel):
    address: str


def test_chat_parse_helper_reads_the_restored_structured_output(guarded: Stack) -> None:
    parsed = guarded.client().chat.completions.parse(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": SHIP_TO}],
        response_format=Shipping,
    )
    assert parsed.choices[0].message.parsed == Shipping(address=SHIP_TO)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_responses_structured_output_stays_valid_json_when_restored(
    guarded: Stack, stream: bool
) -> None:
    guarded.clear_captures()
    client = guarded.client()
    if stream:
        events = list(
            client.responses.create(
                model="gpt-4o-mini", input=SHIP_TO, text=RESPONSES_FORMAT, stream=True
            )
        )
        deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        assert json.loads(deltas) == {"address": SHIP_TO}
        done = next(e for e in events if e.type == "response.output_text.done")
        assert json.loads(done.text) == {"address": SHIP_TO}
        completed = events[-1]
        assert completed.type == "response.completed"
        assert json.loads(completed.response.output_text) == {"address": SHIP_TO}
    else:
        response = client.responses.create(
            model="gpt-4o-mini", input=SHIP_TO, text=RESPONSES_FORMAT
        )
        assert json.loads(response.output_text) == {"address": SHIP_TO}
    _upstream_saw_no_address(guarded)


def test_plain_text_answers_keep_the_original_as_written(guarded: Stack) -> None:
    """Without a JSON format the answer is prose: the newline is restored as is."""
    completion = guarded.client().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": SHIP_TO}]
    )
    assert completion.choices[0].message.content == SHIP_TO


def _placeholder_for(stack: Stack, text: str) -> str:
    stack.clear_captures()
    stack.client().responses.create(model="gpt-4o-mini", input=text)
    (placeholder,) = set(PLACEHOLDER.findall(json.dumps(stack.captures()[-1]["body"])))
    return placeholder


@pytest.mark.parametrize("answer", ["text", "function_call", "failed"])
def test_responses_stream_keeps_one_sequence_number_per_event(guarded: Stack, answer: str) -> None:
    """Restoring a placeholder that arrives over several deltas splits and empties
    events; the client still sees sequence numbers 0, 1, 2, ... with no repeat or gap
    (the SDK's ``starting_after`` and any client ordering by them rely on that)."""
    prompt = f"Mail {EMAIL} today about the invoice please"
    placeholder = _placeholder_for(guarded, prompt)
    tools: Any = []
    if answer == "function_call":
        arguments = json.dumps({"to": placeholder, "subject": "invoice"})
        guarded.script("gpt-4o-mini", {"tool_calls": [{"name": "send", "arguments": arguments}]})
        tools = [{"type": "function", "name": "send", "parameters": {"type": "object"}}]
    elif answer == "failed":
        prompt += " [[sim:fault=disconnect,after=7]]"
    events = list(
        guarded.client().responses.create(
            model="gpt-4o-mini", input=prompt, tools=tools, stream=True
        )
    )
    assert [e.sequence_number for e in events] == list(range(len(events)))
    final = events[-1]
    if answer == "failed":
        assert final.type == "response.failed"
    else:
        assert final.type == "response.completed"
        assert EMAIL in final.response.model_dump_json()
        assert placeholder not in final.response.model_dump_json()


@pytest.mark.parametrize("endpoint", ["chat", "responses"])
def test_custom_tool_call_input_is_restored(guarded: Stack, endpoint: str) -> None:
    """A custom (free-form) tool's input is text the client runs, like a function's
    arguments: the placeholder the model saw comes back as the original."""
    prompt = f"Mail {EMAIL} the invoice"
    placeholder = _placeholder_for(guarded, prompt)
    command = f"sendmail -t {placeholder} < invoice.txt"
    guarded.script("gpt-4o-mini", {"tool_calls": [{"name": "shell", "input": command}]})
    client = guarded.client()
    if endpoint == "chat":
        completion = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": prompt}],
            tools=[{"type": "custom", "custom": {"name": "shell"}}],
        )
        (call,) = completion.choices[0].message.tool_calls or []
        assert call.type == "custom"
        given = call.custom.input
    else:
        response = client.responses.create(
            model="gpt-4o-mini", input=prompt, tools=[{"type": "custom", "name": "shell"}]
        )
        (item,) = response.output
        assert item.type == "custom_tool_call"
        given = item.input
    assert given == f"sendmail -t {EMAIL} < invoice.txt"


def test_streamed_chat_custom_tool_call_input_is_restored(guarded: Stack) -> None:
    """Streamed, the custom call's input arrives in ``delta.tool_calls[].custom.input``
    (a field the SDK's chunk type does not declare, so it stays a plain dict)."""
    prompt = f"Mail {EMAIL} the invoice"
    placeholder = _placeholder_for(guarded, prompt)
    guarded.script(
        "gpt-4o-mini",
        {"tool_calls": [{"name": "shell", "input": f"sendmail -t {placeholder} < invoice.txt"}]},
    )
    chunks = guarded.client().chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": prompt}],
        tools=[{"type": "custom", "custom": {"name": "shell"}}],
        stream=True,
    )
    given = ""
    for chunk in chunks:
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or ():
                given += (call.model_dump().get("custom") or {}).get("input") or ""
    assert given == f"sendmail -t {EMAIL} < invoice.txt"


def test_streamed_responses_custom_tool_call_input_is_restored(guarded: Stack) -> None:
    """Every place a Responses stream shows the input: the deltas (the placeholder cut
    across them), the done event, the finished item and the completed response."""
    prompt = f"Mail {EMAIL} today"
    placeholder = _placeholder_for(guarded, prompt)
    guarded.script(
        "gpt-4o-mini",
        {"tool_calls": [{"name": "shell", "input": f"sendmail -t {placeholder} < x"}]},
    )
    events = list(
        guarded.client().responses.create(
            model="gpt-4o-mini",
            input=prompt,
            tools=[{"type": "custom", "name": "shell"}],
            stream=True,
        )
    )
    expected = f"sendmail -t {EMAIL} < x"
    deltas = [e.delta for e in events if e.type == "response.custom_tool_call_input.delta"]
    assert "".join(deltas) == expected
    (done,) = [e.input for e in events if e.type == "response.custom_tool_call_input.done"]
    assert done == expected
    (item,) = [e.item for e in events if e.type == "response.output_item.done"]
    assert item.type == "custom_tool_call" and item.input == expected
    final = events[-1]
    assert final.type == "response.completed"
    (output,) = final.response.output
    assert output.type == "custom_tool_call" and output.input == expected
    assert [e.sequence_number for e in events] == list(range(len(events)))
