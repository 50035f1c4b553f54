"""Drill: the rate-limit store (Redis) goes down or hangs under a running gateway
(RELIABILITY.md "Faults to drill"; ``limits.on_store_down: closed``).

A fault-injecting TCP proxy sits between the gateway and the machine's shared Redis
(never stopped). Refused or hanging, Redis costs a caller at most about
``redis.timeout_s``: a 503 ``limits_unavailable``, nothing forwarded, ``/readyz`` 503;
once Redis answers again calls pass without a restart. Every call the gateway took
has one terminal record (A2) and the trail verifies (A3).
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import redis

from tests.e2e.conftest import Stack, running_stack
from tests.e2e.faultproxy import HANG, PASS, REFUSE, FaultProxy
from tests.e2e.processes import BASTION
from tests.limits.redis_servers import REDIS_URL, delete_prefixed, unavailable

TIMEOUT_S = 0.5
# what a refused call may cost beyond redis.timeout_s (connect + one command, slack)
MARGIN_S = 2.0

LIMITS = """
redis: {{url: "redis://127.0.0.1:{port}/0", timeout_s: {timeout}, key_prefix: "{prefix}"}}
limits:
  store: redis
  on_store_down: closed
  rules: [{{name: per-key, scope: [key], requests_per_minute: 10000}}]
"""


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, FaultProxy]]:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}")
    finally:
        client.close()
    proxy = FaultProxy("127.0.0.1", 6379)
    prefix = f"bastion-drill:{uuid.uuid4().hex[:12]}:"
    extra = LIMITS.format(port=proxy.port, timeout=TIMEOUT_S, prefix=prefix)
    try:
        with running_stack(tmp_path_factory.mktemp("drill-redis"), extra) as stack:
            yield stack, proxy
            _trail_verifies(stack)
    finally:
        proxy.close()
        delete_prefixed(REDIS_URL, prefix)


def _call(stack: Stack, text: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    reply = httpx.post(
        f"{stack.base_url}/chat/completions",
        headers={"authorization": f"Bearer {stack.key}"},
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]},
        timeout=30,
    )
    return reply, time.monotonic() - started


def _readyz(stack: Stack) -> int:
    return httpx.get(stack.base_url.removesuffix("/v1") + "/readyz", timeout=30).status_code


def _until_served(stack: Stack, timeout_s: float = 60.0) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        reply, _ = _call(stack, "back again")
        if reply.status_code == 200 or time.monotonic() > deadline:
            return reply
        time.sleep(0.2)


def _trail_verifies(stack: Stack) -> None:
    done = subprocess.run(
        [BASTION, "audit", "verify", "--config", str(stack.config), "--json"],
        capture_output=True,
        timeout=60,
    )
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["ok"], report


def _records(stack: Stack) -> dict[str, dict[str, object]]:
    reply = httpx.get(
        f"{stack.admin_url}/admin/api/calls?limit=1000",
        headers={"authorization": f"Bearer {stack.admin_token}"},
    )
    reply.raise_for_status()
    return {str(record["request_id"]): record for record in reply.json()["data"]}


def _refused_fast(stack: Stack) -> None:
    stack.clear_captures()
    refused = []
    for attempt in range(3):
        reply, took = _call(stack, f"while redis is away {attempt}")
        assert reply.status_code == 503, reply.text
        assert reply.json()["error"]["code"] == "limits_unavailable"
        assert took < TIMEOUT_S + MARGIN_S, took
        refused.append(reply.headers["x-bastion-request-id"])
    assert stack.captures() == []  # nothing went upstream
    assert _readyz(stack) == 503
    deadline = time.monotonic() + 60
    while not set(refused) <= set(records := _records(stack)):  # A2: each has its ending
        assert time.monotonic() < deadline, refused
        time.sleep(0.1)
    for request_id in refused:
        assert records[request_id]["status"] == "failed", records[request_id]
        assert records[request_id]["error_code"] == "limits_unavailable"


@pytest.mark.parametrize("fault", [REFUSE, HANG])
def test_redis_down_refuses_within_its_timeout_and_recovers_without_restart(
    drill: tuple[Stack, FaultProxy], fault: str
) -> None:
    stack, proxy = drill
    assert _call(stack, "before the fault")[0].status_code == 200
    proxy.set_mode(fault)
    try:
        _refused_fast(stack)
    finally:
        proxy.set_mode(PASS)
    reply = _until_served(stack)
    assert reply.status_code == 200, reply.text
    assert reply.json()["choices"][0]["message"]["content"] == "back again"
    assert _readyz(stack) == 200
