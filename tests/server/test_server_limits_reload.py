"""A config reload (SIGHUP, ``serve --watch``) applies changed ``limits``: new limit
values, rules, prices and time zone count from the next call, with the counters of
unchanged rules kept and a new rule's counters rebuilt from the ledger; a reload that
puts a USD budget on a model without a price is rejected, as at start-up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bastion.config import load_config
from bastion.errors import BudgetExceeded, RateLimited
from bastion.model import Conversation, Endpoint, Principal, Segment, Source, Usage
from bastion.model.spend import PICO_USD, SpendEntry
from bastion.server.runtime import Runtime

BASE = """\
storage: {url: "sqlite:///gateway.db", poll_interval_s: 0.1}
providers: {sim: {kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: sk-x}}
models:
  gpt-4o-mini: {targets: [{provider: sim, model: gpt-4o-mini}]}
"""
CALLER = Principal(key_id="k1", name="app", team="finance", environment="prod")
CALL = Conversation(
    Endpoint.CHAT,
    "gpt-4o-mini",
    (Segment("hello", Source.USER, ("messages", 0, "content")),),
    params={"max_tokens": 10},
)


def rules(*lines: str) -> str:
    return "limits:\n  rules:\n" + "".join(f"    - {line}\n" for line in lines)


@asynccontextmanager
async def started(path: Path) -> AsyncIterator[Runtime]:
    runtime = Runtime(load_config(path), config_path=path)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.close()


async def call(runtime: Runtime, model: str = "gpt-4o-mini") -> float | None:
    """One call through the gateway's limiter: admit, reserve, settle; its cost."""
    limiter = runtime.gateway.parts.limiter
    admitted = await limiter.admit(CALLER)
    conversation = Conversation(CALL.endpoint, model, CALL.segments, params=CALL.params)
    reserved = await limiter.reserve(CALLER, conversation, model, admitted)
    return await limiter.settle(CALLER, reserved, Usage(1000, 10))


async def test_a_reload_applies_a_changed_request_rate(tmp_path: Path) -> None:
    path = tmp_path / "bastion.yaml"
    path.write_text(BASE + rules("{name: per-key, scope: [key], requests_per_minute: 2}"))
    async with started(path) as runtime:
        await call(runtime)
        await call(runtime)
        with pytest.raises(RateLimited):
            await call(runtime)
        path.write_text(BASE + rules("{name: per-key, scope: [key], requests_per_minute: 4}"))
        assert await runtime.reload() is True
        await call(runtime)  # the two calls before still count: the counter carries on
        await call(runtime)
        with pytest.raises(RateLimited) as refused:
            await call(runtime)
        assert "4 requests per minute" in refused.value.message


async def test_a_budget_added_by_a_reload_counts_the_spend_of_its_period(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bastion.yaml"
    path.write_text(BASE + rules("{name: per-key, scope: [key], requests_per_minute: 100}"))
    async with started(path) as runtime:
        assert runtime.ledger is not None
        runtime.ledger.submit(  # spent earlier today, before the budget existed
            SpendEntry(
                settled_at=time.time(),
                key_id="k1",
                user=None,
                app=None,
                team="finance",
                environment="prod",
                model="gpt-4o-mini",
                prompt_tokens=900,
                completion_tokens=0,
                cost_pusd=round(0.0009 * PICO_USD),
            )
        )
        await asyncio.sleep(0.5)  # one ledger flush
        path.write_text(
            BASE
            + rules(
                "{name: per-key, scope: [key], requests_per_minute: 100}",
                "{name: teams, scope: [team], budgets: [{period: day, usd: 0.001}]}",
            )
        )
        assert await runtime.reload() is True
        # 0.0009 of 0.001 is spent; this call's worst case (~USD 0.000007) fits, two
        # settled at 1000 prompt tokens (USD 0.00015 each) do not
        await call(runtime)
        with pytest.raises(BudgetExceeded) as refused:
            await call(runtime)
        assert "team=finance (limit `teams`)" in refused.value.message


async def test_a_reload_prices_a_model_it_adds(tmp_path: Path) -> None:
    path = tmp_path / "bastion.yaml"
    path.write_text(BASE + rules("{name: per-key, scope: [key], requests_per_minute: 100}"))
    async with started(path) as runtime:
        added = "  gpt-4o: {targets: [{provider: sim, model: gpt-4o}]}\n"
        path.write_text(
            BASE + added + rules("{name: per-key, scope: [key], requests_per_minute: 100}")
        )
        assert await runtime.reload() is True
        assert await call(runtime, "gpt-4o") == pytest.approx(1000 * 2.5e-6 + 10 * 10e-6)


async def test_a_reload_putting_a_usd_budget_on_an_unpriced_model_is_rejected(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "bastion.yaml"
    budget = "{name: teams, scope: [team], budgets: [{period: day, usd: 10}]}"
    path.write_text(BASE + rules(budget))
    async with started(path) as runtime:
        added = "  local-llm: {targets: [{provider: sim, model: llama-local}]}\n"
        path.write_text(BASE + added + rules(budget))
        assert await runtime.reload() is False
        assert "local-llm" not in runtime.config.models  # the running config stays
        assert "has no known price" in caplog.text
