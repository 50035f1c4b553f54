"""Budgets end to end: a real gateway and simulator, the SDK's wire, the ledger on disk.

The simulator holds the admitted answers (``slow_first_byte``) while the rest of the
burst arrives, so every refusal is decided while all admitted calls are still open.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bastion.limits.estimate import prompt_tokens
from bastion.model import Conversation, Endpoint, Segment, Source
from bastion.model.spend import PICO_USD
from tests.e2e.processes import cli_json, free_port, start, stop, wait_http

SIM_KEY = "sk-sim-limits"
TEXT = "Summarise the quarterly numbers for the board."
MAX_TOKENS = 40
PER_CALL_PUSD = (
    prompt_tokens(
        Conversation(
            Endpoint.CHAT, "gpt-4o-mini", (Segment(TEXT, Source.USER, ("messages", 0, "content")),)
        )
    )
    * 150_000
    + MAX_TOKENS * 600_000
)
BUDGET_USD = PER_CALL_PUSD * 10.5 / PICO_USD  # room for exactly 10 reservations

CONFIG = """
server: {{host: 127.0.0.1, port: {port}, admin: {{port: {admin_port}}}}}
storage: {{url: "sqlite:///gateway.db", poll_interval_s: 0.2}}
providers:
  sim:
    kind: openai
    base_url: http://127.0.0.1:{sim_port}/v1
    api_key: {sim_key}
    retry: {{max_attempts: 1}}
    timeouts: {{first_byte_s: 30, idle_s: 5, total_s: 60}}
models:
  gpt-4o-mini: {{targets: [{{provider: sim, model: gpt-4o-mini}}]}}
limits:
  timezone: Europe/Berlin
  rules:
    - name: team-budget
      scope: [team]
      budgets: [{{period: month, usd: {budget}}}]
"""


@dataclass
class LimitsStack:
    base_url: str
    sim_url: str
    work: Path
    config: Path
    keys: dict[str, str]

    def ledger(self, team: str) -> list[tuple[int, int, int, int]]:
        with sqlite3.connect(self.work / "gateway.db") as db:
            return db.execute(
                "SELECT prompt_tokens, completion_tokens, cost_pusd, estimated "
                "FROM spend_ledger WHERE team = ? ORDER BY id",
                (team,),
            ).fetchall()

    def clear_captures(self) -> None:
        httpx.delete(f"{self.sim_url}/_sim/captures").raise_for_status()

    def captures(self) -> list[dict[str, object]]:
        found: list[dict[str, object]] = httpx.get(f"{self.sim_url}/_sim/captures").json()[
            "captures"
        ]
        return found

    def script(self, *replies: dict[str, object]) -> None:
        httpx.post(
            f"{self.sim_url}/_sim/script", json={"model": "gpt-4o-mini", "replies": list(replies)}
        ).raise_for_status()


@contextmanager
def limits_stack(work: Path) -> Iterator[tuple[LimitsStack, list[object]]]:
    sim_port, port, admin_port = free_port(), free_port(), free_port()
    config = work / "bastion.yaml"
    config.write_text(
        CONFIG.format(
            port=port,
            admin_port=admin_port,
            sim_port=sim_port,
            sim_key=SIM_KEY,
            budget=f"{BUDGET_USD:.12f}",
        )
    )
    sim = start(["simulate", "--port", str(sim_port), "--api-key", SIM_KEY], work / "sim.log")
    procs: list[object] = []
    try:
        wait_http(f"http://127.0.0.1:{sim_port}/_sim/health", sim)
        keys = {
            team: str(
                cli_json("keys", "create", "--config", str(config), "--name", team, "--team", team)[
                    "key"
                ]
            )
            for team in ("finance", "support")
        }
        gateway = start(["serve", "--config", str(config)], work / "gateway.log")
        procs.append(gateway)
        wait_http(f"http://127.0.0.1:{port}/healthz", gateway)
        yield (
            LimitsStack(
                f"http://127.0.0.1:{port}/v1", f"http://127.0.0.1:{sim_port}", work, config, keys
            ),
            procs,
        )
    finally:
        for proc in procs:
            log = stop(proc)  # type: ignore[arg-type]
            assert "Traceback" not in log, log[-4000:]
        stop(sim)


def restart(stack: LimitsStack, procs: list[object]) -> None:
    log = stop(procs.pop())  # type: ignore[arg-type]
    assert "Traceback" not in log, log[-4000:]
    gateway = start(["serve", "--config", str(stack.config)], stack.work / "gateway2.log")
    procs.append(gateway)
    wait_http(stack.base_url.removesuffix("/v1") + "/healthz", gateway)


BODY = {
    "model": "gpt-4o-mini",
    "max_tokens": MAX_TOKENS,
    "messages": [{"role": "user", "content": TEXT}],
}


async def _burst(
    stack: LimitsStack, key: str, count: int
) -> list[tuple[int, dict[str, object], float]]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one() -> tuple[int, dict[str, object], float]:
            reply = await client.post(
                stack.base_url + "/chat/completions",
                json=BODY,
                headers={"authorization": f"Bearer {key}"},
            )
            return (
                reply.status_code,
                {"body": reply.json(), "headers": dict(reply.headers)},
                time.monotonic(),
            )

        return await asyncio.gather(*(one() for _ in range(count)))


async def _ledger_rows(
    stack: LimitsStack, team: str, count: int, *, skip: int = 0, timeout_s: float = 60.0
) -> list[tuple[int, int, int, int]]:
    """The team's ledger rows past the first ``skip``, once there are ``count`` of them.

    The ledger is flushed in the background every 0.5 s; a loaded runner may take longer,
    so poll with a generous deadline and return as soon as the rows are there.
    """
    deadline = time.monotonic() + timeout_s
    while len(rows := stack.ledger(team)[skip:]) < count:
        assert time.monotonic() < deadline, (
            f"{team}: {len(rows)} of {count} ledger rows within {timeout_s}s: {rows}"
        )
        await asyncio.sleep(0.1)
    return rows


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LimitsStack, list[object]]]:
    with limits_stack(tmp_path_factory.mktemp("limits")) as running:
        yield running


async def test_200_concurrent_calls_against_10_reservations(
    stack: tuple[LimitsStack, list[object]],
) -> None:
    s, procs = stack
    s.clear_captures()
    # the upstream holds the 10 admitted calls long enough for all 200 to be decided, even
    # on a busy two-core CI machine
    s.script({"content": "Numbers are up.", "fault": "slow_first_byte", "seconds": 8, "times": 10})
    results = await _burst(s, s.keys["finance"], 200)
    ok = [r for r in results if r[0] == 200]
    refused = [r for r in results if r[0] == 429]
    assert (len(ok), len(refused)) == (10, 190)
    assert max(r[2] for r in refused) < min(r[2] for r in ok)  # all decided while held
    for _, reply, _ in refused:
        error = reply["body"]["error"]  # type: ignore[index]
        assert (error["type"], error["code"]) == ("insufficient_quota", "budget_exceeded")
        assert "team=finance" in error["message"] and TEXT not in error["message"]
        assert reply["headers"]["x-should-retry"] == "false"  # type: ignore[index]
    captures = s.captures()
    assert len([c for c in captures if str(c["path"]).endswith("/chat/completions")]) == 10
    headers = ok[0][1]["headers"]
    assert headers["x-bastion-budget-scope"] == "team-budget; team=finance; month"  # type: ignore[index]
    # settled spend: the simulator's own usage, priced; never above the budget (B1, B2)
    usage = [r[1]["body"]["usage"] for r in ok]  # type: ignore[index]
    rows = await _ledger_rows(s, "finance", len(ok))
    assert sorted((p, c) for p, c, _, _ in rows) == sorted(
        (u["prompt_tokens"], u["completion_tokens"]) for u in usage
    )
    assert sum(cost for _, _, cost, _ in rows) <= BUDGET_USD * PICO_USD
    # a restart keeps the spend: the next reservation sees the settled spend
    restart(s, procs)
    async with httpx.AsyncClient(timeout=30) as client:
        again = await client.post(
            s.base_url + "/chat/completions",
            json=BODY,
            headers={"authorization": f"Bearer {s.keys['finance']}"},
        )
    assert again.status_code == 200
    spent = sum(cost for _, _, cost, _ in rows)
    expected = (BUDGET_USD * PICO_USD - spent - PER_CALL_PUSD) / PICO_USD
    remaining = float(again.headers["x-bastion-budget-remaining-usd"])
    assert remaining == pytest.approx(expected, abs=2e-6)
    assert remaining < BUDGET_USD - PER_CALL_PUSD / PICO_USD  # not a fresh budget


async def test_streamed_failed_and_abandoned_calls_all_settle(
    stack: tuple[LimitsStack, list[object]],
) -> None:
    s, _ = stack
    key = s.keys["support"]
    before = len(s.ledger("support"))
    headers = {"authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(timeout=30) as client:
        plain = await client.post(s.base_url + "/chat/completions", json=BODY, headers=headers)
        streamed = await client.post(
            s.base_url + "/chat/completions",
            json={**BODY, "stream": True, "stream_options": {"include_usage": True}},
            headers=headers,
        )
        s.script({"content": "a long answer " * 5, "fault": "error_mid_stream", "after": 2})
        failed = await client.post(
            s.base_url + "/chat/completions", json={**BODY, "stream": True}, headers=headers
        )
        s.script({"content": "a long answer " * 5, "fault": "stall", "seconds": 5, "after": 2})
        async with client.stream(
            "POST", s.base_url + "/chat/completions", json={**BODY, "stream": True}, headers=headers
        ) as gone:
            async for _ in gone.aiter_bytes():
                break  # the client leaves mid-stream
    assert plain.status_code == streamed.status_code == failed.status_code == 200
    stream_usage = next(line for line in streamed.text.splitlines() if '"usage":{' in line)
    rows = await _ledger_rows(s, "support", 4, skip=before)
    await asyncio.sleep(0.6)  # one more ledger flush: a fifth row would show
    rows = s.ledger("support")[before:]
    assert len(rows) == 4
    plain_usage = plain.json()["usage"]
    assert rows[0][:2] == (plain_usage["prompt_tokens"], plain_usage["completion_tokens"])
    assert rows[0][3] == 0 and rows[1][3] == 0
    assert f'"prompt_tokens":{rows[1][0]}' in stream_usage
    assert rows[2][3] == 1 and rows[3][3] == 1  # usage never arrived: estimated
