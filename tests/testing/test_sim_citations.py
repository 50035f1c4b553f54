"""Scripted web-search citations: OpenAI's ``url_citation`` shapes, offsets that slice
the quoted passage out of the text the client assembles, streamed where OpenAI sends them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter
from sim_helpers import sse_data

from bastion.testing import SimulatorOptions
from bastion.testing.validate import assert_no_extra, extra_fields

CHUNK_CHARS = SimulatorOptions().stream_chunk_chars  # the longest text delta

EVENTS: TypeAdapter[ResponseStreamEvent] = TypeAdapter(ResponseStreamEvent)
ANSWER = (
    "Revenue grew 12% in the third quarter, driven by cloud services. "
    "Operating margin fell to 18% because of one-off restructuring costs."
)
SOURCES = [
    {"url": "https://news.example.com/q3", "title": "Q3 results", "quote": "grew 12%"},
    {
        "url": "https://filings.example.org/10q",
        "title": "Quarterly filing",
        "quote": "one-off restructuring costs",
    },
]


async def _script(client: httpx.AsyncClient, **reply: Any) -> None:
    response = await client.post("/_sim/script", json={"replies": [reply]})
    assert response.status_code == 200, response.text


async def test_chat_message_carries_url_citations_into_its_content(
    client: httpx.AsyncClient,
) -> None:
    await _script(client, content=ANSWER, citations=SOURCES)
    body = {"model": "gpt-4o-search-preview", "messages": [{"role": "user", "content": "Q3?"}]}
    response = await client.post("/v1/chat/completions", json=body)
    completion = ChatCompletion.model_validate_json(response.content, strict=True)
    assert_no_extra(completion)
    message = completion.choices[0].message
    assert message.content == ANSWER
    annotations = message.annotations or []
    assert [a.type for a in annotations] == ["url_citation", "url_citation"]
    cited = [
        (a.url_citation.url, a.url_citation.title, ANSWER[slice(*_offsets(a))]) for a in annotations
    ]
    assert cited == [(s["url"], s["title"], s["quote"]) for s in SOURCES]


def _offsets(annotation: Any) -> tuple[int, int]:
    return annotation.url_citation.start_index, annotation.url_citation.end_index


async def test_chat_stream_sends_the_citations_in_the_last_chunk(
    client: httpx.AsyncClient,
) -> None:
    """As OpenAI's search models stream them: all at once, in the chunk that carries
    the finish reason, with offsets into the whole content the client assembled."""
    await _script(client, content=ANSWER, citations=SOURCES)
    body = {
        "model": "gpt-4o-search-preview",
        "messages": [{"role": "user", "content": "Q3?"}],
        "stream": True,
    }
    payloads = sse_data((await client.post("/v1/chat/completions", json=body)).content)
    assert payloads[-1] == "[DONE]"
    chunks = [ChatCompletionChunk.model_validate_json(p, strict=True) for p in payloads[:-1]]
    content = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert content == ANSWER
    carrying = [c for c in chunks if (c.choices[0].delta.model_extra or {}).get("annotations")]
    assert carrying == [chunks[-1]]
    assert chunks[-1].choices[0].finish_reason == "stop"
    # the SDK's ChoiceDelta does not declare annotations; nothing else is undeclared
    assert extra_fields(chunks[-1]) == ["ChatCompletionChunk.choices[0].delta.annotations"]
    for chunk in chunks[:-1]:
        assert_no_extra(chunk)
    annotations = (chunks[-1].choices[0].delta.model_extra or {})["annotations"]
    assert [a["type"] for a in annotations] == ["url_citation", "url_citation"]
    quotes = [
        content[a["url_citation"]["start_index"] : a["url_citation"]["end_index"]]
        for a in annotations
    ]
    assert quotes == [s["quote"] for s in SOURCES]
    assert set(annotations[0]["url_citation"]) == {"url", "title", "start_index", "end_index"}


async def test_responses_output_text_carries_flat_url_citations(
    client: httpx.AsyncClient,
) -> None:
    await _script(client, content=ANSWER, citations=SOURCES)
    response = await client.post("/v1/responses", json={"model": "gpt-4.1", "input": "Q3?"})
    parsed = Response.model_validate_json(response.content, strict=True)
    assert_no_extra(parsed)
    part = parsed.output[0].content[0]  # type: ignore[union-attr]
    assert part.type == "output_text" and part.text == ANSWER
    cited = [(a.url, a.title, ANSWER[a.start_index : a.end_index]) for a in part.annotations]
    assert cited == [(s["url"], s["title"], s["quote"]) for s in SOURCES]


async def test_responses_stream_adds_each_citation_after_the_text_it_cites(
    client: httpx.AsyncClient,
) -> None:
    await _script(client, content=ANSWER, citations=SOURCES)
    body = {"model": "gpt-4.1", "input": "Q3?", "stream": True}
    raw = (await client.post("/v1/responses", json=body)).content
    events = []
    for payload in sse_data(raw):
        event = EVENTS.validate_json(payload, strict=True)
        assert_no_extra(event)
        events.append(event)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = ""
    added = []
    for event in events:
        if event.type == "response.output_text.delta":
            text += event.delta
        elif event.type == "response.output_text.annotation.added":
            annotation = event.annotation
            assert annotation.type == "url_citation"
            # the whole cited passage has been sent, by the delta just before this event
            assert len(text) >= annotation.end_index > len(text) - CHUNK_CHARS
            added.append(text[annotation.start_index : annotation.end_index])
            assert event.output_index == 0 and event.content_index == 0
            assert event.annotation_index == len(added) - 1
            assert annotation.url == SOURCES[event.annotation_index]["url"]
    assert added == [s["quote"] for s in SOURCES]
    kinds = [e.type for e in events]
    assert kinds.index("response.output_text.done") > max(
        i for i, kind in enumerate(kinds) if kind == "response.output_text.annotation.added"
    )
    started = next(e for e in events if e.type == "response.content_part.added")
    assert started.part.type == "output_text" and started.part.annotations == []
    completed = events[-1]
    assert completed.type == "response.completed"
    final = completed.response.output[0].content[0]  # type: ignore[union-attr]
    assert [ANSWER[a.start_index : a.end_index] for a in final.annotations] == [  # type: ignore[union-attr]
        s["quote"] for s in SOURCES
    ]


async def test_citations_alone_cite_the_echoed_prompt(client: httpx.AsyncClient) -> None:
    """Without scripted content the model echoes, so a test can cite what the upstream
    received (after the gateway's rewrites)."""
    prompt = "Mail <EMAIL_0a1b2c3d> about the overdue invoice, please."
    source = {"url": "https://crm.example.com/7", "title": "CRM", "quote": "overdue invoice"}
    await _script(client, citations=[source])
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]}
    completion = ChatCompletion.model_validate_json(
        (await client.post("/v1/chat/completions", json=body)).content, strict=True
    )
    (annotation,) = completion.choices[0].message.annotations or []
    assert prompt[slice(*_offsets(annotation))] == "overdue invoice"


async def test_offsets_count_characters_not_bytes_or_utf16_units(
    client: httpx.AsyncClient,
) -> None:
    """Offsets are Python string indices (code points), the unit Bastion moves them in:
    an emoji (two UTF-16 units, four UTF-8 bytes) and accents before the quote count one
    each."""
    text = "Café 🌍 naïve summary: the bridge opened in 1932."
    quote = "the bridge opened"
    await _script(
        client, content=text, citations=[{"url": "https://h.example", "title": "H", "quote": quote}]
    )
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "when?"}]}
    completion = ChatCompletion.model_validate_json(
        (await client.post("/v1/chat/completions", json=body)).content, strict=True
    )
    (annotation,) = completion.choices[0].message.annotations or []
    start, end = _offsets(annotation)
    assert text[start:end] == quote
    before = text[:start]
    assert start == len(before) < len(before.encode("utf-16-le")) // 2 < len(before.encode())


async def test_citations_cut_off_by_max_tokens_are_left_out(client: httpx.AsyncClient) -> None:
    await _script(client, content=ANSWER, citations=SOURCES)
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Q3?"}],
        "max_tokens": 8,
    }
    completion = ChatCompletion.model_validate_json(
        (await client.post("/v1/chat/completions", json=body)).content, strict=True
    )
    message = completion.choices[0].message
    assert completion.choices[0].finish_reason == "length"
    (annotation,) = message.annotations or []
    assert (message.content or "")[slice(*_offsets(annotation))] == SOURCES[0]["quote"]


@pytest.mark.parametrize(
    ("reply", "complaint"),
    [
        (
            {
                "content": ANSWER,
                "citations": [{"url": "https://x", "title": "X", "quote": "absent"}],
            },
            "not in 'content'",
        ),
        ({"refusal": "no", "citations": SOURCES[:1]}, "no 'refusal' or 'tool_calls'"),
        ({"tool_calls": [{"name": "f"}], "citations": SOURCES[:1]}, "no 'refusal' or 'tool_calls'"),
        ({"content": ANSWER, "citations": []}, "non-empty list"),
        (
            {"content": ANSWER, "citations": [{"url": "https://x", "quote": "grew"}]},
            "must be strings",
        ),
        (
            {"content": ANSWER, "citations": [{"url": "", "title": "", "quote": "grew"}]},
            "non-empty 'url'",
        ),
    ],
)
async def test_script_rejects_citations_it_cannot_place(
    client: httpx.AsyncClient, reply: dict[str, Any], complaint: str
) -> None:
    response = await client.post("/_sim/script", json={"replies": [reply]})
    assert response.status_code == 400
    assert complaint in response.json()["error"]["message"]


async def test_an_echo_without_the_quote_is_a_400(client: httpx.AsyncClient) -> None:
    source = {"url": "https://x.example", "title": "X", "quote": "never said"}
    await _script(client, citations=[source])
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    assert "'never said' is not in the answer text" in response.json()["error"]["message"]
