"""``synthesize`` end to end: the model reads format-valid fakes, the caller gets the
originals back, even where an output rule masks the same class in answers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Stack, running_stack

EMAIL = "dana.whitfield@northwind-example.com"
PHONE = "+44 20 7946 0958"
PROMPT = f"Write to {EMAIL} or call {PHONE} about the invoice."
POLICY = """\
name: synth
version: "1"
rules:
  - id: pii.synthesize
    match: {classes: [pii.email, pii.phone, pii.ip_address, pii.credit_card]}
    action: redact
    transform: synthesize
  - id: answers.contacts
    match: {classes: [pii.email, pii.phone, pii.credit_card], where: [output]}
    action: redact
    transform: mask
"""


@pytest.fixture(scope="module")
def synthesizing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("e2e-synthesize")
    (work / "policy.yaml").write_text(POLICY, encoding="utf-8")
    with running_stack(work, "policy: {file: policy.yaml}\n") as running:
        yield running


def _fakes_upstream(stack: Stack) -> None:
    seen = json.dumps(stack.captures()[-1]["body"])
    assert EMAIL not in seen and "7946" not in seen
    assert re.search(r"[a-z]+\.[a-z]+\d{4}@example\.com", seen)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_fakes_come_back_as_the_originals_despite_an_output_mask(
    synthesizing: Stack, stream: bool
) -> None:
    """The fake e-mail in the answer is the caller's own address standing in: restored,
    not masked by the output rule as if the model had leaked an address of its own."""
    synthesizing.clear_captures()
    client = synthesizing.client()
    messages: list[dict[str, str]] = [{"role": "user", "content": PROMPT}]
    if stream:
        with client.chat.completions.with_streaming_response.create(
            model="gpt-4o-mini", messages=messages, stream=True
        ) as response:
            lines = list(response.iter_lines())
        chunks = [json.loads(line[6:]) for line in lines if line.startswith("data: {")]
        answer = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
        assert not any(line.startswith(": bastion redacted") for line in lines)
    else:
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=messages
        )
        answer = raw.parse().choices[0].message.content or ""
        assert raw.headers.get("x-bastion-redacted") == "pii.email,pii.phone"
    assert answer == PROMPT
    _fakes_upstream(synthesizing)


def test_an_address_the_caller_wrote_is_never_restored_as_another(synthesizing: Stack) -> None:
    """The fake of a real address is never one the caller wrote themselves (here the
    documentation address the gateway would otherwise have chosen as that fake)."""
    real = "93.184.216.34"
    client = synthesizing.client()
    synthesizing.clear_captures()
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"the host {real} is down"}]
    )
    seen = str(synthesizing.captures()[-1]["body"])
    match = re.search(r"(?:192\.0\.2|198\.51\.100|203\.0\.113)\.\d+", seen)
    assert match, seen
    prompt = f"Our docs use {match.group()} as the example; production is the host {real}."
    answer = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}]
    )
    assert answer.choices[0].message.content == prompt


def test_tool_call_arguments_in_the_history_still_parse_upstream(synthesizing: Stack) -> None:
    """vLLM and others refuse a history whose tool-call arguments are not JSON: a card
    written as a JSON number must not become '4000 0012 …' unquoted."""
    arguments = json.dumps({"to": EMAIL, "card": 4111111111111111, "memo": "pay\nnow"})
    call: Any = {
        "id": "c1",
        "type": "function",
        "function": {"name": "pay", "arguments": arguments},
    }
    messages: Any = [
        {"role": "user", "content": "Pay the invoice."},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "paid"},
        {"role": "user", "content": "Thanks, what did you send?"},
    ]
    synthesizing.clear_captures()
    synthesizing.client().chat.completions.create(model="gpt-4o-mini", messages=messages)
    body: Any = synthesizing.captures()[-1]["body"]
    forwarded = body["messages"][1]["tool_calls"][0]["function"]["arguments"]
    sent = json.loads(forwarded)
    assert EMAIL not in forwarded and "4111" not in forwarded
    assert isinstance(sent["card"], str) and sent["memo"] == "pay\nnow"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_structured_answer_masked_by_an_output_rule_still_parses(
    synthesizing: Stack, stream: bool
) -> None:
    """The model's own card, written as a JSON number in an answer asked for as JSON, is
    masked as a JSON string: the client's json.loads still reads the document."""
    answer = '{"card": 4539148803436467, "status": "on file"}'
    synthesizing.script("gpt-4o-mini", {"content": answer})
    client = synthesizing.client()
    messages: Any = [{"role": "user", "content": "Which card is on file?"}]
    if stream:
        chunks = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=messages,
            response_format={"type": "json_object"},
            stream=True,
        )
        content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        completion = client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, response_format={"type": "json_object"}
        )
        content = completion.choices[0].message.content or ""
    assert json.loads(content) == {"card": "[CREDIT_CARD]", "status": "on file"}
