"""The model's reasoning (Responses reasoning summaries and text, chat
``reasoning_content`` / ``reasoning``) goes through restoration, the answer scan and the
output guard like the answer's own text, streamed and not."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from tests.pipeline.test_pipeline_stream_free_texts import (
    INSPECTOR,
    MAPPING,
    MODEL,
    ORIGINAL,
    PHONE,
    PLACEHOLDER,
    chat_chunk,
    guard,
    relay,
    sse,
)

from bastion.errors import PermissionDenied
from bastion.pipeline.answer_scan import AnswerScan, AnswerScanHook
from bastion.pipeline.output_guard import OutputGuardHook
from bastion.pipeline.response import JsonAnswerRestorer, restore_answer
from bastion.pipeline.stream import StreamEvent
from bastion.pipeline.stream_hooks import ReplaceTextHook, UsageObserver
from bastion.wire.sse import SseEvent

SUMMARY = ["Thinking about <PER", "SON_1a2b", "3c4d> and <PERSON_1a2b3c4d>."]
RESTORED = f"Thinking about {ORIGINAL} and {ORIGINAL}."


def reasoning_events(
    pieces: Sequence[str], *, kind: str = "summary", opening: str = ""
) -> list[dict[str, Any]]:
    """A Responses stream: a reasoning item (its summary part, or ``kind`` "text" its
    reasoning text part) streamed in ``pieces``, then a message answering "Done."."""
    text = opening + "".join(pieces)
    if kind == "summary":
        at: dict[str, Any] = {"item_id": "rs_1", "output_index": 0, "summary_index": 0}
        part = {"type": "summary_text", "text": text}
        item: dict[str, Any] = {"id": "rs_1", "type": "reasoning", "summary": [part]}
        body = [
            {"type": "response.reasoning_summary_part.added", **at,
             "part": {**part, "text": opening}},
            *({"type": "response.reasoning_summary_text.delta", **at, "delta": p} for p in pieces),
            {"type": "response.reasoning_summary_text.done", **at, "text": text},
            {"type": "response.reasoning_summary_part.done", **at, "part": part},
        ]  # fmt: skip
    else:
        at = {"item_id": "rs_1", "output_index": 0, "content_index": 0}
        part = {"type": "reasoning_text", "text": text}
        item = {"id": "rs_1", "type": "reasoning", "summary": [], "content": [part]}
        body = [
            {"type": "response.content_part.added", **at, "part": {**part, "text": ""}},
            *({"type": "response.reasoning_text.delta", **at, "delta": p} for p in pieces),
            {"type": "response.reasoning_text.done", **at, "text": text},
            {"type": "response.content_part.done", **at, "part": part},
        ]
    answer = {"type": "output_text", "annotations": [], "text": "Done."}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": [answer]}
    where = {"item_id": "msg_1", "output_index": 1, "content_index": 0}
    response = {"id": "resp_1", "object": "response", "model": MODEL}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {**response, "status": "in_progress"}},
        {"type": "response.output_item.added", "output_index": 0,
         "item": {**item, "summary": [], "content": []}},
        *body,
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.output_text.delta", **where, "delta": "Done."},
        {"type": "response.output_text.done", **where, "text": "Done."},
        {"type": "response.output_item.done", "output_index": 1, "item": message},
        {"type": "response.completed",
         "response": {**response, "status": "completed", "output": [item, message]}},
    ]  # fmt: skip
    return [{**event, "sequence_number": n} for n, event in enumerate(events)]


def reasoning_texts(payloads: list[dict[str, Any]], kind: str = "summary") -> list[str]:
    """The reasoning in every place a Responses stream shows it."""
    by_type = {p["type"]: p for p in payloads}
    item = next(p["item"] for p in payloads if p["type"] == "response.output_item.done")
    final = by_type["response.completed"]["response"]["output"][0]
    if kind == "summary":
        added = by_type["response.reasoning_summary_part.added"]["part"]["text"]
        deltas = [p["delta"] for p in payloads if p["type"].startswith("response.reasoning_sum")
                  and p["type"].endswith(".delta")]  # fmt: skip
        return [
            added + "".join(deltas),
            by_type["response.reasoning_summary_text.done"]["text"],
            by_type["response.reasoning_summary_part.done"]["part"]["text"],
            item["summary"][0]["text"],
            final["summary"][0]["text"],
        ]
    deltas = [p["delta"] for p in payloads if p["type"] == "response.reasoning_text.delta"]
    return [
        "".join(deltas),
        by_type["response.reasoning_text.done"]["text"],
        by_type["response.content_part.done"]["part"]["text"],
        item["content"][0]["text"],
        final["content"][0]["text"],
    ]


@pytest.mark.parametrize("restorer", [ReplaceTextHook, JsonAnswerRestorer])
@pytest.mark.parametrize("kind", ["summary", "text"])
async def test_responses_reasoning_is_restored_everywhere_it_shows(
    kind: str, restorer: type[ReplaceTextHook]
) -> None:
    """Restored whole and unescaped (prose, even when the answer is a JSON document)."""
    raw = sse(reasoning_events(SUMMARY, kind=kind))
    payloads = await relay([restorer(MAPPING)], raw, dialect="responses")
    assert reasoning_texts(payloads, kind) == [RESTORED] * 5
    assert [p["sequence_number"] for p in payloads] == list(range(len(payloads)))
    assert payloads[-1]["response"]["output"][1]["content"][0]["text"] == "Done."


async def test_text_a_summary_part_opens_with_is_restored_too() -> None:
    raw = sse(reasoning_events(SUMMARY[1:], opening="Thinking about <PER"))
    payloads = await relay([ReplaceTextHook(MAPPING)], raw, dialect="responses")
    assert reasoning_texts(payloads) == [RESTORED] * 5


@pytest.mark.parametrize("kind", ["summary", "text"])
async def test_the_output_guard_redacts_streamed_reasoning(kind: str) -> None:
    raw = sse(reasoning_events([f"Call {PHONE[:6]}", f"{PHONE[6:]} later."], kind=kind))
    payloads = await relay([OutputGuardHook(guard("redact"))], raw, dialect="responses")
    assert reasoning_texts(payloads, kind) == ["Call [PHONE] later."] * 5


async def test_the_output_guard_refuses_reasoning_holding_a_blocked_value() -> None:
    raw = sse(reasoning_events([f"Call {PHONE[:6]}", f"{PHONE[6:]} later."]))
    with pytest.raises(PermissionDenied):
        await relay([OutputGuardHook(guard("block"))], raw, dialect="responses")


def chat_reasoning(name: str, pieces: Sequence[str]) -> bytes:
    return sse(
        [
            chat_chunk({"role": "assistant", "content": None, name: ""}),
            *(chat_chunk({name: piece}) for piece in pieces),
            chat_chunk({"content": "Done.", name: None}),
            chat_chunk({}, finish="stop"),
            "[DONE]",
        ]
    )


def joined(payloads: list[dict[str, Any]], name: str) -> str:
    return "".join(p["choices"][0]["delta"].get(name) or "" for p in payloads)


@pytest.mark.parametrize("restorer", [ReplaceTextHook, JsonAnswerRestorer])
@pytest.mark.parametrize("name", ["reasoning_content", "reasoning"])
async def test_chat_reasoning_is_restored_across_chunks(
    name: str, restorer: type[ReplaceTextHook]
) -> None:
    payloads = await relay([restorer(MAPPING)], chat_reasoning(name, SUMMARY))
    assert joined(payloads, name) == RESTORED
    assert joined(payloads, "content") == "Done."
    assert [p["choices"][0]["delta"]["role"] for p in payloads[:1]] == ["assistant"]


@pytest.mark.parametrize("name", ["reasoning_content", "reasoning"])
async def test_the_output_guard_redacts_chat_reasoning(name: str) -> None:
    raw = chat_reasoning(name, [f"Call {PHONE[:6]}", f"{PHONE[6:]} later."])
    payloads = await relay([OutputGuardHook(guard("redact"))], raw)
    assert joined(payloads, name) == "Call [PHONE] later."
    assert joined(payloads, "content") == "Done."


def test_chat_reasoning_is_released_once_the_answer_begins() -> None:
    """The guard holds reasoning as it holds any text, but not past its end: the first
    piece of the answer ends it, so the answer is not held behind it until the end."""
    hook = OutputGuardHook(guard("redact"))

    def event(delta: dict[str, Any]) -> StreamEvent:
        return StreamEvent(SseEvent(json.dumps(chat_chunk(delta))))

    assert hook.on_event(event({"role": "assistant", "reasoning_content": "Short."})) == []
    released = hook.on_event(event({"content": "Hi"}))
    assert [e.payload["choices"][0]["delta"] for e in released] == [
        {"role": "assistant", "reasoning_content": "Short."}
    ]


async def test_the_answer_scan_reads_reasoning() -> None:
    scan = AnswerScan(INSPECTOR)
    raw = sse(reasoning_events([f"Call {PHONE[:6]}", f"{PHONE[6:]} later."]))
    await relay([AnswerScanHook(scan)], raw, dialect="responses")
    assert [f.data_class for f in scan.findings] == ["pii.phone"]
    scan = AnswerScan(INSPECTOR)
    await relay([AnswerScanHook(scan)], chat_reasoning("reasoning_content", [f"Call {PHONE}"]))
    assert [f.data_class for f in scan.findings] == ["pii.phone"]


def complete_answers(text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    chat = {
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Done.",
                    "reasoning_content": text,
                    "reasoning": text,
                },
            }
        ]
    }
    item = {
        "id": "rs_1",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": text}],
        "content": [{"type": "reasoning_text", "text": text}],
    }
    message = {"type": "message", "content": [{"type": "output_text", "text": "Done."}]}
    return chat, {"object": "response", "output": [item, message]}


def reasoning_of(chat: dict[str, Any], responses: dict[str, Any]) -> list[str]:
    message = chat["choices"][0]["message"]
    item = responses["output"][0]
    return [
        message["reasoning_content"],
        message["reasoning"],
        item["summary"][0]["text"],
        item["content"][0]["text"],
    ]


def test_the_output_guard_redacts_reasoning_in_complete_answers() -> None:
    chat, responses = complete_answers(f"Call {PHONE} later.")
    assert guard("redact").apply_json(chat) is True
    assert guard("redact").apply_json(responses) is True
    assert reasoning_of(chat, responses) == ["Call [PHONE] later."] * 4
    assert chat["choices"][0]["message"]["content"] == "Done."


@pytest.mark.parametrize("json_text", [False, True])
def test_placeholders_in_complete_reasoning_are_restored_as_prose(json_text: bool) -> None:
    chat, responses = complete_answers(f"Ask {PLACEHOLDER}.")
    for answer in (chat, responses):
        assert restore_answer(answer, ReplaceTextHook(MAPPING), json_text=json_text) is True
    assert reasoning_of(chat, responses) == [f"Ask {ORIGINAL}."] * 4


def test_reasoning_counts_toward_the_estimate_of_a_stream_without_usage() -> None:
    observer = UsageObserver()
    observer.on_event(StreamEvent(SseEvent(json.dumps(chat_chunk({"reasoning_content": "abc"})))))
    for kind in ("response.reasoning_text.delta", "response.reasoning_summary_text.delta"):
        payload = {"type": kind, "output_index": 0, "delta": "de"}
        observer.on_event(StreamEvent(SseEvent(json.dumps(payload), event=kind)))
    assert observer.text_chars == 7
