"""Every accepted call leaves its record; metrics and the admin port; client disconnects."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from tests.e2e.conftest import Stack, running_stack


def _calls(stack: Stack) -> list[dict[str, object]]:
    response = httpx.get(
        f"{stack.admin_url}/admin/api/calls?limit=1000",
        headers={"authorization": f"Bearer {stack.admin_token}"},
    )
    response.raise_for_status()
    data: list[dict[str, object]] = response.json()["data"]
    return data


def _record(stack: Stack, request_id: str, timeout_s: float = 60.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for record in _calls(stack):
            if record["request_id"] == request_id:
                return record
        time.sleep(0.05)
    raise AssertionError(f"no audit record for {request_id}")


def test_completed_call_record(stack: Stack) -> None:
    raw = stack.client().chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "audit me please"}]
    )
    record = _record(stack, raw.headers["x-bastion-request-id"])
    assert record["status"] == "completed" and record["http_status"] == 200
    assert record["decision"] == "allow" and record["endpoint"] == "chat.completions"
    assert record["model_requested"] == record["model_used"] == "gpt-4o-mini"
    principal = record["principal"]
    assert isinstance(principal, dict)
    assert principal["app"] == "e2e-app" and principal["team"] == "platform"
    usage = record["usage"]
    assert isinstance(usage, dict) and usage["completion_tokens"] > 0
    assert record["upstream_ms"] > 0 and record["gateway_ms"] > 0  # type: ignore[operator]
    assert "audit me please" not in str(record)


def test_local_replies_after_identity_are_recorded(stack: Stack) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        stack.client().chat.completions.create(
            model="gpt-unknown", messages=[{"role": "user", "content": "x"}]
        )
    request_id = caught.value.response.headers["x-bastion-request-id"]
    record = _record(stack, request_id)
    assert record["status"] == "failed" and record["error_code"] == "model_not_found"


def test_client_disconnect_mid_stream_cancels_and_records(stack: Stack) -> None:
    stack.script("fault-upstream", {"fault": "stall", "seconds": 3, "after": 2})
    with httpx.stream(
        "POST",
        stack.base_url + "/chat/completions",
        timeout=10,
        headers={"authorization": f"Bearer {stack.key}"},
        json={
            "model": "fault-chat",
            "stream": True,
            "messages": [{"role": "user", "content": "I will hang up"}],
        },
    ) as response:
        request_id = response.headers["x-bastion-request-id"]
        next(response.iter_bytes())
    record = _record(stack, request_id)
    assert record["status"] == "cancelled"
    usage = record["usage"]
    assert isinstance(usage, dict) and usage["prompt_tokens"] > 0  # settled, estimated


def test_metrics_need_an_admin_token_and_count_calls(stack: Stack) -> None:
    assert httpx.get(f"{stack.admin_url}/metrics").status_code == 401
    with_gateway_key = httpx.get(
        f"{stack.admin_url}/metrics", headers={"authorization": f"Bearer {stack.key}"}
    )
    assert with_gateway_key.status_code == 401
    stack.client().models.list()
    text = httpx.get(
        f"{stack.admin_url}/metrics", headers={"authorization": f"Bearer {stack.admin_token}"}
    ).text
    assert "bastion_calls_total{" in text and "bastion_overhead_seconds_bucket" in text
    assert stack.key not in text


def test_admin_tokens_are_refused_on_the_proxy_port(stack: Stack) -> None:
    with pytest.raises(openai.AuthenticationError):
        stack.client(stack.admin_token).models.list()


def test_readiness(stack: Stack) -> None:
    root = stack.base_url.removesuffix("/v1")
    assert httpx.get(f"{root}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{root}/readyz")
    assert ready.status_code == 200 and ready.json()["status"] in ("ready", "degraded")


def _client_addr(stack: Stack, headers: dict[str, str]) -> object:
    reply = httpx.post(
        f"{stack.base_url}/chat/completions",
        headers={"authorization": f"Bearer {stack.key}", **headers},
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "where from?"}]},
    )
    assert reply.status_code == 200
    request_id = reply.headers["x-bastion-request-id"]
    _record(stack, request_id)  # shipped
    detail = httpx.get(
        f"{stack.admin_url}/admin/api/audit/events/{request_id}",
        headers={"authorization": f"Bearer {stack.admin_token}"},
    )
    detail.raise_for_status()
    return detail.json()["record"]["client_addr"]


def test_client_address_comes_from_x_forwarded_for_only_behind_a_trusted_proxy(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    forwarded = {"x-forwarded-for": "203.0.113.7"}
    # The default trusts a proxy on loopback, where this test's connection comes from.
    assert _client_addr(stack, forwarded) == "203.0.113.7"
    assert _client_addr(stack, {}) == "127.0.0.1"
    untrusted = "  trusted_proxies: ['10.0.0.0/8']\n"
    with running_stack(tmp_path_factory.mktemp("untrusted"), server_extra=untrusted) as elsewhere:
        assert _client_addr(elsewhere, forwarded) == "127.0.0.1"  # a client's claim


def test_a_client_gone_before_a_json_answer_is_recorded_cancelled(stack: Stack) -> None:
    """The upstream answers after the caller has hung up: the answer is billed as it
    came, but the record says nobody received it (not completed/200)."""
    before = {record["request_id"] for record in _calls(stack)}
    stack.script("fault-upstream", {"fault": "slow_first_byte", "seconds": 1.0})
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            stack.base_url + "/chat/completions",
            timeout=httpx.Timeout(10, read=0.3),
            headers={"authorization": f"Bearer {stack.key}"},
            json={"model": "fault-chat", "messages": [{"role": "user", "content": "bye"}]},
        )
    deadline = time.monotonic() + 60
    while not (new := [r for r in _calls(stack) if r["request_id"] not in before]):
        assert time.monotonic() < deadline, "no record for the abandoned call"
        time.sleep(0.05)
    [record] = new
    assert record["status"] == "cancelled" and record["model_requested"] == "fault-chat"
    usage = record["usage"]
    assert isinstance(usage, dict) and usage["completion_tokens"] > 0  # the upstream's, billed
