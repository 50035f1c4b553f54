"""Streaming through the Router: chunks, timeouts, no retry after bytes, cancellation."""

from __future__ import annotations

import asyncio
import time

import pytest
from providers_fakes import (
    CHAT_OK,
    FakeUpstream,
    bastion_config,
    delayed,
    json_answer,
    provider,
    sse_answer,
)

from bastion.errors import InvalidRequest, UpstreamFailed
from bastion.model import Endpoint
from bastion.providers import UpstreamStream

BODY = {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "x"}]}
EVENTS = [b'data: {"n": 1}\n\n', b'data: {"n": 2}\n\n', b"data: [DONE]\n\n"]


async def collect(stream: UpstreamStream) -> bytes:
    async with stream:
        return b"".join([chunk async for chunk in stream.chunks()])


async def test_stream_delivers_all_bytes(upstream: FakeUpstream, make_router):
    upstream.script = [sse_answer(EVENTS, gap_s=0.01)]
    router = await make_router(bastion_config({"p1": provider(upstream.base_url)}, [("p1", "m")]))
    stream = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=True)
    assert isinstance(stream, UpstreamStream)
    assert stream.status == 200
    assert stream.headers["content-type"] == "text/event-stream"
    assert stream.first_byte_ms > 0
    assert await collect(stream) == b"".join(EVENTS)
    assert upstream.seen[0].headers["accept"] == "text/event-stream"
    assert upstream.seen[0].body["model"] == "m"


async def test_json_200_for_a_stream_is_retried_as_upstream_error(upstream, make_router):
    upstream.script = [json_answer(200, CHAT_OK)] * 3
    router = await make_router(bastion_config({"p1": provider(upstream.base_url)}, [("p1", "m")]))
    with pytest.raises(UpstreamFailed) as info:
        await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=True)
    assert (info.value.status, info.value.code) == (502, "upstream_error")
    assert len(upstream.seen) == 3


async def test_first_byte_timeout_is_retried_then_504(upstream, make_router):
    slow = delayed(0.6, json_answer(200, CHAT_OK))
    upstream.script = [slow, slow]
    config = provider(upstream.base_url, timeouts={"first_byte_s": 0.2}, retry={"max_attempts": 2})
    router = await make_router(bastion_config({"p1": config}, [("p1", "m")]))
    started = time.monotonic()
    with pytest.raises(UpstreamFailed) as info:
        await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    assert (info.value.status, info.value.code) == (504, "upstream_timeout")
    assert len(upstream.seen) == 2
    assert time.monotonic() - started < 1.0


async def test_stream_silent_before_first_event_is_retried(upstream, make_router):
    upstream.script = [sse_answer(EVENTS, first_delay_s=0.6), sse_answer(EVENTS)]
    config = provider(upstream.base_url, timeouts={"first_byte_s": 0.2})
    router = await make_router(bastion_config({"p1": config}, [("p1", "m")]))
    stream = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=True)
    assert stream.attempts == 2
    assert await collect(stream) == b"".join(EVENTS)


async def test_idle_gap_mid_stream_raises_timeout_and_is_not_retried(upstream, make_router):
    upstream.script = [sse_answer(EVENTS, stall_after=1, stall_s=1.0)]
    config = provider(upstream.base_url, timeouts={"idle_s": 0.2})
    router = await make_router(bastion_config({"p1": config}, [("p1", "m")]))
    stream = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=True)
    received: list[bytes] = []
    started = time.monotonic()
    with pytest.raises(UpstreamFailed) as info:
        async with stream:
            async for chunk in stream.chunks():
                received.append(chunk)
    assert (info.value.status, info.value.code) == (504, "upstream_timeout")
    assert b"".join(received) == EVENTS[0]
    assert 0.15 < time.monotonic() - started < 0.9
    assert len(upstream.seen) == 1


async def test_drop_mid_stream_raises_upstream_error_without_retry(upstream, make_router):
    upstream.script = [sse_answer(EVENTS, drop_after=1, gap_s=0.02)]
    router = await make_router(bastion_config({"p1": provider(upstream.base_url)}, [("p1", "m")]))
    stream = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=True)
    with pytest.raises(UpstreamFailed) as info:
        await collect(stream)
    assert (info.value.status, info.value.code) == (502, "upstream_error")
    assert len(upstream.seen) == 1


async def test_total_deadline_ends_a_long_stream(upstream, make_router):
    upstream.script = [sse_answer(EVENTS, gap_s=0.05, forever=True)]
    config = provider(upstream.base_url, timeouts={"total_s": 0.4})
    router = await make_router(bastion_config({"p1": config}, [("p1", "m")]))
    stream = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=True)
    started = time.monotonic()
    with pytest.raises(UpstreamFailed) as info:
        await collect(stream)
    assert info.value.code == "upstream_timeout"
    assert time.monotonic() - started < 1.5


async def test_aclose_closes_the_upstream_connection(upstream, make_router):
    upstream.script = [sse_answer(EVENTS, gap_s=0.02, forever=True, upstream=upstream)]
    router = await make_router(bastion_config({"p1": provider(upstream.base_url)}, [("p1", "m")]))
    stream = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=True)
    chunks = stream.chunks()
    assert await anext(chunks)
    await stream.aclose()
    await asyncio.wait_for(upstream.disconnected.wait(), timeout=2.0)
    assert upstream.disconnected.is_set()


async def test_chunks_can_only_be_iterated_once(upstream, make_router):
    upstream.script = [sse_answer(EVENTS)]
    router = await make_router(bastion_config({"p1": provider(upstream.base_url)}, [("p1", "m")]))
    stream = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=True)
    await collect(stream)
    with pytest.raises(RuntimeError):
        await anext(stream.chunks())


async def test_a_stream_that_opens_with_an_error_event_falls_back(upstream, backup, make_router):
    # nothing has reached the caller yet: an upstream whose stream starts with an error
    # is a failed attempt (retried, then the next target), not a 200 to relay
    opening_error = b'data: {"error": {"message": "overloaded sk-leak1234567", "code": null}}\n\n'
    upstream.script = [sse_answer([opening_error])] * 3
    backup.script = [sse_answer(EVENTS)]
    config = bastion_config(
        {"p1": provider(upstream.base_url), "p2": provider(backup.base_url)},
        [("p1", "m1"), ("p2", "m2")],
    )
    router = await make_router(config)
    stream = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=True)
    assert isinstance(stream, UpstreamStream) and stream.provider == "p2"
    assert await collect(stream) == b"".join(EVENTS)
    assert len(upstream.seen) == 3


@pytest.mark.parametrize(
    "opening",
    [
        b'data: {"error": {"message": "Too long for deploy-9.", '
        b'"code": "context_length_exceeded"}}\n\n',
        b'event: error\ndata: {"type": "error", "message": "Too long for deploy-9.", '
        b'"code": "context_length_exceeded", "param": null}\n\n',
    ],
    ids=["chat", "responses"],
)
async def test_an_opening_allow_listed_error_is_a_400_before_any_byte(
    upstream, make_router, opening
):
    upstream.script = [sse_answer([opening, b"data: [DONE]\n\n"])]
    router = await make_router(
        bastion_config({"p1": provider(upstream.base_url)}, [("p1", "deploy-9")])
    )
    with pytest.raises(InvalidRequest) as info:
        await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=True)
    assert (info.value.status, info.value.code) == (400, "context_length_exceeded")
    assert info.value.message == "Too long for gpt-4o-mini."
    assert len(upstream.seen) == 1


async def test_a_stream_whose_answer_mentions_error_is_relayed(upstream, make_router):
    events = [b'data: {"choices": [{"delta": {"content": "error"}}], "error": null}\n\n']
    upstream.script = [sse_answer([*events, b"data: [DONE]\n\n"])]
    router = await make_router(bastion_config({"p1": provider(upstream.base_url)}, [("p1", "m")]))
    stream = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=True)
    assert isinstance(stream, UpstreamStream)
    await collect(stream)
