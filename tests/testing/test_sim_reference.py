"""Controls for the strict validation: OpenAI API reference examples pass it, typos fail it."""

from __future__ import annotations

import httpx
import orjson
import pytest
from openai.types import CreateEmbeddingResponse, Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import ResponseStreamEvent
from pydantic import BaseModel, TypeAdapter

from bastion.testing.validate import assert_no_extra, extra_fields

# Verbatim examples from the OpenAI API reference (chat object, chunk object,
# embeddings, models, Responses streaming events).
REFERENCE_CHAT = """{
  "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
  "object": "chat.completion",
  "created": 1741569952,
  "model": "gpt-4.1-2025-04-14",
  "choices": [
    {
      "index": 0,
      "message": {
        "role": "assistant",
        "content": "Hello! How can I assist you today?",
        "refusal": null,
        "annotations": []
      },
      "logprobs": null,
      "finish_reason": "stop"
    }
  ],
  "usage": {
    "prompt_tokens": 19,
    "completion_tokens": 10,
    "total_tokens": 29,
    "prompt_tokens_details": {
      "cached_tokens": 0,
      "audio_tokens": 0
    },
    "completion_tokens_details": {
      "reasoning_tokens": 0,
      "audio_tokens": 0,
      "accepted_prediction_tokens": 0,
      "rejected_prediction_tokens": 0
    }
  },
  "service_tier": "default"
}"""
REFERENCE_CHUNKS = [
    '{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini", "system_fingerprint": "fp_44709d6fcb", "choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}',  # noqa: E501
    '{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini", "system_fingerprint": "fp_44709d6fcb", "choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}]}',  # noqa: E501
    '{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini", "system_fingerprint": "fp_44709d6fcb", "choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}',  # noqa: E501
]
REFERENCE_EMBEDDINGS = """{
  "object": "list",
  "data": [
    {
      "object": "embedding",
      "embedding": [0.0023064255, -0.009327292, -0.0028842222],
      "index": 0
    }
  ],
  "model": "text-embedding-ada-002",
  "usage": {
    "prompt_tokens": 8,
    "total_tokens": 8
  }
}"""
REFERENCE_MODEL = """{
  "id": "VAR_chat_model_id",
  "object": "model",
  "created": 1686935002,
  "owned_by": "openai"
}"""
REFERENCE_EVENTS = [
    """{
  "type": "response.output_item.added",
  "output_index": 0,
  "item": {
    "id": "msg_123",
    "status": "in_progress",
    "type": "message",
    "role": "assistant",
    "content": []
  },
  "sequence_number": 1
}""",
    """{
  "type": "response.content_part.added",
  "item_id": "msg_123",
  "output_index": 0,
  "content_index": 0,
  "part": {
    "type": "output_text",
    "text": "",
    "annotations": []
  },
  "sequence_number": 1
}""",
    """{
  "type": "response.function_call_arguments.delta",
  "item_id": "item-abc",
  "output_index": 0,
  "delta": "{ \\"arg\\":",
  "sequence_number": 1
}""",
]
EVENTS: TypeAdapter[ResponseStreamEvent] = TypeAdapter(ResponseStreamEvent)


@pytest.mark.parametrize(
    ("model", "raw"),
    [
        (ChatCompletion, REFERENCE_CHAT),
        *[(ChatCompletionChunk, chunk) for chunk in REFERENCE_CHUNKS],
        (CreateEmbeddingResponse, REFERENCE_EMBEDDINGS),
        (Model, REFERENCE_MODEL),
    ],
)
def test_reference_examples_pass_strict_validation(model: type[BaseModel], raw: str) -> None:
    assert_no_extra(model.model_validate_json(raw, strict=True))


@pytest.mark.parametrize("raw", REFERENCE_EVENTS)
def test_reference_stream_events_pass_strict_validation(raw: str) -> None:
    assert_no_extra(EVENTS.validate_json(raw, strict=True))


def test_misspelled_fields_fail_at_any_depth() -> None:
    body = orjson.loads(REFERENCE_CHAT)
    body["system_fingerprnt"] = "fp_1"
    body["choices"][0]["message"]["refusall"] = None
    body["usage"]["prompt_tokens_details"]["cachd_tokens"] = 0
    parsed = ChatCompletion.model_validate_json(orjson.dumps(body), strict=True)
    assert extra_fields(parsed) == [
        "ChatCompletion.system_fingerprnt",
        "ChatCompletion.choices[0].message.refusall",
        "ChatCompletion.usage.prompt_tokens_details.cachd_tokens",
    ]
    with pytest.raises(AssertionError, match="refusall"):
        assert_no_extra(parsed)


def test_misspelled_event_field_fails() -> None:
    event = orjson.loads(REFERENCE_EVENTS[1])
    event["part"]["anotations"] = []
    with pytest.raises(AssertionError, match="anotations"):
        assert_no_extra(EVENTS.validate_json(orjson.dumps(event), strict=True))


async def test_simulator_output_keys_match_reference_keys(client: httpx.AsyncClient) -> None:
    """The simulator sends at least every key the reference chat object shows."""
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    ours = (await client.post("/v1/chat/completions", json=body)).json()
    reference = orjson.loads(REFERENCE_CHAT)
    assert set(reference) <= set(ours)
    assert set(reference["choices"][0]["message"]) <= set(ours["choices"][0]["message"])
    assert set(reference["usage"]["completion_tokens_details"]) <= set(
        ours["usage"]["completion_tokens_details"]
    )
