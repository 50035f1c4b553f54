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
