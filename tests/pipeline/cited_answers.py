"""Cited answers for the citation tests: a model's text and the citations it carries,
built into complete and streamed chat and Responses answers, passed through stream
hooks or the relay, and read back the way a client reads them. The tests differ in the
text, the citations and what rewrites the answer; the wire shapes are the same."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from bastion.model import Endpoint
from bastion.pipeline.context import CallContext, IncomingCall
from bastion.pipeline.output_guard import OutputGuard
from bastion.pipeline.response import stream_hooks
from bastion.pipeline.stream import Dialect, StreamEvent, StreamHook, StreamRelay
from bastion.wire.sse import SseParser

MODEL = "gpt-4o-search-preview"  # a model that cites the pages it searched


def span(text: str, words: str, shift: int = 0, length: int | None = None) -> tuple[int, int]:
    """The offsets of ``words`` in ``text``, from ``shift`` characters in, ``length`` long."""
    start = text.index(words) + shift
    return start, start + (len(words) - shift if length is None else length)


@dataclass(frozen=True)
class CitedText:
    """A model's answer text and its citations: (model offsets, the words there after)."""

    text: str
    cited: Sequence[tuple[tuple[int, int], str]]


def url_citation(start: int, end: int, number: int) -> dict[str, Any]:
    """Citation ``number`` over ``start``-``end``; its URL ends in its number."""
    return {
        "start_index": start,
        "end_index": end,
        "url": f"https://docs.example.com/{number}",
        "title": f"Source {number}",
    }


def chat_annotations(
    answer: CitedText, numbers: Sequence[int] | None = None
) -> list[dict[str, Any]]:
    """The chat ``annotations`` for the citations ``numbers`` of ``answer`` (all of them
    when ``numbers`` is not given)."""
    if numbers is None:
        numbers = range(len(answer.cited))
    return [
        {"type": "url_citation", "url_citation": url_citation(*answer.cited[n][0], n)}
        for n in numbers
    ]


def responses_annotations(answer: CitedText) -> list[dict[str, Any]]:
    """The Responses ``annotations`` for every citation of ``answer``."""
    return [
        {"type": "url_citation", **url_citation(*s, n)} for n, (s, _) in enumerate(answer.cited)
    ]


def pieces(text: str, size: int) -> list[str]:
    """``text`` cut into chunks of ``size`` characters, the last one shorter."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def placed(answer: CitedText, chunks: Sequence[str], where: str) -> dict[int, list[int]]:
    """Which citations go out after which chunk: all after the last one ("end"), each
    after the chunk holding its last character ("after") or after the first chunk,
    before most of the text it cites has arrived ("before")."""
    after: dict[int, list[int]] = {}
    ends = [sum(map(len, chunks[: i + 1])) for i in range(len(chunks))]
    for number, ((_, end), _) in enumerate(answer.cited):
        if where == "end":
            position = len(chunks) - 1
        elif where == "after":
            position = next(i for i, stop in enumerate(ends) if stop >= end)
        else:
            position = 0
        after.setdefault(position, []).append(number)
    return after


def chat_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    """One chat stream chunk carrying ``delta``."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def chat_payloads(answer: CitedText, size: int, where: str) -> list[dict[str, Any] | str]:
    """A chat stream of ``answer`` in chunks of ``size``, its citations placed by ``where``."""
    chunks = pieces(answer.text, size)
    citing = placed(answer, chunks, where)
    payloads: list[dict[str, Any] | str] = [chat_chunk({"role": "assistant", "content": ""})]
    for position, piece in enumerate(chunks):
        delta: dict[str, Any] = {"content": piece}
        if position in citing and where != "end":  # on the chunk carrying the text
            delta["annotations"] = chat_annotations(answer, citing[position])
        payloads.append(chat_chunk(delta))
    if where == "end":  # as gpt-4o-search-preview: a last delta with only annotations
        payloads.append(chat_chunk({"annotations": chat_annotations(answer)}))
    return [*payloads, chat_chunk({}, finish="stop"), "[DONE]"]


def chat_client_view(payloads: Sequence[Any]) -> tuple[str, list[dict[str, Any]]]:
    """What a chat client reads: the text of the deltas and the citations they carry."""
    text, citations = "", []
    for payload in payloads:
        if isinstance(payload, dict):
            for choice in payload["choices"]:
                text += choice["delta"].get("content") or ""
                citations += [a["url_citation"] for a in choice["delta"].get("annotations") or ()]
    return text, citations


def responses_payloads(answer: CitedText, size: int, where: str) -> list[dict[str, Any]]:
    """A Responses stream of ``answer`` in deltas of ``size``, an ``annotation.added``
    event for each citation placed by ``where``, then the done events repeating it all."""
    chunks = pieces(answer.text, size)
    citing = placed(answer, chunks, where)
    place = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    annotations = responses_annotations(answer)
    part = {"type": "output_text", "text": answer.text, "annotations": annotations}
    item = {"id": "msg_1", "type": "message", "role": "assistant", "content": [part]}
    response = {"id": "resp_1", "object": "response", "created_at": 5, "model": MODEL}
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": {**response, "status": "in_progress", "output": []}}),
    ]
    for position, piece in enumerate(chunks):
        events.append(("response.output_text.delta", {**place, "delta": piece}))
        events += [
            (
                "response.output_text.annotation.added",
                {**place, "annotation_index": number, "annotation": annotations[number]},
            )
            for number in citing.get(position, ())
        ]
    events += [
        ("response.output_text.done", {**place, "text": answer.text}),
        ("response.content_part.done", {**place, "part": part}),
        ("response.output_item.done", {"output_index": 0, "item": item}),
        ("response.completed", {"response": {**response, "status": "completed", "output": [item]}}),
    ]
    return [{"type": kind, "sequence_number": n, **body} for n, (kind, body) in enumerate(events)]


@dataclass(frozen=True)
class ResponsesView:
    """What a Responses client reads: the text of the deltas with the citations of the
    annotation events, and the part each done event repeats, in the order they came."""

    text: str
    citations: list[dict[str, Any]]
    repeated: list[dict[str, Any]]


def responses_client_view(payloads: Sequence[dict[str, Any]]) -> ResponsesView:
    """Read a Responses stream as a client does."""
    view = ResponsesView("", [], [])
    for payload in payloads:
        kind = payload["type"]
        if kind == "response.output_text.delta":
            view = ResponsesView(view.text + payload["delta"], view.citations, view.repeated)
        elif kind == "response.output_text.annotation.added":
            view.citations.append(payload["annotation"])
        elif kind == "response.content_part.done":
            view.repeated.append(payload["part"])
        elif kind == "response.output_item.done":
            view.repeated.append(payload["item"]["content"][0])
        elif kind == "response.completed":
            view.repeated.append(payload["response"]["output"][0]["content"][0])
    return view


def assert_citations_cover(
    text: str, citations: Sequence[Mapping[str, Any]], words: Sequence[str]
) -> None:
    """Every citation is there, and citation ``n`` covers exactly ``words[n]`` of ``text``."""
    assert len(citations) == len(words)
    for citation in citations:
        number = int(citation["url"].rsplit("/", 1)[1])
        covered = text[citation["start_index"] : citation["end_index"]]
        assert covered == words[number], citation["title"]


def as_events(payloads: Sequence[dict[str, Any] | str]) -> list[StreamEvent]:
    """The payloads as the stream events the relay hands its hooks."""
    events = []
    for payload in payloads:
        if isinstance(payload, str):  # [DONE]
            events.append(StreamEvent(SseParser().feed(f"data: {payload}\n\n".encode())[0]))
        else:
            kind = payload.get("type") if "choices" not in payload else None
            events.append(StreamEvent.from_payload(json.loads(json.dumps(payload)), event=kind))
    return events


def through_hook(hook: StreamHook, payloads: Sequence[dict[str, Any] | str]) -> list[Any]:
    """The payloads ``hook`` lets out, comments left aside, once the stream has ended."""
    out: list[StreamEvent] = []
    for event in as_events(payloads):
        out += hook.on_event(event)
    out += hook.on_end()
    return [event.payload for event in out if not event.is_comment]


def sse(payloads: Sequence[dict[str, Any] | str]) -> bytes:
    """The payloads as an upstream sends them: chat as bare data, Responses with events."""
    raw = ""
    for payload in payloads:
        if isinstance(payload, str):
            raw += f"data: {payload}\n\n"
        elif "choices" in payload:
            raw += f"data: {json.dumps(payload)}\n\n"
        else:
            raw += f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n"
    return raw.encode()


@dataclass(frozen=True)
class Applied:
    """A transform's record that it issued the stand-ins in ``restorations``."""

    restorations: Mapping[str, str]
    json_answer: bool = False


async def relayed(
    raw: bytes,
    endpoint: Endpoint,
    applied: Applied,
    guard: OutputGuard | None = None,
    size: int = 61,
) -> list[Any]:
    """The payloads a client gets when the relay, with the hooks a stream gets, passes
    ``raw`` on, arriving in pieces of ``size`` bytes."""
    ctx = CallContext(IncomingCall(endpoint, b"{}", None, "req_1", 0.0), model_used=MODEL)
    hooks, _ = stream_hooks(ctx, {"stream_options": {"include_usage": True}}, applied, guard)
    relay = StreamRelay(hooks, dialect="chat" if endpoint is Endpoint.CHAT else "responses")

    async def upstream() -> AsyncIterator[bytes]:
        for start in range(0, len(raw), size):
            yield raw[start : start + size]

    parser = SseParser()
    events = parser.feed(b"".join([piece async for piece in relay.relay(upstream())]))
    return [orjson.loads(e.data) for e in events + parser.finish() if e.data and e.data != "[DONE]"]


async def relayed_whole(raw: bytes, hook: StreamHook, dialect: Dialect) -> bytes:
    """What the relay sends on when ``raw`` arrives in one piece and only ``hook`` runs."""
    relay = StreamRelay([hook], dialect=dialect)

    async def upstream() -> AsyncIterator[bytes]:
        yield raw

    return b"".join([piece async for piece in relay.relay(upstream())])
