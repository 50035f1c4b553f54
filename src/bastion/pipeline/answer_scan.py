"""Scanning the model's answer: what it wrote itself, before placeholders are restored.

Every text the model writes is scanned: message content and output text, tool-call
arguments, refusals, custom tool calls' inputs and reasoning (chat
``reasoning_content`` / ``reasoning``, Responses reasoning summaries and text).
Complete answers are scanned once; streams in windows of ``WINDOW`` characters per
text (each choice's content, refusal and reasoning, each tool call's arguments or
input, each reasoning summary part) with ``OVERLAP`` characters carried
over, so a value across a window edge is still found. The hook only observes: every
event passes at once, nothing is held back. Findings go to the call record (source
``output``). When the decision carries output rules,
:mod:`bastion.pipeline.output_guard` scans instead (holding windows back until
decided), recording findings the same way.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import replace
from typing import Any

from bastion.detect.base import Inspector
from bastion.model import Finding
from bastion.pipeline.stream import StreamEvent
from bastion.pipeline.stream_hooks import (
    TextKey,
    content_part_field,
    done_text_fields,
    stream_text_fields,
)

WINDOW = 2048
OVERLAP = 96  # longer than any value a window edge may cut


class FindingLog:
    """The findings of one answer, each recorded once, at its offset in its whole text
    (overlapping windows find a value twice; the log keeps the first)."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self._seen: set[tuple[str, str, TextKey, int]] = set()

    def add(self, key: TextKey, offset: int, finding: Finding) -> None:
        """Record ``finding`` of a window starting ``offset`` characters into text ``key``."""
        start = offset + finding.start
        mark = (finding.data_class, finding.fingerprint, key, start)
        if mark in self._seen:
            return
        self._seen.add(mark)
        if offset:
            finding = replace(finding, start=start, end=offset + finding.end)
        self.findings.append(finding)


def own_findings(inspector: Inspector, text: str, issued: Collection[str] = ()) -> list[Finding]:
    """The findings of a piece of answer text, less this call's own stand-ins: a
    synthesized fake (``avery.kestrel4821@example.com``) is the caller's value on its way
    back, restored after the scan, not something the model leaked; a link holding one
    carries data, as restoration would write the original into it."""
    findings = inspector.inspect_answer(text, issued)
    if not issued:
        return findings
    return [f for f in findings if text[f.start : f.end] not in issued]


class AnswerScan:
    """Windows over each answer text; findings keep their class, score and fingerprint.
    ``issued``: the stand-ins issued for this call (restored, never findings)."""

    def __init__(self, inspector: Inspector, issued: Collection[str] = ()) -> None:
        self._inspector = inspector
        self._issued = issued
        self._pending: dict[tuple[int, int], str] = {}
        self._scanned: dict[tuple[int, int], int] = {}  # characters already scanned
        self.log = FindingLog()
        self.findings = self.log.findings

    def feed(self, key: tuple[int, int], text: str) -> None:
        pending = self._pending.get(key, "") + text
        if len(pending) >= WINDOW + OVERLAP:
            self._scan(key, pending)
            pending = pending[-OVERLAP:]
        self._pending[key] = pending

    def finish(self) -> list[Finding]:
        for key, pending in self._pending.items():
            self._scan(key, pending)
        self._pending.clear()
        return self.findings

    def apply_json(self, payload: dict[str, Any]) -> bool:
        """Scan every text of a complete answer; never changes it (returns False)."""
        for index, (holder, name) in enumerate(scanned_fields(payload)):
            text = holder.get(name)
            if isinstance(text, str) and text:
                self.feed(answer_key(index, name), text)
        self.finish()
        return False

    def _scan(self, key: tuple[int, int], text: str) -> None:
        offset = self._scanned.get(key, 0)
        for finding in own_findings(self._inspector, text, self._issued):
            self.log.add(key, offset, finding)  # a value in the overlap is found twice
        self._scanned[key] = offset + max(0, len(text) - OVERLAP)


class AnswerScanHook:
    """The stream hook feeding :class:`AnswerScan` (observes; holds nothing back).

    Texts are read from their deltas; a Responses text no delta carried (some servers
    send a short one only in its done event or finished item) is read where it first
    appears whole, and one repeated longer than its deltas, from where they ended."""

    def __init__(self, scan: AnswerScan) -> None:
        self.scan = scan
        self._fed: dict[TextKey, int] = {}  # characters of each text scanned so far

    def on_event(self, event: StreamEvent) -> Sequence[StreamEvent]:
        payload = event.payload
        if isinstance(payload, dict):
            kind = event.event_type
            for key, target, name, _ in stream_text_fields(payload, kind):
                text = target.get(name)
                if isinstance(text, str) and text:
                    self.scan.feed(key, text)
                    self._fed[key] = self._fed.get(key, 0) + len(text)
            if kind is not None and "choices" not in payload:
                for key, target, name in done_text_fields(kind, payload):
                    text = target.get(name)
                    fed = self._fed.get(key, 0)
                    if isinstance(text, str) and len(text) > fed:
                        self.scan.feed(key, text[fed:])
                        self._fed[key] = len(text)
        return (event,)

    def on_end(self) -> Sequence[StreamEvent]:
        self.scan.finish()
        return ()


def answer_fields(payload: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """(holder, field) of every text of a complete chat or Responses answer: message
    content, tool-call (and legacy ``function_call``) arguments, output text parts
    (reasoning items are free texts, see :func:`free_text_fields`)."""
    for choice in payload.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, list):  # parts, as some compatible servers send them
            for part in content:
                if content_part_field(part) == "text":
                    yield part, "text"
        else:
            yield message, "content"
        for call in message.get("tool_calls") or ():
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                yield call["function"], "arguments"
        if isinstance(message.get("function_call"), dict):  # answering legacy ``functions``
            yield message["function_call"], "arguments"
    for item in payload.get("output") or ():
        if not isinstance(item, dict) or item.get("type") == "reasoning":
            continue
        yield item, "arguments"
        for part in item.get("content") or ():
            if isinstance(part, dict):
                yield part, "text"


def free_text_fields(payload: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """(holder, field) of the free texts of a complete answer beside those of
    :func:`answer_fields`: refusals, the input of custom (free-form) tool calls, which
    the client runs, and the model's reasoning (chat ``reasoning_content`` or
    ``reasoning``, as OpenAI-compatible servers send it; a Responses reasoning item's
    summary parts and reasoning text). All are prose, even when the answer's content is
    JSON."""
    for choice in payload.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            continue
        yield message, "reasoning_content"
        yield message, "reasoning"
        yield message, "refusal"
        content = message.get("content")
        for part in content if isinstance(content, list) else ():
            if content_part_field(part) == "refusal":
                yield part, "refusal"
        for call in message.get("tool_calls") or ():
            if isinstance(call, dict) and isinstance(call.get("custom"), dict):
                yield call["custom"], "input"
    for item in payload.get("output") or ():
        if not isinstance(item, dict):
            continue
        if item.get("type") == "custom_tool_call":
            yield item, "input"
        if item.get("type") == "reasoning":
            for part in item.get("summary") or ():
                if isinstance(part, dict):
                    yield part, "text"
            for part in item.get("content") or ():
                if isinstance(part, dict):
                    yield part, "text"
            continue
        for part in item.get("content") or ():
            if isinstance(part, dict) and part.get("type") == "refusal":
                yield part, "refusal"


def scanned_fields(payload: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """(holder, field) of every text the model wrote in a complete answer: those of
    :func:`answer_fields`, then those of :func:`free_text_fields`."""
    yield from answer_fields(payload)
    yield from free_text_fields(payload)


def answer_key(index: int, name: str) -> TextKey:
    """The key of the ``index``-th text of :func:`scanned_fields` (second element
    negative for JSON arguments, as in streams)."""
    return (index, -1 if name == "arguments" else 0)


def answer_texts(payload: dict[str, Any]) -> Iterator[str]:
    """Every text of a complete answer (the strings :func:`scanned_fields` points at)."""
    for holder, name in scanned_fields(payload):
        text = holder.get(name)
        if isinstance(text, str):
            yield text
