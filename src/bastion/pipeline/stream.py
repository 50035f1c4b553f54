"""The stream relay: upstream SSE bytes in, hook-processed SSE bytes out to the client.

Every upstream event is parsed once into a :class:`StreamEvent` and passed through the
hooks in order; the output of hook *i* is the input of hook *i+1*. An event no hook
changed is re-encoded from its original data string, so with no hook changing anything
the client receives the same events, in the same order, with identical data bytes.
Concrete hooks live in :mod:`bastion.pipeline.stream_hooks`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal, Protocol

import orjson

from bastion.wire.sse import DONE, SseEvent, SseParser, encode_comment, encode_event

Dialect = Literal["chat", "responses"]
_UNPARSED: Any = object()
# the events after which OpenAI sends nothing more (chat: the [DONE] marker)
_RESPONSES_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})


class StreamEvent:
    """One event of the stream with its JSON payload parsed on first access.

    ``payload`` is None for ``[DONE]``, for comments and for data that is not JSON; such
    an event, and one whose JSON is not an object (OpenAI sends only objects), is kept
    and flagged ``garbled``. A hook that assigns ``payload`` or calls
    :meth:`mark_changed` after editing it in place makes the event re-encode with orjson.
    """

    __slots__ = ("_changed", "_payload", "comment", "sse")

    def __init__(self, sse: SseEvent, *, comment: str | None = None) -> None:
        self.sse = sse
        self.comment = comment
        self._payload: Any = None if comment is not None else _UNPARSED
        self._changed = False

    @classmethod
    def make_comment(cls, text: str) -> StreamEvent:
        """A synthetic comment line, e.g. ``bastion redacted=pii.email``."""
        return cls(SseEvent(""), comment=text)

    @classmethod
    def from_payload(cls, payload: Any, *, event: str | None = None) -> StreamEvent:
        """A synthetic data event (an injected error or a released rewrite)."""
        made = cls(SseEvent("", event))
        made.payload = payload
        return made

    @property
    def is_comment(self) -> bool:
        return self.comment is not None

    @property
    def is_done(self) -> bool:
        """Whether this is the chat stream's ``[DONE]`` marker."""
        return self.comment is None and self.sse.data.startswith(DONE)

    @property
    def event_type(self) -> str | None:
        """The SSE event name, else the payload's ``type`` (Responses events carry both)."""
        if self.sse.event is not None:
            return self.sse.event
        payload = self.payload
        if isinstance(payload, dict):
            kind = payload.get("type")
            return kind if isinstance(kind, str) else None
        return None

    @property
    def payload(self) -> Any:
        if self._payload is _UNPARSED:
            data = self.sse.data
            try:
                self._payload = None if data.startswith(DONE) else orjson.loads(data)
            except orjson.JSONDecodeError:
                self._payload = None
        return self._payload

    @payload.setter
    def payload(self, value: Any) -> None:
        self._payload = value
        self._changed = True

    @property
    def garbled(self) -> bool:
        """Whether the data is neither a JSON object nor ``[DONE]`` (kept, relayed as it
        came unless a hook refuses it)."""
        return self.comment is None and not isinstance(self.payload, dict) and not self.is_done

    @property
    def changed(self) -> bool:
        return self._changed

    def mark_changed(self) -> None:
        """Declare an in-place edit of ``payload`` so the event is re-encoded."""
        self._changed = True

    def encode(self) -> bytes:
        """The wire bytes for this event as it now stands."""
        if self.comment is not None:
            return encode_comment(self.comment)
        sse = self.sse
        if self._changed:
            data = orjson.dumps(self._payload)
            if sse.event is None and sse.id is None and sse.retry is None:
                return b"data: " + data + b"\n\n"
            return encode_event(SseEvent(data.decode(), sse.event, sse.id, sse.retry))
        if sse.event is None and sse.id is None and sse.retry is None and "\n" not in sse.data:
            return b"data: " + sse.data.encode() + b"\n\n"
        return encode_event(sse)


class StreamHook(Protocol):
    """A step that sees every event of a stream and decides what the client gets.

    ``on_event(event)`` returns the events to emit *now*, in order:

    * ``[event]`` passes it on (edited or not: assign ``payload`` or call
      ``mark_changed()`` after an in-place edit);
    * ``[]`` holds it back (or drops it, if it is never returned later);
    * ``[*held, event]`` releases events held earlier; synthetic events made with
      :meth:`StreamEvent.make_comment` / :meth:`StreamEvent.from_payload` may be added
      anywhere in the list.

    ``on_end()`` is called once when the upstream ends (with or without ``[DONE]``) and
    returns everything still held, in order. It is not called when the upstream fails:
    held events are then discarded with the stream. A hook must keep the order of the
    events it passes; events it emits go through the following hooks. Hooks that work
    on assistant text per window derive from ``stream_hooks.TextWindowHook``.
    """

    def on_event(self, event: StreamEvent) -> Sequence[StreamEvent]: ...

    def on_end(self) -> Sequence[StreamEvent]: ...


class StreamRelay:
    """Parses upstream SSE, runs the hooks, and yields client bytes per upstream chunk.

    ``saw_done`` tells whether the upstream sent ``[DONE]``; ``events_emitted`` and
    ``bytes_emitted`` count what reached the client so far (also after a failure).
    The stream ends at ``[DONE]`` (Responses: at its terminal event): whatever the
    upstream sends after it is neither relayed nor waited for.
    """

    def __init__(
        self,
        hooks: Sequence[StreamHook] = (),
        *,
        dialect: Dialect = "chat",
        max_event_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        self.hooks = tuple(hooks)
        self.dialect: Dialect = dialect
        self.max_event_bytes = max_event_bytes
        self.saw_done = False
        self.events_emitted = 0
        self.bytes_emitted = 0
        self.comments_seen = 0
        self.ended = False
        self._response_envelope: dict[str, Any] | None = None
        self._next_sequence: int | None = None  # Responses: the number the next event gets

    async def relay(self, upstream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Relay the upstream stream; re-raises an upstream error after what was sent.

        A hook that raises on one event (a garbled event, a refused answer) ends the
        stream there, but the events before it in the same upstream read that passed
        every hook still go out first: one bad event never costs its neighbours."""
        parser = SseParser(self.max_event_bytes)
        first = True
        passed: list[StreamEvent] = []
        try:
            async for chunk in upstream:
                comments = parser.comments
                parsed = parser.feed(chunk)
                if first and len(parsed) > 1:
                    # Time to first byte: the first event goes out before the rest of a
                    # burst is parsed and shaped.
                    first = False
                    self._run_hooks(parsed[:1], passed)
                    out, passed = self._emit(passed), []
                    if out:
                        yield out
                    parsed = parsed[1:]
                elif parsed:
                    first = False
                self._run_hooks(parsed, passed)
                out, passed = self._emit(passed), []
                if not out and parser.comments != comments:
                    out = b":\n\n"  # pass the upstream's keep-alive on to idle clients
                self.comments_seen = parser.comments
                if out:
                    yield out
                if self.ended:
                    break
            if self.ended:  # stop reading an upstream that goes on after the end
                close = getattr(upstream, "aclose", None)
                if close is not None:
                    await close()
            else:
                self._run_hooks(parser.finish(), passed)
            for index, hook in enumerate(self.hooks):
                passed.extend(self._through(hook.on_end(), index + 1))
        except Exception:
            out, passed = self._emit(passed), []
            if out:
                yield out
            raise
        out = self._emit(passed)
        if out:
            yield out

    def _run_hooks(self, parsed: list[SseEvent], passed: list[StreamEvent]) -> None:
        """Run each event through every hook in turn, appending what comes out to
        ``passed`` (so what passed stays there if a later event raises)."""
        for sse in parsed:
            if self.ended:
                return  # a second [DONE], events after the end: not OpenAI's stream
            event = StreamEvent(sse)
            if sse.data.startswith(DONE):
                self.saw_done = self.ended = True
            elif self.dialect == "responses":
                kind = event.event_type
                if kind == "response.created":
                    response = event.payload.get("response") if event.payload else None
                    self._response_envelope = response if isinstance(response, dict) else None
                self.ended = kind in _RESPONSES_TERMINAL
            if self.hooks:
                passed.extend(self._through((event,), 0))
            else:
                passed.append(event)

    def _through(self, events: Sequence[StreamEvent], first_hook: int) -> list[StreamEvent]:
        current = list(events)
        for hook in self.hooks[first_hook:]:
            if not current:
                break
            passed: list[StreamEvent] = []
            for event in current:
                passed.extend(hook.on_event(event))
            current = passed
        return current

    def _emit(self, events: list[StreamEvent]) -> bytes:
        if not events:
            return b""
        if self.dialect == "responses":
            self._number(events)
        if len(events) == 1:
            out = events[0].encode()
        else:
            out = b"".join([event.encode() for event in events])
        self.events_emitted += len(events)
        self.bytes_emitted += len(out)
        return out

    def _number(self, events: list[StreamEvent]) -> None:
        """Keep Responses ``sequence_number`` values contiguous as the client sees them.

        Hooks split events (a text delta decided in part), drop them (a refused tool
        call) and add their own; numbering goes on from the upstream's first number, so
        no two events share one and none is skipped (clients order and resume by it)."""
        for event in events:
            payload = event.payload
            if not isinstance(payload, dict):
                continue
            number = payload.get("sequence_number")
            if not isinstance(number, int) or isinstance(number, bool):
                continue
            if self._next_sequence is None:
                self._next_sequence = number
            elif number != self._next_sequence:
                payload["sequence_number"] = self._next_sequence
                event.mark_changed()
            self._next_sequence += 1

    def error_event(
        self,
        message: str,
        code: str,
        *,
        error_type: str = "server_error",
        bastion: Mapping[str, Any] | None = None,
    ) -> bytes:
        """The event that ends this stream with an error, in the relay's dialect."""
        if self.dialect == "responses":
            sequence = self._next_sequence
            return responses_failed_event(
                message,
                code,
                sequence_number=self.events_emitted if sequence is None else sequence,
                envelope=self._response_envelope,
                bastion=bastion,
            )
        return chat_error_event(message, code, error_type=error_type, bastion=bastion)


def chat_error_event(
    message: str,
    code: str,
    *,
    error_type: str = "server_error",
    bastion: Mapping[str, Any] | None = None,
) -> bytes:
    """``data: {"error": {...}}`` ending a chat stream (the caller sends no ``[DONE]``)."""
    body: dict[str, Any] = {
        "error": {"message": message, "type": error_type, "code": code, "param": None}
    }
    if bastion:
        body["bastion"] = dict(bastion)
    return b"data: " + orjson.dumps(body) + b"\n\n"


def responses_failed_event(
    message: str,
    code: str,
    *,
    sequence_number: int = 0,
    envelope: Mapping[str, Any] | None = None,
    bastion: Mapping[str, Any] | None = None,
) -> bytes:
    """A ``response.failed`` event: the Response (from ``envelope``) with status failed."""
    response: dict[str, Any] = {
        "id": "resp_bastion_failed",
        "object": "response",
        "created_at": 0,
        "model": "",
        "output": [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "incomplete_details": None,
        "usage": None,
    }
    if envelope:
        response.update(envelope)
    response["status"] = "failed"
    response["error"] = {"code": code, "message": message}
    body: dict[str, Any] = {
        "type": "response.failed",
        "sequence_number": sequence_number,
        "response": response,
    }
    if bastion:
        body["bastion"] = dict(bastion)
    data = orjson.dumps(body)
    return b"event: response.failed\ndata: " + data + b"\n\n"
