"""The tool calls of a streamed answer, held until decided (issue #5).

:class:`ChatToolCallHook` and :class:`ResponsesToolCallHook` hold each tool call's
events until its arguments are complete, ask the
:class:`~bastion.pipeline.tool_calls.ToolCallGuard`, and release the call or drop it
with a comment ``: bastion tool_call_refused=NAME rule=RULE``, so that no argument byte
of a refused call reaches the client; the indices the client accumulates by stay
contiguous. In ``refuse`` mode the guard raises, and the relay ends the stream as
CONTRACT.md §5 says.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from bastion.errors import UpstreamFailed
from bastion.model.controls import ToolRefusal
from bastion.pipeline.stream import Dialect, StreamEvent, StreamHook
from bastion.pipeline.tool_calls import (
    TOOL_FINISH_REASONS,
    TOOL_ITEM_TYPES,
    ToolCallGuard,
    chat_call_parts,
    holds_answer,
    is_free_text,
    item_call_parts,
    message_item,
    refusal_text,
    shown_name,
)

_TERMINAL = ("response.completed", "response.incomplete", "response.failed")
_ARGUMENT_EVENTS = frozenset(
    {
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
    }
)
_WATCHED = _ARGUMENT_EVENTS | {"response.output_item.added", *_TERMINAL}
_PENDING, _ALLOWED, _REMOVED = 0, 1, 2


@dataclass(slots=True, eq=False)
class _Call:
    """One streamed tool call: its name and argument pieces so far, and its verdict."""

    name: str
    pieces: list[str] = field(default_factory=list)
    json_arguments: bool = True
    state: int = _PENDING
    client_index: int = 0


@dataclass(slots=True)
class _Choice:
    """The tool calls of one choice, in the order the model started them."""

    calls: dict[int, _Call] = field(default_factory=dict)  # upstream index → call
    order: list[_Call] = field(default_factory=list)
    allowed: int = 0
    refused: list[ToolRefusal] = field(default_factory=list)


_Edit = tuple[dict[str, Any], str, list[_Call]]
"""(a delta, its ``tool_calls`` or ``function_call`` key, the call of each entry)."""


class ChatToolCallHook:
    """Holds each streamed tool call until its arguments are complete, then releases it
    (allowed) or drops it (removed), renumbering later ``index`` values so the client
    sees contiguous indices.

    A call's arguments are complete at its choice's ``finish_reason``, or when the next
    call of the same choice starts and they already parse as JSON (text appended to a
    complete JSON value could only make it invalid; such late pieces are dropped). A
    call of a tool the request did not offer is dropped at its first delta. Events
    stay in arrival order: those after a held call wait behind it. Chunks without
    tool calls are passed on untouched after one look at their deltas.
    """

    def __init__(self, guard: ToolCallGuard) -> None:
        self.guard = guard
        self._choices: dict[int, _Choice] = {}
        self._texted: set[int] = set()
        self._queue: deque[tuple[StreamEvent, list[_Edit] | None]] = deque()
        self._late = _Call("", state=_REMOVED)

    def on_event(self, event: StreamEvent) -> Sequence[StreamEvent]:
        """Pass, hold or drop one chunk; release what it completes."""
        payload = event.payload
        if not self._queue and not self._choices:
            try:  # the common chunk, with no call so far and none in it, passes at once
                for choice in payload["choices"]:
                    delta = choice["delta"]
                    if "tool_calls" in delta or "function_call" in delta:
                        break
                    if delta.get("content"):
                        self._texted.add(choice["index"])
                else:
                    return (event,)
            except (KeyError, TypeError, AttributeError):
                pass  # not a plain chunk: read with care below
        edits: list[_Edit] | None = None
        choices = payload.get("choices") if isinstance(payload, dict) else None
        for choice in choices if isinstance(choices, list) else ():
            if not isinstance(choice, dict):
                continue
            number = choice.get("index", 0)
            index = number if isinstance(number, int) else 0
            delta = choice.get("delta")
            if isinstance(delta, dict):
                if delta.get("content"):
                    self._texted.add(index)
                entries = delta.get("tool_calls")
                if isinstance(entries, list) and entries:
                    edits = edits or []
                    edits.append((delta, "tool_calls", self._entries(index, entries)))
                legacy = delta.get("function_call")
                if isinstance(legacy, dict):
                    edits = edits or []
                    calls = self._entries(index, [{"index": -1, "function": legacy}])
                    edits.append((delta, "function_call", calls))
            if choice.get("finish_reason") is not None and index in self._choices:
                self._finish_choice(index, choice, event)
        if edits is None and not self._queue:
            return (event,)
        self._queue.append((event, edits))
        return self._release()

    def on_end(self) -> Sequence[StreamEvent]:
        """Decide calls the stream left open (it ended without a finish reason)."""
        for index, choice in self._choices.items():
            self._decide_all(index, choice)
        return self._release()

    def _entries(self, index: int, entries: list[Any]) -> list[_Call]:
        """The call each ``tool_calls`` entry of one delta belongs to (new ones started)."""
        choice = self._choices.get(index)
        if choice is None:
            choice = self._choices[index] = _Choice()
        aligned: list[_Call] = []
        for position, entry in enumerate(entries):
            number = entry.get("index", position) if isinstance(entry, dict) else None
            if not isinstance(number, int):
                aligned.append(self._late)  # cannot be placed: never released
                continue
            name, arguments, json_arguments = chat_call_parts(entry)
            call = choice.calls.get(number)
            if call is None:
                self._decide_complete(index, choice)
                call = _Call(name, json_arguments=json_arguments)
                choice.calls[number] = call
                choice.order.append(call)
                if name:
                    refusal = self.guard.check_name(name)
                    if refusal is not None:
                        self._remove(call, choice, refusal)
            elif call.state != _PENDING:
                aligned.append(self._late)
                continue
            else:
                call.name += name
            if arguments:
                call.pieces.append(arguments)
            aligned.append(call)
        return aligned

    def _decide_complete(self, index: int, choice: _Choice) -> None:
        """Decide the open calls of a choice, in order, while their JSON is complete."""
        for call in choice.order:
            if call.state != _PENDING:
                continue
            if not call.json_arguments or not _complete_json(call.pieces):
                return
            self._decide(index, choice, call)

    def _decide_all(self, index: int, choice: _Choice) -> None:
        for call in choice.order:
            if call.state == _PENDING:
                self._decide(index, choice, call)

    def _decide(self, index: int, choice: _Choice, call: _Call) -> None:
        arguments = "".join(call.pieces)
        refusal = self.guard.check(call.name, arguments, index, free_text=not call.json_arguments)
        if refusal is None:
            call.state = _ALLOWED
            call.client_index = choice.allowed
            choice.allowed += 1
        else:
            self._remove(call, choice, refusal)

    def _remove(self, call: _Call, choice: _Choice, refusal: ToolRefusal) -> None:
        call.state = _REMOVED
        choice.refused.append(refusal)
        self._queue.append((_refusal_comment(refusal), None))

    def _finish_choice(self, index: int, choice: dict[str, Any], event: StreamEvent) -> None:
        """The choice ended: decide its open calls; if none remains, answer in text."""
        state = self._choices[index]
        self._decide_all(index, state)
        if state.allowed or not state.refused:
            return
        text = refusal_text(state.refused)
        if index in self._texted:
            text = " " + text
        self._queue.append((_content_chunk(event.payload, index, text), None))
        self._texted.add(index)
        state.refused = []  # said once
        if choice.get("finish_reason") in TOOL_FINISH_REASONS:
            choice["finish_reason"] = "stop"
            event.mark_changed()

    def _release(self) -> list[StreamEvent]:
        released: list[StreamEvent] = []
        queue = self._queue
        while queue:
            event, edits = queue[0]
            if edits and any(call.state == _PENDING for _, _, calls in edits for call in calls):
                break
            queue.popleft()
            if not edits or _apply_edits(event, edits):
                released.append(event)
        return released


def _complete_json(pieces: list[str]) -> bool:
    try:
        orjson.loads("".join(pieces))
    except orjson.JSONDecodeError:
        return False
    return True


def _apply_edits(event: StreamEvent, edits: list[_Edit]) -> bool:
    """Drop removed calls' entries and renumber the others; False: drop the whole event."""
    changed = False
    for delta, key, calls in edits:
        if key == "function_call":
            if calls[0].state != _ALLOWED:
                del delta["function_call"]
                changed = True
            continue
        entries = delta["tool_calls"]
        kept: list[Any] = []
        for entry, call in zip(entries, calls, strict=True):
            if call.state != _ALLOWED:
                continue
            if entry.get("index") != call.client_index:
                entry["index"] = call.client_index
                changed = True
            kept.append(entry)
        if len(kept) != len(entries):
            changed = True
            if kept:
                delta["tool_calls"] = kept
            else:
                del delta["tool_calls"]
    if not changed:
        return True
    event.mark_changed()
    payload = event.payload
    choices = [choice for choice in payload["choices"] if not _empty_choice(choice)]
    if len(choices) != len(payload["choices"]):
        payload["choices"] = choices
        if not choices and payload.get("usage") is None:
            return False
    return True


def _empty_choice(choice: Any) -> bool:
    return (
        isinstance(choice, dict)
        and choice.get("delta") == {}
        and choice.get("finish_reason") is None
        and choice.get("logprobs") is None
    )


def _refusal_comment(refusal: ToolRefusal) -> StreamEvent:
    return StreamEvent.make_comment(
        f"bastion tool_call_refused={shown_name(refusal.tool)} rule={refusal.rule}"
    )


def _content_chunk(payload: Any, index: int, text: str) -> StreamEvent:
    """A chat chunk with one content delta, in the envelope of the chunk ``payload``."""
    chunk = {
        key: value
        for key, value in (payload.items() if isinstance(payload, dict) else ())
        if key not in ("choices", "usage", "obfuscation")
    }
    chunk["choices"] = [
        {"index": index, "delta": {"content": text}, "logprobs": None, "finish_reason": None}
    ]
    if isinstance(payload, dict) and "usage" in payload:
        chunk["usage"] = None
    return StreamEvent.from_payload(chunk)


@dataclass(slots=True, eq=False)
class _Item:
    """One streamed tool-call output item: name, arguments so far, verdict."""

    index: int
    name: str
    call_id: str
    pieces: list[str] = field(default_factory=list)
    final: str | None = None
    state: int = _PENDING
    free_text: bool = False


class ResponsesToolCallHook:
    """Holds each tool-call output item from ``response.output_item.added`` to
    ``response.output_item.done``, then releases it (allowed) or drops all its events
    (removed), renumbering later ``output_index`` values and, from the first dropped
    or added event on, ``sequence_number`` values so both stay contiguous.

    The terminal event's ``response.output`` loses the removed items (items listed only
    there are checked there); if no tool call and no message remains, an assistant
    message with the refusal text is streamed (added, content part, text delta and
    done events) before ``response.completed`` and added to its output. The verdict
    is taken on the item that ``output_item.done`` carries (what the SDK keeps),
    else on the streamed argument deltas.
    """

    def __init__(self, guard: ToolCallGuard) -> None:
        self.guard = guard
        self._items: dict[int, _Item] = {}
        self._removed: list[int] = []
        self._refused: list[ToolRefusal] = []
        self._seen_items = 0
        self._answered = False  # a message or an allowed tool call was streamed
        self._queue: deque[tuple[StreamEvent, _Item | None]] = deque()
        self._made = _Item(-1, "", "", state=_ALLOWED)  # marks Bastion's own events
        self._shifted = False
        self._last_passed: StreamEvent | None = None  # the last data event sent
        self._next_sequence: int | None = None

    def on_event(self, event: StreamEvent) -> Sequence[StreamEvent]:
        """Pass, hold or drop one event; release what it completes."""
        if (
            not self._queue
            and not self._shifted
            and not self._items
            and event.event_type not in _WATCHED
        ):
            if event.comment is None:
                self._last_passed = event  # the common event passes at once
            return (event,)
        payload = event.payload
        item: _Item | None = None
        kind = event.event_type if isinstance(payload, dict) else None
        if kind == "response.output_item.added":
            self._seen_items += 1
            raw = payload.get("item")
            if isinstance(raw, dict) and raw.get("type") in TOOL_ITEM_TYPES:
                item = self._start(payload.get("output_index"), raw)
            elif isinstance(raw, dict) and raw.get("type") == "message":
                self._answered = True
        elif self._items and isinstance(payload, dict):
            number = payload.get("output_index")
            item = self._items.get(number) if isinstance(number, int) else None
        if item is None and kind in _ARGUMENT_EVENTS:
            raise UpstreamFailed("The upstream streamed tool-call arguments outside a tool call.")
        if item is not None:
            if item.state != _REMOVED:
                self._collect(kind, payload, item)
            if item.state == _REMOVED:
                return self._release()
        elif kind in _TERMINAL:
            self._finish(kind, payload, event)
        elif not self._queue and not self._shifted:
            if event.comment is None:
                self._last_passed = event
            return (event,)
        self._queue.append((event, item))
        return self._release()

    def on_end(self) -> Sequence[StreamEvent]:
        """Decide items the stream left open (it ended without a terminal event)."""
        self._decide_open()
        return self._release()

    def _start(self, number: Any, raw: dict[str, Any]) -> _Item:
        if not isinstance(number, int) or number in self._items:
            raise UpstreamFailed("The upstream streamed a tool call without a new output index.")
        name, arguments = item_call_parts(raw)
        call_id = raw.get("call_id")
        item = self._items[number] = _Item(
            number, name, call_id if isinstance(call_id, str) else "", free_text=is_free_text(raw)
        )
        if arguments:
            item.pieces.append(arguments)
        refusal = self.guard.check_name(name)
        if refusal is not None:
            self._remove(item, refusal)
        return item

    def _collect(self, kind: str | None, payload: dict[str, Any], item: _Item) -> None:
        if kind in (
            "response.function_call_arguments.delta",
            "response.custom_tool_call_input.delta",
        ):
            delta = payload.get("delta")
            if isinstance(delta, str):
                item.pieces.append(delta)
        elif kind == "response.output_item.done":
            raw = payload.get("item")
            if isinstance(raw, dict):
                name, arguments = item_call_parts(raw)
                item.name = name or item.name
                item.final = arguments if "arguments" in raw or "input" in raw else None
            self._decide(item)

    def _decide(self, item: _Item) -> None:
        arguments = item.final if item.final is not None else "".join(item.pieces)
        refusal = self.guard.check(item.name, arguments, free_text=item.free_text)
        if refusal is None:
            item.state = _ALLOWED
            self._answered = True
        else:
            self._remove(item, refusal)

    def _decide_open(self) -> None:
        for item in list(self._items.values()):
            if item.state == _PENDING:
                self._decide(item)

    def _remove(self, item: _Item, refusal: ToolRefusal) -> None:
        item.state = _REMOVED
        self._refused.append(refusal)
        self._removed.append(item.index)
        self._shifted = True
        self._queue = deque(entry for entry in self._queue if entry[1] is not item)
        self._queue.append((_refusal_comment(refusal), None))

    def _finish(self, kind: str | None, payload: dict[str, Any], event: StreamEvent) -> None:
        """The response ended: drop removed items from its output, check items listed
        only there, and answer in text when nothing remains."""
        self._decide_open()
        response = payload.get("response")
        output = response.get("output") if isinstance(response, dict) else None
        by_call = {item.call_id: item for item in self._items.values() if item.call_id}
        kept: list[Any] = []
        changed = False
        for position, raw in enumerate(output if isinstance(output, list) else ()):
            if isinstance(raw, dict) and raw.get("type") in TOOL_ITEM_TYPES:
                call_id = raw.get("call_id")
                known = by_call.get(call_id) if isinstance(call_id, str) else None
                known = known or self._items.get(position)
                if known is not None and known.state == _REMOVED:
                    changed = True
                    continue
                if known is None:
                    name, arguments = item_call_parts(raw)
                    refusal = self.guard.check(name, arguments, free_text=is_free_text(raw))
                    if refusal is not None:
                        self._refused.append(refusal)
                        self._queue.append((_refusal_comment(refusal), None))
                        changed = True
                        continue
            kept.append(raw)
        answered = self._answered or holds_answer(kept)
        if self._refused and not answered and kind != "response.failed":
            message = message_item(refusal_text(self._refused))
            at = self._seen_items - len(self._removed)  # the next index the client sees
            for made in _message_events(message, at):
                self._queue.append((made, self._made))
            self._shifted = True
            kept.append(message)
            changed = True
        if changed and isinstance(response, dict) and isinstance(output, list):
            response["output"] = kept
            event.mark_changed()

    def _release(self) -> list[StreamEvent]:
        released: list[StreamEvent] = []
        queue = self._queue
        while queue:
            event, item = queue[0]
            if item is not None and item.state == _PENDING:
                break
            queue.popleft()
            payload = event.payload
            if isinstance(payload, dict):
                if self._removed and item is not self._made:
                    self._renumber(event, payload)
                if self._shifted:
                    self._resequence(event, payload)
                self._last_passed = event
            released.append(event)
        return released

    def _renumber(self, event: StreamEvent, payload: dict[str, Any]) -> None:
        number = payload.get("output_index")
        if isinstance(number, int):
            shift = sum(1 for removed in self._removed if removed < number)
            if shift:
                payload["output_index"] = number - shift
                event.mark_changed()

    def _resequence(self, event: StreamEvent, payload: dict[str, Any]) -> None:
        """Number events on from the last one sent once events were dropped or added."""
        if "sequence_number" not in payload:
            return
        if self._next_sequence is None:
            last = self._last_passed.payload if self._last_passed is not None else None
            number = last.get("sequence_number") if isinstance(last, dict) else None
            self._next_sequence = number + 1 if isinstance(number, int) else 0
        if payload["sequence_number"] != self._next_sequence:
            payload["sequence_number"] = self._next_sequence
            event.mark_changed()
        self._next_sequence += 1


def _message_events(item: dict[str, Any], output_index: int) -> Iterator[StreamEvent]:
    """The events that stream one assistant message item (sequence numbers come later)."""
    part = item["content"][0]
    text = part["text"]
    where = {"item_id": item["id"], "output_index": output_index, "content_index": 0}
    added = {**item, "status": "in_progress", "content": []}
    events: list[dict[str, Any]] = [
        {"type": "response.output_item.added", "output_index": output_index, "item": added},
        {"type": "response.content_part.added", **where, "part": {**part, "text": ""}},
        {"type": "response.output_text.delta", **where, "delta": text, "logprobs": []},
        {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": part},
        {"type": "response.output_item.done", "output_index": output_index, "item": item},
    ]
    for event in events:
        kind = event.pop("type")
        yield StreamEvent.from_payload({"type": kind, "sequence_number": 0, **event}, event=kind)


def tool_call_hook(guard: ToolCallGuard, dialect: Dialect) -> StreamHook:
    """The hook enforcing ``guard`` on a stream of the given dialect."""
    if dialect == "responses":
        return ResponsesToolCallHook(guard)
    return ChatToolCallHook(guard)
