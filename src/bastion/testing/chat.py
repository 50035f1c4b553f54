"""Chat Completions wire format: ``chat.completion`` bodies and ``chat.completion.chunk`` streams.

Shapes follow the OpenAI API reference: a first chunk carrying the role, content (or
tool-call argument) fragments, a last chunk with an empty delta and the finish reason,
an optional usage chunk with ``choices: []`` when ``stream_options.include_usage`` is
set (every other chunk then carries ``usage: null``), and ``data: [DONE]``. Scripted
reasoning is ``message.reasoning_content``, streamed as ``delta.reasoning_content``
fragments after the first chunk, the way DeepSeek-style OpenAI-compatible servers
(DeepSeek, vLLM) send it. Scripted citations are ``message.annotations``; streamed, they
come whole in the last chunk's ``delta.annotations``, beside the finish reason, as
OpenAI's search models send them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import orjson

from bastion.testing.answer import Answer, ToolCall, random_id, split_pieces, token_logprobs
from bastion.testing.citations import chat_annotations, within
from bastion.testing.faults import Rendered
from bastion.testing.tokens import chat_prompt_tokens, count_tokens, truncate_to_tokens

SYSTEM_FINGERPRINT = "fp_b376dfbbd5"
DONE_FRAME = b"data: [DONE]\n\n"
SSE_HEADERS = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
)
JSON_HEADERS = ((b"content-type", b"application/json"),)
_PAD = "Xq3vT9bLw0ZcR7mKa2"


def _limit(body: Mapping[str, Any]) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def _choice_count(body: Mapping[str, Any]) -> int:
    value = body.get("n")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1


def _top_logprobs(body: Mapping[str, Any]) -> int | None:
    """How many alternatives per token the request asked for; None without ``logprobs``."""
    if body.get("logprobs") is not True:
        return None
    top = body.get("top_logprobs")
    return top if isinstance(top, int) and not isinstance(top, bool) and top > 0 else 0


def _logprobs(text: str, top: int, chunk_chars: int) -> list[dict[str, Any]]:
    """The logprobs of ``text``, token by token as its stream deltas carry them."""
    return [
        entry for piece in split_pieces(text, chunk_chars) for entry in token_logprobs(piece, top)
    ]


def _choice_logprobs(answer: Answer, top: int | None, chunk_chars: int) -> dict[str, Any] | None:
    if top is None:
        return None
    if answer.refusal is not None:
        return {"content": None, "refusal": _logprobs(answer.refusal, top, chunk_chars)}
    if answer.tool_calls:
        return {"content": None, "refusal": None}
    return {"content": _logprobs(answer.content or "", top, chunk_chars), "refusal": None}


def _usage(prompt_tokens: int, completion_tokens: int, reasoning_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _answer_tokens(answer: Answer) -> int:
    """Output tokens of one choice, its reasoning included."""
    reasoning = _reasoning_tokens(answer)
    if answer.tool_calls:
        calls = answer.tool_calls
        return reasoning + sum(count_tokens(c.name) + count_tokens(c.arguments) for c in calls)
    return reasoning + count_tokens(answer.refusal or answer.content or "")


def _reasoning_tokens(answer: Answer) -> int:
    return count_tokens(answer.reasoning) if answer.reasoning else 0


def _finish(answer: Answer, truncated: bool) -> str:
    if answer.tool_calls:
        return "tool_calls"
    return "length" if truncated else "stop"


def _message(answer: Answer) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": answer.content,
        "refusal": answer.refusal,
        "annotations": chat_annotations(answer.citations),
    }
    if answer.tool_calls:
        message["tool_calls"] = [_tool_call(call) for call in answer.tool_calls]
    if answer.reasoning is not None:
        message["reasoning_content"] = answer.reasoning
    return message


def _tool_call(call: ToolCall) -> dict[str, Any]:
    if call.custom:
        return {
            "id": random_id("call_"),
            "type": "custom",
            "custom": {"name": call.name, "input": call.arguments},
        }
    return {
        "id": random_id("call_"),
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def _deltas(
    answer: Answer, finish_reason: str, chunk_chars: int, top: int | None
) -> list[dict[str, Any]]:
    """Per-choice deltas in stream order; the last one carries the finish reason. A text
    delta carries its tokens' logprobs under ``logprobs`` when they were asked for."""
    if answer.refusal is not None:  # as OpenAI streams one: content null, refusal deltas
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": None, "refusal": ""}]
        for piece in split_pieces(answer.refusal, chunk_chars):
            deltas.append({"refusal": piece})
            if top is not None:
                deltas[-1]["logprobs"] = {"content": None, "refusal": token_logprobs(piece, top)}
    elif not answer.tool_calls:
        deltas = [{"role": "assistant", "content": "", "refusal": None}]
        for piece in split_pieces(answer.content or "", chunk_chars):
            deltas.append({"content": piece})
            if top is not None:
                deltas[-1]["logprobs"] = {"content": token_logprobs(piece, top), "refusal": None}
    else:
        deltas = []
        for index, call in enumerate(answer.tool_calls):
            if call.custom:  # a custom call's input comes whole, with its header
                opening: dict[str, Any] = {"tool_calls": [{"index": index, **_tool_call(call)}]}
                if index == 0:
                    opening = {"role": "assistant", "content": None, **opening, "refusal": None}
                deltas.append(opening)
                continue
            header = {
                "index": index,
                "id": random_id("call_"),
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            opening = {"tool_calls": [header]}
            if index == 0:
                opening = {"role": "assistant", "content": None, **opening, "refusal": None}
            deltas.append(opening)
            deltas += [
                {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
                for piece in split_pieces(call.arguments, chunk_chars)
            ]
    if answer.reasoning:  # after the opening delta (it carries the role), before the rest
        deltas[1:1] = [
            {"reasoning_content": piece} for piece in split_pieces(answer.reasoning, chunk_chars)
        ]
    last: dict[str, Any] = {"finish_reason": finish_reason}
    if answer.citations:  # as web-search models send them: all at once, in the last chunk
        last = {"annotations": chat_annotations(answer.citations), **last}
    deltas.append(last)
    return deltas


def render_chat(
    body: Mapping[str, Any], model: str, answer: Answer, *, stream: bool, chunk_chars: int
) -> Rendered:
    """Render a chat completion (or its SSE stream) for ``answer``."""
    truncated = False
    limit = _limit(body)
    if answer.content is not None and not answer.tool_calls and limit is not None:
        content, truncated = truncate_to_tokens(answer.content, limit)
        answer = replace(answer, content=content, citations=within(answer.citations, len(content)))
    count = _choice_count(body)
    top = _top_logprobs(body)
    finish_reason = _finish(answer, truncated)
    usage = _usage(
        chat_prompt_tokens(body), count * _answer_tokens(answer), count * _reasoning_tokens(answer)
    )
    completion_id = "chatcmpl-" + random_id("", 29)
    created = int(time.time())
    if not stream:
        completion = {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": index,
                    "message": _message(answer),
                    "logprobs": _choice_logprobs(answer, top, chunk_chars),
                    "finish_reason": finish_reason,
                }
                for index in range(count)
            ],
            "usage": usage,
            "service_tier": "default",
            "system_fingerprint": SYSTEM_FINGERPRINT,
        }
        return Rendered(200, JSON_HEADERS, (orjson.dumps(completion),), "json")
    options = body.get("stream_options")
    options = options if isinstance(options, Mapping) else {}
    include_usage = options.get("include_usage") is True
    obfuscate = options.get("include_obfuscation") is not False

    # chunks differ only in their choices (and usage), so the rest is encoded once
    base = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }
    head = b"data: " + orjson.dumps(base)[:-1] + b',"choices":'
    tail = b',"usage":null' if include_usage else b""
    if obfuscate:
        tail += b',"obfuscation":"' + _PAD[:8].encode() + b'"'
    tail += b"}\n\n"
    per_choice = [_deltas(answer, finish_reason, chunk_chars, top) for _ in range(count)]
    frames = []
    for step in range(len(per_choice[0])):
        for index, deltas in enumerate(per_choice):
            delta = deltas[step]
            reason = orjson.dumps(delta.pop("finish_reason", None))
            logprobs = orjson.dumps(delta.pop("logprobs", None))
            choice = b'[{"index":%d,"delta":%b,"logprobs":%b,"finish_reason":%b}]' % (
                index,
                orjson.dumps(delta),
                logprobs,
                reason,
            )
            frames.append(head + choice + tail)
    if include_usage:
        usage_tail = b',"usage":' + orjson.dumps(usage) + tail[len(b',"usage":null') :]
        frames.append(head + b"[]" + usage_tail)
    frames.append(DONE_FRAME)
    return Rendered(200, SSE_HEADERS, tuple(frames), "chat")
