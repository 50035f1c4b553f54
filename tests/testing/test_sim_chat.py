"""Chat Completions answers: strict OpenAI shapes, echo, streaming, tools, usage."""

from __future__ import annotations

import httpx
import orjson
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from sim_helpers import sse_data

from bastion.testing.tokens import chat_prompt_tokens, count_tokens
from bastion.testing.validate import assert_no_extra

USER = "Hello <PERSON_1a2b3c4d>, how are you?"


def _chat(**extra: object) -> dict[str, object]:
    return {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": USER},
        ],
        **extra,
    }


def _chunks(response: httpx.Response) -> list[ChatCompletionChunk]:
    payloads = sse_data(response.content)
    assert payloads[-1] == "[DONE]"
    chunks = []
    for payload in payloads[:-1]:
        chunk = ChatCompletionChunk.model_validate_json(payload, strict=True)
        assert_no_extra(chunk)
        chunks.append(chunk)
    return chunks


async def test_echoes_last_user_message_with_exact_usage(client: httpx.AsyncClient) -> None:
    body = _chat()
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    completion = ChatCompletion.model_validate_json(response.content, strict=True)
    assert_no_extra(completion)
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "gpt-4o-mini"
    assert completion.system_fingerprint
    assert completion.choices[0].message.content == USER
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == chat_prompt_tokens(body)
    assert (
        completion.usage.prompt_tokens == 3 + count_tokens("Be brief.") + 3 + count_tokens(USER) + 3
    )
    assert completion.usage.completion_tokens == count_tokens(USER)
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + count_tokens(USER)


async def test_content_parts_are_echoed(client: httpx.AsyncClient) -> None:
    parts = [{"type": "text", "text": "first"}, {"type": "text", "text": "second"}]
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": parts}]}
    completion = (await client.post("/v1/chat/completions", json=body)).json()
    assert completion["choices"][0]["message"]["content"] == "first\nsecond"


async def test_stream_reassembles_to_the_echo(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/chat/completions", json=_chat(stream=True))
    assert response.headers["content-type"].startswith("text/event-stream")
    chunks = _chunks(response)
    assert len(chunks) > 3
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == USER
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert {c.id for c in chunks} == {chunks[0].id}
    assert all("usage" not in orjson.loads(p) for p in sse_data(response.content)[:-1])


async def test_include_usage_adds_final_usage_chunk(client: httpx.AsyncClient) -> None:
    body = _chat(stream=True, stream_options={"include_usage": True})
    response = await client.post("/v1/chat/completions", json=body)
    chunks = _chunks(response)
    assert all(c.usage is None for c in chunks[:-1])
    assert all("usage" in orjson.loads(p) for p in sse_data(response.content)[:-1])
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == chat_prompt_tokens(body)
    assert chunks[-1].usage.completion_tokens == count_tokens(USER)


async def test_n_choices_streamed_and_not(client: httpx.AsyncClient) -> None:
    completion = (await client.post("/v1/chat/completions", json=_chat(n=3))).json()
    assert [c["index"] for c in completion["choices"]] == [0, 1, 2]
    assert completion["usage"]["completion_tokens"] == 3 * count_tokens(USER)
    chunks = _chunks(await client.post("/v1/chat/completions", json=_chat(n=2, stream=True)))
    for index in (0, 1):
        text = "".join(
            c.choices[0].delta.content or "" for c in chunks if c.choices[0].index == index
        )
        assert text == USER


async def test_tool_directive_streams_tool_call_deltas(client: httpx.AsyncClient) -> None:
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]
    body = {
        "model": "gpt-4o-mini",
        "stream": True,
        "tools": tools,
        "messages": [{"role": "user", "content": "find it [[sim:tool=lookup]]"}],
    }
    chunks = _chunks(await client.post("/v1/chat/completions", json=body))
    calls = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].index == 0 and calls[0].id and calls[0].type == "function"
    assert calls[0].function is not None and calls[0].function.name == "lookup"
    arguments = "".join((tc.function.arguments or "") for tc in calls if tc.function)
    assert arguments == "{}"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


async def test_scripted_tool_call_non_streaming(client: httpx.AsyncClient) -> None:
    arguments = '{"city": "Paris", "days": 3}'
    script = {"replies": [{"tool_calls": [{"name": "weather", "arguments": arguments}]}]}
    assert (await client.post("/_sim/script", json=script)).status_code == 200
    response = await client.post("/v1/chat/completions", json=_chat())
    completion = ChatCompletion.model_validate_json(response.content, strict=True)
    assert_no_extra(completion)
    message = completion.choices[0].message
    assert message.content is None
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert call.type == "function" and call.function.arguments == arguments
    assert completion.choices[0].finish_reason == "tool_calls"


async def test_response_format_json(client: httpx.AsyncClient) -> None:
    body = _chat(response_format={"type": "json_object"})
    content = (await client.post("/v1/chat/completions", json=body)).json()
    assert orjson.loads(content["choices"][0]["message"]["content"]) == {"echo": USER}
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}, "score": {"type": "number"}},
    }
    body = _chat(
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    )
    content = (await client.post("/v1/chat/completions", json=body)).json()
    assert orjson.loads(content["choices"][0]["message"]["content"]) == {"answer": USER, "score": 0}


async def test_max_tokens_cuts_with_finish_reason_length(client: httpx.AsyncClient) -> None:
    completion = (await client.post("/v1/chat/completions", json=_chat(max_tokens=2))).json()
    assert completion["choices"][0]["message"]["content"] == "Hello <"
    assert completion["choices"][0]["finish_reason"] == "length"
    assert completion["usage"]["completion_tokens"] == 2


async def test_azure_deployment_path_uses_deployment_as_model(app: object) -> None:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        response = await http.post(
            "/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21",
            headers={"api-key": "azure-key"},
            json={"messages": [{"role": "user", "content": "hi"}]},
        )
    assert response.status_code == 200
    assert response.json()["model"] == "my-gpt4o"


async def test_scripted_custom_tool_call(client: httpx.AsyncClient) -> None:
    command = "ls -la /srv/reports"
    script = {"replies": [{"tool_calls": [{"name": "shell", "input": command}]}]}
    assert (await client.post("/_sim/script", json=script)).status_code == 200
    response = await client.post("/v1/chat/completions", json=_chat())
    completion = ChatCompletion.model_validate_json(response.content, strict=True)
    assert_no_extra(completion)
    (call,) = completion.choices[0].message.tool_calls or []
    assert call.type == "custom" and call.custom.name == "shell" and call.custom.input == command
    assert completion.choices[0].finish_reason == "tool_calls"


REFUSAL = "I'm sorry, I cannot help with <PERSON_1a2b3c4d>'s records."


async def test_scripted_refusal_json_and_streamed(client: httpx.AsyncClient) -> None:
    """``{"refusal": text}``: content null and ``message.refusal`` (JSON), or a first
    chunk with content null and the refusal in ``delta.refusal`` pieces (stream)."""
    script = {"replies": [{"refusal": REFUSAL, "times": 2}]}
    assert (await client.post("/_sim/script", json=script)).status_code == 200
    response = await client.post("/v1/chat/completions", json=_chat())
    completion = ChatCompletion.model_validate_json(response.content, strict=True)
    assert_no_extra(completion)
    message = completion.choices[0].message
    assert (message.content, message.refusal) == (None, REFUSAL)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == count_tokens(REFUSAL)

    streamed = await client.post("/v1/chat/completions", json=_chat(stream=True))
    chunks = _chunks(streamed)
    first = chunks[0].choices[0].delta
    assert (first.role, first.content, first.refusal) == ("assistant", None, "")
    pieces = [c.choices[0].delta.refusal for c in chunks[1:] if c.choices[0].delta.refusal]
    assert len(pieces) >= 2 and "".join(pieces) == REFUSAL
    assert all(c.choices[0].delta.content is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_a_refusal_comes_alone(client: httpx.AsyncClient) -> None:
    for reply in ({"refusal": "no", "content": "yes"}, {"refusal": 3}):
        response = await client.post("/_sim/script", json={"replies": [reply]})
        assert response.status_code == 400


async def test_wrong_types_never_crash_the_simulator(client: httpx.AsyncClient) -> None:
    """A gateway under test may forward odd bodies; the simulator answers, never 500s."""
    assistant = {"role": "assistant", "content": None, "tool_calls": 1.5}
    for body in (
        {"model": "gpt-4o-mini", "messages": True},
        {"model": "gpt-4o-mini", "messages": [assistant, {"role": "user", "content": "hi"}]},
    ):
        for stream in (False, True):
            response = await client.post("/v1/chat/completions", json={**body, "stream": stream})
            assert response.status_code == 200


async def test_logprobs_when_asked_streamed_as_whole(client: httpx.AsyncClient) -> None:
    body = _chat(logprobs=True, top_logprobs=3, n=2)
    completion = ChatCompletion.model_validate_json(
        (await client.post("/v1/chat/completions", json=body)).content, strict=True
    )
    assert_no_extra(completion)
    for choice in completion.choices:
        assert choice.logprobs is not None and choice.logprobs.content is not None
        assert "".join(entry.token for entry in choice.logprobs.content) == USER
        assert all(len(entry.top_logprobs) == 3 for entry in choice.logprobs.content)
        assert all(
            bytes(entry.bytes or []).decode() == entry.token for entry in choice.logprobs.content
        )
    chunks = _chunks(await client.post("/v1/chat/completions", json={**body, "stream": True}))
    streamed: dict[int, list[str]] = {0: [], 1: []}
    for chunk in chunks:
        for choice in chunk.choices:
            if choice.logprobs is not None and choice.logprobs.content is not None:
                assert "".join(e.token for e in choice.logprobs.content) == choice.delta.content
                streamed[choice.index] += [e.token for e in choice.logprobs.content]
    expected = [e.token for e in completion.choices[0].logprobs.content]  # type: ignore[union-attr]
    assert streamed == {0: expected, 1: expected}
    plain = ChatCompletion.model_validate_json(
        (await client.post("/v1/chat/completions", json=_chat())).content, strict=True
    )
    assert plain.choices[0].logprobs is None


async def test_refusal_logprobs(client: httpx.AsyncClient) -> None:
    await client.post("/_sim/script", json={"replies": [{"refusal": "I cannot help."}]})
    completion = ChatCompletion.model_validate_json(
        (await client.post("/v1/chat/completions", json=_chat(logprobs=True))).content,
        strict=True,
    )
    logprobs = completion.choices[0].logprobs
    assert logprobs is not None and logprobs.content is None and logprobs.refusal is not None
    assert "".join(entry.token for entry in logprobs.refusal) == "I cannot help."


REASONING = "The user wants <PERSON_1a2b3c4d>'s records; I should check the policy first."


async def test_scripted_reasoning_content_json_and_streamed(client: httpx.AsyncClient) -> None:
    """``{"reasoning": text}``: ``message.reasoning_content`` beside the answer (JSON), or
    ``delta.reasoning_content`` pieces after the first chunk (stream), as DeepSeek-style
    servers send it; its tokens count as reasoning tokens of the completion."""
    script = {"replies": [{"reasoning": REASONING, "content": "Done.", "times": 2}]}
    assert (await client.post("/_sim/script", json=script)).status_code == 200
    response = await client.post("/v1/chat/completions", json=_chat())
    completion = ChatCompletion.model_validate_json(response.content, strict=True)
    message = completion.choices[0].message
    assert message.content == "Done."
    assert (message.model_extra or {}) == {"reasoning_content": REASONING}
    assert completion.usage is not None and completion.usage.completion_tokens_details
    assert completion.usage.completion_tokens == count_tokens(REASONING) + count_tokens("Done.")
    assert completion.usage.completion_tokens_details.reasoning_tokens == count_tokens(REASONING)

    streamed = await client.post("/v1/chat/completions", json=_chat(stream=True))
    payloads = sse_data(streamed.content)
    assert payloads[-1] == "[DONE]"
    chunks = [ChatCompletionChunk.model_validate_json(p, strict=True) for p in payloads[:-1]]
    deltas = [chunk.choices[0].delta for chunk in chunks]
    assert deltas[0].role == "assistant"
    pieces = [(d.model_extra or {}).get("reasoning_content") for d in deltas]
    thought = [piece for piece in pieces if piece]
    assert len(thought) >= 2 and "".join(thought) == REASONING
    last_thought = max(at for at, piece in enumerate(pieces) if piece)
    first_content = min(at for at, d in enumerate(deltas) if d.content)
    assert last_thought < first_content
    assert "".join(d.content or "" for d in deltas) == "Done."


async def test_reasoning_alone_comes_before_the_echo(client: httpx.AsyncClient) -> None:
    await client.post("/_sim/script", json={"replies": [{"reasoning": "hmm"}]})
    completion = ChatCompletion.model_validate_json(
        (await client.post("/v1/chat/completions", json=_chat())).content
    )
    assert completion.choices[0].message.content == USER
    assert (completion.choices[0].message.model_extra or {}) == {"reasoning_content": "hmm"}
    response = await client.post("/_sim/script", json={"replies": [{"reasoning": 3}]})
    assert response.status_code == 400
