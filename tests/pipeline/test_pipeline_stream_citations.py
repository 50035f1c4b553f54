"""Streamed citations keep pointing at the words the model cited once stand-ins are
restored: chat ``delta.annotations`` and Responses ``annotation.added`` events (and the
annotations Responses repeats in its done events), however the text is split and
wherever the citation arrives: after the whole text, right after the words it cites,
or before them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from tests.pipeline.cited_answers import (
    Applied,
    CitedText,
    as_events,
    assert_citations_cover,
    chat_annotations,
    chat_chunk,
    chat_client_view,
    chat_payloads,
    pieces,
    relayed,
    relayed_whole,
    responses_client_view,
    responses_payloads,
    span,
    sse,
    through_hook,
)

from bastion.model import Endpoint
from bastion.pipeline.stream import StreamEvent
from bastion.pipeline.stream_hooks import ReplaceTextHook

EMAIL = "<EMAIL_1a2b3c4d>"
FAKE = "morgan.marlowe2133@example.com"
ORIGINALS = {EMAIL: "dana@northwind.example", FAKE: "Dana Whitfield <dw@northwind.example>"}
TEXT = f"Write to {EMAIL} (see the guide) or to {FAKE}, whose policy applies."


def at(words: str, shift: int = 0, length: int | None = None) -> tuple[int, int]:
    return span(TEXT, words, shift, length)


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
ANSWER = CitedText(TEXT, CITED)
RESTORED = TEXT.replace(EMAIL, ORIGINALS[EMAIL]).replace(FAKE, ORIGINALS[FAKE])


def assert_cited(text: str, citations: Sequence[Mapping[str, Any]]) -> None:
    assert text == RESTORED
    assert_citations_cover(text, citations, [words for _, words in CITED])


# -- chat ---------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["end", "after", "before"])
@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 200])
def test_chat_stream_citations_cover_the_cited_words_after_restoration(
    size: int, where: str
) -> None:
    payloads = chat_payloads(ANSWER, size, where)
    out = through_hook(ReplaceTextHook(ORIGINALS), payloads)
    assert_cited(*chat_client_view(out))


def test_a_chat_citation_waits_for_the_stand_in_it_ends_in() -> None:
    """A citation that arrives while the stand-in it ends in is only partly streamed
    goes out after it, its end moved past the whole restored value."""
    start = CITED[3][0][0]
    hook = ReplaceTextHook(ORIGINALS)
    first = chat_chunk({"content": TEXT[: start + 4]})
    citing = chat_chunk({"annotations": chat_annotations(ANSWER, [3])})
    sent = [e.payload for e in hook.on_event(StreamEvent.from_payload(first))]
    assert sent == [chat_chunk({"content": TEXT[:start]})]  # the stand-in's start waits
    assert hook.on_event(StreamEvent.from_payload(citing)) == []  # so does the citation
    last = chat_chunk({"content": TEXT[start + 4 :]})
    sent += [e.payload for e in hook.on_event(StreamEvent.from_payload(last))]
    text, citations = chat_client_view(sent)
    assert text == RESTORED and len(citations) == 1
    assert text[citations[0]["start_index"] : citations[0]["end_index"]] == ORIGINALS[EMAIL]


def test_a_citation_before_any_restored_value_goes_out_with_its_text_unmoved() -> None:
    payloads = chat_payloads(ANSWER, 4, "after")
    cited = next(i for i, p in enumerate(payloads) if "annotations" in str(p))
    hook = ReplaceTextHook(ORIGINALS)
    out: list[StreamEvent] = []
    for event in as_events(payloads[: cited + 1]):
        out += hook.on_event(event)
    text, citations = chat_client_view([event.payload for event in out])
    assert text == TEXT[: sum(map(len, pieces(TEXT, 4)[:cited]))]  # nothing waits
    assert [(c["start_index"], c["end_index"]) for c in citations] == [CITED[0][0]]


# -- Responses ----------------------------------------------------------------------


def assert_responses_cited(payloads: Sequence[dict[str, Any]]) -> None:
    view = responses_client_view(payloads)
    assert_cited(view.text, view.citations)
    assert len(view.repeated) == 3
    for part in view.repeated:
        assert_cited(part["text"], part["annotations"])


@pytest.mark.parametrize("where", ["end", "after", "before"])
@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 200])
def test_responses_stream_citations_cover_the_cited_words_after_restoration(
    size: int, where: str
) -> None:
    payloads = responses_payloads(ANSWER, size, where)
    out = through_hook(ReplaceTextHook(ORIGINALS), payloads)
    assert_responses_cited(out)
    kinds = [p["type"] for p in out if p["type"] != "response.output_text.delta"]
    expected = [p["type"] for p in payloads if p["type"] != "response.output_text.delta"]
    assert kinds == expected  # held, never reordered or dropped


# -- through the relay, with the hooks a stream gets ----------------------------------


@pytest.mark.parametrize("size", [7, 61, 100_000])
async def test_a_relayed_chat_stream_moves_its_citations(size: int) -> None:
    raw = sse(chat_payloads(ANSWER, 3, "after"))
    out = await relayed(raw, Endpoint.CHAT, Applied(ORIGINALS), size=size)
    assert_cited(*chat_client_view(out))


@pytest.mark.parametrize("size", [7, 61, 100_000])
async def test_a_relayed_responses_stream_moves_its_citations(size: int) -> None:
    raw = sse(responses_payloads(ANSWER, 3, "before"))
    out = await relayed(raw, Endpoint.RESPONSES, Applied(ORIGINALS), size=size)
    assert_responses_cited(out)


async def test_a_stream_with_nothing_restored_keeps_its_citation_events_byte_for_byte() -> None:
    # the text whole in one delta, then citations
    raw = sse(responses_payloads(ANSWER, 200, "after"))
    raw = raw.replace(EMAIL.encode(), b"[EMAIL]").replace(FAKE.encode(), b"x" * len(FAKE))
    assert await relayed_whole(raw, ReplaceTextHook(ORIGINALS), "responses") == raw
