"""Budgets and rate limits across processes: three gateways, the first with two workers,
all counting in one Redis (``limits.store: redis``) and writing one ledger.

Drill (RELIABILITY.md "Redis ... counters flushed"): Redis loses every counter under the
running gateways; they rebuild the budget counters from the spend ledger, and a burst
afterwards is admitted exactly as far as the budget left by the ledger allows (B1).

As in test_e2e_limits.py, the simulator holds the admitted answers while the rest of
the burst arrives, so every refusal is decided while all admitted calls are still open.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bastion.model.spend import PICO_USD
from tests.e2e.processes import cli_json, free_port
from tests.e2e.stacks import Gateway, redis_namespace, simulator, start_gateways, until
from tests.e2e.test_e2e_limits import BODY, BUDGET_USD, PER_CALL_PUSD, SIM_KEY
from tests.limits.redis_servers import REDIS_URL, delete_prefixed

RATE_LIMIT = 10

CONFIG = """
server: {{host: 127.0.0.1, port: {port}, workers: {workers}, admin: {{port: {admin_port}}}}}
storage: {{url: "sqlite:///gateway.db", poll_interval_s: 0.2}}
redis: {{url: "{redis_url}", key_prefix: "{prefix}", timeout_s: 5}}  # a loaded machine: > 1 s
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
  store: redis
  timezone: Europe/Berlin
  rules:
    - name: team-budget
      scope: [team]
      match: {{team: [finance, legal, ops]}}
      budgets: [{{period: month, usd: {budget}}}]
    - name: support-rate
      scope: [team]
      match: {{team: support}}
      requests_per_minute: {rate}
"""


@dataclass
class SharedStack:
    """Gateways sharing one Redis namespace and one database, and their simulator."""

    base_urls: list[str]
    sim_url: str
    work: Path
    keys: dict[str, str]
    prefix: str

    def ledger(self, team: str) -> list[tuple[int, int, int]]:
        with sqlite3.connect(self.work / "gateway.db") as db:
            return db.execute(
                "SELECT prompt_tokens, completion_tokens, cost_pusd FROM spend_ledger "
                "WHERE team = ? ORDER BY id",
                (team,),
            ).fetchall()

    def chat_captures(self) -> int:
        found = httpx.get(f"{self.sim_url}/_sim/captures").json()["captures"]
        return sum(1 for c in found if str(c["path"]).endswith("/chat/completions"))

    def hold_answers(self, count: int) -> None:
        httpx.delete(f"{self.sim_url}/_sim/captures").raise_for_status()
        reply = {"content": "Numbers are up.", "fault": "slow_first_byte", "seconds": 3}
        httpx.post(
            f"{self.sim_url}/_sim/script",
            json={"model": "gpt-4o-mini", "replies": [{**reply, "times": count}]},
        ).raise_for_status()


@contextmanager
def shared_stack(work: Path, workers: tuple[int, ...]) -> Iterator[SharedStack]:
    """One gateway per entry of ``workers``, with that many worker processes."""
    sim_port = free_port()
    with redis_namespace() as prefix, simulator(work, sim_port, SIM_KEY) as sim_url:
        gateways = [
            Gateway.write(
                work,
                f"gateway-{index}",
                lambda port, admin_port, count=count: CONFIG.format(
                    port=port,
                    admin_port=admin_port,
                    workers=count,
                    redis_url=REDIS_URL,
                    prefix=prefix,
                    sim_port=sim_port,
                    sim_key=SIM_KEY,
                    budget=f"{BUDGET_USD:.12f}",
                    rate=RATE_LIMIT,
                ),
            )
            for index, count in enumerate(workers)
        ]
        config = str(gateways[0].config)
        keys = {
            team: str(
                cli_json("keys", "create", "--config", config, "--name", team, "--team", team)[
                    "key"
                ]
            )
            for team in ("finance", "legal", "support", "ops")
        }
        with start_gateways(gateways):
            yield SharedStack([g.base_url for g in gateways], sim_url, work, keys, prefix)


async def burst(urls: list[str], key: str, count: int) -> list[tuple[int, dict[str, object]]]:
    """``count`` calls at once, spread over the gateways in turn."""
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one(index: int) -> tuple[int, dict[str, object]]:
            reply = await client.post(
                urls[index % len(urls)] + "/chat/completions",
                json=BODY,
                headers={"authorization": f"Bearer {key}"},
            )
            return reply.status_code, reply.json()

        return await asyncio.gather(*(one(i) for i in range(count)))


async def admits_exactly_ten_of_200(stack: SharedStack, team: str, urls: list[str]) -> None:
    stack.hold_answers(10)
    results = await burst(urls, stack.keys[team], 200)
    statuses = [status for status, _ in results]
    others = [body for status, body in results if status not in (200, 429)]
    assert (statuses.count(200), statuses.count(429)) == (10, 190), others[:3]
    codes = {body["error"]["code"] for status, body in results if status == 429}  # type: ignore[index]
    assert codes == {"budget_exceeded"}
    assert stack.chat_captures() == 10
    usage = [body["usage"] for status, body in results if status == 200]
    await asyncio.sleep(0.8)  # a ledger flush in every process
    rows = stack.ledger(team)
    assert sorted((p, c) for p, c, _ in rows) == sorted(
        (u["prompt_tokens"], u["completion_tokens"])  # type: ignore[index]
        for u in usage
    )
    assert sum(cost for _, _, cost in rows) <= BUDGET_USD * PICO_USD  # B1


@pytest.fixture(scope="module")
def gateways(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedStack]:
    with shared_stack(tmp_path_factory.mktemp("limits-redis"), workers=(2, 1, 1)) as stack:
        yield stack


async def test_two_workers_admit_exactly_the_reservations_that_fit(gateways: SharedStack) -> None:
    await admits_exactly_ten_of_200(gateways, "finance", gateways.base_urls[:1])


async def test_three_gateways_admit_exactly_the_reservations_that_fit(
    gateways: SharedStack,
) -> None:
    await admits_exactly_ten_of_200(gateways, "legal", gateways.base_urls)


async def test_three_gateways_share_one_rate_limit(gateways: SharedStack) -> None:
    results = await burst(gateways.base_urls, gateways.keys["support"], 3 * RATE_LIMIT)
    statuses = [status for status, _ in results]
    others = [body for status, body in results if status not in (200, 429)]
    assert (statuses.count(200), statuses.count(429)) == (RATE_LIMIT, 2 * RATE_LIMIT), others[:3]
    codes = {body["error"]["code"] for status, body in results if status == 429}  # type: ignore[index]
    assert codes == {"rate_limit_exceeded"}


async def test_flushed_counters_are_rebuilt_from_the_ledger_and_the_budget_holds(
    gateways: SharedStack,
) -> None:
    key = gateways.keys["ops"]
    for index in range(4):  # a third of the budget spent, settled in the ledger
        status, body = (await burst(gateways.base_urls[index % 3 :], key, 1))[0]
        assert status == 200, body
    until(lambda: len(gateways.ledger("ops")) == 4, 30)
    spent = sum(cost for _, _, cost in gateways.ledger("ops"))

    assert delete_prefixed(REDIS_URL, gateways.prefix) > 0  # Redis loses every counter

    budget = round(float(f"{BUDGET_USD:.12f}") * PICO_USD)
    fits = (budget - spent) // PER_CALL_PUSD
    assert 0 < fits < 10  # fresh counters would admit 10: the ledger must be read
    gateways.hold_answers(fits)
    results = await burst(gateways.base_urls, key, 40)
    statuses = [status for status, _ in results]
    assert (statuses.count(200), statuses.count(429)) == (fits, 40 - fits), statuses
    until(lambda: len(gateways.ledger("ops")) == 4 + fits, 30)
    assert sum(cost for _, _, cost in gateways.ledger("ops")) <= budget  # B1
