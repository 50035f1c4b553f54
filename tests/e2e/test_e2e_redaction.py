"""Reversible redaction end to end: personal data leaves as pseudonyms and comes back as
the original in answers (streamed, tool-call arguments, Responses); secrets never leave."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.e2e.conftest import Stack, running_stack

ROOT = Path(__file__).resolve().parents[2]
EMAIL = "dana.whitfield@northwind-example.com"
PHONE = "+44 20 7946 0958"
PROMPT = f"Write to {EMAIL} or call {PHONE} about the invoice."
PLACEHOLDER = re.compile(r"<[A-Z_]+_[0-9a-f]{8,}>")
SECRET = "AKIA" + "Q3EGRTZ5LXKW7NUC"  # an AWS access key id shape, not a vendor dummy
POLICY = """\
name: quickstart
version: "1"
rules:
  - id: pii.pseudonymise
    match: {classes: ["pii.*"]}
    action: redact
    transform: pseudonymise
  - id: secret.block
    match: {classes: ["secret.*"]}
    action: block
    message: "This request contains a credential ({classes}); remove it and try again."
"""


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("e2e-policy")
    (work / "policy.yaml").write_text(POLICY, encoding="utf-8")
    with running_stack(work, "policy: {file: policy.yaml}\n") as running:
        yield running


def upstream_text(stack: Stack) -> str:
    (capture,) = stack.captures()
    return json.dumps(capture["body"])


def test_answer_restores_what_the_upstream_only_saw_as_pseudonyms(guarded: Stack) -> None:
    guarded.clear_captures()
    raw = guarded.client().chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}]
    )
    assert raw.parse().choices[0].message.content == PROMPT
    seen = upstream_text(guarded)
    assert EMAIL not in seen and "7946" not in seen
    assert len(set(PLACEHOLDER.findall(seen))) == 2
    assert raw.headers["x-bastion-decision"] == "redact"
    assert raw.headers["x-bastion-redacted"] == "pii.email,pii.phone"
    assert raw.headers["x-bastion-policy"].startswith("quickstart@1+")
    assert raw.headers["x-bastion-rules"] == "pii.pseudonymise"


def test_streamed_answer_is_restored_across_chunks(guarded: Stack) -> None:
    guarded.clear_captures()
    stream = guarded.client().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == PROMPT
    assert EMAIL not in upstream_text(guarded)


def test_tool_call_arguments_are_restored(guarded: Stack) -> None:
    guarded.clear_captures()
    message = f"Email {EMAIL} the report."
    guarded.client().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": message}]
    )
    (placeholder,) = PLACEHOLDER.findall(upstream_text(guarded))
    arguments = json.dumps({"to": placeholder, "subject": "report"})
    for stream in (False, True):
        guarded.script("gpt-4o-mini", {"tool_calls": [{"name": "send", "arguments": arguments}]})
        if stream:
            chunks = guarded.client().chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": message}], stream=True
            )
            got = "".join(
                call.function.arguments or ""
                for c in chunks
                if c.choices and c.choices[0].delta.tool_calls
                for call in c.choices[0].delta.tool_calls
                if call.function
            )
        else:
            completion = guarded.client().chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": message}]
            )
            calls = completion.choices[0].message.tool_calls
            assert calls
            got = calls[0].function.arguments  # type: ignore[union-attr]
        assert json.loads(got) == {"to": EMAIL, "subject": "report"}


def test_responses_output_is_restored(guarded: Stack) -> None:
    guarded.clear_captures()
    response = guarded.client().responses.create(model="gpt-4o-mini", input=PROMPT)
    assert response.output_text == PROMPT
    assert EMAIL not in upstream_text(guarded)


def test_a_secret_is_refused_and_never_leaves(guarded: Stack) -> None:
    guarded.clear_captures()
    with pytest.raises(openai.PermissionDeniedError) as refused:
        guarded.client().chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": f"why does aws_access_key_id={SECRET} fail?"}],
        )
    error = refused.value
    assert error.status_code == 403
    assert error.code == "policy_violation"
    body = error.response.json()
    assert body["bastion"]["decision"] == "block"
    assert any(name.startswith("secret.aws") for name in body["bastion"]["classes"])
    assert SECRET not in error.response.text
    assert guarded.captures() == []


def test_scan_endpoint(guarded: Stack) -> None:
    reply = httpx.post(
        guarded.base_url + "/bastion/scan",
        headers={"authorization": f"Bearer {guarded.key}"},
        json={"text": PROMPT, "all_scores": True},
    )
    assert reply.status_code == 200
    report = reply.json()
    spans = {(f["class"], PROMPT[f["start"] : f["end"]]) for f in report["findings"]}
    assert ("pii.email", EMAIL) in spans and ("pii.phone", PHONE) in spans
    assert all(EMAIL not in json.dumps(f) for f in report["findings"])
    assert report["doc_scores"]["pii.email"] >= 0.5


def test_what_the_model_writes_itself_is_scanned_and_recorded(guarded: Stack) -> None:
    guarded.script("gpt-4o-mini", {"content": "Sure: escalate to ops-desk@contoso-example.com."})
    raw = guarded.client().chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "who handles escalations?"}]
    )
    assert raw.headers["x-bastion-decision"] == "allow"  # answers are recorded, not acted on
    request_id = raw.headers["x-bastion-request-id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        calls = httpx.get(
            f"{guarded.admin_url}/admin/api/calls?limit=100",
            headers={"authorization": f"Bearer {guarded.admin_token}"},
        ).json()["data"]
        record = next((c for c in calls if c["request_id"] == request_id), None)
        if record is not None:
            break
        time.sleep(0.1)
    assert record is not None
    assert {"data_class": "pii.email", "source": "output", "location": "answer"} in [
        {k: f[k] for k in ("data_class", "source", "location")} for f in record["findings"]
    ]
    assert "contoso" not in json.dumps(record)


def test_texts_outside_the_known_fields_are_scanned_too(guarded: Stack) -> None:
    """The forwarded body is the parsed body, unknown keys and all: their texts are scanned,
    so a credential in a custom tool call's input or an extra message key never leaves."""
    leaked = f"aws_access_key_id={SECRET}"
    custom_call = {"id": "call_1", "type": "custom", "custom": {"name": "sh", "input": leaked}}
    bodies = [
        [
            {"role": "user", "content": "run it"},
            {"role": "assistant", "tool_calls": [custom_call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "done"},
        ],
        [{"role": "user", "content": "hi", "note": leaked}],
    ]
    guarded.clear_captures()
    for messages in bodies:
        with pytest.raises(openai.PermissionDeniedError) as refused:
            guarded.client().chat.completions.create(model="gpt-4o-mini", messages=messages)  # type: ignore[arg-type]
        assert refused.value.code == "policy_violation"
    raw = guarded.client().chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Summarise my chat"}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "n", "schema": {"type": "string", "default": EMAIL}},
        },
    )
    assert raw.headers["x-bastion-redacted"] == "pii.email"
    assert SECRET not in json.dumps(guarded.captures()) and EMAIL not in upstream_text(guarded)


def test_values_in_field_names_and_identifiers_never_leave(guarded: Stack) -> None:
    """A property name, a tool name or a metadata key reaches the upstream as written:
    a credential there is blocked like anywhere else, and personal data there, which no
    placeholder can replace in a name, refuses the call instead of leaving as it is."""
    schema = {"type": "object", "properties": {SECRET: {"type": "string"}}}
    tools = [{"type": "function", "function": {"name": "form", "parameters": schema}}]
    guarded.clear_captures()
    with pytest.raises(openai.PermissionDeniedError) as blocked:
        guarded.client().chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "fill it"}],
            tools=tools,  # type: ignore[arg-type]
        )
    assert blocked.value.code == "policy_violation"
    classes = blocked.value.response.json()["bastion"]["classes"]
    assert any(name.startswith("secret.aws") for name in classes)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        guarded.client().chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            metadata={f"owner {EMAIL}": "yes"},
            stream=True,
        )
    error = refused.value
    assert error.code == "policy_violation"
    assert error.response.headers["x-bastion-decision"] == "block"
    assert error.response.json()["bastion"]["decision"] == "block"
    assert "pii.email" in error.message and "field name or identifier" in error.message
    assert EMAIL not in error.response.text
    assert guarded.captures() == []
    ordinary = {"type": "object", "properties": {"city": {"type": "string"}}}
    raw = guarded.client().chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": f"weather for {EMAIL}?"}],
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": ordinary}}],
    )
    assert raw.headers["x-bastion-decision"] == "redact"


def test_embedding_input_mixing_tokens_and_text_is_refused(guarded: Stack) -> None:
    guarded.clear_captures()
    with pytest.raises(openai.BadRequestError) as refused:
        guarded.client().embeddings.create(
            model="text-embedding-3-small",
            input=[1, f"aws_access_key_id={SECRET}"],  # type: ignore[list-item]
        )
    assert (refused.value.code, refused.value.param) == ("invalid_value", "input[0]")
    assert guarded.captures() == []
