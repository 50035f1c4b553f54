"""Refusals and custom tool call inputs in streams: restored across chunks (as prose,
never JSON-escaped) and shown to the answer scan and the output guard."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.crypto.keyring import Keyring
from bastion.detect.catalog import build_scanner
from bastion.detect.inspector import DetectorInspector
from bastion.errors import PermissionDenied
from bastion.model.controls import OutputAction, OutputPlan
from bastion.pipeline.answer_scan import AnswerScan, AnswerScanHook
from bastion.pipeline.output_guard import OutputGuard, OutputGuardHook
from bastion.pipeline.response import JsonAnswerRestorer
from bastion.pipeline.stream import StreamEvent, StreamRelay
from bastion.pipeline.stream_hooks import ReplaceTextHook, TextWindowHook
from bastion.wire.sse import SseEvent, SseParser

MODEL = "gpt-4o-mini"
PLACEHOLDER = "<PERSON_1a2b3c4d>"
ORIGINAL = 'Ann "Nan" O\\Neil\nof Leeds'  # JSON would need escapes for all of these
MAPPING = {PLACEHOLDER: ORIGINAL}
KEYRING = Keyring.generate()
INSPECTOR = DetectorInspector(build_scanner(), KEYRING)


def chat_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def custom_call(text: str, *, opening: bool = False) -> dict[str, Any]:
    call: dict[str, Any] = {"index": 0, "custom": {"input": text}}
    if opening:
        call = {
            "index": 0,
            "id": "call_1",
            "type": "custom",
            "custom": {"name": "shell", **call["custom"]},
        }
    return {"tool_calls": [call]}


def sse(payloads: Sequence[dict[str, Any] | str]) -> bytes:
    out = ""
    for payload in payloads:
        if isinstance(payload, str):
            out += f"data: {payload}\n\n"
        elif "type" in payload:
            out += f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n"
        else:
            out += f"data: {json.dumps(payload)}\n\n"
    return out.encode()


async def relay(
    hooks: Sequence[Any], raw: bytes, size: int = 9, dialect: str = "chat"
) -> list[Any]:
    async def source() -> Any:
        for at in range(0, len(raw), size):
            yield raw[at : at + size]

    out = b"".join(
        [piece async for piece in StreamRelay(list(hooks), dialect=dialect).relay(source())]
    )
    parser = SseParser()
    return [
        orjson.loads(e.data)
        for e in parser.feed(out) + parser.finish()
        if e.data and e.data != "[DONE]"
    ]


def responses_events(kind: str, pieces: Sequence[str]) -> list[dict[str, Any]]:
    """A Responses stream of one custom tool call (``kind`` "custom") or one refusal."""
    text = "".join(pieces)
    if kind == "custom":
        item = {"id": "ctc_1", "type": "custom_tool_call", "name": "shell", "input": text}
        at: dict[str, Any] = {"item_id": "ctc_1", "output_index": 0}
        body = [
            *({"type": "response.custom_tool_call_input.delta", **at, "delta": p} for p in pieces),
            {"type": "response.custom_tool_call_input.done", **at, "input": text},
        ]
    else:
        part = {"type": "refusal", "refusal": text}
        item = {"id": "msg_1", "type": "message", "role": "assistant", "content": [part]}
        at = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
        body = [
            *({"type": "response.refusal.delta", **at, "delta": p} for p in pieces),
            {"type": "response.refusal.done", **at, "refusal": text},
            {"type": "response.content_part.done", **at, "part": part},
        ]
    response = {"id": "resp_1", "object": "response", "model": MODEL}
    events = [
        {
            "type": "response.created",
            "response": {**response, "status": "in_progress", "output": []},
        },
        *body,
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {
            "type": "response.completed",
            "response": {**response, "status": "completed", "output": [item]},
        },
    ]
    return [{**event, "sequence_number": n} for n, event in enumerate(events)]


def responses_texts(kind: str, payloads: list[dict[str, Any]]) -> list[str]:
    """The text in every place a Responses stream shows it: deltas joined, done events,
    the finished item and the completed response."""
    by_type = {p["type"]: p for p in payloads}
    deltas = [p["delta"] for p in payloads if p["type"].endswith(".delta")]
    item = by_type["response.output_item.done"]["item"]
    final = by_type["response.completed"]["response"]["output"][0]
    if kind == "custom":
        done = by_type["response.custom_tool_call_input.done"]["input"]
        return ["".join(deltas), done, item["input"], final["input"]]
    return [
        "".join(deltas),
        by_type["response.refusal.done"]["refusal"],
        by_type["response.content_part.done"]["part"]["refusal"],
        item["content"][0]["refusal"],
        final["content"][0]["refusal"],
    ]


@pytest.mark.parametrize("restorer", [ReplaceTextHook, JsonAnswerRestorer])
@pytest.mark.parametrize("kind", ["custom", "refusal"])
async def test_responses_free_texts_are_restored_everywhere_they_show(
    kind: str, restorer: type[ReplaceTextHook]
) -> None:
    """The placeholder cut across deltas comes back whole and unescaped (prose, even
    when the answer's content would be a JSON document), in every repeat of the text."""
    pieces = ["sendmail -t <PER", "SON_1a2b", "3c4d> < x; echo <PERSON_1a2b3c4d>"]
    raw = sse(responses_events(kind, pieces))
    payloads = await relay([restorer(MAPPING)], raw, dialect="responses")
    expected = f"sendmail -t {ORIGINAL} < x; echo {ORIGINAL}"
    assert responses_texts(kind, payloads) == [expected] * (4 if kind == "custom" else 5)
    assert [p["sequence_number"] for p in payloads] == list(range(len(payloads)))


@given(
    st.lists(st.sampled_from(["<PER", "SON_", "1a2b3c4d", ">", "<", " ", "é", "\n"]), max_size=14),
    st.lists(st.integers(1, 40), min_size=1, max_size=6),
)
@settings(max_examples=100, deadline=None)
def test_a_custom_input_cut_anywhere_is_restored_like_the_joined_text(
    pieces: list[str], cuts: list[int]
) -> None:
    text = "".join(pieces)
    deltas, at = [], 0
    for size in cuts * (len(text) // sum(cuts) + 1):
        if at < len(text):
            deltas.append(text[at : at + size])
            at += size
    hook = ReplaceTextHook(MAPPING)
    released: list[StreamEvent] = []
    for payload in responses_events("custom", deltas):
        event = StreamEvent(SseEvent(json.dumps(payload), event=payload["type"]))
        released += hook.on_event(event)
    released += hook.on_end()
    payloads = [e.payload for e in released]
    assert responses_texts("custom", payloads) == [text.replace(PLACEHOLDER, ORIGINAL)] * 4


@pytest.mark.parametrize("restorer", [ReplaceTextHook, JsonAnswerRestorer])
async def test_chat_refusal_is_restored_across_chunks(restorer: type[ReplaceTextHook]) -> None:
    raw = sse(
        [
            chat_chunk({"role": "assistant", "content": None, "refusal": "I won't write to <PERS"}),
            chat_chunk({"refusal": "ON_1a2b3c4d"}),
            chat_chunk({"refusal": ">."}, finish="stop"),
            "[DONE]",
        ]
    )
    payloads = await relay([restorer(MAPPING)], raw)
    deltas = [p["choices"][0]["delta"] for p in payloads]
    assert "".join(d.get("refusal") or "" for d in deltas) == f"I won't write to {ORIGINAL}."
    assert [d["role"] for d in deltas if "role" in d] == ["assistant"]
    assert all(d.get("content") is None for d in deltas)  # no content appears from nowhere


async def test_chat_custom_tool_input_is_restored_and_split_without_repeating_headers() -> None:
    """The rest of a split chunk carries only the call's index and input: the client joins
    id, type and name across deltas, so repeating them would corrupt the call."""
    raw = sse(
        [
            chat_chunk({"role": "assistant", **custom_call("mail <PERSON_1a", opening=True)}),
            chat_chunk(custom_call("2b3c4d> now")),
            chat_chunk({}, finish="tool_calls"),
            "[DONE]",
        ]
    )
    payloads = await relay([ReplaceTextHook(MAPPING)], raw)
    given, ids, names, types = "", "", "", ""
    for payload in payloads:
        for call in payload["choices"][0]["delta"].get("tool_calls") or ():
            assert "function" not in call
            given += call["custom"].get("input", "")
            names += call["custom"].get("name", "")
            ids += call.get("id", "")
            types += call.get("type", "")
    assert given == f"mail {ORIGINAL} now"
    assert (ids, names, types) == ("call_1", "shell", "custom")


async def test_free_texts_without_placeholders_pass_byte_for_byte() -> None:
    raw = sse(responses_events("custom", ["ls -la ", "/tmp"]))
    out = b"".join(
        [
            p
            async for p in StreamRelay([ReplaceTextHook(MAPPING)], dialect="responses").relay(
                _once(raw)
            )
        ]
    )
    assert out == raw


async def _once(raw: bytes) -> Any:
    yield raw


def test_a_window_hook_tells_free_texts_from_content_and_arguments() -> None:
    class Windows(TextWindowHook):
        def __init__(self) -> None:
            super().__init__(1)
            self.seen: list[tuple[str, str]] = []

        def on_window(self, choice_index: int, text: str) -> str:
            self.seen.append(("text", text))
            return text

        def on_arguments_window(self, choice_index: int, text: str) -> str:
            self.seen.append(("arguments", text))
            return text

        def on_free_window(self, choice_index: int, text: str) -> str:
            self.seen.append(("free", text))
            return text

    hook = Windows()
    delta = {
        "content": "a",
        "refusal": "b",
        "tool_calls": [
            {"index": 0, "function": {"arguments": "{}"}},
            {"index": 1, "custom": {"input": "c"}},
        ],
    }
    hook.on_event(StreamEvent(SseEvent(json.dumps(chat_chunk(delta)))))
    hook.on_end()
    assert sorted(hook.seen) == [("arguments", "{}"), ("free", "b"), ("free", "c"), ("text", "a")]


PHONE = "+44 20 7946 0958"


def chat_free_texts() -> bytes:
    return sse(
        [
            chat_chunk({"role": "assistant", "refusal": f"Call {PHONE[:6]}"}),
            chat_chunk({"refusal": f"{PHONE[6:]} instead."}, finish="stop"),
            "[DONE]",
        ]
    )


@pytest.mark.parametrize("kind", ["chat", "custom", "refusal"])
async def test_the_answer_scan_reads_refusals_and_custom_inputs(kind: str) -> None:
    scan = AnswerScan(INSPECTOR)
    if kind == "chat":
        await relay([AnswerScanHook(scan)], chat_free_texts())
    else:
        raw = sse(responses_events(kind, [f"call {PHONE[:6]}", f"{PHONE[6:]} now"]))
        await relay([AnswerScanHook(scan)], raw, dialect="responses")
    assert [f.data_class for f in scan.findings] == ["pii.phone"]


def test_complete_answers_show_refusals_and_custom_inputs_to_the_scan() -> None:
    chat = {
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "refusal": f"Not calling {PHONE}.",
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "custom",
                            "custom": {"name": "sh", "input": "mail ann.lee@contoso-example.com"},
                        }
                    ],
                },
            }
        ]
    }
    scan = AnswerScan(INSPECTOR)
    scan.apply_json(chat)
    assert sorted(f.data_class for f in scan.findings) == ["pii.email", "pii.phone"]
    responses = {
        "output": responses_events("refusal", [f"Not calling {PHONE}."])[-1]["response"]["output"]
    }
    scan = AnswerScan(INSPECTOR)
    scan.apply_json(responses)
    assert [f.data_class for f in scan.findings] == ["pii.phone"]


def guard(action: str) -> OutputGuard:
    rules = (("pii.phone", OutputAction(action, "out.phone")),)  # type: ignore[arg-type]
    return OutputGuard(OutputPlan(rules, "window", 64), INSPECTOR, KEYRING)


@pytest.mark.parametrize("kind", ["custom", "refusal"])
async def test_the_output_guard_redacts_in_streamed_free_texts(kind: str) -> None:
    raw = sse(responses_events(kind, [f"call {PHONE[:6]}", f"{PHONE[6:]} now"]))
    payloads = await relay([OutputGuardHook(guard("redact"))], raw, dialect="responses")
    assert responses_texts(kind, payloads) == ["call [PHONE] now"] * (4 if kind == "custom" else 5)


async def test_the_output_guard_refuses_a_chat_refusal_holding_a_blocked_value() -> None:
    hook = OutputGuardHook(guard("block"))
    with pytest.raises(PermissionDenied):
        await relay([hook], chat_free_texts())


def test_the_output_guard_redacts_a_complete_custom_tool_input_as_prose() -> None:
    item = {"type": "custom_tool_call", "name": "sh", "input": f'echo "{PHONE}"'}
    answer: dict[str, Any] = {"output": [item]}
    assert guard("redact").apply_json(answer) is True
    assert item["input"] == 'echo "[PHONE]"'  # quotes are prose here, not JSON structure
