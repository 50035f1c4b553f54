"""Responses, embeddings, models and error answers in strict OpenAI shapes."""

from __future__ import annotations

import base64
import struct

import httpx
import pytest
from openai.types import CreateEmbeddingResponse, Model
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter
from sim_helpers import sse_data

from bastion.testing.tokens import count_tokens, responses_input_tokens
from bastion.testing.validate import assert_no_extra

EVENTS: TypeAdapter[ResponseStreamEvent] = TypeAdapter(ResponseStreamEvent)
TEXT = "Summarise <EMAIL_0f0e0d0c> for me, please."


def _events(response: httpx.Response) -> list[ResponseStreamEvent]:
    lines = response.content.decode().split("\n")
    names = [line[7:] for line in lines if line.startswith("event: ")]
    events = []
    for payload in sse_data(response.content):
        event = EVENTS.validate_json(payload, strict=True)
        assert_no_extra(event)
        events.append(event)
    assert names == [event.type for event in events]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    return events


async def test_response_object_echoes_input_and_counts_usage(client: httpx.AsyncClient) -> None:
    body = {"model": "gpt-4o", "input": TEXT, "instructions": "Be kind."}
    response = await client.post("/v1/responses", json=body)
    parsed = Response.model_validate_json(response.content, strict=True)
    assert_no_extra(parsed)
    assert parsed.id.startswith("resp_")
    assert parsed.status == "completed"
    assert parsed.instructions == "Be kind."
    assert parsed.output_text == TEXT
    assert parsed.usage is not None
    assert parsed.usage.input_tokens == responses_input_tokens(body)
    assert parsed.usage.output_tokens == count_tokens(TEXT)


async def test_stream_events_in_openai_order(client: httpx.AsyncClient) -> None:
    items = [
        {"role": "user", "content": "earlier"},
        {"role": "assistant", "content": "ok"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": TEXT}]},
    ]
    body = {"model": "gpt-4o-mini", "input": items, "stream": True}
    events = _events(await client.post("/v1/responses", json=body))
    kinds = [event.type for event in events]
    assert kinds[:5] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) >= 2 and "".join(deltas) == TEXT
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.output_text == TEXT
    assert completed.response.usage is not None
    assert completed.response.usage.input_tokens == responses_input_tokens(body)


async def test_function_tool_streams_call_arguments(client: httpx.AsyncClient) -> None:
    arguments = '{"query": "quarterly revenue by region"}'
    script = {"replies": [{"tool_calls": [{"name": "search", "arguments": arguments}]}]}
    await client.post("/_sim/script", json=script)
    tools = [{"type": "function", "name": "search", "parameters": {"type": "object"}}]
    body = {"model": "gpt-4o-mini", "input": "go", "tools": tools, "stream": True}
    events = _events(await client.post("/v1/responses", json=body))
    deltas = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    assert len(deltas) >= 2 and "".join(deltas) == arguments
    done = events[-1]
    assert done.type == "response.completed"
    call = done.response.output[0]
    assert call.type == "function_call" and call.name == "search" and call.arguments == arguments
    assert done.response.tools[0].type == "function"


async def test_max_output_tokens_makes_response_incomplete(client: httpx.AsyncClient) -> None:
    body = {"model": "gpt-4o-mini", "input": TEXT, "max_output_tokens": 1}
    parsed = Response.model_validate_json(
        (await client.post("/v1/responses", json=body)).content, strict=True
    )
    assert parsed.status == "incomplete"
    assert parsed.incomplete_details is not None
    assert parsed.output_text == "Summarise"


async def test_embeddings_are_deterministic_and_sized(client: httpx.AsyncClient) -> None:
    body = {"model": "text-embedding-3-small", "input": ["alpha", "beta", [1, 2, 3]]}
    first = await client.post("/v1/embeddings", json=body)
    parsed = CreateEmbeddingResponse.model_validate_json(first.content, strict=True)
    assert_no_extra(parsed)
    assert [len(d.embedding) for d in parsed.data] == [1536, 1536, 1536]
    assert parsed.data[0].embedding != parsed.data[1].embedding
    assert parsed.usage.prompt_tokens == 1 + 1 + 3
    again = await client.post("/v1/embeddings", json=body)
    assert again.json()["data"] == first.json()["data"]
    norm = sum(v * v for v in parsed.data[0].embedding)
    assert norm == pytest.approx(1.0)


async def test_embeddings_base64_and_dimensions(client: httpx.AsyncClient) -> None:
    plain = await client.post(
        "/v1/embeddings", json={"model": "text-embedding-3-small", "input": "x", "dimensions": 8}
    )
    packed = await client.post(
        "/v1/embeddings",
        json={
            "model": "text-embedding-3-small",
            "input": "x",
            "dimensions": 8,
            "encoding_format": "base64",
        },
    )
    floats = struct.unpack("<8f", base64.b64decode(packed.json()["data"][0]["embedding"]))
    assert floats == pytest.approx(plain.json()["data"][0]["embedding"], rel=1e-6)


async def test_models_list_and_any_model(client: httpx.AsyncClient) -> None:
    listing = (await client.get("/v1/models")).json()
    ids = [Model.model_validate(m, strict=True).id for m in listing["data"]]
    assert {"gpt-4o-mini", "gpt-4o", "text-embedding-3-small"} <= set(ids)
    one = await client.get("/v1/models/my-fine-tune")
    parsed = Model.model_validate_json(one.content, strict=True)
    assert_no_extra(parsed)
    assert parsed.id == "my-fine-tune"


@pytest.mark.parametrize(
    ("method", "path", "content", "status", "code"),
    [
        ("POST", "/v1/chat/completions", b"{not json", 400, None),
        ("POST", "/v1/audio/speech", b"{}", 404, None),
        ("GET", "/v1/chat/completions", b"", 404, None),
        ("POST", "/v1/chat/completions", b'{"messages": []}', 400, None),
    ],
)
async def test_errors_have_openai_shape(
    client: httpx.AsyncClient, method: str, path: str, content: bytes, status: int, code: str | None
) -> None:
    response = await client.request(method, path, content=content)
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code


async def test_api_key_is_enforced_when_configured() -> None:
    from bastion.testing import SimulatorOptions, create_app

    app = create_app(SimulatorOptions(api_key="sk-right"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://s"
    ) as http:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        wrong = await http.post(
            "/v1/chat/completions", json=body, headers={"authorization": "Bearer sk-wrong"}
        )
        missing = await http.post("/v1/chat/completions", json=body)
        right = await http.post(
            "/v1/chat/completions", json=body, headers={"authorization": "Bearer sk-right"}
        )
        azure = await http.post(
            "/openai/deployments/gpt-4o/chat/completions",
            json=body,
            headers={"api-key": "sk-right"},
        )
    assert (wrong.status_code, missing.status_code) == (401, 401)
    assert wrong.json()["error"]["code"] == "invalid_api_key"
    assert "sk-wrong" not in wrong.text
    assert (right.status_code, azure.status_code) == (200, 200)


async def test_without_configured_key_any_bearer_passes_but_none_fails(app: object) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://s"
    ) as http:  # type: ignore[arg-type]
        missing = await http.get("/v1/models")
        anything = await http.get("/v1/models", headers={"authorization": "Bearer whatever"})
    assert (missing.status_code, anything.status_code) == (401, 200)


async def test_custom_tool_call_streams_its_input(client: httpx.AsyncClient) -> None:
    """A scripted ``{"name", "input"}`` calls a custom (free-form) tool."""
    command = "grep -rn 'quarterly revenue' reports/ | sort | head -n 20"
    script = {"replies": [{"tool_calls": [{"name": "shell", "input": command}]}]}
    tools = [{"type": "custom", "name": "shell"}]
    for stream in (False, True):
        await client.post("/_sim/script", json=script)
        body = {"model": "gpt-4o-mini", "input": "go", "tools": tools, "stream": stream}
        response = await client.post("/v1/responses", json=body)
        if stream:
            events = _events(response)
            deltas = [e.delta for e in events if e.type == "response.custom_tool_call_input.delta"]
            assert len(deltas) >= 2 and "".join(deltas) == command
            done = events[-1]
            assert done.type == "response.completed"
            parsed = done.response
        else:
            parsed = Response.model_validate_json(response.content, strict=True)
            assert_no_extra(parsed)
        call = parsed.output[0]
        assert call.type == "custom_tool_call" and call.name == "shell"
        assert call.input == command and call.call_id.startswith("call_")


async def test_scripted_refusal_is_a_refusal_content_part(client: httpx.AsyncClient) -> None:
    refusal = "I can't help with that request about <EMAIL_0f0e0d0c>, sorry."
    for stream in (False, True):
        await client.post("/_sim/script", json={"replies": [{"refusal": refusal}]})
        body = {"model": "gpt-4o-mini", "input": "go", "stream": stream}
        response = await client.post("/v1/responses", json=body)
        if stream:
            events = _events(response)
            kinds = [e.type for e in events]
            assert "response.output_text.delta" not in kinds
            deltas = [e.delta for e in events if e.type == "response.refusal.delta"]
            assert len(deltas) >= 2 and "".join(deltas) == refusal
            (done,) = [e for e in events if e.type == "response.refusal.done"]
            assert done.refusal == refusal
            assert kinds.index("response.content_part.added") < kinds.index(
                "response.refusal.delta"
            )
            final = events[-1]
            assert final.type == "response.completed"
            parsed = final.response
        else:
            parsed = Response.model_validate_json(response.content, strict=True)
            assert_no_extra(parsed)
        (item,) = parsed.output
        assert item.type == "message"
        (part,) = item.content
        assert part.type == "refusal" and part.refusal == refusal
        assert parsed.usage is not None and parsed.usage.output_tokens == count_tokens(refusal)


async def test_scripted_reasoning_is_a_reasoning_item_with_a_summary(
    client: httpx.AsyncClient,
) -> None:
    """``{"reasoning": text}``: a first ``reasoning`` item with one summary part, streamed
    as OpenAI streams one; its tokens count as reasoning tokens."""
    reasoning = "The user mentions <EMAIL_0f0e0d0c>; I will summarise without it."
    for stream in (False, True):
        script = {"replies": [{"reasoning": reasoning, "content": "Done."}]}
        assert (await client.post("/_sim/script", json=script)).status_code == 200
        body = {"model": "gpt-4o-mini", "input": "go", "stream": stream}
        response = await client.post("/v1/responses", json=body)
        if stream:
            events = _events(response)
            kinds = [e.type for e in events]
            deltas = [e.delta for e in events if e.type == "response.reasoning_summary_text.delta"]
            assert len(deltas) >= 2 and "".join(deltas) == reasoning
            (done,) = [e for e in events if e.type == "response.reasoning_summary_text.done"]
            (added,) = [e for e in events if e.type == "response.reasoning_summary_part.added"]
            (part,) = [e for e in events if e.type == "response.reasoning_summary_part.done"]
            assert (done.text, added.part.text, part.part.text) == (reasoning, "", reasoning)
            assert kinds.index("response.reasoning_summary_part.done") < kinds.index(
                "response.output_text.delta"
            )
            final = events[-1]
            assert final.type == "response.completed"
            parsed = final.response
        else:
            parsed = Response.model_validate_json(response.content, strict=True)
            assert_no_extra(parsed)
        thought, message = parsed.output
        assert thought.type == "reasoning" and thought.id.startswith("rs_")
        assert [(s.type, s.text) for s in thought.summary] == [("summary_text", reasoning)]
        assert message.type == "message" and parsed.output_text == "Done."
        assert parsed.usage is not None
        assert parsed.usage.output_tokens == count_tokens(reasoning) + count_tokens("Done.")
        assert parsed.usage.output_tokens_details.reasoning_tokens == count_tokens(reasoning)


async def test_logprobs_when_included_streamed_as_whole(client: httpx.AsyncClient) -> None:
    body = {
        "model": "gpt-4o-mini",
        "input": TEXT,
        "include": ["message.output_text.logprobs"],
        "top_logprobs": 2,
    }
    parsed = Response.model_validate_json(
        (await client.post("/v1/responses", json=body)).content, strict=True
    )
    assert_no_extra(parsed)
    assert parsed.top_logprobs == 2
    (part,) = parsed.output[0].content  # type: ignore[union-attr]
    assert part.type == "output_text" and part.logprobs is not None
    assert "".join(entry.token for entry in part.logprobs) == TEXT
    assert all(len(entry.top_logprobs) == 2 for entry in part.logprobs)
    events = _events(await client.post("/v1/responses", json={**body, "stream": True}))
    streamed = [
        entry.token
        for event in events
        if event.type == "response.output_text.delta"
        for entry in event.logprobs
    ]
    assert streamed == [entry.token for entry in part.logprobs]
    plain = Response.model_validate_json(
        (await client.post("/v1/responses", json={"model": "gpt-4o", "input": TEXT})).content
    )
    assert plain.output[0].content[0].logprobs == []  # type: ignore[union-attr]


async def test_response_object_repeats_the_request_parameters(client: httpx.AsyncClient) -> None:
    body = {
        "model": "gpt-4o-mini",
        "input": TEXT,
        "conversation": "conv_123",
        "reasoning": {"effort": "low", "summary": "auto"},
        "max_tool_calls": 3,
        "prompt_cache_key": "cache-1",
        "safety_identifier": "user-42",
        "service_tier": "flex",
        "text": {"verbosity": "low"},
        "truncation": "auto",
    }
    parsed = Response.model_validate_json(
        (await client.post("/v1/responses", json=body)).content, strict=True
    )
    assert_no_extra(parsed)
    assert parsed.conversation is not None and parsed.conversation.id == "conv_123"
    assert parsed.reasoning is not None
    assert (parsed.reasoning.effort, parsed.reasoning.summary) == ("low", "auto")
    assert (parsed.max_tool_calls, parsed.prompt_cache_key) == (3, "cache-1")
    assert (parsed.safety_identifier, parsed.service_tier) == ("user-42", "flex")
    assert parsed.text is not None and parsed.text.verbosity == "low"
    assert parsed.truncation == "auto"


async def test_background_response_is_queued(client: httpx.AsyncClient) -> None:
    body = {"model": "gpt-4o-mini", "input": TEXT, "background": True}
    parsed = Response.model_validate_json(
        (await client.post("/v1/responses", json=body)).content, strict=True
    )
    assert_no_extra(parsed)
    assert (parsed.background, parsed.status) == (True, "queued")
    assert parsed.output == [] and parsed.usage is None
