"""Circuit breaker: unit behaviour with a fake clock, and the Router skipping open targets."""

from __future__ import annotations

import pytest
from providers_fakes import FakeUpstream, bastion_config, json_answer, provider

from bastion.config.schema import BreakerConfig
from bastion.errors import UpstreamFailed
from bastion.model import Endpoint
from bastion.providers import BreakerState, CircuitBreaker

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_threshold_consecutive_failures():
    clock = FakeClock()
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=3, reset_s=10.0), clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # a success resets the run
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.try_acquire()


def test_half_open_lets_one_trial_through_and_success_closes():
    clock = FakeClock()
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=1, reset_s=10.0), clock=clock)
    breaker.record_failure()
    clock.now += 10.0
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.try_acquire()
    assert not breaker.try_acquire()  # only one trial at a time
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.try_acquire()


def test_failed_trial_reopens_for_another_reset_period():
    clock = FakeClock()
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=2, reset_s=10.0), clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.now += 10.0
    assert breaker.try_acquire()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.now += 9.9
    assert not breaker.try_acquire()
    clock.now += 0.1
    assert breaker.try_acquire()


async def test_router_skips_open_target_and_recovers_after_trial(
    upstream: FakeUpstream, backup: FakeUpstream, make_router
):
    clock = FakeClock()
    fragile = provider(
        upstream.base_url,
        retry={"max_attempts": 1},
        breaker={"failure_threshold": 2, "reset_s": 5.0},
    )
    config = bastion_config(
        {"p1": fragile, "p2": provider(backup.base_url)}, [("p1", "m1"), ("p2", "m2")]
    )
    router = await make_router(config, clock=clock)
    upstream.script = [json_answer(500, {"error": {}})] * 2
    for _ in range(2):
        result = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
        assert result.provider == "p2"
    assert router.health() == {"p1/m1": "open", "p2/m2": "closed"}

    result = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    assert result.provider == "p2"
    assert len(upstream.seen) == 2  # skipped while open

    clock.now += 5.0
    assert router.health()["p1/m1"] == "half_open"
    result = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    assert result.provider == "p1"  # the trial succeeded
    assert router.health()["p1/m1"] == "closed"


async def test_all_targets_open_means_no_healthy_upstream(upstream: FakeUpstream, make_router):
    clock = FakeClock()
    fragile = provider(
        upstream.base_url,
        retry={"max_attempts": 1},
        breaker={"failure_threshold": 1, "reset_s": 5.0},
    )
    router = await make_router(bastion_config({"p1": fragile}, [("p1", "m1")]), clock=clock)
    upstream.script = [json_answer(503, {"error": {}})]
    with pytest.raises(UpstreamFailed):
        await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    with pytest.raises(UpstreamFailed) as info:
        await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    assert info.value.code == "upstream_error"
    assert "no healthy upstream" in info.value.message.lower()
    assert len(upstream.seen) == 1
