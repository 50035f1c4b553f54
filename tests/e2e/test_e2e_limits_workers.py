"""Budgets, rate limits and idempotent retries over two workers without Redis.

``bastion serve`` with ``server.workers: 2`` and the default ``limits.store: memory``:
the workers count in one SQLite file beside the database, so limits hold over both
(never twice the limit), and an ``Idempotency-Key`` retry answered by the other worker
is replayed, not billed again. The calls go through the official SDK; which worker
answered each call is read from the audit trail (one writer per worker), so the tests
know both workers took part. As in test_e2e_limits.py, the simulator holds the admitted
answers while the rest of the burst arrives.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bastion.model.spend import PICO_USD
from tests.e2e.processes import cli_json, free_port, start, stop, wait_http
from tests.e2e.stacks import gateway_config
from tests.e2e.test_e2e_limits import BUDGET_USD, MAX_TOKENS, PER_CALL_PUSD, SIM_KEY, TEXT

RATE_LIMIT = 10
MESSAGES: list[Any] = [{"role": "user", "content": TEXT}]

LIMITS = """
limits:
  timezone: Europe/Berlin
  rules:
    - name: team-budget
      scope: [team]
      match: {{team: [finance, legal]}}
      budgets: [{{period: month, usd: {budget}}}]
    - name: support-rate
      scope: [key]
      match: {{team: support}}
      requests_per_minute: {rate}
"""


@dataclass
class WorkersStack:
    base_url: str
    admin_url: str
    sim_url: str
    work: Path
    keys: dict[str, str]
    admin_token: str
    gateways: list[subprocess.Popen[bytes]]

    def restart(self) -> None:
        """Stop the gateway (drained) and start it again on the same ports and files."""
        log = stop(self.gateways.pop(), timeout_s=20)
        assert "Traceback" not in log, log[-4000:]
        index = len(list(self.work.glob("gateway*.log")))
        config = str(self.work / "bastion.yaml")
        gateway = start(["serve", "--config", config], self.work / f"gateway{index}.log")
        self.gateways.append(gateway)
        wait_http(self.base_url.removesuffix("/v1") + "/healthz", gateway, timeout_s=90)

    def client(self, team: str) -> openai.AsyncOpenAI:
        """A client of its own: its calls open their own connections."""
        return openai.AsyncOpenAI(base_url=self.base_url, api_key=self.keys[team], max_retries=0)

    def db(self, query: str, *args: object) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.work / "gateway.db") as db:
            return db.execute(query, args).fetchall()

    def ledger(self, team: str) -> list[tuple[int, int, int]]:
        return [
            (int(p), int(c), int(cost))
            for p, c, cost in self.db(
                "SELECT prompt_tokens, completion_tokens, cost_pusd FROM spend_ledger "
                "WHERE team = ? ORDER BY id",
                team,
            )
        ]

    def new_key(self, team: str) -> str:
        made = cli_json(
            "keys",
            "create",
            "--config",
            str(self.work / "bastion.yaml"),
            "--name",
            team,
            "--team",
            team,
        )
        return str(made["key"])

    def clear_captures(self) -> None:
        httpx.delete(f"{self.sim_url}/_sim/captures").raise_for_status()

    def forwarded(self) -> int:
        found = httpx.get(f"{self.sim_url}/_sim/captures").json()["captures"]
        return sum(1 for c in found if str(c["path"]).endswith("/chat/completions"))

    def hold_answers(self, count: int) -> None:
        self.clear_captures()
        reply = {"content": "Numbers are up.", "fault": "slow_first_byte", "seconds": 3}
        httpx.post(
            f"{self.sim_url}/_sim/script",
            json={"model": "gpt-4o-mini", "replies": [{**reply, "times": count}]},
        ).raise_for_status()

    async def workers_of(self, request_ids: list[str]) -> set[str]:
        """The audit writers (one per worker) that recorded these calls, once all are in."""
        marks = ",".join("?" * len(request_ids))
        deadline = time.monotonic() + 60
        while True:
            rows = self.db(
                f"SELECT DISTINCT request_id, writer_id FROM audit_events "
                f"WHERE request_id IN ({marks})",
                *request_ids,
            )
            if len({r for r, _ in rows}) == len(set(request_ids)) or time.monotonic() > deadline:
                return {writer for _, writer in rows}
            await asyncio.sleep(0.2)

    async def budget_remaining(self, rule: str, scope: str, measure: str, window: str) -> float:
        """The scraped ``bastion_budget_remaining`` of one budget, once it shows the
        ledger's latest spend (polled: each worker reads the ledger at most every 5 s)."""
        wanted = {"rule": rule, "scope": scope, "measure": measure, "window": window}
        headers = {"authorization": f"Bearer {self.admin_token}"}
        found: list[float] = []
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=10) as client:
            while time.monotonic() < deadline:
                reply = await client.get(f"{self.admin_url}/metrics", headers=headers)
                reply.raise_for_status()
                found = [
                    sample.value
                    for family in text_string_to_metric_families(reply.text)
                    for sample in family.samples
                    if sample.name == "bastion_budget_remaining" and sample.labels == wanted
                ]
                if found and found[0] < BUDGET_USD:
                    break
                await asyncio.sleep(0.5)
        assert found, "bastion_budget_remaining never showed the budget"
        return found[0]

    async def settled(self, team: str, rows: int) -> list[tuple[int, int, int]]:
        """The team's ledger once it has ``rows`` rows (polled, bounded), a flush later."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if len(self.ledger(team)) >= rows:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.6)  # one more flush in each worker: an extra row would show
        return self.ledger(team)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkersStack]:
    work = tmp_path_factory.mktemp("limits-workers")
    sim_port, port, admin_port = free_port(), free_port(), free_port()
    config = work / "bastion.yaml"
    config.write_text(
        gateway_config(
            port=port,
            admin_port=admin_port,
            storage_url="sqlite:///gateway.db",
            sim_port=sim_port,
            sim_key=SIM_KEY,
            workers=2,
            sections=LIMITS.format(budget=f"{BUDGET_USD:.12f}", rate=RATE_LIMIT),
        )
    )
    sim = start(["simulate", "--port", str(sim_port), "--api-key", SIM_KEY], work / "sim.log")
    gateways: list[subprocess.Popen[bytes]] = []
    try:
        wait_http(f"http://127.0.0.1:{sim_port}/_sim/health", sim)
        keys = {
            team: str(
                cli_json("keys", "create", "--config", str(config), "--name", team, "--team", team)[
                    "key"
                ]
            )
            for team in ("finance", "legal", "support")
        }
        token = cli_json(
            "admin-token", "create", "--config", str(config), "--subject", "ops", "--role", "admin"
        )
        gateways.append(start(["serve", "--config", str(config)], work / "gateway.log"))
        wait_http(f"http://127.0.0.1:{port}/healthz", gateways[0], timeout_s=90)  # 2 shared cores
        yield WorkersStack(
            f"http://127.0.0.1:{port}/v1",
            f"http://127.0.0.1:{admin_port}",
            f"http://127.0.0.1:{sim_port}",
            work,
            keys,
            str(token["token"]),
            gateways,
        )
    finally:
        logs = [stop(gateway, timeout_s=20) for gateway in gateways]
        stop(sim)  # before any assertion: a process left running fails later tests
        for log in logs:
            assert "Traceback" not in log, log[-4000:]


async def burst(
    stack: WorkersStack, team: str, count: int
) -> list[tuple[int, str, openai.APIStatusError | None]]:
    """``count`` calls at once, each from a client of its own: status, request id, error."""

    async def one() -> tuple[int, str, openai.APIStatusError | None]:
        async with stack.client(team) as client:
            try:
                raw = await client.chat.completions.with_raw_response.create(
                    model="gpt-4o-mini", messages=MESSAGES, max_tokens=MAX_TOKENS
                )
            except openai.APIStatusError as exc:
                return exc.status_code, exc.response.headers["x-bastion-request-id"], exc
            return raw.http_response.status_code, raw.headers["x-bastion-request-id"], None

    return await asyncio.gather(*(one() for _ in range(count)))


async def test_two_workers_admit_exactly_the_reservations_that_fit(stack: WorkersStack) -> None:
    stack.hold_answers(10)
    results = await burst(stack, "finance", 200)
    statuses = [status for status, _, _ in results]
    assert (statuses.count(200), statuses.count(429)) == (10, 190)
    for _, _, error in results:
        if error is not None:
            assert (error.type, error.code) == ("insufficient_quota", "budget_exceeded")
            assert error.response.headers["x-should-retry"] == "false"
    assert stack.forwarded() == 10
    # both workers answered calls of the burst, yet together they admitted 10, not 20
    assert len(await stack.workers_of([request_id for _, request_id, _ in results])) == 2
    rows = await stack.settled("finance", 10)
    assert len(rows) == 10
    spent = sum(cost for _, _, cost in rows)
    assert spent <= BUDGET_USD * PICO_USD  # B1
    # what is left shows in /metrics, whichever worker answers the scrape
    left = await stack.budget_remaining("team-budget", "team=finance", "usd", "month")
    assert left == pytest.approx(BUDGET_USD - spent / PICO_USD, abs=1e-9)


async def test_a_rate_limit_over_two_workers_admits_exactly_the_limit(
    stack: WorkersStack,
) -> None:
    """3x a per-key limit at once; until a burst was spread over both workers (the
    kernel picks which worker accepts), again with a new key: a fresh counter."""
    seen: set[str] = set()
    for _ in range(4):
        stack.keys["support"] = await asyncio.to_thread(stack.new_key, "support")
        results = await burst(stack, "support", 3 * RATE_LIMIT)
        statuses = [status for status, _, _ in results]
        assert (statuses.count(200), statuses.count(429)) == (RATE_LIMIT, 2 * RATE_LIMIT)
        codes = {(e.type, e.code) for _, _, e in results if e is not None}
        assert codes == {("rate_limit_error", "rate_limit_exceeded")}
        seen = await stack.workers_of([request_id for _, request_id, _ in results])
        if len(seen) == 2:
            break
    assert len(seen) == 2


async def test_an_idempotent_retry_on_the_other_worker_is_billed_once(
    stack: WorkersStack,
) -> None:
    await asyncio.to_thread(stack.clear_captures)
    before = len(stack.ledger("legal"))
    headers = {"Idempotency-Key": f"retry-{uuid.uuid4()}"}

    async def call() -> Any:
        async with stack.client("legal") as client:
            return await client.chat.completions.with_raw_response.create(
                model="gpt-4o-mini", messages=MESSAGES, max_tokens=MAX_TOKENS, extra_headers=headers
            )

    first = await call()
    answer = first.parse()
    request_ids = [first.headers["x-bastion-request-id"]]
    for _ in range(10):  # the kernel picks the worker: send until both have answered
        retries = await asyncio.gather(*(call() for _ in range(12)))  # fresh connections
        for retry in retries:
            assert retry.headers["idempotent-replayed"] == "true"
            assert retry.parse().id == answer.id
        request_ids += [retry.headers["x-bastion-request-id"] for retry in retries]
        if len(await stack.workers_of(request_ids)) == 2:
            break
    assert len(await stack.workers_of(request_ids)) == 2  # retries reached the other worker
    assert stack.forwarded() == 1
    rows = await stack.settled("legal", before + 1)
    assert len(rows) == before + 1  # billed once


async def test_a_restart_of_both_workers_keeps_the_spend_restored_once(
    stack: WorkersStack,
) -> None:
    """Both workers start again together: the budget still holds the settled spend, once
    (a ledger added by each worker would show in what is left)."""
    spent = sum(cost for _, _, cost in stack.ledger("finance"))
    assert spent > 0  # the burst above settled
    await asyncio.to_thread(stack.restart)
    async with stack.client("finance") as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=MESSAGES, max_tokens=MAX_TOKENS
        )
    expected = (BUDGET_USD * PICO_USD - spent - PER_CALL_PUSD) / PICO_USD
    remaining = float(raw.headers["x-bastion-budget-remaining-usd"])
    assert remaining == pytest.approx(expected, abs=2e-6)
