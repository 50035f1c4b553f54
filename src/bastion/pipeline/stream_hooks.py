"""Stream hooks: text windows over assistant deltas, token replacement, usage, model name.

:class:`TextWindowHook` is the base for everything that reads or rewrites the assistant
text of a stream (output scanning, pseudonym restoration): it gathers the text deltas
of each chat choice (``choices[i].delta.content``) and of each Responses text part
(``response.output_text.delta``), the arguments of tool calls (chat
``delta.tool_calls[j].function.arguments``, ``response.function_call_arguments.delta``)
and the free texts beside them: refusals (chat ``delta.refusal``,
``response.refusal.delta``), the input of custom tool calls (chat
``delta.tool_calls[j].custom.input``, ``response.custom_tool_call_input.delta``) and
the model's reasoning (chat ``delta.reasoning_content`` or ``delta.reasoning``, as
OpenAI-compatible servers send it; Responses reasoning summaries,
``response.reasoning_summary_text.delta``, and reasoning text,
``response.reasoning_text.delta``). It
hands complete windows to :meth:`on_window` (:meth:`on_arguments_window`,
:meth:`on_free_window`), and holds the events back until their text is decided, so a
rewrite may span chunk boundaries; the texts Responses repeats whole (done events, the
finished item, the final response) get the rewritten text too, and a text that arrives
only there (no deltas) is decided where it first appears. A hook may also bound
how long text waits: with ``release_after_s``, a text whose last decision is that old
is decided as soon as ``min_release_chars`` are pending, so a model streaming a few
tokens at a time is not held back a whole window.

Citations move with the text they point into (:attr:`TextWindowHook.moves_citations`,
set by the restoring hook and the output guard): a chat chunk's ``delta.annotations``
and a Responses ``response.output_text.annotation.added`` event hold offsets into the
model's whole text of their choice / content part, which is released rewritten a
window at a time.
Such an event waits in the queue until the text up to its last offset is decided (or
the text has ended), then its offsets are moved by the replacements made in that text
so far, the same mapping a complete answer's annotations go through
(:func:`shift_annotations`); the annotations Responses repeats in done events are moved
there, once their text is decided whole.
"""

from __future__ import annotations

import json
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson

from bastion.model import Usage
from bastion.pipeline.stream import StreamEvent
from bastion.transform.bounds import LOOKAHEAD, glued, undecided_after
from bastion.wire.usage import usage_of

TextKey = tuple[int, int]
"""(choice index or output_index, content_index); a negative second element marks the
arguments of a tool call (chat: -1 - tool call index, or LEGACY for a legacy
``function_call``; Responses: -1), a JSON text; one
from :data:`FREE` up a free text (prose even in a JSON answer): a refusal (chat: FREE;
Responses: FREE + 1 + content_index), a custom tool call's input (chat: FREE + 1 +
tool call index; Responses: FREE) or reasoning (chat: REASONING for
``reasoning_content``, REASONING + 1 for ``reasoning``; Responses: REASONING +
summary_index for a summary part, FREE + 1 + content_index for a reasoning text part,
which sits in a reasoning item's content as a refusal does in a message's)."""
FREE = 1 << 20
LEGACY = -FREE
REASONING = 1 << 40
_CHAT_REASONING = ("reasoning_content", "reasoning")
_TERMINAL = ("response.completed", "response.incomplete", "response.failed")
_ANNOTATION_ADDED = "response.output_text.annotation.added"

Edit = tuple[int, int, int]
"""A replacement made in a text: (start, end) of what was replaced, length of what
replaced it."""


@dataclass(slots=True)
class _TextState:
    """The text of one choice / content part: undecided, decided-not-yet-placed, all out."""

    undecided: str = ""
    decided_in: str = ""
    decided_out: str = ""
    received: int = 0
    decided: int = 0
    since: float = 0.0  # clock reading at the last decision (or the first text)
    changed: bool = False
    full_out: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Fragment:
    key: TextKey
    end: int  # offset just past this fragment in the key's received text
    length: int
    target: dict[str, Any]
    name: str
    path: tuple[str | int, ...] = ()  # where ``target`` sits in the event's payload


@dataclass(slots=True)
class _Citation:
    """Annotations an event carries with offsets into the model's text of ``key``."""

    key: TextKey
    annotations: list[Any]
    end: int  # the largest offset among them: the text must be decided up to here


class TextWindowHook:
    """Base hook: windows of assistant text go through :meth:`on_window` before release.

    A window is decided once ``window_chars`` characters are pending for a key, when the
    key ends (chat ``finish_reason``, ``response.output_text.done``) and at the end of
    the stream. :meth:`hold_tail` may keep the last characters of a window undecided
    until more text arrives. Events wait in one queue, in arrival order, until every
    text fragment they carry is decided; the rewritten text is then written back into
    them (an unchanged window leaves its events untouched, byte for byte). An event
    whose one text fragment is decided only in part is split: the decided part goes out
    now and the rest waits in a copy of the event, so at most ``hold_tail`` characters
    wait, never a whole chunk.

    With :attr:`moves_citations`, an event carrying citations into a text also waits
    until that text is decided up to the citations' last offset (or has ended), and
    their offsets are then moved from the model's text to the text released.
    """

    moves_citations: ClassVar[bool] = False
    """Whether windows' replacements are recorded (:meth:`_record`) and citations moved."""

    def __init__(
        self,
        window_chars: int = 256,
        *,
        release_after_s: float | None = None,
        min_release_chars: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if window_chars < 1:
            raise ValueError("window_chars must be at least 1")
        self.window_chars = window_chars
        self._release_after = release_after_s
        self._min_release = min(max(1, min_release_chars), window_chars)
        self._clock = clock
        self._states: dict[TextKey, _TextState] = {}
        self._queue: deque[tuple[StreamEvent, list[_Fragment], list[_Citation]]] = deque()
        self._edits: dict[TextKey, list[Edit]] = {}  # per text: replacements so far
        self._ended: set[TextKey] = set()  # texts decided to their end
        self._all_ended = False  # the stream ended: every text did

    def on_window(self, choice_index: int, text: str) -> str:
        """Decide one window of a choice's text; return it, rewritten or not."""
        return text

    def on_arguments_window(self, choice_index: int, text: str) -> str:
        """Decide one window of a tool call's JSON arguments (default: like text)."""
        return self.on_window(choice_index, text)

    def on_free_window(self, choice_index: int, text: str) -> str:
        """Decide one window of a refusal or a custom tool call's input (default: like
        text; unlike text it is prose even when the answer is a JSON document)."""
        return self.on_window(choice_index, text)

    def hold_tail(self, text: str) -> int:
        """How many trailing characters of ``text`` must wait for more text (default 0)."""
        return 0

    def on_event(self, event: StreamEvent) -> Sequence[StreamEvent]:
        """Queue the event, decide the windows it completes, release what is decided."""
        payload = event.payload
        fragments: list[_Fragment] = []
        citations: list[_Citation] = []
        if isinstance(payload, dict):
            kind = event.event_type
            # citations are looked for only in the events that may carry them: this
            # runs for every chunk
            if "choices" in payload:
                if self._chat_chunk(payload, fragments) and self.moves_citations:
                    citations = _stream_citations(payload, kind)
            elif kind is not None:
                text_field = _responses_text_field(kind, payload)
                if text_field is not None:
                    self._add(*text_field, fragments)
                elif kind == _ANNOTATION_ADDED:
                    if self.moves_citations:
                        citations = _stream_citations(payload, kind)
                elif self._responses_done(kind, payload):
                    event.mark_changed()
        elif event.is_done:
            self._finish_all()
        if not self._queue and not self._waiting(fragments, citations):
            if citations:
                self._move(event, citations)
            return [event] if self._place(event, fragments) else []
        self._queue.append((event, fragments, citations))
        return self._release()

    def on_end(self) -> Sequence[StreamEvent]:
        """Decide all remaining text and release every held event."""
        self._finish_all()
        return self._release()

    def _chat_chunk(self, payload: dict[str, Any], fragments: list[_Fragment]) -> bool:
        """Add a chat chunk's texts, end the texts it ends; True if a delta of it carries
        ``annotations``."""
        answering: set[int] = set()
        for key, target, name, path in chat_text_fields(payload):
            self._add(key, target, name, path, fragments)
            if key[1] < REASONING:
                answering.add(key[0])
        for choice_index in answering:  # the answer began: the reasoning before it ended
            for offset in range(len(_CHAT_REASONING)):
                self._decide((choice_index, REASONING + offset), final=True)
        cites = False
        for choice in payload["choices"] if isinstance(payload["choices"], list) else ():
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            cites = cites or (isinstance(delta, dict) and "annotations" in delta)
            if choice.get("finish_reason") is not None:
                index = choice.get("index", 0)
                choice_index = index if isinstance(index, int) else 0
                for text_key in [k for k in self._states if k[0] == choice_index]:
                    self._decide(text_key, final=True)
                self._ended.add((choice_index, 0))  # its content, even if it had none
        return cites

    def _add(
        self,
        key: TextKey,
        target: dict[str, Any],
        name: str,
        path: tuple[str | int, ...],
        fragments: list[_Fragment],
    ) -> None:
        text = target.get(name)
        if not isinstance(text, str) or not text:
            return
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = _TextState(since=self._clock())
        state.undecided += text
        state.received += len(text)
        fragments.append(_Fragment(key, state.received, len(text), target, name, path))
        pending = len(state.undecided)
        if pending >= self.window_chars or (
            self._release_after is not None
            and pending >= self._min_release
            and self._clock() - state.since >= self._release_after
        ):
            self._decide(key, final=False)

    def _decide(self, key: TextKey, *, final: bool) -> None:
        state = self._states.get(key)
        if state is None or not state.undecided:
            return
        text = state.undecided
        cut = len(text) if final else len(text) - min(self.hold_tail(text), len(text))
        if cut <= 0:
            return
        window = text[:cut]
        state.since = self._clock()
        if key[1] < 0:
            out = self.on_arguments_window(key[0], window)
        elif key[1] >= FREE:
            out = self.on_free_window(key[0], window)
        else:
            out = self.on_window(key[0], window)
        state.undecided = text[cut:]
        state.decided += cut
        state.decided_in += window
        state.decided_out += out
        state.full_out.append(out)
        state.changed = state.changed or out != window

    def _finish_all(self) -> None:
        self._all_ended = True
        for key in self._states:
            self._decide(key, final=True)

    def _release(self) -> list[StreamEvent]:
        released: list[StreamEvent] = []
        while self._queue:
            event, fragments, citations = self._queue[0]
            if self._waiting(fragments, citations):
                early = self._split_head()
                if early is None:
                    break
                if early:
                    released.append(early[0])
                continue
            self._queue.popleft()
            if citations:
                self._move(event, citations)
            if self._place(event, fragments):
                released.append(event)
        return released

    def _move(self, event: StreamEvent, citations: list[_Citation]) -> None:
        """Move the offsets of a decided event's citations into the text released."""
        for citation in citations:
            edits = self._edits.get(citation.key)
            if edits and shift_annotations(citation.annotations, edits):
                event.mark_changed()

    def _waiting(self, fragments: list[_Fragment], citations: list[_Citation]) -> bool:
        """Whether an event must wait: text of it undecided, or a citation of it reaching
        past the decided text of a text that goes on (its offsets could still move)."""
        if self._undecided(fragments):
            return True
        if not citations or self._all_ended:
            return False
        for citation in citations:
            if citation.key in self._ended:
                continue
            state = self._states.get(citation.key)
            if citation.end > (state.decided if state is not None else 0):
                return True
        return False

    def _record(self, key: TextKey, start: int, edits: Sequence[Edit]) -> None:
        """Note the replacements a window of ``key``'s text starting at ``start`` (in the
        model's text) was decided with, for the citations into that text."""
        if edits and 0 <= key[1] < FREE:  # a text citations point into
            self._edits.setdefault(key, []).extend((start + a, start + b, n) for a, b, n in edits)

    def _split_head(self) -> tuple[StreamEvent] | tuple[()] | None:
        """Release the decided part of the head event's one fragment; queue the rest.

        The rest travels in a copy of the event (same id, model, choice index) whose
        text field holds only the undecided characters. Returns the head to send (none
        when its text came out empty), or None when the head cannot be split."""
        event, fragments, citations = self._queue[0]
        if len(fragments) != 1 or citations or not isinstance(event.payload, dict):
            return None  # (a chunk citing text waits whole, to be sent once they are moved)
        if "choices" not in event.payload and event.event_type not in _DELTA_KEYS:
            return None  # an event a client reads once (a part added), never repeated
        fragment = fragments[0]
        state = self._states[fragment.key]
        start = fragment.end - fragment.length
        decided = state.decided - start
        text = fragment.target.get(fragment.name)
        if decided <= 0 or not isinstance(text, str) or len(text) != fragment.length:
            return None
        copy = orjson.loads(orjson.dumps(event.payload))
        path = fragment.path
        if path[:1] == ("choices",):
            path = _continuation_only(copy, event.payload, path, fragment.name)
        target: Any = copy
        for step in path:
            target = target[step]
        target[fragment.name] = text[decided:]
        rest = StreamEvent.from_payload(copy, event=event.sse.event)
        remainder = _Fragment(
            fragment.key, fragment.end, fragment.length - decided, target, fragment.name, path
        )
        fragment.target[fragment.name] = text[:decided]
        fragment.end, fragment.length = start + decided, decided
        event.mark_changed()
        self._queue[0] = (rest, [remainder], [])
        return (event,) if self._place(event, [fragment]) else ()

    def _undecided(self, fragments: list[_Fragment]) -> bool:
        states = self._states
        return any(fragment.end > states[fragment.key].decided for fragment in fragments)

    def _place(self, event: StreamEvent, fragments: list[_Fragment]) -> bool:
        """Write the decided output into a released event, in order, per key.

        Returns whether the event is still worth sending: a rewrite that spans events
        puts its whole output in the first, which can leave a later one carrying only
        emptied text (``"delta": {"content": ""}``), a chunk the upstream never sent."""
        emptied = bool(fragments)
        for fragment in fragments:
            state = self._states[fragment.key]
            if state.decided_out == state.decided_in:
                state.decided_out = state.decided_out[fragment.length :]
                emptied = False
            else:
                fragment.target[fragment.name] = state.decided_out
                emptied = emptied and not state.decided_out
                state.decided_out = ""
                event.mark_changed()
            state.decided_in = state.decided_in[fragment.length :]
        return not emptied or _carries_more_than_text(event)

    def _responses_done(self, kind: str, payload: dict[str, Any]) -> bool:
        """Finish the text a Responses done-event repeats; rewrite it. True if changed."""
        if kind in _TERMINAL:
            self._finish_all()
        changed = False
        for key, target, name in done_text_fields(kind, payload):
            changed = self._rewrite(key, target, name) or changed
        return changed

    def _rewrite(self, key: TextKey, target: dict[str, Any], name: str) -> bool:
        text = target.get(name)
        if not isinstance(text, str):
            return False
        self._decide(key, final=True)
        self._ended.add(key)  # repeated whole: no more of it comes
        state = self._states.get(key)
        if state is None:
            if not text:
                return False
            # No delta carried this text (some servers send a short text whole in its
            # done event, or only in the finished item): it is decided whole here, and
            # the events repeating it later find it decided.
            state = self._states[key] = _TextState(undecided=text, received=len(text))
            self._decide(key, final=True)
            state.decided_in = state.decided_out = ""  # no delta fragment to place it in
        if not state.changed and len(text) == state.received:
            return False  # the text as streamed, unchanged: the event stays as it came
        # rewritten, or not the text the deltas carried (a server's bug): the client
        # reads what was streamed and decided, never text no hook has seen
        target[name] = "".join(state.full_out)
        annotations = target.get("annotations") if name == "text" else None
        edits = self._edits.get(key)
        if edits and isinstance(annotations, list):  # decided whole: the final mapping
            shift_annotations(annotations, edits)
        return True


_OFFSETS = ("start_index", "end_index", "index")
_ANNOTATED = frozenset({"content", "text"})


def cited_annotations(holder: Mapping[str, Any], name: str) -> list[Any] | None:
    """The annotations whose offsets point into text ``name`` of ``holder`` (a chat
    message's ``content``, a Responses ``output_text`` part's ``text``), if it has any."""
    annotations = holder.get("annotations") if name in _ANNOTATED else None
    return annotations if isinstance(annotations, list) and annotations else None


def shift_annotations(annotations: list[Any], edits: Sequence[Edit]) -> bool:
    """Move the offsets of ``annotations`` (Responses ``url_citation``,
    ``container_file_citation``: ``start_index``/``end_index``; ``file_citation``,
    ``file_path``: ``index``; chat: the same inside ``url_citation``) from a text to
    its rewrite by ``edits`` (start, end, new length), so they cover the same words:
    an offset inside a replaced token moves to the start (an end: the end) of what
    replaced it, so a citation reaching into a replaced span covers all of what
    replaced it, and one whose words were all removed (``drop``) becomes empty where
    they stood. Returns whether any offset moved."""
    moved = False
    if not edits:
        return moved
    for holder in _offset_holders(annotations):
        for name in _OFFSETS:
            offset = holder.get(name)
            if isinstance(offset, int) and not isinstance(offset, bool):
                shifted = _shifted(offset, edits, end=name == "end_index")
                if shifted != offset:
                    holder[name] = shifted
                    moved = True
    return moved


def _offset_holders(annotations: list[Any]) -> Iterator[dict[str, Any]]:
    """The dicts holding an annotation's offsets: itself, and for chat its nested
    ``{"url_citation": {...}}``."""
    for annotation in annotations:
        if not isinstance(annotation, dict):
            continue
        yield annotation
        nested = annotation.get(annotation.get("type"))
        if isinstance(nested, dict):
            yield nested


def _shifted(offset: int, edits: Sequence[Edit], *, end: bool) -> int:
    delta = 0
    for start, stop, length in edits:
        if offset <= start:
            break
        if offset < stop:  # inside a replaced token
            return start + delta + (length if end else 0)
        delta += length - (stop - start)
    return offset + delta


_NO_CITATIONS: list[_Citation] = []  # shared, never appended to


def _stream_citations(payload: dict[str, Any], kind: str | None) -> list[_Citation]:
    """The citations a stream event adds: each chat choice's ``delta.annotations`` (into
    its content), a Responses ``response.output_text.annotation.added`` event's
    ``annotation`` (into its output_text part)."""
    found: list[tuple[TextKey, list[Any]]] = []
    if "choices" in payload:
        choices = payload["choices"]
        for choice in choices if isinstance(choices, list) else ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict) and "annotations" in delta:
                annotations = delta["annotations"]
                if isinstance(annotations, list) and annotations:
                    found.append((_key(choice.get("index", 0), 0), annotations))
    elif kind == _ANNOTATION_ADDED:
        annotation = payload.get("annotation")
        if isinstance(annotation, dict):
            found.append((_responses_key(payload), [annotation]))
    if not found:
        return _NO_CITATIONS
    citations = []
    for key, annotations in found:
        offsets = [
            offset
            for holder in _offset_holders(annotations)
            for name in _OFFSETS
            if isinstance(offset := holder.get(name), int) and not isinstance(offset, bool)
        ]
        if offsets:
            citations.append(_Citation(key, annotations, max(offsets)))
    return citations


def _carries_more_than_text(event: StreamEvent) -> bool:
    """Whether an event whose text was emptied still says something: a role, a tool
    call's id or name, a finish reason, logprobs, usage (chat), or logprobs (Responses)."""
    payload = event.payload
    if not isinstance(payload, dict):
        return True
    if "choices" not in payload:
        return event.event_type not in _DELTA_KEYS or bool(payload.get("logprobs"))
    if payload.get("usage") is not None or not isinstance(payload["choices"], list):
        return True
    for choice in payload["choices"]:
        if not isinstance(choice, dict) or choice.get("finish_reason") is not None:
            return True
        if choice.get("logprobs") is not None or not isinstance(choice.get("delta"), dict):
            return True
        for name, value in choice["delta"].items():
            if name == "tool_calls" and isinstance(value, list):
                if any(not _empty_call(call) for call in value):
                    return True
            elif name == "function_call" and isinstance(value, dict):
                if any(text not in ("", None) for text in value.values()):
                    return True
            elif value not in ("", None):
                return True
    return False


def _empty_call(call: Any) -> bool:
    """A tool call delta with nothing but its index and emptied text."""
    if not isinstance(call, dict):
        return False
    for name, value in call.items():
        if name in ("function", "custom") and isinstance(value, dict):
            if any(text not in ("", None) for text in value.values()):
                return False
        elif name != "index":
            return False
    return True


def _continuation_only(
    rest: Any, head: Any, path: tuple[str | int, ...], name: str
) -> tuple[str | int, ...]:
    """Split a chat chunk: the fields clients concatenate (``role``, a tool call's ``id``,
    ``type`` and ``function.name`` or ``custom.name``) stay in the head only, and the
    finish reason moves to the rest, which now ends the choice. Returns the path in
    ``rest`` of the dict holding the text (field ``name``)."""
    at = path[1]
    rest_choice, head_choice = rest["choices"][at], head["choices"][at]
    head_choice["finish_reason"] = None
    if len(path) == 3:  # delta.content or delta.refusal
        rest_choice["delta"] = {name: ""}
        return path
    if len(path) == 4:  # a legacy delta.function_call's arguments
        rest_choice["delta"] = {path[3]: {name: ""}}
        return path
    if path[3] == "content":  # a part of delta.content given as parts
        part = rest_choice["delta"]["content"][path[4]]
        rest_choice["delta"] = {"content": [{"type": part["type"], name: ""}]}
        return (*path[:4], 0)
    call = rest_choice["delta"]["tool_calls"][path[4]]
    kept: dict[str, Any] = {"index": call["index"]} if "index" in call else {}
    kept[str(path[5])] = {name: ""}  # function.arguments or custom.input
    rest_choice["delta"] = {"tool_calls": [kept]}
    return (*path[:4], 0, path[5])


TextField = tuple[TextKey, dict[str, Any], str, tuple[str | int, ...]]
"""(key, the dict holding the text, the text's field name, where that dict sits)."""


def content_part_field(part: Any) -> str | None:
    """The field holding the text of a chat content part Bastion reads (``text`` of a
    ``text`` part, ``refusal`` of a ``refusal`` part), or None for any other part."""
    if isinstance(part, dict):
        kind = part.get("type")
        if kind in ("text", "refusal") and isinstance(part.get(kind), str):
            return str(kind)
    return None


def unreadable_content(message: Any) -> bool:
    """Whether a chat message or delta holds content parts Bastion cannot read: any
    part but a ``text`` or ``refusal`` one (an image, audio, a vendor's ``thinking``),
    whose words would reach the client unscanned and unrestored."""
    content = message.get("content") if isinstance(message, dict) else None
    return isinstance(content, list) and any(content_part_field(part) is None for part in content)


def chat_text_fields(payload: dict[str, Any]) -> Iterator[TextField]:
    """Every assistant text a chat chunk carries: each choice's reasoning
    (``delta.reasoning_content``, ``delta.reasoning``), ``delta.content`` and
    ``delta.refusal``, each tool call's ``function.arguments`` and ``custom.input``, and
    the arguments of a legacy ``delta.function_call`` (answering ``functions``) (content,
    refusal and reasoning when non-empty; a tool call's text even when empty)."""
    choices = payload.get("choices")
    for at, choice in enumerate(choices if isinstance(choices, list) else ()):
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if not isinstance(delta, dict):
            continue
        index = choice.get("index", 0)
        choice_index = index if isinstance(index, int) else 0
        for offset, name in enumerate(_CHAT_REASONING):
            if isinstance(delta.get(name), str) and delta[name]:
                yield (choice_index, REASONING + offset), delta, name, ("choices", at, "delta")
        content = delta.get("content")
        if isinstance(content, str):
            if content:
                yield (choice_index, 0), delta, "content", ("choices", at, "delta")
        elif isinstance(content, list):  # parts, as some compatible servers send them
            for position, part in enumerate(content):
                field = content_part_field(part)
                if field is not None and part[field]:
                    key = (choice_index, 0 if field == "text" else FREE)
                    yield key, part, field, ("choices", at, "delta", "content", position)
        if isinstance(delta.get("refusal"), str) and delta["refusal"]:
            yield (choice_index, FREE), delta, "refusal", ("choices", at, "delta")
        calls = delta.get("tool_calls")
        for position, call in enumerate(calls if isinstance(calls, list) else ()):
            if not isinstance(call, dict):
                continue
            number = call.get("index", position)
            # a negative index would share its key with the content's (-1 - -1 == 0)
            number = number if isinstance(number, int) and number >= 0 else position
            function = call.get("function")
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                path = ("choices", at, "delta", "tool_calls", position, "function")
                yield (choice_index, -1 - number), function, "arguments", path
            custom = call.get("custom")
            if isinstance(custom, dict) and isinstance(custom.get("input"), str):
                path = ("choices", at, "delta", "tool_calls", position, "custom")
                yield (choice_index, FREE + 1 + number), custom, "input", path
        legacy = delta.get("function_call")
        if isinstance(legacy, dict) and isinstance(legacy.get("arguments"), str):
            where = ("choices", at, "delta", "function_call")
            yield (choice_index, LEGACY), legacy, "arguments", where


def stream_text_fields(payload: dict[str, Any], kind: str | None) -> Iterator[TextField]:
    """Every assistant text one stream event carries, chat or Responses."""
    if "choices" in payload:
        yield from chat_text_fields(payload)
    elif kind is not None:
        text_field = _responses_text_field(kind, payload)
        if text_field is not None:
            yield text_field


DoneField = tuple[TextKey, dict[str, Any], str]
"""A whole text a Responses done event repeats: its key, the dict holding it, the field."""


def done_text_fields(kind: str, payload: dict[str, Any]) -> Iterator[DoneField]:
    """Every whole text a Responses done event (or the terminal event) repeats, under the
    key its deltas had. Some servers send a short text only here, with no delta."""
    if kind == "response.output_text.done":
        yield _responses_key(payload), payload, "text"
    elif kind == "response.content_part.done":
        part = payload.get("part")
        if isinstance(part, dict):
            if part.get("type") in ("refusal", "reasoning_text"):
                name = "refusal" if part.get("type") == "refusal" else "text"
                yield _free_part_key(payload), part, name
            else:
                yield _responses_key(payload), part, "text"
    elif kind == "response.function_call_arguments.done":
        yield _arguments_key(payload), payload, "arguments"
    elif kind == "response.custom_tool_call_input.done":
        yield _custom_input_key(payload), payload, "input"
    elif kind in ("response.refusal.done", "response.reasoning_text.done"):
        yield _free_part_key(payload), payload, "refusal" if "refusal" in kind else "text"
    elif kind == "response.reasoning_summary_text.done":
        yield _summary_key(payload), payload, "text"
    elif kind == "response.reasoning_summary_part.done":
        part = payload.get("part")
        if isinstance(part, dict):
            yield _summary_key(payload), part, "text"
    elif kind == "response.output_item.done":
        yield from _item_text_fields(payload.get("item"), payload.get("output_index", 0))
    elif kind in _TERMINAL:
        response = payload.get("response")
        output = response.get("output") if isinstance(response, dict) else None
        for index, item in enumerate(output if isinstance(output, list) else ()):
            yield from _item_text_fields(item, index)


def _item_text_fields(item: Any, output_index: Any) -> Iterator[DoneField]:
    """The texts of one finished output item (``response.output_item.done``, or an item
    of the terminal event's ``response.output``)."""
    if not isinstance(item, dict):
        return
    kind = item.get("type")
    if kind == "function_call":
        yield _key(output_index, -1), item, "arguments"
        return
    if kind == "custom_tool_call":
        yield _key(output_index, FREE), item, "input"
        return
    if kind == "reasoning":
        summary = item.get("summary")
        for index, part in enumerate(summary if isinstance(summary, list) else ()):
            if isinstance(part, dict):
                yield _key(output_index, REASONING + index), part, "text"
    content = item.get("content")
    for index, part in enumerate(content if isinstance(content, list) else ()):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "output_text":
            yield _key(output_index, index), part, "text"
        elif kind in ("refusal", "reasoning_text"):
            name = "refusal" if kind == "refusal" else "text"
            yield _key(output_index, FREE + 1 + index), part, name


def _responses_text_field(kind: str, payload: dict[str, Any]) -> TextField | None:
    """The piece of text a Responses event adds: a delta, or the text a reasoning summary
    part opens with (empty from OpenAI, but whatever a server puts there is shown)."""
    delta_key = _DELTA_KEYS.get(kind)
    if delta_key is not None:
        return delta_key(payload), payload, "delta", ()
    if kind == "response.reasoning_summary_part.added":
        part = payload.get("part")
        if isinstance(part, dict):
            return _summary_key(payload), part, "text", ("part",)
    return None


def _key(first: Any, second: Any) -> TextKey:
    return (first if isinstance(first, int) else 0, second if isinstance(second, int) else 0)


def _responses_key(payload: Mapping[str, Any]) -> TextKey:
    return _key(payload.get("output_index"), payload.get("content_index"))


def _arguments_key(payload: Mapping[str, Any]) -> TextKey:
    return _key(payload.get("output_index"), -1)


def _custom_input_key(payload: Mapping[str, Any]) -> TextKey:
    return _key(payload.get("output_index"), FREE)


def _free_part_key(payload: Mapping[str, Any]) -> TextKey:
    """The key of a free-text content part: a refusal, or a reasoning item's text."""
    index = payload.get("content_index")
    return _key(payload.get("output_index"), FREE + 1 + (index if isinstance(index, int) else 0))


def _summary_key(payload: Mapping[str, Any]) -> TextKey:
    index = payload.get("summary_index")
    return _key(payload.get("output_index"), REASONING + (index if isinstance(index, int) else 0))


_DELTA_KEYS: Mapping[str, Callable[[Mapping[str, Any]], TextKey]] = {
    "response.output_text.delta": _responses_key,
    "response.function_call_arguments.delta": _arguments_key,
    "response.custom_tool_call_input.delta": _custom_input_key,
    "response.refusal.delta": _free_part_key,
    "response.reasoning_summary_text.delta": _summary_key,
    "response.reasoning_text.delta": _free_part_key,
}
"""The Responses events carrying a piece of text in ``delta``, and the key of its text."""


_ESCAPED_BRACKETS = (("\\u003c", "\\u003e"), ("\\u003C", "\\u003E"))
"""How JSON encoders that escape HTML characters spell ``<`` and ``>``."""


class ReplaceTextHook(TextWindowHook):
    """Replaces whole tokens (e.g. pseudonym placeholders) even when split across chunks.

    Matches are leftmost, longest token first — the same result as replacing on the
    joined text. A token's ``<`` and ``>`` may also be spelled as JSON escapes
    (``\\u003c``). A placeholder is replaced wherever it stands; a token without
    delimiters (a ``synthesize`` fake) only where it is a whole token
    (:mod:`bastion.transform.bounds`), never as part of a longer one. At most
    ``len(longest token) - 1`` characters wait for the next chunk, or a whole fake and
    the few characters after it that decide whether it ends there.
    """

    moves_citations = True

    def __init__(self, mapping: Mapping[str, str], window_chars: int = 1) -> None:
        super().__init__(window_chars)
        # inside a JSON string (tool-call arguments) the original must be escaped
        self._json_mapping = {
            t: json.dumps(v, ensure_ascii=False)[1:-1] for t, v in mapping.items() if t
        }
        self._mapping = dict(mapping)
        # tokens without delimiters of their own: restored only standing whole
        self._bare = frozenset(t for t in self._json_mapping if t[0] != "<" or t[-1] != ">")
        # A token re-encoded by a JSON encoder that escapes HTML characters (Go's
        # encoding/json in Ollama: \u003c; .NET: \u003C) can only stand in JSON text:
        # it goes back escaped wherever it is found.
        for token, escaped in list(self._json_mapping.items()):
            for lt, gt in _ESCAPED_BRACKETS:
                spelled = token.replace("<", lt).replace(">", gt)
                if spelled != token:
                    self._mapping[spelled] = self._json_mapping[spelled] = escaped
        tokens = sorted(self._json_mapping, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, tokens))) if tokens else None
        self._prefixes = {t[:n] for t in tokens for n in range(1, len(t))}
        self._starts = "".join(sorted({t[0] for t in tokens}))
        self._longest = len(tokens[0]) if tokens else 0
        self._key: TextKey = (0, 0)
        self._pending = ""
        self._before: dict[TextKey, str] = {}  # the end of each text's decided input
        self._window_edits: list[Edit] = []  # the replacements of the window being decided

    def _decide(self, key: TextKey, *, final: bool) -> None:
        # Which text the window is of, and all of its undecided text: a fake at either
        # end of a window is read with its neighbours (the end of the text decided
        # before, the start of what waits), as in the joined text.
        state = self._states.get(key)
        if state is None or not state.undecided:  # nothing to decide
            return
        self._key = key
        self._pending = state.undecided
        start = state.decided  # where the window begins in the model's text
        self._window_edits.clear()
        super()._decide(key, final=final)
        if self._window_edits:
            self._record(key, start, self._window_edits)

    def on_window(self, choice_index: int, text: str) -> str:
        """Replace every token of the window by its mapped value."""
        return self.replace_window(text)

    def on_arguments_window(self, choice_index: int, text: str) -> str:
        return self.replace_window(text, json_string=True)

    def on_free_window(self, choice_index: int, text: str) -> str:
        return self.replace_window(text)

    def replace_window(self, text: str, *, json_string: bool = False) -> str:
        """:meth:`replace` on a window of the text being decided, read between the text
        decided before it and the text still waiting after it."""
        edits = self._window_edits
        if not self._bare:
            return self._replace(text, 0, len(text), json_string, edits)
        before = self._before.get(self._key, "")
        self._before[self._key] = (before + text)[-_CONTEXT:]
        after = self._pending[len(text) : len(text) + LOOKAHEAD]
        return self._replace(before + text + after, len(before), len(before) + len(text),
                             json_string, edits)  # fmt: skip

    def replace(self, text: str, *, json_string: bool = False) -> str:
        """Replace every token of a complete text (also used for non-streamed answers);
        ``json_string``: the text is JSON (tool-call arguments), so originals are escaped."""
        return self._replace(text, 0, len(text), json_string)

    def replace_with_edits(self, text: str, *, json_string: bool = False) -> tuple[str, list[Edit]]:
        """:meth:`replace`, and what it changed: (start, end, length of the original put
        there) per token replaced, in order (to move offsets that point into ``text``)."""
        edits: list[Edit] = []
        return self._replace(text, 0, len(text), json_string, edits), edits

    def _replace(
        self, text: str, start: int, stop: int, json_string: bool, edits: list[Edit] | None = None
    ) -> str:
        """``text[start:stop]`` with its tokens replaced (the rest is context); each
        replacement is appended to ``edits`` (offsets into the window), when given."""
        window = text[start:stop] if start or stop < len(text) else text
        if self._pattern is None or not any(first in window for first in self._starts):
            return window
        mapping = self._json_mapping if json_string else self._mapping
        bare = self._bare
        if not bare and edits is None:
            return self._pattern.sub(lambda m: mapping[m.group()], window)

        def swap(match: re.Match[str]) -> str:
            token = match.group()
            if token in bare and glued(
                text, start + match.start(), start + match.end(), json_text=json_string
            ):
                return token  # part of a longer word: the model's own text
            value = mapping[token]
            if edits is not None:
                edits.append((match.start(), match.end(), len(value)))
            return value

        return self._pattern.sub(swap, window)

    def hold_tail(self, text: str) -> int:
        """The longest suffix of ``text`` that could still grow into a token, unless a
        whole token reaches into it: a synthesized fake may end in characters that
        begin a token (``morgan.m…@example.com``), and holding those back would cut
        the token the window needs whole. Then only what follows that token waits.
        A fake that the next characters could still glue to a longer word waits whole."""
        hold = self._possible_prefix(text)
        if self._pattern is None or not (hold or self._bare):
            return hold
        cut = len(text) - hold
        edge = min(cut, len(text) - LOOKAHEAD) if self._bare else cut
        for match in self._pattern.finditer(text, max(0, edge - self._longest + 1)):
            if match.start() >= cut:
                break
            if match.group() in self._bare and undecided_after(text, match.end()):
                return len(text) - match.start()
            if match.end() > cut:
                return self.hold_tail(text[match.end() :])
        return hold

    def _possible_prefix(self, text: str) -> int:
        """The longest suffix of ``text`` that is the start of a token."""
        tail = text[-(self._longest - 1) :] if self._longest > 1 else ""
        best = 0
        for start in self._starts:
            at = tail.find(start)
            while at != -1:
                if len(tail) - at > best and tail[at:] in self._prefixes:
                    best = len(tail) - at
                at = tail.find(start, at + 1)
        return best


_CONTEXT = 16
"""Characters of a text's decided input kept to read the next window's first token
after (a JSON ``\\uXXXX`` escape and the backslashes before it)."""


class UsageObserver:
    """Records usage, finish reasons, ``[DONE]`` and text length; never changes events."""

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.finish_reasons: dict[int, str] = {}
        self.saw_done = False
        self.response_status: str | None = None
        self.text_chars = 0

    def on_event(self, event: StreamEvent) -> Sequence[StreamEvent]:
        """Look at one event and pass it on unchanged."""
        payload = event.payload
        if isinstance(payload, dict):
            if "choices" in payload:
                self._chat_chunk(payload)
            else:
                self._responses_event(event.event_type, payload)
        elif event.is_done:
            self.saw_done = True
        return (event,)

    def on_end(self) -> Sequence[StreamEvent]:
        """Nothing is ever held."""
        return ()

    def _chat_chunk(self, payload: dict[str, Any]) -> None:
        choices = payload["choices"]
        for choice in choices if isinstance(choices, list) else ():
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                self.text_chars += _chat_delta_chars(delta)
            reason = choice.get("finish_reason")
            if isinstance(reason, str):
                index = choice.get("index", 0)
                self.finish_reasons[index if isinstance(index, int) else 0] = reason
        usage = payload.get("usage")
        if isinstance(usage, dict):
            self.usage = usage_of(usage)

    def _responses_event(self, kind: str | None, payload: dict[str, Any]) -> None:
        if kind in _BILLED_DELTAS:
            delta = payload.get("delta")
            if isinstance(delta, str):
                self.text_chars += len(delta)
        elif kind in _TERMINAL:
            response = payload.get("response")
            if not isinstance(response, dict):
                return
            status = response.get("status")
            self.response_status = status if isinstance(status, str) else kind[9:]
            details = response.get("incomplete_details")
            reason = details.get("reason") if isinstance(details, dict) else None
            self.finish_reasons[0] = reason if isinstance(reason, str) else self.response_status
            usage = response.get("usage")
            if isinstance(usage, dict):
                self.usage = usage_of(usage)


# Responses events whose delta is output the model was billed for (the estimate when a
# stream ends without usage counts them all)
_BILLED_DELTAS = frozenset(_DELTA_KEYS)


def _chat_delta_chars(delta: dict[str, Any]) -> int:
    """Characters of output in one chat delta: reasoning, content, refusal, tool-call
    (and legacy function-call) arguments and custom tool inputs."""
    chars = 0
    for text in (*map(delta.get, _CHAT_REASONING), delta.get("content"), delta.get("refusal")):
        if isinstance(text, str):
            chars += len(text)
    legacy = delta.get("function_call")
    if isinstance(legacy, dict) and isinstance(legacy.get("arguments"), str):
        chars += len(legacy["arguments"])
    for call in delta.get("tool_calls") or ():
        if isinstance(call, dict):
            for part, name in (("function", "arguments"), ("custom", "input")):
                holder = call.get(part)
                text = holder.get(name) if isinstance(holder, dict) else None
                if isinstance(text, str):
                    chars += len(text)
    return chars


class ModelRewriteHook:
    """Shows the public model name: chat ``model``, Responses ``response.model``."""

    def __init__(self, public_model: str) -> None:
        self.public_model = public_model

    def on_event(self, event: StreamEvent) -> Sequence[StreamEvent]:
        """Rename the model of one event; re-encodes only when the name differs."""
        payload = event.payload
        if isinstance(payload, dict):
            model = payload.get("model")
            if model is not None:
                if model != self.public_model:
                    payload["model"] = self.public_model
                    event.mark_changed()
            else:
                response = payload.get("response")
                if isinstance(response, dict) and response.get("model", self.public_model) != (
                    self.public_model
                ):
                    response["model"] = self.public_model
                    event.mark_changed()
        return (event,)

    def on_end(self) -> Sequence[StreamEvent]:
        """Nothing is ever held."""
        return ()
