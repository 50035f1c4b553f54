"""Upstream error mapping: what a caller sees when the upstream says no."""

from __future__ import annotations

import time

import pytest
from providers_fakes import PROVIDER_KEY, FakeUpstream, bastion_config, json_answer, provider

from bastion.config.schema import RetryConfig
from bastion.errors import ApiError, InvalidRequest, UpstreamFailed
from bastion.model import Endpoint
from bastion.providers.retry import next_delay, parse_retry_after
from bastion.providers.upstream_errors import scrub_message

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}


async def send_expecting_error(upstream: FakeUpstream, make_router) -> ApiError:
    router = await make_router(
        bastion_config({"p1": provider(upstream.base_url)}, [("p1", "deploy-7")])
    )
    with pytest.raises(ApiError) as info:
        await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    return info.value


@pytest.mark.parametrize("status", [401, 403])
async def test_upstream_auth_failure_is_502_with_generic_message(upstream, make_router, status):
    leak = f"Incorrect API key provided: {PROVIDER_KEY}. Find your key at ..."
    upstream.script = [json_answer(status, {"error": {"message": leak, "code": "invalid_api_key"}})]
    error = await send_expecting_error(upstream, make_router)
    assert isinstance(error, UpstreamFailed)
    assert (error.status, error.code) == (502, "upstream_auth_failed")
    assert PROVIDER_KEY not in str(error.body())
    assert "Incorrect" not in error.message
    assert len(upstream.seen) == 1  # not retried


async def test_context_length_exceeded_passes_with_message(upstream, make_router):
    message = (
        "This model's maximum context length is 128000 tokens. However, your messages "
        "resulted in 130000 tokens. Please reduce the length of the messages."
    )
    upstream.script = [
        json_answer(
            400,
            {
                "error": {
                    "message": message,
                    "type": "invalid_request_error",
                    "param": "messages",
                    "code": "context_length_exceeded",
                }
            },
        )
    ]
    error = await send_expecting_error(upstream, make_router)
    assert isinstance(error, InvalidRequest)
    assert (error.status, error.code, error.param) == (400, "context_length_exceeded", "messages")
    assert error.message == message


async def test_allow_listed_message_is_scrubbed(upstream, make_router):
    message = f"Unsupported value for deploy-7 with key {PROVIDER_KEY} and Bearer abc.def"
    upstream.script = [
        json_answer(422, {"error": {"message": message, "code": "unsupported_value"}})
    ]
    error = await send_expecting_error(upstream, make_router)
    assert error.status == 422
    assert PROVIDER_KEY not in error.message
    assert "abc.def" not in error.message
    assert "deploy-7" not in error.message
    assert "gpt-4o-mini" in error.message


@pytest.mark.parametrize("status", [400, 404, 413, 422])
async def test_other_caller_faults_get_a_generic_message(upstream, make_router, status):
    upstream.script = [
        json_answer(
            status,
            {"error": {"message": "secret prompt text echoed", "code": "invalid_value"}},
        )
    ]
    error = await send_expecting_error(upstream, make_router)
    assert isinstance(error, InvalidRequest)
    assert error.status == status
    assert error.code == "upstream_error"
    assert error.body()["error"]["type"] == "invalid_request_error"
    assert error.message == f"The upstream provider rejected the request (status {status})."


async def test_non_json_error_body_is_generic(upstream, make_router):
    upstream.script = [json_answer(400, ["not", "an", "error"])]
    error = await send_expecting_error(upstream, make_router)
    assert (error.status, error.code) == (400, "upstream_error")


def test_scrub_message_removes_key_shapes_and_caps_length():
    text = "sk-proj-ABCDEF1234567890 bst_abcd1234_ZZZZZZZZZZZZ " + "x" * 2000
    scrubbed = scrub_message(text, secret=None, upstream_model="a", public_model="a")
    assert "sk-proj" not in scrubbed
    assert "bst_abcd1234" not in scrubbed
    assert len(scrubbed) <= 520


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "1.5", "retry-after-ms": "100"}, 0.1),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, 10.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers, expected):
    now = 1445412480.0  # 2015-10-21 07:28:00 GMT
    assert parse_retry_after(headers, now=now) == expected


def test_backoff_is_bounded_and_attempts_are_capped():
    config = RetryConfig(max_attempts=4, backoff_base_s=0.1, backoff_max_s=0.3)
    delays = [next_delay(config, 3, None).seconds for _ in range(200)]
    assert all(d is not None and 0.0 <= d <= 0.3 for d in delays)
    assert max(d for d in delays if d is not None) > 0.15  # jitter spreads up to the cap
    assert next_delay(config, 4, None).seconds is None
    assert next_delay(config, 1, 5.0).seconds is None  # hint beyond the cap: move on
    assert next_delay(config, 1, 0.2).seconds == 0.2


async def test_error_body_in_a_200_is_an_upstream_error_not_an_answer(
    upstream, backup, make_router
):
    # some OpenAI-compatible servers answer 200 with an error object: the caller must get
    # Bastion's error (never the upstream's text, which may carry a key), and the call is
    # retried and falls back like any other upstream failure
    leak = f"Upstream overloaded; key {PROVIDER_KEY} rate limited"
    upstream.script = [json_answer(200, {"error": {"message": leak, "code": "overloaded"}})] * 3
    config = bastion_config(
        {"p1": provider(upstream.base_url), "p2": provider(backup.base_url)},
        [("p1", "m1"), ("p2", "m2")],
    )
    router = await make_router(config)
    result = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    assert result.provider == "p2"
    assert len(upstream.seen) == 3
    assert len(backup.seen) == 1


async def test_error_body_in_a_200_alone_is_502_with_bastions_message(upstream, make_router):
    leak = f"internal failure for key {PROVIDER_KEY}"
    upstream.script = [json_answer(200, {"error": {"message": leak, "type": "server_error"}})] * 3
    error = await send_expecting_error(upstream, make_router)
    assert isinstance(error, UpstreamFailed)
    assert (error.status, error.code) == (502, "upstream_error")
    assert PROVIDER_KEY not in str(error.body())
    assert "internal failure" not in error.message


async def test_allow_listed_error_in_a_200_is_the_callers_fault(upstream, make_router):
    message = "This model's maximum context length is 8192 tokens."
    upstream.script = [
        json_answer(200, {"error": {"message": message, "code": "context_length_exceeded"}})
    ]
    error = await send_expecting_error(upstream, make_router)
    assert isinstance(error, InvalidRequest)
    assert (error.status, error.code, error.message) == (400, "context_length_exceeded", message)
    assert len(upstream.seen) == 1  # not retried: the request itself is too long


@pytest.mark.parametrize(
    "answer",
    [
        {"object": "chat.completion", "choices": [], "error": None},
        {"object": "response", "status": "completed", "error": None, "output": []},
        {"object": "chat.completion", "choices": [{"message": {"content": '{"error": {}}'}}]},
    ],
    ids=["null-error", "responses-object", "error-in-content"],
)
async def test_answers_that_mention_error_are_answers(upstream, make_router, answer):
    upstream.script = [json_answer(200, answer)]
    router = await make_router(bastion_config({"p1": provider(upstream.base_url)}, [("p1", "m")]))
    result = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    assert result.attempts == 1


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        # HTTP dates are GMT even when the zone is left out (asctime form) or "-0000"
        ({"retry-after": "Wed Oct 21 07:28:10 2015"}, 10.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:10 -0000"}, 10.0),
        ({"retry-after": "Wed, 21 Oct 2015 09:28:10 +0200"}, 10.0),
        # not a wait at all: use the backoff, never "retry at once"
        ({"retry-after": "nan"}, None),
        ({"retry-after": "-5"}, None),
        ({"retry-after-ms": "-1"}, None),
        ({"retry-after-ms": "nan"}, None),
        ({"retry-after-ms": "nan", "retry-after": "2"}, 2.0),
        ({"retry-after": "1_000"}, None),
    ],
)
def test_parse_retry_after_odd_values(headers, expected, monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert parse_retry_after(headers, now=1445412480.0) == expected
    finally:
        monkeypatch.undo()
        time.tzset()
