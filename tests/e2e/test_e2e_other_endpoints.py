"""Responses, embeddings and models through the real gateway."""

from __future__ import annotations

import base64

import openai
import pytest

from tests.e2e.conftest import Stack


def test_responses_plain_and_streamed_agree(stack: Stack) -> None:
    client = stack.client()
    plain = client.responses.create(
        model="gpt-4o", input="Responses say hi", instructions="Be kind"
    )
    assert plain.output_text == "Responses say hi"
    assert plain.model == "gpt-4o"
    events = list(client.responses.create(model="gpt-4o", input="Responses say hi", stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == plain.output_text
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.model == "gpt-4o"
    assert completed.response.usage is not None and completed.response.usage.output_tokens > 0


def test_responses_input_items_and_function_output(stack: Stack) -> None:
    response = stack.client().responses.create(
        model="gpt-4o-mini",
        input=[
            {"role": "user", "content": [{"type": "input_text", "text": "look this up"}]},
            {"type": "function_call", "call_id": "call_1", "name": "search", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "result text"},
            {"role": "user", "content": "final question"},
        ],
    )
    assert response.output_text == "final question"


def test_embeddings_float_and_base64(stack: Stack) -> None:
    client = stack.client()
    floats = client.embeddings.create(
        model="text-embedding-3-small", input=["one", "two"], dimensions=8
    )
    assert [len(d.embedding) for d in floats.data] == [8, 8]
    assert floats.model == "text-embedding-3-small"
    raw = client.embeddings.with_raw_response.create(
        model="text-embedding-3-small", input="one", dimensions=8, encoding_format="base64"
    )
    vector = raw.http_response.json()["data"][0]["embedding"]
    assert len(base64.b64decode(vector)) == 8 * 4
    assert raw.headers["x-bastion-decision"] == "allow"


def test_embedding_model_refused_on_chat(stack: Stack) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        stack.client().chat.completions.create(
            model="text-embedding-3-small", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.body["param"] == "model"  # type: ignore[index]


def test_models_are_filtered_per_key(stack: Stack) -> None:
    limited = str(stack.create_key("--name", "limited", "--models", "gpt-4o-mini,gpt-4o")["key"])
    client = stack.client(limited)
    assert [m.id for m in client.models.list()] == ["gpt-4o-mini", "gpt-4o"]
    assert client.models.retrieve("gpt-4o").id == "gpt-4o"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("text-embedding-3-small")
    assert caught.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError) as caught:
        client.embeddings.create(model="text-embedding-3-small", input="no access")
    assert caught.value.code == "model_not_found"
    everything = [m.id for m in stack.client().models.list()]
    assert "text-embedding-3-small" in everything and "fallback-chat" in everything


@pytest.mark.parametrize("stream", [False, True])
def test_background_responses_are_refused_before_anything_leaves(
    stack: Stack, stream: bool
) -> None:
    """A background response is fetched later from ``GET /v1/responses/{id}``, which
    Bastion does not serve: its answer would be neither checked nor counted."""
    stack.clear_captures()
    with pytest.raises(openai.BadRequestError) as caught:
        stack.client().responses.create(
            model="gpt-4o-mini", input="work on this later", background=True, stream=stream
        )
    assert caught.value.code == "unsupported_parameter"
    assert caught.value.param == "background"
    assert stack.captures() == []
    # background: false is the ordinary call
    answer = stack.client().responses.create(
        model="gpt-4o-mini", input="answer now", background=False
    )
    assert answer.output_text == "answer now"
