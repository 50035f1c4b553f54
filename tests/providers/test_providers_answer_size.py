"""A non-streamed upstream answer is read up to ``max_response_bytes``, never whole."""

from __future__ import annotations

import gzip

import orjson
import pytest
from aiohttp import web
from providers_fakes import CHAT_OK, Behaviour, bastion_config, json_answer, provider

from bastion.errors import UpstreamFailed
from bastion.model import Endpoint

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}
LIMIT = 64 * 1024


def big_answer(size: int) -> dict[str, object]:
    message = {"role": "assistant", "content": "a" * size}
    return {**CHAT_OK, "choices": [{"index": 0, "message": message}]}


def gzipped(body: dict[str, object]) -> Behaviour:
    async def answer(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=gzip.compress(orjson.dumps(body)),
            headers={"content-type": "application/json", "content-encoding": "gzip"},
        )

    return answer


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
async def test_an_oversized_answer_is_a_502_not_held_in_memory(upstream, make_router, encoding):
    # 4 MB of answer against a 64 KiB cap; gzip shrinks it to a few KB on the wire, so
    # the cap must count the decompressed bytes (a "zip bomb" is no way around it)
    answer = big_answer(4 * 1024 * 1024)
    behaviour = gzipped(answer) if encoding == "gzip" else json_answer(200, answer)
    upstream.script = [behaviour] * 3
    config = bastion_config(
        {"p1": provider(upstream.base_url, max_response_bytes=LIMIT)}, [("p1", "m")]
    )
    router = await make_router(config)
    with pytest.raises(UpstreamFailed) as info:
        await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    assert (info.value.status, info.value.code) == (502, "upstream_error")
    assert "max_response_bytes" in info.value.message
    assert len(upstream.seen) == 1  # not retried: the same call would be as large


async def test_an_oversized_answer_falls_back_to_the_next_target(upstream, backup, make_router):
    upstream.script = [json_answer(200, big_answer(LIMIT))]
    config = bastion_config(
        {
            "p1": provider(upstream.base_url, max_response_bytes=LIMIT),
            "p2": provider(backup.base_url),
        },
        [("p1", "m1"), ("p2", "m2")],
    )
    router = await make_router(config)
    result = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    assert result.provider == "p2"
    assert orjson.loads(result.body) == CHAT_OK


async def test_an_answer_of_exactly_the_limit_passes(upstream, make_router):
    answer = big_answer(LIMIT)
    size = len(orjson.dumps(answer))
    upstream.script = [json_answer(200, answer)]
    config = bastion_config(
        {"p1": provider(upstream.base_url, max_response_bytes=size)}, [("p1", "m")]
    )
    router = await make_router(config)
    result = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    assert len(result.body) == size
