"""Streamed citations keep pointing at the words the model cited once stand-ins are
restored: chat ``delta.annotations`` and Responses ``annotation.added`` events (and the
annotations Responses repeats in its done events), however the text is split and
wherever the citation arrives: after the whole text, right after the words it cites,
or before them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from bastion.model import Endpoint
from bastion.pipeline.context import CallContext, IncomingCall
from bastion.pipeline.response import stream_hooks
from bastion.pipeline.stream import StreamEvent, StreamRelay
from bastion.pipeline.stream_hooks import ReplaceTextHook
from bastion.wire.sse import SseParser

MODEL = "gpt-4o-search-preview"
EMAIL = "<EMAIL_1a2b3c4d>"
FAKE = "morgan.marlowe2133@example.com"
ORIGINALS = {EMAIL: "dana@northwind.example", FAKE: "Dana Whitfield <dw@northwind.example>"}
TEXT = f"Write to {EMAIL} (see the guide) or to {FAKE}, whose policy applies."


def at(words: str, shift: int = 0, length: int | None = None) -> tuple[int, int]:
    start = TEXT.index(words) + shift
    return start, start + (len(words) - shift if length is None else length)


# (model offsets, the words the client must read there after restoration)
CITED: list[tuple[tuple[int, int], str]] = [
    (at("Write"), "Write"),  # before any restored value
    (at("the guide"), "the guide"),  # after one
    (at("policy"), "policy"),  # after two
    (at(EMAIL), ORIGINALS[EMAIL]),  # the stand-in itself
    (at(EMAIL, 3, 2), ORIGINALS[EMAIL]),  # starting and ending inside it
    (at(f"to {EMAIL} (see"), f"to {ORIGINALS[EMAIL]} (see"),  # across it
    (at(f"{FAKE}, whose policy", 5), f"{ORIGINALS[FAKE]}, whose policy"),  # from inside
]
RESTORED = TEXT.replace(EMAIL, ORIGINALS[EMAIL]).replace(FAKE, ORIGINALS[FAKE])


def url_citation(start: int, end: int, number: int) -> dict[str, Any]:
    return {
        "start_index": start,
        "end_index": end,
        "url": f"https://docs.example.com/{number}",
        "title": f"Source {number}",
    }


def pieces(size: int) -> list[str]:
    return [TEXT[i : i + size] for i in range(0, len(TEXT), size)]


def placed(chunks: Sequence[str], where: str) -> dict[int, list[int]]:
    """Which citations go out after which chunk: all after the last one ("end"), each
    after the chunk holding its last character ("after") or after the first chunk,
    before most of the text it cites has arrived ("before")."""
    after: dict[int, list[int]] = {}
    ends = [sum(map(len, chunks[: i + 1])) for i in range(len(chunks))]
    for number, ((_, end), _) in enumerate(CITED):
        if where == "end":
            position = len(chunks) - 1
        elif where == "after":
            position = next(i for i, stop in enumerate(ends) if stop >= end)
        else:
            position = 0
        after.setdefault(position, []).append(number)
    return after


# -- chat ---------------------------------------------------------------------------


def chat_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def chat_annotations(numbers: Sequence[int]) -> list[dict[str, Any]]:
    return [
        {"type": "url_citation", "url_citation": url_citation(*CITED[n][0], n)} for n in numbers
    ]


def chat_payloads(size: int, where: str) -> list[dict[str, Any] | str]:
    chunks = pieces(size)
    citing = placed(chunks, where)
    payloads: list[dict[str, Any] | str] = [chat_chunk({"role": "assistant", "content": ""})]
    for position, text in enumerate(chunks):
        delta: dict[str, Any] = {"content": text}
        if position in citing and where != "end":  # on the chunk carrying the text
            delta["annotations"] = chat_annotations(citing[position])
        payloads.append(chat_chunk(delta))
    if where == "end":  # as gpt-4o-search-preview: a last delta with only annotations
        payloads.append(chat_chunk({"annotations": chat_annotations(range(len(CITED)))}))
    payloads += [chat_chunk({}, finish="stop"), "[DONE]"]
    return payloads


def chat_client_view(payloads: Sequence[Any]) -> tuple[str, list[dict[str, Any]]]:
    text, citations = "", []
    for payload in payloads:
        if not isinstance(payload, dict):
            continue
        for choice in payload["choices"]:
            text += choice["delta"].get("content") or ""
            for annotation in choice["delta"].get("annotations") or ():
                citations.append(annotation["url_citation"])
    return text, citations


def run_hook(events: Sequence[StreamEvent]) -> list[Any]:
    hook = ReplaceTextHook(ORIGINALS)
    out: list[StreamEvent] = []
    for event in events:
        out += hook.on_event(event)
    out += hook.on_end()
    return [event.payload for event in out]


def as_events(payloads: Sequence[dict[str, Any] | str]) -> list[StreamEvent]:
    events = []
    for payload in payloads:
        if isinstance(payload, str):  # [DONE]
            parsed = SseParser().feed(f"data: {payload}\n\n".encode())
            events.append(StreamEvent(parsed[0]))
        else:
            kind = payload.get("type") if "choices" not in payload else None
            events.append(StreamEvent.from_payload(json.loads(json.dumps(payload)), event=kind))
    return events


def assert_cited(text: str, citations: Sequence[Mapping[str, Any]]) -> None:
    assert text == RESTORED
    assert len(citations) == len(CITED)
    for citation in citations:
        number = int(citation["url"].rsplit("/", 1)[1])
        words = text[citation["start_index"] : citation["end_index"]]
        assert words == CITED[number][1], citation["title"]


@pytest.mark.parametrize("where", ["end", "after", "before"])
@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 200])
def test_chat_stream_citations_cover_the_cited_words_after_restoration(
    size: int, where: str
) -> None:
    payloads = chat_payloads(size, where)
    out = run_hook(as_events(payloads))
    assert_cited(*chat_client_view(out))


def test_a_chat_citation_waits_for_the_stand_in_it_ends_in() -> None:
    """A citation that arrives while the stand-in it ends in is only partly streamed
    goes out after it, its end moved past the whole restored value."""
    start = CITED[3][0][0]
    hook = ReplaceTextHook(ORIGINALS)
    first = chat_chunk({"content": TEXT[: start + 4]})
    citing = chat_chunk({"annotations": chat_annotations([3])})
    sent = [e.payload for e in hook.on_event(StreamEvent.from_payload(first))]
    assert sent == [chat_chunk({"content": TEXT[:start]})]  # the stand-in's start waits
    assert hook.on_event(StreamEvent.from_payload(citing)) == []  # so does the citation
    last = chat_chunk({"content": TEXT[start + 4 :]})
    sent += [e.payload for e in hook.on_event(StreamEvent.from_payload(last))]
    text, citations = chat_client_view(sent)
    assert text == RESTORED and len(citations) == 1
    assert text[citations[0]["start_index"] : citations[0]["end_index"]] == ORIGINALS[EMAIL]


def test_a_citation_before_any_restored_value_goes_out_with_its_text_unmoved() -> None:
    payloads = chat_payloads(4, "after")
    cited = next(i for i, p in enumerate(payloads) if "annotations" in str(p))
    hook = ReplaceTextHook(ORIGINALS)
    out: list[StreamEvent] = []
    for event in as_events(payloads[: cited + 1]):
        out += hook.on_event(event)
    text, citations = chat_client_view([event.payload for event in out])
    assert text == TEXT[: sum(map(len, pieces(4)[:cited]))]  # nothing waits
    assert [(c["start_index"], c["end_index"]) for c in citations] == [CITED[0][0]]


# -- Responses ----------------------------------------------------------------------


def responses_payloads(size: int, where: str) -> list[dict[str, Any]]:
    chunks = pieces(size)
    citing = placed(chunks, where)
    place = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    annotations = [
        {"type": "url_citation", **url_citation(*s, n)} for n, (s, _) in enumerate(CITED)
    ]
    part = {"type": "output_text", "text": TEXT, "annotations": annotations}
    item = {"id": "msg_1", "type": "message", "role": "assistant", "content": [part]}
    response = {"id": "resp_1", "object": "response", "created_at": 5, "model": MODEL}
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": {**response, "status": "in_progress", "output": []}}),
    ]
    for position, text in enumerate(chunks):
        events.append(("response.output_text.delta", {**place, "delta": text}))
        for number in citing.get(position, ()):
            events.append(
                (
                    "response.output_text.annotation.added",
                    {**place, "annotation_index": number, "annotation": annotations[number]},
                )
            )
    events += [
        ("response.output_text.done", {**place, "text": TEXT}),
        ("response.content_part.done", {**place, "part": part}),
        ("response.output_item.done", {"output_index": 0, "item": item}),
        ("response.completed", {"response": {**response, "status": "completed", "output": [item]}}),
    ]
    return [{"type": kind, "sequence_number": n, **body} for n, (kind, body) in enumerate(events)]


def responses_client_view(payloads: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What a client reads: the text from the deltas with the citations from the
    annotation events, and the part each done event repeats."""
    view: dict[str, Any] = {"streamed": ["", []]}
    for payload in payloads:
        kind = payload["type"]
        if kind == "response.output_text.delta":
            view["streamed"][0] += payload["delta"]
        elif kind == "response.output_text.annotation.added":
            view["streamed"][1].append(payload["annotation"])
        elif kind == "response.content_part.done":
            view[kind] = payload["part"]
        elif kind == "response.output_item.done":
            view[kind] = payload["item"]["content"][0]
        elif kind == "response.completed":
            view[kind] = payload["response"]["output"][0]["content"][0]
    return view


def assert_responses_cited(payloads: Sequence[dict[str, Any]]) -> None:
    view = responses_client_view(payloads)
    assert_cited(*view.pop("streamed"))
    assert len(view) == 3
    for part in view.values():
        assert_cited(part["text"], part["annotations"])


@pytest.mark.parametrize("where", ["end", "after", "before"])
@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 200])
def test_responses_stream_citations_cover_the_cited_words_after_restoration(
    size: int, where: str
) -> None:
    payloads = responses_payloads(size, where)
    out = run_hook(as_events(payloads))
    assert_responses_cited(out)
    kinds = [p["type"] for p in out if p["type"] != "response.output_text.delta"]
    expected = [p["type"] for p in payloads if p["type"] != "response.output_text.delta"]
    assert kinds == expected  # held, never reordered or dropped


# -- through the relay, with the hooks a stream gets ----------------------------------


@dataclass(frozen=True)
class Applied:
    restorations: Mapping[str, str] = field(default_factory=lambda: ORIGINALS)
    json_answer: bool = False


def sse(payloads: Sequence[dict[str, Any] | str]) -> bytes:
    raw = ""
    for payload in payloads:
        if isinstance(payload, str):
            raw += f"data: {payload}\n\n"
        elif "choices" in payload:
            raw += f"data: {json.dumps(payload)}\n\n"
        else:
            raw += f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n"
    return raw.encode()


async def relayed(raw: bytes, endpoint: Endpoint, size: int) -> list[Any]:
    ctx = CallContext(IncomingCall(endpoint, b"{}", None, "req_1", 0.0), model_used=MODEL)
    hooks, _ = stream_hooks(ctx, {"stream_options": {"include_usage": True}}, Applied())  # type: ignore[arg-type]
    dialect = "chat" if endpoint is Endpoint.CHAT else "responses"
    relay = StreamRelay(hooks, dialect=dialect)

    async def upstream() -> AsyncIterator[bytes]:
        for at in range(0, len(raw), size):
            yield raw[at : at + size]

    out = b"".join([piece async for piece in relay.relay(upstream())])
    parser = SseParser()
    events = parser.feed(out) + parser.finish()
    return [orjson.loads(e.data) for e in events if e.data and e.data != "[DONE]"]


@pytest.mark.parametrize("size", [7, 61, 100_000])
async def test_a_relayed_chat_stream_moves_its_citations(size: int) -> None:
    out = await relayed(sse(chat_payloads(3, "after")), Endpoint.CHAT, size)
    assert_cited(*chat_client_view(out))


@pytest.mark.parametrize("size", [7, 61, 100_000])
async def test_a_relayed_responses_stream_moves_its_citations(size: int) -> None:
    out = await relayed(sse(responses_payloads(3, "before")), Endpoint.RESPONSES, size)
    assert_responses_cited(out)


async def test_a_stream_with_nothing_restored_keeps_its_citation_events_byte_for_byte() -> None:
    raw = sse(responses_payloads(200, "after"))  # the text whole in one delta, then citations
    raw = raw.replace(EMAIL.encode(), b"[EMAIL]").replace(FAKE.encode(), b"x" * len(FAKE))
    relay = StreamRelay([ReplaceTextHook(ORIGINALS)], dialect="responses")

    async def upstream() -> AsyncIterator[bytes]:
        yield raw

    assert b"".join([piece async for piece in relay.relay(upstream())]) == raw
