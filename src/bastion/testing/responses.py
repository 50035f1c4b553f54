"""Responses API wire format: the ``response`` object and its streaming events.

A stream is ``response.created``, ``response.in_progress``, then per output item
``response.output_item.added`` … ``response.output_item.done`` (text: content part
added, several ``response.output_text.delta``, text done, content part done; function
call: argument deltas and done; scripted reasoning: a first ``reasoning`` item whose one
summary part streams as ``response.reasoning_summary_part.added``, several
``response.reasoning_summary_text.delta``, text done, part done; a scripted citation is
a ``url_citation`` in the ``output_text`` part's ``annotations``, streamed as a
``response.output_text.annotation.added`` event right after the delta that completes
the passage it cites), then
``response.completed`` (``response.incomplete``
when ``max_output_tokens`` cut the text). Each event has ``type`` and a
``sequence_number`` counting from 0, framed as ``event: TYPE`` + ``data: JSON``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import orjson

from bastion.testing.answer import Answer, random_id, split_pieces, token_logprobs
from bastion.testing.chat import JSON_HEADERS, SSE_HEADERS
from bastion.testing.citations import responses_annotations, within
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
    text = text if isinstance(text, Mapping) else {}
    fmt = text.get("format")
    verbosity = text.get("verbosity")
    return {
        "format": fmt if isinstance(fmt, Mapping) else {"type": "text"},
        "verbosity": verbosity if isinstance(verbosity, str) else "medium",
    }


def _top_logprobs(body: Mapping[str, Any]) -> int | None:
    """Alternatives per token when ``include`` asks for the output text's logprobs."""
    include = body.get("include")
    if not isinstance(include, list) or "message.output_text.logprobs" not in include:
        return None
    top = body.get("top_logprobs")
    return top if isinstance(top, int) and not isinstance(top, bool) and top > 0 else 0


def _echoed(body: Mapping[str, Any]) -> dict[str, Any]:
    """The request parameters the response object repeats, as OpenAI's does."""
    reasoning = body.get("reasoning")
    reasoning = reasoning if isinstance(reasoning, Mapping) else {}
    tier = body.get("service_tier")
    echoed: dict[str, Any] = {
        "max_tool_calls": body.get("max_tool_calls"),
        "prompt_cache_key": body.get("prompt_cache_key"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "safety_identifier": body.get("safety_identifier"),
        "service_tier": tier if tier in ("flex", "priority", "scale") else "default",
        "top_logprobs": body.get("top_logprobs") or 0,
        "truncation": body.get("truncation") or "disabled",
        "user": body.get("user"),
    }
    conversation = body.get("conversation")
    if isinstance(conversation, Mapping):
        conversation = conversation.get("id")
    if isinstance(conversation, str):
        echoed["conversation"] = {"id": conversation}
    prompt = body.get("prompt")
    if isinstance(prompt, Mapping):
        echoed["prompt"] = {key: prompt.get(key) for key in ("id", "variables", "version")}
    return echoed


def _usage(input_tokens: int, output_tokens: int, reasoning_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": input_tokens + output_tokens,
    }


def _output_items(answer: Answer, top: int | None, chunk_chars: int) -> list[dict[str, Any]]:
    reasoning: list[dict[str, Any]] = []
    if answer.reasoning is not None:
        summary = [{"type": "summary_text", "text": answer.reasoning}]
        reasoning = [{"id": random_id("rs_", 48), "type": "reasoning", "summary": summary}]
    return reasoning + _answer_items(answer, top, chunk_chars)


def _answer_items(answer: Answer, top: int | None, chunk_chars: int) -> list[dict[str, Any]]:
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
    part: dict[str, Any]
    if answer.refusal is not None:
        part = {"type": "refusal", "refusal": answer.refusal}
    else:
        text = answer.content or ""
        logprobs = []
        if top is not None:  # token by token, as the stream's deltas carry them
            logprobs = [
                entry
                for piece in split_pieces(text, chunk_chars)
                for entry in token_logprobs(piece, top)
            ]
        annotations = responses_annotations(answer.citations)
        part = {
            "type": "output_text",
            "annotations": annotations,
            "logprobs": logprobs,
            "text": text,
        }
    return [
        {
            "id": random_id("msg_", 48),
            "type": "message",
            "status": "completed",
            "content": [part],
            "role": "assistant",
        }
    ]


def _item_events(
    item: dict[str, Any], index: int, chunk_chars: int, top: int | None
) -> list[dict[str, Any]]:
    """The events that stream one output item, without sequence numbers."""
    item_id = item["id"]
    where = {"item_id": item_id, "output_index": index}
    events: list[dict[str, Any]]
    if item["type"] == "reasoning":
        text = item["summary"][0]["text"]
        where = {**where, "summary_index": 0}
        part = {"type": "summary_text", "text": text}
        events = [
            {"type": "response.output_item.added", "output_index": index,
             "item": {**item, "summary": []}},
            {"type": "response.reasoning_summary_part.added", **where,
             "part": {**part, "text": ""}},
        ]  # fmt: skip
        events += [
            {"type": "response.reasoning_summary_text.delta", **where, "delta": piece}
            for piece in split_pieces(text, chunk_chars)
        ]
        events += [
            {"type": "response.reasoning_summary_text.done", **where, "text": text},
            {"type": "response.reasoning_summary_part.done", **where, "part": part},
        ]
    elif item["type"] == "custom_tool_call":
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
    elif item["content"][0]["type"] == "refusal":
        part = item["content"][0]
        text = part["refusal"]
        where = {**where, "content_index": 0}
        added = {**item, "status": "in_progress", "content": []}
        events = [
            {"type": "response.output_item.added", "output_index": index, "item": added},
            {"type": "response.content_part.added", **where, "part": {**part, "refusal": ""}},
        ]
        events += [
            {"type": "response.refusal.delta", **where, "delta": piece}
            for piece in split_pieces(text, chunk_chars)
        ]
        events += [
            {"type": "response.refusal.done", **where, "refusal": text},
            {"type": "response.content_part.done", **where, "part": part},
        ]
    else:
        part = item["content"][0]
        text = part["text"]
        where = {**where, "content_index": 0}
        added = {**item, "status": "in_progress", "content": []}
        empty = {**part, "text": "", "logprobs": [], "annotations": []}
        events = [
            {"type": "response.output_item.added", "output_index": index, "item": added},
            {"type": "response.content_part.added", **where, "part": empty},
        ]
        done_logprobs: list[dict[str, Any]] = []
        annotations: list[dict[str, Any]] = part["annotations"]
        sent = cited = 0
        for piece in split_pieces(text, chunk_chars):
            logprobs = [] if top is None else token_logprobs(piece, top, with_bytes=False)
            done_logprobs += logprobs
            events.append(
                {
                    "type": "response.output_text.delta",
                    **where,
                    "delta": piece,
                    "logprobs": logprobs,
                }
            )
            sent += len(piece)
            # a citation follows the delta that completes the passage it cites
            while cited < len(annotations) and annotations[cited]["end_index"] <= sent:
                events.append(_annotation_added(where, cited, annotations[cited]))
                cited += 1
        events += [
            {"type": "response.output_text.done", **where, "text": text, "logprobs": done_logprobs},
            {"type": "response.content_part.done", **where, "part": part},
        ]
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return events


def _annotation_added(
    where: dict[str, Any], number: int, annotation: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": "response.output_text.annotation.added",
        **where,
        "annotation_index": number,
        "annotation": annotation,
    }


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
        answer = replace(answer, content=content, citations=within(answer.citations, len(content)))
        incomplete = {"reason": "max_output_tokens"} if cut else None
    top = _top_logprobs(body)
    output = _output_items(answer, top, chunk_chars)
    reasoning_tokens = count_tokens(answer.reasoning) if answer.reasoning else 0
    if answer.tool_calls:
        output_tokens = sum(
            count_tokens(c.name) + count_tokens(c.arguments) for c in answer.tool_calls
        )
    else:
        output_tokens = count_tokens(answer.refusal or answer.content or "")
    output_tokens += reasoning_tokens
    created_at = int(time.time())
    final_status = "incomplete" if incomplete else "completed"
    background = body.get("background") is True
    response: dict[str, Any] = {
        "id": random_id("resp_", 48),
        "object": "response",
        "created_at": created_at,
        "status": final_status,
        "background": background,
        "completed_at": created_at,
        "error": None,
        "incomplete_details": incomplete,
        "instructions": body.get("instructions"),
        "max_output_tokens": limit if isinstance(limit, int) else None,
        "model": model,
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "temperature": body.get("temperature", 1.0),
        "text": _text_config(body),
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": _tools(body),
        "top_p": body.get("top_p", 1.0),
        "usage": _usage(responses_input_tokens(body), output_tokens, reasoning_tokens),
        "metadata": body.get("metadata") or {},
        **_echoed(body),
    }
    if not stream:
        if background:  # answered later, from GET /v1/responses/{id}
            response.update(status="queued", completed_at=None, incomplete_details=None)
            response.update(output=[], usage=None)
        return Rendered(200, JSON_HEADERS, (orjson.dumps(response),), "json")
    pending = {**response, "status": "in_progress", "completed_at": None, "output": []}
    pending.update(incomplete_details=None, usage=None)
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": pending},
        {"type": "response.in_progress", "response": pending},
    ]
    for index, item in enumerate(output):
        events += _item_events(item, index, chunk_chars, top)
    events.append({"type": f"response.{final_status}", "response": response})
    frames = tuple(
        _frame({"type": event.pop("type"), "sequence_number": number, **event})
        for number, event in enumerate(events)
    )
    return Rendered(200, SSE_HEADERS, frames, "responses")
