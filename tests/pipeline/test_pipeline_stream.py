"""The stream relay and its hooks, driven with chat and Responses SSE streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.errors import UpstreamFailed
from bastion.model import Usage
from bastion.pipeline.response import AnswerShaper, restore_answer
from bastion.pipeline.stream import (
    StreamEvent,
    StreamRelay,
    chat_error_event,
)
from bastion.pipeline.stream_hooks import (
    ModelRewriteHook,
    ReplaceTextHook,
    TextWindowHook,
    UsageObserver,
)
from bastion.wire.sse import SseEvent, SseEventTooLarge, SseParser

MODEL = "gpt-4o-mini-2024-07-18"


def chunk(
    content: str | None = None, *, index: int = 0, finish: str | None = None, role: bool = False
) -> dict[str, Any]:
    delta: dict[str, Any] = {"role": "assistant"} if role else {}
    if content is not None:
        delta["content"] = content
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": MODEL,
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
    }


USAGE_CHUNK = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1,
    "model": MODEL,
    "choices": [],
    "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
}


def sse(payloads: Iterable[dict[str, Any] | str], newline: str = "\n") -> bytes:
    parts = []
    for payload in payloads:
        data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
        parts.append(f"data: {data}{newline}{newline}")
    return "".join(parts).encode()


def chat_stream(texts: Sequence[str], *, done: bool = True) -> bytes:
    payloads: list[dict[str, Any] | str] = [chunk("", role=True)]
    payloads += [chunk(text) for text in texts]
    payloads += [chunk(finish="stop"), USAGE_CHUNK]
    return sse([*payloads, "[DONE]"] if done else payloads)


def responses_stream(deltas: Sequence[str]) -> bytes:
    text = "".join(deltas)
    response = {"id": "resp_1", "object": "response", "created_at": 5, "model": MODEL}
    part = {"type": "output_text", "text": text, "annotations": []}
    item = {"id": "msg_1", "type": "message", "role": "assistant", "content": [part]}
    at = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": {**response, "status": "in_progress", "output": []}}),
        *[("response.output_text.delta", {**at, "delta": d}) for d in deltas],
        ("response.output_text.done", {**at, "text": text}),
        ("response.content_part.done", {**at, "part": part}),
        ("response.output_item.done", {"output_index": 0, "item": item}),
        (
            "response.completed",
            {
                "response": {
                    **response,
                    "status": "completed",
                    "output": [item],
                    "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
                }
            },
        ),
    ]
    raw = ""
    for number, (kind, body) in enumerate(events):
        data = json.dumps({"type": kind, "sequence_number": number, **body}, ensure_ascii=False)
        raw += f"event: {kind}\ndata: {data}\n\n"
    return raw.encode()


async def source(*chunks: bytes) -> AsyncIterator[bytes]:
    for piece in chunks:
        yield piece


def split(raw: bytes, size: int) -> list[bytes]:
    return [raw[i : i + size] for i in range(0, len(raw), size)]


async def run(relay: StreamRelay, *chunks: bytes) -> bytes:
    return b"".join([out async for out in relay.relay(source(*chunks))])


async def run_source(relay: StreamRelay, upstream: AsyncIterator[bytes]) -> bytes:
    return b"".join([out async for out in relay.relay(upstream)])


def events_of(raw: bytes) -> list[SseEvent]:
    parser = SseParser()
    return parser.feed(raw) + parser.finish()


def chat_text(raw: bytes, index: int = 0) -> str:
    text = ""
    for event in events_of(raw):
        if event.data == "[DONE]":
            continue
        for choice in orjson.loads(event.data).get("choices", []):
            if choice["index"] == index:
                text += choice["delta"].get("content") or ""
    return text


class Recorder:
    """Passes events on, noting the tag of each hook that saw them."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def on_event(self, event: StreamEvent) -> Sequence[StreamEvent]:
        if isinstance(event.payload, dict):
            event.payload.setdefault("seen", []).append(self.tag)
            event.mark_changed()
        return [event]

    def on_end(self) -> Sequence[StreamEvent]:
        return []


class HoldAll:
    """Holds every event until the end, then releases them after a comment."""

    def __init__(self) -> None:
        self.held: list[StreamEvent] = []

    def on_event(self, event: StreamEvent) -> Sequence[StreamEvent]:
        self.held.append(event)
        return []

    def on_end(self) -> Sequence[StreamEvent]:
        return [StreamEvent.make_comment("bastion released"), *self.held]


async def test_without_hooks_the_client_gets_identical_bytes() -> None:
    raw = chat_stream(["Grüße, ", "世界 🎉", "!"])
    relay = StreamRelay()
    assert await run(relay, *split(raw, 7)) == raw
    assert relay.saw_done
    assert relay.events_emitted == 7
    assert relay.bytes_emitted == len(raw)


async def test_the_first_event_of_a_burst_is_sent_before_the_rest() -> None:
    raw = chat_stream(["one", "two", "three"])
    writes = [out async for out in StreamRelay().relay(source(raw))]
    assert len(writes) == 2 and b"".join(writes) == raw
    assert [e.data for e in events_of(writes[0])] == [events_of(raw)[0].data]


async def test_crlf_framing_reaches_the_client_as_the_same_events() -> None:
    raw = sse([chunk("a\u2028b"), "[DONE]"], newline="\r\n")
    out = await run(StreamRelay(), *split(raw, 3))
    assert events_of(out) == events_of(raw)
    assert out == sse([chunk("a\u2028b"), "[DONE]"])


async def test_hooks_run_in_order_and_changed_events_are_re_encoded() -> None:
    raw = chat_stream(["hi"])
    out = await run(StreamRelay([Recorder("first"), Recorder("second")]), raw)
    payloads = [orjson.loads(e.data) for e in events_of(out) if e.data != "[DONE]"]
    assert all(p["seen"] == ["first", "second"] for p in payloads)
    assert chat_text(out) == "hi"


async def test_held_events_are_released_at_the_end_through_later_hooks() -> None:
    raw = chat_stream(["a", "b"])
    out = await run(StreamRelay([HoldAll(), Recorder("after")]), *split(raw, 10))
    assert out.startswith(b": bastion released\n\n")
    events = events_of(out)
    assert [e.data for e in events][-1] == "[DONE]"
    assert chat_text(out) == "ab"
    assert all(orjson.loads(e.data)["seen"] == ["after"] for e in events[:-1])


async def test_synthetic_comment_is_ignored_by_a_client_parser() -> None:
    class Announce:
        def on_event(self, event: StreamEvent) -> Sequence[StreamEvent]:
            if event.is_done:
                return [StreamEvent.make_comment("bastion redacted=pii.email"), event]
            return [event]

        def on_end(self) -> Sequence[StreamEvent]:
            return []

    raw = chat_stream(["x"])
    out = await run(StreamRelay([Announce()]), raw)
    assert b"\n\n: bastion redacted=pii.email\n\ndata: [DONE]\n\n" in out
    assert events_of(out) == events_of(raw)


async def test_a_hook_can_stop_the_stream_with_an_injected_error_event() -> None:
    class StopAtForbidden:
        stopped = False

        def on_event(self, event: StreamEvent) -> Sequence[StreamEvent]:
            if self.stopped:
                return []
            if "forbidden" in event.sse.data:
                self.stopped = True
                error = {"error": {"message": "stopped", "code": "policy_violation"}}
                return [StreamEvent.from_payload(error)]
            return [event]

        def on_end(self) -> Sequence[StreamEvent]:
            return []

    raw = chat_stream(["fine ", "forbidden", " more"])
    out = await run(StreamRelay([StopAtForbidden(), UsageObserver()]), *split(raw, 11))
    events = events_of(out)
    assert chat_text(out) == "fine "
    assert orjson.loads(events[-1].data) == {
        "error": {"message": "stopped", "code": "policy_violation"}
    }
    assert len(events) == 3
    assert b"[DONE]" not in out


async def test_usage_observer_reads_the_usage_chunk_with_empty_choices() -> None:
    observer = UsageObserver()
    relay = StreamRelay([observer])
    raw = chat_stream(["héllo", " world"])
    assert await run(relay, *split(raw, 5)) == raw
    assert observer.usage == Usage(prompt_tokens=12, completion_tokens=7)
    assert observer.finish_reasons == {0: "stop"}
    assert observer.saw_done
    assert observer.text_chars == len("héllo world")


async def test_model_rewrite_only_re_encodes_when_the_name_differs() -> None:
    raw = chat_stream(["x"])
    assert await run(StreamRelay([ModelRewriteHook(MODEL)]), raw) == raw
    out = await run(StreamRelay([ModelRewriteHook("gpt-4o-mini")]), raw)
    models = {orjson.loads(e.data)["model"] for e in events_of(out) if e.data != "[DONE]"}
    assert models == {"gpt-4o-mini"}


async def test_responses_stream_model_usage_and_restored_text() -> None:
    observer = UsageObserver()
    restore = ReplaceTextHook({"<EMAIL_1a2b3c4d>": "anna@example.org"})
    relay = StreamRelay([restore, ModelRewriteHook("fast"), observer], dialect="responses")
    raw = responses_stream(["Write to <EMAIL_", "1a2b", "3c4d> now", "."])
    out = await run(relay, *split(raw, 17))
    events = events_of(out)
    delta = "response.output_text.delta"
    assert [e.event for e in events if e.event != delta] == [
        e.event for e in events_of(raw) if e.event != delta
    ]
    payloads = [orjson.loads(e.data) for e in events]
    # a delta held in part is split in two; the restored value goes out whole where the
    # placeholder began, and the deltas left empty by that are not sent
    deltas = [p["delta"] for p in payloads if p["type"] == delta]
    assert deltas == ["Write to ", "anna@example.org now", "."]
    restored = "Write to anna@example.org now."
    assert payloads[-4]["text"] == restored
    assert payloads[-3]["part"]["text"] == restored
    assert payloads[-2]["item"]["content"][0]["text"] == restored
    assert payloads[-1]["response"]["output"][0]["content"][0]["text"] == restored
    assert payloads[0]["response"]["model"] == payloads[-1]["response"]["model"] == "fast"
    assert observer.usage == Usage(prompt_tokens=3, completion_tokens=4)
    assert observer.response_status == "completed"
    assert observer.text_chars == len(restored)
    assert not relay.saw_done


async def test_missing_done_is_not_invented_and_held_text_is_flushed() -> None:
    hook = ReplaceTextHook({"<PHONE_9>": "+41 44 000"})
    relay = StreamRelay([hook])
    raw = sse([chunk("call <PHO"), chunk("NE_")])
    out = await run(relay, raw)
    assert not relay.saw_done
    assert b"[DONE]" not in out
    assert chat_text(out) == "call <PHONE_"


async def test_upstream_error_is_re_raised_after_what_was_sent() -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield sse([chunk("one")])
        yield b'data: {"trunc'
        raise ConnectionResetError("upstream went away")

    relay = StreamRelay([ReplaceTextHook({"<X>": "y"})])
    received: list[bytes] = []
    with pytest.raises(ConnectionResetError):
        async for out in relay.relay(failing()):
            received.append(out)
    assert chat_text(b"".join(received)) == "one"
    assert relay.events_emitted == 1
    assert relay.bytes_emitted == len(b"".join(received))


async def test_too_large_upstream_event_stops_the_relay() -> None:
    relay = StreamRelay(max_event_bytes=1000)
    with pytest.raises(SseEventTooLarge):
        await run(relay, sse([chunk("ok")]), b"data: " + b"x" * 2000)
    assert relay.events_emitted == 1


async def test_garbled_event_is_kept_and_flagged() -> None:
    seen: list[bool] = []

    class Flags:
        def on_event(self, event: StreamEvent) -> Sequence[StreamEvent]:
            seen.append(event.garbled)
            return [event]

        def on_end(self) -> Sequence[StreamEvent]:
            return []

    raw = sse(["{not json", chunk("x"), "[DONE]"])
    assert await run(StreamRelay([Flags(), ModelRewriteHook(MODEL)]), raw) == raw
    assert seen == [True, False, False]


@pytest.mark.parametrize(
    "reads",
    [
        [[chunk("", role=True)], [chunk("Hello "), chunk("world"), "{not json", chunk("after")]],
        [[chunk("", role=True), chunk("Hello "), chunk("world"), "{not json", chunk("after")]],
    ],
    ids=["later-read", "first-read"],
)
async def test_a_garbled_event_loses_no_valid_event_read_with_it(
    reads: list[list[dict[str, Any] | str]],
) -> None:
    # the gateway refuses a garbled event (nothing unscannable reaches the client) and
    # ends the stream there; the events before it in the same network read are the
    # upstream's answer as much as any other and must reach the client first
    hooks = [AnswerShaper(MODEL, hide_usage=True), ReplaceTextHook({"<P_1>": "x"})]
    relay = StreamRelay(hooks)
    out: list[bytes] = []
    with pytest.raises(UpstreamFailed):
        async for piece in relay.relay(source(*[sse(read) for read in reads])):
            out.append(piece)
    assert chat_text(b"".join(out)) == "Hello world"
    assert relay.events_emitted == 3


@pytest.mark.parametrize("data", ['"the SSN is 078-05-1120"', "[1, 2]", "5", "null", "true"])
async def test_a_json_event_that_is_not_an_object_is_refused_like_a_garbled_one(
    data: str,
) -> None:
    # OpenAI streams only objects; anything else is no text the gateway scanned
    relay = StreamRelay([AnswerShaper(MODEL, hide_usage=False)])
    out: list[bytes] = []
    with pytest.raises(UpstreamFailed):
        async for piece in relay.relay(source(sse([chunk("ok"), data, chunk("after")]))):
            out.append(piece)
    assert [orjson.loads(e.data)["choices"][0]["delta"] for e in events_of(b"".join(out))] == [
        {"content": "ok"}
    ]


async def test_nothing_after_done_is_relayed_or_waited_for() -> None:
    """OpenAI ends a chat stream with ``[DONE]``: a second one, events after it, or an
    upstream that keeps the connection open after it must not reach the client nor
    hold the call open until the idle timeout (which would end a complete answer with
    an error event)."""
    closed = asyncio.Event()

    async def upstream() -> AsyncIterator[bytes]:
        try:
            yield sse([chunk("hello"), chunk(finish="stop"), "[DONE]", "[DONE]", chunk("late")])
            await asyncio.Event().wait()  # the upstream never ends the body
            yield sse([chunk("later")])
        finally:
            closed.set()

    relay = StreamRelay([ReplaceTextHook({"<P_1>": "x"})])
    out = await asyncio.wait_for(run_source(relay, upstream()), 2)
    assert [e.data for e in events_of(out)][-1] == "[DONE]"
    assert out.count(b"[DONE]") == 1 and b"late" not in out
    assert closed.is_set()  # the relay let go of the upstream


async def test_nothing_after_a_responses_terminal_event_is_waited_for() -> None:
    raw = responses_stream(["all ", "done"])

    async def upstream() -> AsyncIterator[bytes]:
        yield raw
        await asyncio.Event().wait()
        yield b"event: response.output_text.delta\ndata: {}\n\n"

    relay = StreamRelay([ModelRewriteHook(MODEL)], dialect="responses")
    out = await asyncio.wait_for(run_source(relay, upstream()), 2)
    assert events_of(out)[-1].event == "response.completed"


async def test_upstream_keep_alive_comments_reach_the_client() -> None:
    out = [piece async for piece in StreamRelay().relay(source(b": ping\n\n", sse([chunk("a")])))]
    assert out[0] == b":\n\n"


def test_chat_error_event_has_the_openai_error_shape() -> None:
    raw = chat_error_event("stopped by policy", "policy_violation", error_type="permission_error")
    (event,) = events_of(raw)
    assert orjson.loads(event.data) == {
        "error": {
            "message": "stopped by policy",
            "type": "permission_error",
            "code": "policy_violation",
            "param": None,
        }
    }


async def test_responses_failed_event_reuses_the_stream_response() -> None:
    relay = StreamRelay([ModelRewriteHook("fast")], dialect="responses")
    raw = responses_stream(["a", "b"])
    await run(relay, raw[: raw.index(b"event: response.output_text.done")])
    (event,) = events_of(relay.error_event("upstream stalled", "server_error"))
    body = orjson.loads(event.data)
    assert event.event == body["type"] == "response.failed"
    assert body["sequence_number"] == 3
    response = body["response"]
    assert (response["id"], response["model"], response["status"]) == ("resp_1", "fast", "failed")
    assert response["error"] == {"code": "server_error", "message": "upstream stalled"}
    assert StreamRelay().error_event("x", "upstream_error").startswith(b'data: {"error"')


async def test_text_windows_cover_the_text_once_in_order() -> None:
    class Windows(TextWindowHook):
        def __init__(self) -> None:
            super().__init__(window_chars=10)
            self.windows: list[tuple[int, str]] = []

        def on_window(self, choice_index: int, text: str) -> str:
            self.windows.append((choice_index, text))
            return text.upper()

    hook = Windows()
    texts = ["abc", "defgh", "ijklmnop", "qr", "s"]
    raw = sse(
        [*(chunk(t, index=i % 2) for i, t in enumerate(texts)), chunk(finish="stop"), "[DONE]"]
    )
    out = await run(StreamRelay([hook]), *split(raw, 9))
    assert chat_text(out, 0) == "ABCIJKLMNOPS"
    assert chat_text(out, 1) == "DEFGHQR"
    assert hook.windows == [(0, "abcijklmnop"), (0, "s"), (1, "defghqr")]


def test_replace_hook_holds_back_at_most_longest_token_minus_one_chars() -> None:
    mapping = {"<EMAIL_1a2b3c4d>": "a@b.c", "<E>": "E"}
    hook = ReplaceTextHook(mapping)
    fed = out = ""
    for char in "x <EMAIL_1a2b3c4d> <E> <EMAIL_1a2x>!":
        fed += char
        released = hook.on_event(StreamEvent(SseEvent(json.dumps(chunk(char)))))
        out += "".join(e.payload["choices"][0]["delta"]["content"] for e in released)
        assert any(
            out == replace_reference(fed[: len(fed) - held], mapping)
            for held in range(min(len(fed), len("<EMAIL_1a2b3c4d>") - 1) + 1)
        ), (fed, out)
    out += "".join(e.payload["choices"][0]["delta"]["content"] for e in hook.on_end())
    assert out == "x a@b.c E <EMAIL_1a2x>!"


def replace_reference(text: str, mapping: dict[str, str]) -> str:
    """Leftmost, longest token first; a token without ``<…>`` delimiters (a fake) only
    where no letter or digit touches it, directly or across a joiner (``.-_@+%``)."""
    tokens = sorted(mapping, key=len, reverse=True)
    out, i = [], 0
    while i < len(text):
        token = next((t for t in tokens if text.startswith(t, i)), None)
        if token is None:
            out.append(text[i])
            i += 1
            continue
        end = i + len(token)
        whole = token[0] == "<" or not (
            _touches(text[max(0, i - 2) : i][::-1]) or _touches(text[end : end + 2])
        )
        out.append(mapping[token] if whole else token)
        i = end
    return "".join(out)


def _touches(near: str) -> bool:
    """Whether the characters next to a token (nearest first) glue a word to it."""
    return bool(near) and (
        near[0].isalnum() or (near[0] in ".-_@+%" and len(near) > 1 and near[1].isalnum())
    )


TOKENS = {"<EMAIL_1a2b>": "anna@exämple.org", "<E>": "É", "<PH_12>": "+41 🎉"}
pieces = st.sampled_from(["<", "EMAIL_", "1a2b", ">", "<E", "<PH_", "12", "ü", "世", " ", "x"])
texts = st.lists(pieces, min_size=1, max_size=12).map("".join)


@st.composite
def chat_streams(draw: st.DrawFn) -> tuple[bytes, list[str], list[bytes]]:
    contents = draw(st.lists(texts, min_size=1, max_size=8))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    payloads: list[dict[str, Any] | str] = [chunk(c) for c in contents]
    raw = sse([*payloads, chunk(finish="stop"), USAGE_CHUNK, "[DONE]"], newline)
    cuts = sorted(draw(st.lists(st.integers(0, len(raw)), max_size=10)))
    parts = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    return raw, contents, parts


@given(chat_streams())
@settings(max_examples=150, deadline=None)
async def test_any_split_gives_the_same_events_and_client_events(
    stream: tuple[bytes, list[str], list[bytes]],
) -> None:
    raw, _, parts = stream
    assert events_of(b"".join(parts)) == events_of(raw)
    parser = SseParser()
    split_events = [e for p in parts for e in parser.feed(p)] + parser.finish()
    assert split_events == events_of(raw)
    out = await run(StreamRelay([UsageObserver(), ModelRewriteHook(MODEL)]), *parts)
    assert events_of(out) == events_of(raw)


@given(chat_streams())
@settings(max_examples=150, deadline=None)
async def test_replace_across_any_split_equals_replacing_the_joined_text(
    stream: tuple[bytes, list[str], list[bytes]],
) -> None:
    _, contents, parts = stream
    out = await run(StreamRelay([ReplaceTextHook(TOKENS)]), *parts)
    assert chat_text(out) == replace_reference("".join(contents), TOKENS)
    # every upstream delta had text: an empty one would be the relay's own artefact
    deltas = [c["delta"] for e in events_of(out)[:-1] for c in orjson.loads(e.data)["choices"]]
    assert all(delta.get("content") != "" for delta in deltas), out


FAKES = {"mia.ma12@exam.com": "ann@corp.org", "+44 20 7946 0123": "+44 20 7946 0958"}
"""Synthesized fakes: unlike placeholders, a fake may end in characters it starts with
(``m`` of ``.com``, ``+4``...), so its last characters are a possible start of another."""
FAKE_PIECES = ["mia.", "ma12@", "exam", ".com", "m", "+44 ", "20 7946 ", "0123", " ", "x"]
fake_texts = st.lists(  # whole fakes too: often beside a letter, a joiner, another fake
    st.sampled_from([*FAKE_PIECES, ".", "-", *FAKES]),
    min_size=1,
    max_size=12,
).map("".join)


@given(st.lists(fake_texts, min_size=1, max_size=8), st.integers(1, 5))
@settings(max_examples=200, deadline=None)
async def test_fakes_are_restored_across_any_chunking(contents: list[str], size: int) -> None:
    joined = "".join(contents)
    pieces = [joined[at : at + size] for at in range(0, len(joined), size)]
    out = await run(StreamRelay([ReplaceTextHook(FAKES)]), chat_stream(pieces))
    assert chat_text(out) == replace_reference(joined, FAKES)


async def test_a_fake_ending_in_its_own_first_letter_is_restored_one_letter_at_a_time() -> None:
    fake = "morgan.marlowe2133@example.com"
    text = f"Write to {fake} about it."
    out = await run(StreamRelay([ReplaceTextHook({fake: "dana@northwind.example"})]),
                    chat_stream(list(text)))  # fmt: skip
    assert chat_text(out) == "Write to dana@northwind.example about it."


async def test_a_placeholder_over_three_chunks_leaves_no_empty_chunks() -> None:
    # the restored value goes out whole in the first chunk it ends; the chunks that
    # carried only the rest of the placeholder have nothing left to say and are not
    # sent as {"delta": {"content": ""}} (OpenAI sends empty content only in the
    # opening role chunk)
    hook = ReplaceTextHook({"<PII_EMAIL_12345678>": "alice@example.com"})
    pieces = ["Hello <PII_E", "MAIL_1234", "5678> bye"]
    reads = [sse([chunk("", role=True)]), *(sse([chunk(p)]) for p in pieces)]
    out = await run(StreamRelay([hook]), *reads, sse([chunk(finish="stop"), "[DONE]"]))
    deltas = [c["delta"] for e in events_of(out)[:-1] for c in orjson.loads(e.data)["choices"]]
    assert deltas == [
        {"role": "assistant", "content": ""},
        {"content": "Hello "},
        {"content": "alice@example.com bye"},
        {},
    ]


async def test_responses_deltas_emptied_by_a_restoration_are_not_sent() -> None:
    hook = ReplaceTextHook({"<PII_EMAIL_12345678>": "alice@example.com"})
    raw = responses_stream(["Hi <PII_E", "MAIL_1234", "5678>", "!"])
    out = await run(StreamRelay([hook], dialect="responses"), *split(raw, 40))
    events = [orjson.loads(e.data) for e in events_of(out)]
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert deltas == ["Hi ", "alice@example.com", "!"]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))


@given(st.lists(texts, min_size=1, max_size=10))
@settings(max_examples=200, deadline=None)
def test_replace_hook_releases_everything_but_a_possible_token_prefix(contents: list[str]) -> None:
    """Before the stream ends, what waits is at most a possible token prefix (``longest
    token - 1`` characters; a chunk decided in part is split): what was released is
    always the restored text of all but that tail — buffering would fail this."""
    hook = ReplaceTextHook(TOKENS)
    longest = max(len(t) for t in TOKENS)
    fed, released = "", ""
    for content in contents:
        fed += content
        events = hook.on_event(StreamEvent(SseEvent(json.dumps(chunk(content)))))
        released += "".join(e.payload["choices"][0]["delta"]["content"] for e in events)
        bound = longest - 1
        assert any(
            released == replace_reference(fed[: len(fed) - held], TOKENS)
            for held in range(min(bound, len(fed)) + 1)
        ), (fed, released)
    released += "".join(e.payload["choices"][0]["delta"]["content"] for e in hook.on_end())
    assert released == replace_reference(fed, TOKENS)


def tool_chunk(arguments: str, *, tool: int = 0, finish: str | None = None) -> dict[str, Any]:
    call = {"index": tool, "function": {"arguments": arguments}}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": MODEL,
        "choices": [{"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": finish}],
    }


async def test_tool_call_arguments_are_restored_as_json_across_chunks() -> None:
    mapping = {"<PERSON_1a2b>": 'Ann "Nan" O\\Neil'}
    pieces = ['{"to": "<PER', "SON_1a", '2b>", "cc": ', '"<PERSON_1a2b>"}']
    other = ['{"q": "<PERSON_1a2b>"}']
    raw = sse(
        [
            *(tool_chunk(p) for p in pieces),
            *(tool_chunk(p, tool=1) for p in other),
            chunk(finish="tool_calls"),
            "[DONE]",
        ]
    )
    out = await run(StreamRelay([ReplaceTextHook(mapping)]), *split(raw, 7))
    arguments: dict[int, str] = {}
    for event in events_of(out):
        if event.data == "[DONE]":
            continue
        for choice in orjson.loads(event.data)["choices"]:
            for call in choice["delta"].get("tool_calls") or ():
                arguments[call["index"]] = (
                    arguments.get(call["index"], "") + call["function"]["arguments"]
                )
    assert json.loads(arguments[0]) == {"to": 'Ann "Nan" O\\Neil', "cc": 'Ann "Nan" O\\Neil'}
    assert json.loads(arguments[1]) == {"q": 'Ann "Nan" O\\Neil'}


@pytest.mark.parametrize("size", [1, 2, 5])
async def test_streamed_arguments_restore_a_fake_only_where_it_stands_whole(size: int) -> None:
    """An escape next to a fake is read as the character it spells, also when a chunk
    ends inside it: a newline or dash does not glue a name, an escaped letter does."""
    fake = "Morgan Marlowe"
    mapping = {fake: "Dana Whitfield"}
    arguments = json.dumps({"a": f"Hi\n{fake}\u2014ok", "b": f"\u00e9{fake}", "c": f"{fake}s"})
    assert "\\u00e9Morgan" in arguments and "\\u2014" in arguments  # escaped, as sent
    pieces = [arguments[at : at + size] for at in range(0, len(arguments), size)]
    raw = sse([*(tool_chunk(p) for p in pieces), chunk(finish="tool_calls"), "[DONE]"])
    out = await run(StreamRelay([ReplaceTextHook(mapping)]), raw)
    streamed = "".join(
        call["function"]["arguments"]
        for event in events_of(out)[:-1]
        for choice in orjson.loads(event.data)["choices"]
        for call in choice["delta"].get("tool_calls") or ()
    )
    assert json.loads(streamed) == {
        "a": "Hi\nDana Whitfield\u2014ok",
        "b": f"\u00e9{fake}",
        "c": f"{fake}s",
    }


async def test_a_negative_tool_call_index_keeps_the_arguments_apart_from_the_content() -> None:
    # a broken upstream's index -1 must not make the arguments continue the content's
    # text (a placeholder "restored" across the two, its value put in the content)
    call = {"index": -1, "function": {"arguments": 'ITY_1>"}'}}
    rest = chunk()
    rest["choices"][0]["delta"]["tool_calls"] = [call]
    raw = sse([chunk("at <C"), rest, chunk(finish="stop"), "[DONE]"])
    out = await run(StreamRelay([ReplaceTextHook({"<CITY_1>": "Paris"})]), raw)
    assert chat_text(out) == "at <C"
    assert b"Paris" not in out


async def test_a_split_chunk_repeats_no_field_the_client_concatenates() -> None:
    """The held-back rest of a chunk carries only its text: the client joins role, tool
    name and id across deltas, so repeating them would corrupt the answer."""
    opening = chunk(role=True)
    opening["choices"][0]["delta"]["tool_calls"] = [
        {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "<CI'},
        }
    ]
    rest = chunk()
    rest["choices"][0]["delta"]["tool_calls"] = [{"index": 0, "function": {"arguments": 'TY_1>"}'}}]
    text = chunk("Going to <CI", role=True)
    raw = sse([text, chunk("TY_1> now", finish="stop"), opening, rest, chunk(finish="tool_calls")])
    out = await run(StreamRelay([ReplaceTextHook({"<CITY_1>": "Paris"})]), raw)
    roles, names, ids, arguments, content = [], "", "", "", ""
    for event in events_of(out):
        for choice in orjson.loads(event.data)["choices"]:
            delta = choice["delta"]
            roles += [delta["role"]] if "role" in delta else []
            content += delta.get("content") or ""
            for call in delta.get("tool_calls") or ():
                ids += call.get("id", "")
                names += call.get("function", {}).get("name", "")
                arguments += call.get("function", {}).get("arguments", "")
    assert content == "Going to Paris now"
    assert (names, ids, arguments) == ("get_weather", "call_1", '{"city": "Paris"}')
    assert roles == ["assistant", "assistant"]  # one per opening chunk, never repeated


def legacy_chunk(function_call: dict[str, str], finish: str | None = None) -> dict[str, Any]:
    payload = chunk(finish=finish)
    payload["choices"][0]["delta"]["function_call"] = function_call
    return payload


async def test_legacy_function_call_arguments_are_restored_as_json_across_chunks() -> None:
    """A request with ``functions`` gets ``delta.function_call``: its arguments are run by
    the client like a tool call's, so the placeholder goes back there too (escaped)."""
    mapping = {"<PERSON_1a2b>": 'Ann "Nan" O\\Neil'}
    raw = sse(
        [
            legacy_chunk({"name": "send", "arguments": '{"to": "<PER'}),
            legacy_chunk({"arguments": "SON_1a"}),
            legacy_chunk({"arguments": '2b>"}'}),
            chunk(finish="function_call"),
            "[DONE]",
        ]
    )
    for size in (1, 7, len(raw)):
        out = await run(StreamRelay([ReplaceTextHook(mapping)]), *split(raw, size))
        name, arguments, empty = "", "", 0
        for event in events_of(out)[:-1]:
            delta = orjson.loads(event.data)["choices"][0]["delta"]
            call = delta.get("function_call") or {}
            name += call.get("name", "")
            arguments += call.get("arguments", "")
            empty += call == {"arguments": ""}
        assert name == "send"
        assert json.loads(arguments) == {"to": 'Ann "Nan" O\\Neil'}
        assert empty == 0, out  # no chunk left carrying only emptied arguments


def test_legacy_function_call_arguments_are_restored_in_a_whole_answer() -> None:
    mapping = {"<PERSON_1a2b>": 'Ann "Nan" O\\Neil'}
    call = {"name": "send", "arguments": '{"to": "<PERSON_1a2b>"}'}
    message = {"role": "assistant", "content": None, "function_call": call}
    payload = {"object": "chat.completion", "choices": [{"index": 0, "message": message}]}
    assert restore_answer(payload, ReplaceTextHook(mapping)) is True
    assert json.loads(call["arguments"]) == {"to": 'Ann "Nan" O\\Neil'}


@pytest.mark.parametrize("spelling", ["\\u003cPERSON_1a2b\\u003e", "\\u003CPERSON_1a2b\\u003E"])
async def test_a_placeholder_whose_brackets_the_upstream_escaped_is_restored(
    spelling: str,
) -> None:
    """Go's encoding/json (Ollama) and .NET escape ``<`` and ``>`` when they re-encode
    tool-call arguments: the placeholder is still this call's, and goes back."""
    mapping = {"<PERSON_1a2b>": 'Ann "Nan" O\\Neil'}
    arguments = f'{{"to": "{spelling}", "note": "a \\u003c b"}}'
    expected = {"to": 'Ann "Nan" O\\Neil', "note": "a < b"}
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    payload = {"object": "chat.completion", "choices": [{"index": 0, "message": message}]}
    assert restore_answer(payload, ReplaceTextHook(mapping)) is True
    assert json.loads(call["function"]["arguments"]) == expected
    raw = sse([tool_chunk(arguments[at : at + 3]) for at in range(0, len(arguments), 3)])
    out = await run(StreamRelay([ReplaceTextHook(mapping)]), raw + sse([chunk(finish="stop")]))
    sent = "".join(
        call["function"]["arguments"]
        for event in events_of(out)
        for choice in orjson.loads(event.data)["choices"]
        for call in choice["delta"].get("tool_calls") or ()
    )
    assert json.loads(sent) == expected


def without(raw: bytes, *kinds: str) -> bytes:
    """A Responses stream with the events of ``kinds`` left out."""
    kept = [e for e in events_of(raw) if e.event not in kinds]
    return b"".join(f"event: {e.event}\ndata: {e.data}\n\n".encode() for e in kept)


@pytest.mark.parametrize(
    "left_out",
    [
        ("response.output_text.delta",),
        ("response.output_text.delta", "response.output_text.done", "response.content_part.done"),
    ],
    ids=["text-only-in-done-events", "text-only-in-the-item"],
)
async def test_a_responses_text_sent_without_deltas_is_restored(left_out: tuple[str, ...]) -> None:
    """Some Responses servers send a short text whole in its done events (or only in
    the finished item), never as deltas: what the client reads there is restored too."""
    raw = without(responses_stream(["Hi <EMAIL_1a2b>, done."]), *left_out)
    out = await run(
        StreamRelay([ReplaceTextHook({"<EMAIL_1a2b>": "ann@x.org"})], dialect="responses"), raw
    )
    texts = []
    for event in events_of(out):
        payload = orjson.loads(event.data)
        texts += [payload["text"]] if event.event == "response.output_text.done" else []
        texts += [payload["part"]["text"]] if event.event == "response.content_part.done" else []
        if event.event == "response.output_item.done":
            texts.append(payload["item"]["content"][0]["text"])
        if event.event == "response.completed":
            texts.append(payload["response"]["output"][0]["content"][0]["text"])
    assert texts and set(texts) == {"Hi ann@x.org, done."}
