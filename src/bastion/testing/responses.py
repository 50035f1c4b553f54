"""Responses API wire format: the ``response`` object and its streaming events.

A stream is ``response.created``, ``response.in_progress``, then per output item
``response.output_item.added`` … ``response.output_item.done`` (text: content part
added, several ``response.output_text.delta``, text done, content part done; function
call: argument deltas and done), then ``response.completed`` (``response.incomplete``
when ``max_output_tokens`` cut the text). Each event has ``type`` and a
``sequence_number`` counting from 0, framed as ``event: TYPE`` + ``data: JSON``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from bastion.testing.answer import Answer, random_id, split_pieces
from bastion.testing.chat import JSON_HEADERS, SSE_HEADERS
from bastion.testing.faults import Rendered
from bastion.testing.tokens import count_tokens, responses_input_tokens, truncate_to_tokens


def _tools(body: Mapping[str, Any]) -> list[Any]:
    tools = body.get("tools")
    if not isinstance(tools, list):
        return []
    echoed: list[Any] = []
    for tool in tools:
        if isinstance(tool, Mapping) and tool.get("type") == "function":
            echoed.append(
                {
                    "type": "function",
                    "name": tool.get("name"),
                    "description": tool.get("description"),
                    "parameters": tool.get("parameters"),
                    "strict": tool.get("strict", True),
                }
            )
        else:
            echoed.append(tool)
    return echoed


def _text_config(body: Mapping[str, Any]) -> dict[str, Any]:
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, Mapping) else None
    return {"format": fmt if isinstance(fmt, Mapping) else {"type": "text"}, "verbosity": "medium"}


def _usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def _output_items(answer: Answer) -> list[dict[str, Any]]:
    if answer.tool_calls:
        return [
            {
                "id": random_id("ctc_", 48),
                "type": "custom_tool_call",
                "call_id": random_id("call_"),
                "input": call.arguments,
                "name": call.name,
            }
            if call.custom
            else {
                "id": random_id("fc_", 48),
                "type": "function_call",
                "status": "completed",
                "arguments": call.arguments,
                "call_id": random_id("call_"),
                "name": call.name,
            }
            for call in answer.tool_calls
        ]
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": answer.content or ""}
    return [
        {
            "id": random_id("msg_", 48),
            "type": "message",
            "status": "completed",
            "content": [part],
            "role": "assistant",
        }
    ]


def _item_events(item: dict[str, Any], index: int, chunk_chars: int) -> list[dict[str, Any]]:
    """The events that stream one output item, without sequence numbers."""
    item_id = item["id"]
    where = {"item_id": item_id, "output_index": index}
    events: list[dict[str, Any]]
    if item["type"] == "custom_tool_call":
        added = {**item, "input": ""}
        events = [{"type": "response.output_item.added", "output_index": index, "item": added}]
        events += [
            {"type": "response.custom_tool_call_input.delta", **where, "delta": piece}
            for piece in split_pieces(item["input"], chunk_chars)
        ]
        events.append(
            {"type": "response.custom_tool_call_input.done", **where, "input": item["input"]}
        )
    elif item["type"] == "function_call":
        added = {**item, "status": "in_progress", "arguments": ""}
        events = [{"type": "response.output_item.added", "output_index": index, "item": added}]
        events += [
            {"type": "response.function_call_arguments.delta", **where, "delta": piece}
            for piece in split_pieces(item["arguments"], chunk_chars)
        ]
        events.append(
            {
                "type": "response.function_call_arguments.done",
                **where,
                "arguments": item["arguments"],
            }
        )
    else:
        part = item["content"][0]
        text = part["text"]
        where = {**where, "content_index": 0}
        added = {**item, "status": "in_progress", "content": []}
        events = [
            {"type": "response.output_item.added", "output_index": index, "item": added},
            {"type": "response.content_part.added", **where, "part": {**part, "text": ""}},
        ]
        events += [
            {"type": "response.output_text.delta", **where, "delta": piece, "logprobs": []}
            for piece in split_pieces(text, chunk_chars)
        ]
        events += [
            {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
            {"type": "response.content_part.done", **where, "part": part},
        ]
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return events


def _frame(event: dict[str, Any]) -> bytes:
    event_type: str = event["type"]
    return b"event: " + event_type.encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


def render_responses(
    body: Mapping[str, Any], model: str, answer: Answer, *, stream: bool, chunk_chars: int
) -> Rendered:
    """Render a Responses API ``response`` (or its event stream) for ``answer``."""
    incomplete = None
    limit = body.get("max_output_tokens")
    if answer.content is not None and not answer.tool_calls and isinstance(limit, int):
        content, cut = truncate_to_tokens(answer.content, limit)
        answer = Answer(content)
        incomplete = {"reason": "max_output_tokens"} if cut else None
    output = _output_items(answer)
    if answer.tool_calls:
        output_tokens = sum(
            count_tokens(c.name) + count_tokens(c.arguments) for c in answer.tool_calls
        )
    else:
        output_tokens = count_tokens(answer.content or "")
    created_at = int(time.time())
    final_status = "incomplete" if incomplete else "completed"
    response: dict[str, Any] = {
        "id": random_id("resp_", 48),
        "object": "response",
        "created_at": created_at,
        "status": final_status,
        "background": False,
        "completed_at": created_at,
        "error": None,
        "incomplete_details": incomplete,
        "instructions": body.get("instructions"),
        "max_output_tokens": limit if isinstance(limit, int) else None,
        "max_tool_calls": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "prompt_cache_key": None,
        "reasoning": {"effort": None, "summary": None},
        "safety_identifier": None,
        "service_tier": "default",
        "temperature": body.get("temperature", 1.0),
        "text": _text_config(body),
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": _tools(body),
        "top_logprobs": 0,
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": _usage(responses_input_tokens(body), output_tokens),
        "user": None,
        "metadata": body.get("metadata") or {},
    }
    if not stream:
        return Rendered(200, JSON_HEADERS, (orjson.dumps(response),), "json")
    pending = {**response, "status": "in_progress", "completed_at": None, "output": []}
    pending.update(incomplete_details=None, usage=None)
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": pending},
        {"type": "response.in_progress", "response": pending},
    ]
    for index, item in enumerate(output):
        events += _item_events(item, index, chunk_chars)
    events.append({"type": f"response.{final_status}", "response": response})
    frames = tuple(
        _frame({"type": event.pop("type"), "sequence_number": number, **event})
        for number, event in enumerate(events)
    )
    return Rendered(200, SSE_HEADERS, frames, "responses")
