"""Fuzz: the SSE relay. Upstream event streams cut at arbitrary byte boundaries, mixed
with garbage (bytes that are not UTF-8, lines without a field, JSON that is not an
event, stray CRs, missing blank lines or ``[DONE]``) go through the relay with the
hooks a redacting policy installs. Each stream either relays to a client stream that
parses as SSE, or stops with a Bastion error (an upstream failure the gateway turns
into a proper ending) — never another exception. An event larger than the limit is
refused, and refusing it keeps memory near the limit, whatever its size."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.errors import BastionError
from bastion.pipeline.stream import StreamRelay
from bastion.pipeline.stream_hooks import ModelRewriteHook, ReplaceTextHook, UsageObserver
from bastion.wire.sse import SseEventTooLarge, SseParser
from tests.fuzz.budget import fuzz

LIMIT = 4096  # max_event_bytes in these relays: garbage past it must be refused


def chunk(text: str) -> str:
    body = {"id": "c1", "object": "chat.completion.chunk", "model": "m", "created": 1}
    body["choices"] = [{"index": 0, "delta": {"content": text}, "finish_reason": None}]
    return json.dumps(body, ensure_ascii=False)


PIECES = st.one_of(
    st.text(max_size=30).map(lambda t: f"data: {chunk(t)}\n\n".encode(errors="surrogatepass")),
    st.sampled_from(
        [
            b"data: [DONE]\n\n",
            b"data: {not json\n\n",
            b"data: []\n\n",
            b'data: {"choices": "x"}\n\n',
            b'data: {"choices": [{"delta": {"content": 5}}]}\n\n',
            b'data: {"choices": [], "usage": {"prompt_tokens": -1}}\n\n',
            b": keep-alive\n\n",
            b"event: response.output_text.delta\n",
            b"retry: nope\n",
            b"\r",
            b"\n",
            b"data:\n\n",
            b"\xef\xbb\xbf",
            b"\xff\xfe\xfd",
            b"data: <EMAIL_1a2b",
            f"data: {chunk('<EMAIL_1a2b3c4d> and <PH')}\n\n".encode(),
        ]
    ),
    st.binary(max_size=40),
)


@st.composite
def upstream(draw: st.DrawFn) -> list[bytes]:
    raw = b"".join(draw(st.lists(PIECES, max_size=25)))
    cuts = sorted(draw(st.lists(st.integers(0, len(raw)), max_size=12)))
    return [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]


async def feed(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def relay() -> StreamRelay:
    return StreamRelay(
        [
            ReplaceTextHook({"<EMAIL_1a2b3c4d>": "ann@example.com", "<PH_1>": "+41 1"}),
            ModelRewriteHook("gpt-4o-mini"),
            UsageObserver(),
        ],
        max_event_bytes=LIMIT,
    )


@fuzz(1500)
@given(parts=upstream())
async def test_any_upstream_stream_relays_cleanly_or_stops_with_a_bastion_error(
    parts: list[bytes],
) -> None:
    out: list[bytes] = []
    try:
        async for piece in relay().relay(feed(parts)):
            out.append(piece)
    except BastionError:
        pass  # the gateway ends the client stream properly (tests/e2e stream faults)
    sent = b"".join(out)
    assert not sent or sent.endswith(b"\n\n"), sent[-80:]  # whole events only
    parser = SseParser()
    parser.feed(sent)
    parser.finish()
    if b"[DONE]" not in b"".join(parts):
        assert b"data: [DONE]" not in sent  # never made up


@pytest.mark.parametrize("size", [5 << 20, 50 << 20], ids=["5MB", "50MB"])
async def test_a_huge_event_is_refused_in_memory_near_the_limit(size: int) -> None:
    piece = 64 << 10

    async def huge() -> AsyncIterator[bytes]:
        yield f"data: {chunk('first')}\n\n".encode()
        yield b"data: "
        for _ in range(size // piece):
            yield b"x" * piece

    tracemalloc.start()
    try:
        with pytest.raises(SseEventTooLarge):
            async for _ in StreamRelay(max_event_bytes=1 << 20).relay(huge()):
                pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak  # the limit (1 MiB) and a few chunks, not the event
