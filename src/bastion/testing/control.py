"""Scripted replies, in-text directives, captures and counters: the simulator's state.

One ``SimulatorState`` lives in each app (built by ``create_app``); nothing is global.
Scripted replies are queued per model (or for any model) and consumed FIFO; a reply
with ``times`` N serves the next N matching requests before the queue moves on.
"""

from __future__ import annotations

import re
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bastion.testing.answer import ToolCall
from bastion.testing.citations import Citation, parse_citations
from bastion.testing.faults import FAULT_NAMES

_DIRECTIVE = re.compile(r"\[\[sim:(fault|tool)=([A-Za-z0-9_.-]+)((?:,[A-Za-z_]+=[^,\]]*)*)\]\]")
_REPLY_KEYS = frozenset(
    {"content", "refusal", "reasoning", "tool_calls", "citations", "fault", "status", "times"}
)


@dataclass(frozen=True, slots=True)
class Reply:
    """What to answer one request with; empty fields fall back to the echo answer."""

    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    fault: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    refusal: str | None = None
    reasoning: str | None = None
    citations: tuple[Citation, ...] = ()


class _QueuedReply:
    """A scripted reply and how many more requests it serves."""

    __slots__ = ("remaining", "reply")

    def __init__(self, reply: Reply, remaining: int) -> None:
        self.reply = reply
        self.remaining = remaining


def _parse_tool_calls(raw: Any) -> tuple[ToolCall, ...]:
    if not isinstance(raw, list) or not raw:
        raise ValueError("tool_calls must be a non-empty list of {name, arguments}")
    calls = []
    for entry in raw:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise ValueError("each tool call needs a string 'name'")
        if "input" in entry:  # a custom tool's free-text input
            if not isinstance(entry["input"], str):
                raise ValueError("custom tool call 'input' must be a string")
            calls.append(ToolCall(entry["name"], entry["input"], custom=True))
            continue
        arguments = entry.get("arguments", "{}")
        if not isinstance(arguments, str):
            raise ValueError("tool call 'arguments' must be a JSON string")
        calls.append(ToolCall(entry["name"], arguments))
    return tuple(calls)


def parse_reply(raw: Any) -> tuple[Reply, int]:
    """Validate one scripted reply object; returns the reply and its ``times``."""
    if not isinstance(raw, Mapping):
        raise ValueError("each reply must be an object")
    times = raw.get("times", 1)
    if not isinstance(times, int) or isinstance(times, bool) or times < 1:
        raise ValueError("'times' must be a positive integer")
    content = raw.get("content")
    if content is not None and not isinstance(content, str):
        raise ValueError("'content' must be a string")
    tool_calls = _parse_tool_calls(raw["tool_calls"]) if "tool_calls" in raw else ()
    refusal = raw.get("refusal")
    if refusal is not None and not isinstance(refusal, str):
        raise ValueError("'refusal' must be a string")
    if refusal is not None and (content is not None or tool_calls):
        raise ValueError("a refusal comes alone: no 'content' or 'tool_calls' beside it")
    reasoning = raw.get("reasoning")
    if reasoning is not None and not isinstance(reasoning, str):
        raise ValueError("'reasoning' must be a string")
    citations = _parse_reply_citations(raw, content, refusal is not None or bool(tool_calls))
    fault = raw.get("fault")
    params = {key: value for key, value in raw.items() if key not in _REPLY_KEYS}
    if fault is None and "status" in raw:
        fault = "status"
    if "status" in raw:
        params["status"] = raw["status"]
    if fault is not None and fault not in FAULT_NAMES:
        raise ValueError(f"unknown fault {fault!r}; known: {', '.join(sorted(FAULT_NAMES))}")
    answer = (content, refusal, reasoning)
    if fault is None and not tool_calls and not citations and all(t is None for t in answer):
        raise ValueError(
            "a reply needs 'content', 'refusal', 'reasoning', 'tool_calls', 'citations', "
            "'fault' or 'status'"
        )
    return Reply(content, tool_calls, fault, params, refusal, reasoning, citations), times


def _parse_reply_citations(
    raw: Mapping[str, Any], content: str | None, without_text: bool
) -> tuple[Citation, ...]:
    """A reply's ``citations``: they cite text, so not beside a refusal or tool calls, and
    a scripted content must hold each quote (an echo is checked when it is answered)."""
    if "citations" not in raw:
        return ()
    citations = parse_citations(raw["citations"])
    if without_text:
        raise ValueError("citations cite text: no 'refusal' or 'tool_calls' beside them")
    for citation in citations:
        if content is not None and citation.quote not in content:
            raise ValueError(f"citation quote {citation.quote!r} is not in 'content'")
    return citations


def _param_value(text: str) -> Any:
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number


def parse_directives(text: str) -> Reply | None:
    """The reply asked for by ``[[sim:fault=NAME,k=v]]`` / ``[[sim:tool=NAME]]`` in text."""
    if "[[sim:" not in text:
        return None
    fault: str | None = None
    params: dict[str, Any] = {}
    tool_calls: list[ToolCall] = []
    for match in _DIRECTIVE.finditer(text):
        kind, name, raw_params = match.groups()
        if kind == "tool":
            tool_calls.append(ToolCall(name, "{}"))
            continue
        if name not in FAULT_NAMES:
            raise ValueError(f"unknown fault {name!r} in [[sim:fault=...]]")
        fault = name
        for pair in filter(None, raw_params.split(",")):
            key, _, value = pair.partition("=")
            params[key] = _param_value(value)
    if fault is None and not tool_calls:
        return None
    return Reply(None, tuple(tool_calls), fault, params)


class SimulatorState:
    """Reply queues, request captures and counters of one simulator app."""

    def __init__(self, capture_limit: int) -> None:
        self.captures: deque[dict[str, Any]] = deque(maxlen=max(capture_limit, 0) or None)
        self._capture_enabled = capture_limit > 0
        self._queues: dict[str | None, deque[_QueuedReply]] = {}
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.faults: Counter[str] = Counter()

    def enqueue(self, replies: list[Any], model: str | None) -> int:
        """Validate and queue scripted replies (all or none); returns how many were queued."""
        parsed = [parse_reply(raw) for raw in replies]
        queue = self._queues.setdefault(model, deque())
        queue.extend(_QueuedReply(reply, times) for reply, times in parsed)
        return len(parsed)

    def clear_script(self) -> None:
        """Drop every queued reply."""
        self._queues.clear()

    def next_scripted(self, model: str | None) -> Reply | None:
        """Consume the next scripted reply for ``model`` (model queue first, then any)."""
        for key in (model, None):
            queue = self._queues.get(key)
            if queue:
                head = queue[0]
                head.remaining -= 1
                if head.remaining <= 0:
                    queue.popleft()
                return head.reply
        return None

    def capture(self, path: str, method: str, headers: dict[str, str], body: Any) -> None:
        """Remember one received API request (newest last, bounded)."""
        if self._capture_enabled:
            self.captures.append(
                {
                    "path": path,
                    "method": method,
                    "headers": headers,
                    "body": body,
                    "received_at": time.time(),
                }
            )

    def stats(self) -> dict[str, Any]:
        """Request counts by route, status and fault."""
        return {
            "requests": sum(self.requests.values()),
            "by_route": dict(self.requests),
            "by_status": {str(code): count for code, count in self.statuses.items()},
            "faults": dict(self.faults),
            "captures": len(self.captures),
        }
