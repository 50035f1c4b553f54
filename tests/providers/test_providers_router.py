"""Router over a local fake upstream: forwarding, headers, retries and fallbacks."""

from __future__ import annotations

import time

import orjson
import pytest
from providers_fakes import (
    CHAT_OK,
    PROVIDER_KEY,
    FakeUpstream,
    bastion_config,
    free_port,
    json_answer,
    provider,
    raw_answer,
)

from bastion.errors import ApiError, NotFound, UpstreamFailed
from bastion.model import Endpoint
from bastion.providers import UpstreamResponse

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}


async def test_non_stream_call_returns_body_and_metadata(upstream: FakeUpstream, make_router):
    router = await make_router(
        bastion_config({"p1": provider(upstream.base_url)}, [("p1", "gpt-4o-mini-2024")])
    )
    result = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    assert isinstance(result, UpstreamResponse)
    assert result.status == 200
    assert orjson.loads(result.body) == CHAT_OK
    assert result.headers["content-type"].startswith("application/json")
    assert (result.provider, result.upstream_model, result.public_model) == (
        "p1",
        "gpt-4o-mini-2024",
        "gpt-4o-mini",
    )
    assert result.attempts == 1
    assert result.upstream_ms > 0


async def test_model_is_rewritten_to_the_target_and_body_kept(upstream, make_router):
    router = await make_router(
        bastion_config({"p1": provider(upstream.base_url)}, [("p1", "upstream-x")])
    )
    await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    seen = upstream.seen[0]
    assert seen.path == "/v1/chat/completions"
    assert seen.body == {**BODY, "model": "upstream-x"}
    assert BODY["model"] == "gpt-4o-mini"  # the caller's dict is not mutated


@pytest.mark.parametrize(
    ("endpoint", "path"),
    [(Endpoint.RESPONSES, "/v1/responses"), (Endpoint.EMBEDDINGS, "/v1/embeddings")],
)
async def test_endpoint_paths(upstream, make_router, endpoint, path):
    router = await make_router(bastion_config({"p1": provider(upstream.base_url)}, [("p1", "m")]))
    await router.send("gpt-4o-mini", endpoint, {"model": "gpt-4o-mini", "input": "x"}, stream=False)
    assert upstream.seen[0].path == path


async def test_headers_carry_provider_key_and_nothing_else(upstream, make_router):
    router = await make_router(bastion_config({"p1": provider(upstream.base_url)}, [("p1", "m")]))
    await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    headers = upstream.seen[0].headers
    assert headers["authorization"] == f"Bearer {PROVIDER_KEY}"
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "application/json"
    assert headers["user-agent"].startswith("bastion/")
    assert "cookie" not in headers
    assert not any(name.startswith("x-bastion") for name in headers)


async def test_no_key_means_no_authorization_header(upstream, make_router):
    config = provider(upstream.base_url, kind="openai_compatible", api_key=None)
    router = await make_router(bastion_config({"local": config}, [("local", "llama3")]))
    await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    assert "authorization" not in upstream.seen[0].headers


async def test_azure_url_and_api_key_header(upstream, make_router):
    config = provider(f"http://127.0.0.1:{upstream.port}", kind="azure", api_version="2024-10-21")
    router = await make_router(bastion_config({"az": config}, [("az", "my-deploy")]))
    await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    seen = upstream.seen[0]
    assert seen.path == "/openai/deployments/my-deploy/chat/completions"
    assert seen.query == {"api-version": "2024-10-21"}
    assert seen.headers["api-key"] == PROVIDER_KEY
    assert "authorization" not in seen.headers


async def test_retry_on_500_then_success(upstream, make_router):
    upstream.script = [json_answer(500, {"error": {"message": "boom"}})] * 2
    router = await make_router(bastion_config({"p1": provider(upstream.base_url)}, [("p1", "m")]))
    result = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    assert result.status == 200
    assert result.attempts == 3
    assert len(upstream.seen) == 3


async def test_429_retry_after_is_honoured(upstream, make_router):
    upstream.script = [json_answer(429, {"error": {}}, headers={"retry-after-ms": "300"})]
    router = await make_router(bastion_config({"p1": provider(upstream.base_url)}, [("p1", "m")]))
    started = time.monotonic()
    result = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    waited = time.monotonic() - started
    assert result.attempts == 2
    assert 0.29 <= waited < 0.8


async def test_retry_after_beyond_cap_falls_back_without_waiting(upstream, backup, make_router):
    upstream.script = [json_answer(429, {"error": {}}, headers={"retry-after": "30"})]
    config = bastion_config(
        {"p1": provider(upstream.base_url), "p2": provider(backup.base_url)},
        [("p1", "m1"), ("p2", "m2")],
    )
    router = await make_router(config)
    started = time.monotonic()
    result = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    assert time.monotonic() - started < 0.4
    assert (result.provider, result.upstream_model, result.attempts) == ("p2", "m2", 2)
    assert len(upstream.seen) == 1
    assert backup.seen[0].body["model"] == "m2"


async def test_fallback_after_first_target_exhausts_retries(upstream, backup, make_router):
    upstream.script = [json_answer(502, {"error": {}})] * 3
    config = bastion_config(
        {"p1": provider(upstream.base_url), "p2": provider(backup.base_url)},
        [("p1", "m1"), ("p2", "m2")],
    )
    router = await make_router(config)
    result = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    assert result.provider == "p2"
    assert result.attempts == 4
    assert len(upstream.seen) == 3
    assert len(backup.seen) == 1


async def test_caller_fault_is_not_retried_nor_falls_back(upstream, backup, make_router):
    upstream.script = [json_answer(400, {"error": {"code": "invalid_value", "message": "x"}})]
    config = bastion_config(
        {"p1": provider(upstream.base_url), "p2": provider(backup.base_url)},
        [("p1", "m1"), ("p2", "m2")],
    )
    router = await make_router(config)
    with pytest.raises(ApiError) as info:
        await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    assert info.value.status == 400
    assert len(upstream.seen) == 1
    assert backup.seen == []


async def test_all_attempts_fail_maps_to_502(upstream, make_router):
    upstream.script = [json_answer(503, {"error": {"message": "overloaded sk-leak123456"}})] * 3
    router = await make_router(bastion_config({"p1": provider(upstream.base_url)}, [("p1", "m")]))
    with pytest.raises(UpstreamFailed) as info:
        await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    assert (info.value.status, info.value.code) == (502, "upstream_error")
    assert "overloaded" not in info.value.message
    assert len(upstream.seen) == 3


async def test_connection_refused_is_502_after_retries(make_router):
    router = await make_router(
        bastion_config({"p1": provider(f"http://127.0.0.1:{free_port()}/v1")}, [("p1", "m")])
    )
    with pytest.raises(UpstreamFailed) as info:
        await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    assert (info.value.status, info.value.code) == (502, "upstream_error")


async def test_html_200_is_retried_then_upstream_error(upstream, make_router):
    upstream.script = [raw_answer(200, b"<html>proxy login</html>", "text/html")] * 3
    router = await make_router(bastion_config({"p1": provider(upstream.base_url)}, [("p1", "m")]))
    with pytest.raises(UpstreamFailed) as info:
        await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    assert (info.value.status, info.value.code) == (502, "upstream_error")
    assert len(upstream.seen) == 3


async def test_unknown_public_model_is_not_found(upstream, make_router):
    router = await make_router(bastion_config({"p1": provider(upstream.base_url)}, [("p1", "m")]))
    with pytest.raises(NotFound) as info:
        await router.send("nope", Endpoint.CHAT, BODY, stream=False)
    assert info.value.code == "model_not_found"
