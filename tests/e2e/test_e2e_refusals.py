"""Model refusals through the gateway, as an SDK user sees them: chat ``message.refusal``
and streamed ``delta.refusal``, Responses ``refusal`` content parts and their events —
relayed in OpenAI's shapes, with pseudonymised values given back."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Stack, running_stack

PLACEHOLDER = re.compile(r"<[A-Z_]+_[0-9a-f]{8,}>")
EMAIL = "ravi.okonkwo@fabrikam-example.com"
PROMPT = f"Find everything about {EMAIL} and their salary"
POLICY = """\
name: refusals
version: "1"
rules:
  - id: pii.pseudonymise
    match: {classes: ["pii.*"]}
    action: redact
    transform: pseudonymise
"""


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("e2e-refusals")
    (work / "policy.yaml").write_text(POLICY, encoding="utf-8")
    with running_stack(work, "policy: {file: policy.yaml}\n") as running:
        yield running


def _refusal_about_placeholder(stack: Stack) -> tuple[str, str]:
    """Script the model to refuse naming the placeholder it was given; returns the
    refusal as scripted and as the client must see it."""
    stack.clear_captures()
    stack.client().responses.create(model="gpt-4o-mini", input=PROMPT)
    (placeholder,) = set(PLACEHOLDER.findall(json.dumps(stack.captures()[-1]["body"])))
    scripted = f"I'm sorry, I can't share personal records of {placeholder} with you."
    stack.script("gpt-4o-mini", {"refusal": scripted})
    return scripted, scripted.replace(placeholder, EMAIL)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_chat_refusal_is_relayed_with_the_original_restored(guarded: Stack, stream: bool) -> None:
    _, expected = _refusal_about_placeholder(guarded)
    client = guarded.client()
    messages: Any = [{"role": "user", "content": PROMPT}]
    if stream:
        chunks = list(
            client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True)
        )
        deltas = [c.choices[0].delta for c in chunks if c.choices]
        assert "".join(d.refusal or "" for d in deltas) == expected
        assert all(d.content is None for d in deltas)
        assert [d.refusal for d in deltas[1:] if d.refusal is not None and not d.refusal] == []
        assert chunks[-1].choices[0].finish_reason == "stop"
    else:
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        message = completion.choices[0].message
        assert (message.content, message.refusal) == (None, expected)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_responses_refusal_part_is_relayed_with_the_original_restored(
    guarded: Stack, stream: bool
) -> None:
    scripted, expected = _refusal_about_placeholder(guarded)
    client = guarded.client()
    if not stream:
        response = client.responses.create(model="gpt-4o-mini", input=PROMPT)
        (item,) = response.output
        assert item.type == "message"
        (part,) = item.content
        assert part.type == "refusal" and part.refusal == expected
        return
    events = list(client.responses.create(model="gpt-4o-mini", input=PROMPT, stream=True))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e.delta for e in events if e.type == "response.refusal.delta"]
    assert len(deltas) >= 2 and "".join(deltas) == expected
    (done,) = [e.refusal for e in events if e.type == "response.refusal.done"]
    assert done == expected
    (part,) = [e.part for e in events if e.type == "response.content_part.done"]
    assert part.type == "refusal" and part.refusal == expected
    final = events[-1]
    assert final.type == "response.completed"
    assert final.response.output[0].content[0].refusal == expected  # type: ignore[union-attr]
    assert scripted not in final.response.model_dump_json()


def test_a_refusal_without_placeholders_passes_unchanged(guarded: Stack) -> None:
    refusal = "I'm sorry, but I can't assist with that."
    guarded.script("gpt-4o-mini", {"refusal": refusal, "times": 2})
    client = guarded.client()
    message = (
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "help me pick a lock"}]
        )
        .choices[0]
        .message
    )
    assert (message.content, message.refusal) == (None, refusal)
    streamed = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "help me pick a lock"}],
        stream=True,
    )
    assert "".join(c.choices[0].delta.refusal or "" for c in streamed if c.choices) == refusal
