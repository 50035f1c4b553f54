"""Upstream stream faults handled cleanly: the client gets a proper ending either way."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import Stack


def _stream(
    stack: Stack,
    fault: dict[str, object],
    endpoint: str = "/chat/completions",
    body: dict[str, object] | None = None,
) -> httpx.Response:
    stack.script("fault-upstream", fault)
    payload = body or {
        "model": "fault-chat",
        "stream": True,
        "messages": [{"role": "user", "content": "héllo wörld 日本 streaming"}],
    }
    return httpx.post(
        stack.base_url + endpoint,
        json=payload,
        timeout=15,
        headers={"authorization": f"Bearer {stack.key}"},
    )


def _text(raw: str) -> str:
    import json

    out = []
    for line in raw.splitlines():
        if line.startswith("data: {"):
            chunk = json.loads(line[6:])
            for choice in chunk.get("choices", []):
                out.append(choice["delta"].get("content") or "")
    return "".join(out)


@pytest.mark.parametrize("fault", ["crlf", "comments", "split_utf8", "no_done"])
def test_benign_framing_faults_relay_the_same_text(stack: Stack, fault: str) -> None:
    response = _stream(stack, {"fault": fault})
    assert response.status_code == 200
    assert _text(response.text).endswith("héllo wörld 日本 streaming")


def test_error_mid_stream_ends_with_an_error_event(stack: Stack) -> None:
    response = _stream(stack, {"fault": "disconnect", "after": 2})
    assert response.status_code == 200
    lines = [line for line in response.text.splitlines() if line.startswith("data: ")]
    assert '"error"' in lines[-1]
    assert "data: [DONE]" not in response.text


def test_stall_mid_stream_times_out_with_an_error_event(stack: Stack) -> None:
    response = _stream(stack, {"fault": "stall", "seconds": 5, "after": 2})
    lines = [line for line in response.text.splitlines() if line.startswith("data: ")]
    assert "upstream_timeout" in lines[-1]


def test_responses_stream_failure_is_response_failed(stack: Stack) -> None:
    body = {"model": "fault-chat", "stream": True, "input": "responses stream"}
    response = _stream(stack, {"fault": "disconnect", "after": 3}, "/responses", body)
    assert "event: response.failed" in response.text


def test_upstream_error_event_is_reworded_and_recorded(stack: Stack) -> None:
    response = _stream(
        stack,
        {
            "fault": "error_mid_stream",
            "after": 2,
            "message": "internal shard sk-leakyleakyleaky failed",
        },
    )
    last = [line for line in response.text.splitlines() if line.startswith("data: ")][-1]
    assert '"upstream_error"' in last and "sk-leaky" not in response.text
    assert "internal shard" not in response.text
    assert "data: [DONE]" not in response.text


def test_a_5mb_event_is_relayed_whole(stack: Stack) -> None:
    response = _stream(stack, {"fault": "big_event"})
    assert response.status_code == 200
    assert len(_text(response.text)) >= 5_000_000
    assert "data: [DONE]" in response.text


def _last_event(response: httpx.Response) -> str:
    return [line for line in response.text.splitlines() if line.startswith("data: ")][-1]


def test_garbled_event_ends_the_stream_with_an_error(stack: Stack) -> None:
    response = _stream(stack, {"fault": "garbled", "after": 1})
    assert response.status_code == 200
    assert "not json at all" not in response.text
    assert '"upstream_error"' in _last_event(response)


def test_truncated_stream_ends_with_an_error_not_a_made_up_done(stack: Stack) -> None:
    response = _stream(stack, {"fault": "truncated", "after": 2})
    assert "data: [DONE]" not in response.text
    assert '"upstream_error"' in _last_event(response)


def test_responses_stream_without_completion_fails(stack: Stack) -> None:
    body = {"model": "fault-chat", "stream": True, "input": "no terminal event"}
    response = _stream(stack, {"fault": "no_done"}, "/responses", body)
    assert "event: response.failed" in response.text


def test_rate_limited_upstream_is_retried_after_its_retry_after(stack: Stack) -> None:
    import time

    stack.script("retry-upstream", {"fault": "rate_limit", "seconds": 0.3, "times": 1})
    started = time.monotonic()
    completion = stack.client().chat.completions.create(
        model="retry-chat", messages=[{"role": "user", "content": "after the 429"}]
    )
    assert completion.choices[0].message.content == "after the 429"
    assert time.monotonic() - started >= 0.3
