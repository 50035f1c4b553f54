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
