"""The model's reasoning through the real gateway, read with the official SDK: a Responses
reasoning summary and a chat ``reasoning_content`` (DeepSeek-style servers) go through
the output rules and pseudonym restoration like the answer, streamed and not."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Stack, running_stack
from tests.e2e.test_e2e_chat import ANSWER_POLICY, EXFIL

EMAIL = "dana.whitfield@northwind-example.com"
PROMPT = f"Write to {EMAIL} about the invoice."
PLACEHOLDER = re.compile(r"<EMAIL_[0-9a-f]{8,}>")
MODEL = "gpt-4o-mini"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("e2e-reasoning")
    (work / "policy.yaml").write_text(ANSWER_POLICY, encoding="utf-8")
    with running_stack(work, "policy: {file: policy.yaml}\n") as running:
        yield running


def placeholder_of_prompt(stack: Stack) -> str:
    """The pseudonym the upstream sees for the prompt's e-mail address (the same on each
    call: it is keyed on the value)."""
    stack.clear_captures()
    stack.client().responses.create(model=MODEL, input=PROMPT)
    (capture,) = stack.captures()
    (placeholder,) = set(PLACEHOLDER.findall(json.dumps(capture["body"])))
    return str(placeholder)


def responses_reasoning(stack: Stack, stream: bool) -> tuple[list[str], str]:
    """The reasoning summary wherever the client sees it (streamed: the deltas joined, the
    done events, the finished item, the final response), and the answer's text."""
    client = stack.client()
    if not stream:
        response = client.responses.create(model=MODEL, input=PROMPT)
        item = response.output[0]
        assert item.type == "reasoning"
        return [item.summary[0].text], response.output_text
    deltas, seen = "", []
    for event in client.responses.create(model=MODEL, input=PROMPT, stream=True):
        if event.type == "response.reasoning_summary_text.delta":
            deltas += event.delta
        elif event.type == "response.reasoning_summary_text.done":
            seen.append(event.text)
        elif event.type == "response.reasoning_summary_part.done":
            seen.append(event.part.text)
        elif event.type == "response.output_item.done" and event.item.type == "reasoning":
            seen.append(event.item.summary[0].text)
        elif event.type == "response.completed":
            final = event.response
    item = final.output[0]
    assert item.type == "reasoning"
    return [deltas, *seen, item.summary[0].text], final.output_text


def chat_reasoning(stack: Stack, stream: bool) -> tuple[str, str]:
    """The ``reasoning_content`` the client gets (streamed: its pieces joined) and the
    answer's content."""
    client = stack.client()
    messages: Any = [{"role": "user", "content": PROMPT}]
    if not stream:
        message = client.chat.completions.create(model=MODEL, messages=messages).choices[0].message
        return (message.model_extra or {})["reasoning_content"], message.content or ""
    reasoning, content = "", ""
    for chunk in client.chat.completions.create(model=MODEL, messages=messages, stream=True):
        for choice in chunk.choices:
            reasoning += (choice.delta.model_extra or {}).get("reasoning_content") or ""
            content += choice.delta.content or ""
    return reasoning, content


@pytest.mark.parametrize("stream", [False, True])
def test_an_exfil_link_in_a_reasoning_summary_is_masked(stack: Stack, stream: bool) -> None:
    stack.script(MODEL, {"reasoning": f"I could add {EXFIL} to it.", "content": "Done."})
    texts, answer = responses_reasoning(stack, stream)
    assert len(texts) == (5 if stream else 1)
    for text in texts:
        assert text.startswith("I could add ") and text.endswith(" to it.")
        assert "attacker-example" not in text and "Q3EGRTZ5LXKW7NUC" not in text
    assert answer == "Done."


@pytest.mark.parametrize("stream", [False, True])
def test_a_placeholder_in_a_reasoning_summary_comes_back_restored(
    stack: Stack, stream: bool
) -> None:
    placeholder = placeholder_of_prompt(stack)
    stack.script(MODEL, {"reasoning": f"They want mail to {placeholder}.", "content": "Done."})
    texts, answer = responses_reasoning(stack, stream)
    assert texts == [f"They want mail to {EMAIL}."] * (5 if stream else 1)
    assert answer == "Done."


@pytest.mark.parametrize("stream", [False, True])
def test_chat_reasoning_content_is_masked_and_restored(stack: Stack, stream: bool) -> None:
    placeholder = placeholder_of_prompt(stack)
    thought = f"Mail {placeholder}? I could add {EXFIL} to it."
    stack.script(MODEL, {"reasoning": thought, "content": "Done."})
    reasoning, content = chat_reasoning(stack, stream)
    assert reasoning.startswith(f"Mail {EMAIL}? I could add ")
    assert reasoning.endswith(" to it.")
    assert "attacker-example" not in reasoning and "<EMAIL_" not in reasoning
    assert content == "Done."
