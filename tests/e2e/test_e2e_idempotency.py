"""Idempotent retries end to end: the official SDK sends ``Idempotency-Key``; a retried call
is answered from the first one, and the simulator's request count and the spend ledger
prove it was forwarded and billed once. Run with the memory store and with Redis (two
gateways sharing one Redis: a retry may land on another replica). Stored answers are a
K1 sink: a canary in a prompt and its answer is found in no Redis value, only in the
replay the client receives."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import openai
import pytest
import redis

from tests.e2e.processes import cli_json, free_port, start, stop, wait_http
from tests.limits.redis_servers import REDIS_URL, delete_prefixed, unavailable

SIM_KEY = "sk-sim-idempotency"
MESSAGES = [{"role": "user", "content": "Summarise the quarterly numbers for the board."}]

CONFIG = """
server: {{host: 127.0.0.1, port: {port}, admin: {{port: {admin_port}}}}}
storage: {{url: "sqlite:///gateway.db", poll_interval_s: 0.2}}
{redis}
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
  store: {store}
  rules:
    - name: team-budget
      scope: [team]
      budgets: [{{period: month, usd: 100}}]
"""


@dataclass
class IdemStack:
    """Gateways (one, or two sharing Redis) with one database, and their simulator."""

    base_urls: list[str]
    sim_url: str
    work: Path
    keys: dict[str, str]
    redis_prefix: str | None = None
    clients: list[openai.OpenAI] = field(default_factory=list)

    def client(self, team: str = "finance", gateway: int = 0) -> openai.OpenAI:
        made = openai.OpenAI(
            base_url=self.base_urls[gateway], api_key=self.keys[team], max_retries=0
        )
        self.clients.append(made)
        return made

    def async_client(self, team: str = "finance") -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=self.base_urls[0], api_key=self.keys[team], max_retries=0
        )

    def forwarded(self) -> int:
        """Chat calls the simulator received."""
        found = httpx.get(f"{self.sim_url}/_sim/captures").json()["captures"]
        return sum(1 for c in found if str(c["path"]).endswith("/chat/completions"))

    def clear(self) -> None:
        httpx.delete(f"{self.sim_url}/_sim/captures").raise_for_status()

    def script(self, *replies: dict[str, object]) -> None:
        httpx.post(
            f"{self.sim_url}/_sim/script", json={"model": "gpt-4o-mini", "replies": list(replies)}
        ).raise_for_status()

    def ledger_rows(self) -> int:
        with sqlite3.connect(self.work / "gateway.db") as db:
            (count,) = db.execute("SELECT count(*) FROM spend_ledger").fetchone()
        return int(count)

    async def settled(self, rows: int) -> None:
        """Wait (bounded) for the ledger writer to flush ``rows`` rows."""
        for _ in range(50):
            if self.ledger_rows() >= rows:
                return
            await asyncio.sleep(0.1)

    def replay_records(self) -> list[dict[str, object]]:
        with sqlite3.connect(self.work / "gateway.db") as db:
            rows = db.execute("SELECT request_facts, http_status FROM call_records").fetchall()
        found = []
        for facts, status in rows:
            parsed = json.loads(facts) if isinstance(facts, str) else facts
            if parsed and "idempotent_replay_of" in parsed:
                found.append({"of": parsed["idempotent_replay_of"], "status": status})
        return found


@contextmanager
def idem_stack(work: Path, *, store: str) -> Iterator[IdemStack]:
    prefix = f"bastion-e2e:{uuid.uuid4().hex[:12]}:"
    redis_section = ""
    gateways = 1
    if store == "redis":
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        try:
            client.ping()
        except redis.RedisError as exc:
            unavailable(f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}")
        finally:
            client.close()
        redis_section = f'redis: {{url: "{REDIS_URL}", key_prefix: "{prefix}"}}'
        gateways = 2
    sim_port = free_port()
    configs = []
    for index in range(gateways):
        port = free_port()
        config = work / f"bastion-{index}.yaml"
        config.write_text(
            CONFIG.format(
                port=port,
                admin_port=free_port(),
                redis=redis_section,
                sim_port=sim_port,
                sim_key=SIM_KEY,
                store=store,
            )
        )
        configs.append((config, port))
    sim = start(["simulate", "--port", str(sim_port), "--api-key", SIM_KEY], work / "sim.log")
    procs = []
    running: IdemStack | None = None
    try:
        wait_http(f"http://127.0.0.1:{sim_port}/_sim/health", sim)
        first = str(configs[0][0])
        keys = {
            team: str(
                cli_json("keys", "create", "--config", first, "--name", team, "--team", team)["key"]
            )
            for team in ("finance", "support")
        }
        for index, (config, port) in enumerate(configs):
            proc = start(["serve", "--config", str(config)], work / f"gateway-{index}.log")
            procs.append(proc)
            wait_http(f"http://127.0.0.1:{port}/healthz", proc, timeout_s=90)  # 2 cores, shared
        running = IdemStack(
            [f"http://127.0.0.1:{port}/v1" for _, port in configs],
            f"http://127.0.0.1:{sim_port}",
            work,
            keys,
            prefix if store == "redis" else None,
        )
        yield running
    finally:
        if running is not None:
            for made in running.clients:
                made.close()
        for proc in procs:
            log = stop(proc)
            assert "Traceback" not in log, log[-4000:]
        stop(sim)
        if store == "redis":
            delete_prefixed(REDIS_URL, prefix)


@pytest.fixture(scope="module", params=["memory", "redis"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[IdemStack]:
    with idem_stack(tmp_path_factory.mktemp(f"idem-{request.param}"), store=request.param) as s:
        yield s


def _key() -> dict[str, str]:
    return {"Idempotency-Key": f"retry-{uuid.uuid4()}"}


async def test_a_retried_call_is_answered_once_and_billed_once(stack: IdemStack) -> None:
    stack.clear()
    rows = stack.ledger_rows()
    headers = _key()
    first = stack.client().chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, max_tokens=30, extra_headers=headers
    )
    # the retry: on the other replica when two gateways share Redis
    retried = stack.client(gateway=-1).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, max_tokens=30, extra_headers=headers
    )
    assert retried.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    answer, again = first.parse(), retried.parse()
    assert again.id == answer.id and again.choices[0].message.content
    assert again.choices[0].message.content == answer.choices[0].message.content
    assert again.usage == answer.usage
    assert stack.forwarded() == 1
    await stack.settled(rows + 1)
    await asyncio.sleep(0.6)  # one more ledger flush: a second row would show
    assert stack.ledger_rows() == rows + 1
    (replay,) = [
        r for r in stack.replay_records() if r["of"] == first.headers["x-bastion-request-id"]
    ]
    assert replay["status"] == 200


async def test_a_retried_stream_is_replayed_as_the_same_sse(stack: IdemStack) -> None:
    stack.clear()
    rows = stack.ledger_rows()
    headers = _key()

    def events_of(gateway: int) -> tuple[list[dict[str, object]], dict[str, str]]:
        raw = stack.client(gateway=gateway).chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, extra_headers=headers
        )
        return [chunk.model_dump() for chunk in raw.parse()], dict(raw.headers)

    events, first_headers = events_of(0)
    replayed, replay_headers = events_of(-1)  # the SDK reads the replay as a stream
    assert len(events) > 2 and replayed == events
    assert replay_headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first_headers
    assert replay_headers["content-type"].startswith("text/event-stream")
    # one body: sent whole with its length, not re-chunked
    assert "transfer-encoding" not in replay_headers and "content-length" in replay_headers
    assert first_headers.get("transfer-encoding") == "chunked"
    assert stack.forwarded() == 1
    await stack.settled(rows + 1)
    await asyncio.sleep(0.6)
    assert stack.ledger_rows() == rows + 1


async def test_a_concurrent_duplicate_gets_409_while_the_first_runs(stack: IdemStack) -> None:
    stack.clear()
    stack.script({"content": "Numbers are up.", "fault": "slow_first_byte", "seconds": 2})
    headers = _key()
    async with stack.async_client() as client:

        async def one(delay_s: float) -> object:
            await asyncio.sleep(delay_s)
            try:
                return await client.chat.completions.create(
                    model="gpt-4o-mini", messages=MESSAGES, extra_headers=headers
                )
            except openai.APIStatusError as exc:
                return exc

        first, second = await asyncio.gather(one(0), one(0.5))
    assert not isinstance(first, Exception)
    assert isinstance(second, openai.ConflictError)
    assert second.code == "idempotency_in_progress" and second.type == "invalid_request_error"
    assert stack.forwarded() == 1


def test_a_key_reused_with_another_body_gets_422(stack: IdemStack) -> None:
    stack.clear()
    headers = _key()
    client = stack.client()
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, extra_headers=headers)
    with pytest.raises(openai.UnprocessableEntityError) as raised:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, temperature=0.2, extra_headers=headers
        )
    assert raised.value.code == "idempotency_key_reused"
    assert stack.forwarded() == 1


def test_another_gateway_key_never_sees_the_answer(stack: IdemStack) -> None:
    stack.clear()
    headers = _key()
    stack.client("finance").chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, extra_headers=headers
    )
    other = stack.client("support").chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, extra_headers=headers
    )
    assert "idempotent-replayed" not in other.headers
    assert stack.forwarded() == 2


def test_a_malformed_key_is_refused_before_anything_runs(stack: IdemStack) -> None:
    stack.clear()
    with pytest.raises(openai.BadRequestError) as raised:
        stack.client().chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, extra_headers={"Idempotency-Key": "x" * 256}
        )
    assert raised.value.param == "Idempotency-Key"
    assert stack.forwarded() == 0


def _redis_values(prefix: str) -> dict[bytes, bytes]:
    """Every string value under the stack's Redis prefix (hashes and sets as their
    members), raw."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        found: dict[bytes, bytes] = {}
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            kind = client.type(key)
            if kind == b"string":
                found[key] = client.get(key) or b""
            elif kind == b"hash":
                found[key] = b" ".join(k + b"=" + v for k, v in client.hgetall(key).items())
            elif kind == b"zset":
                found[key] = b" ".join(m for m, _ in client.zrange(key, 0, -1, withscores=True))
            elif kind == b"set":
                found[key] = b" ".join(client.smembers(key))
            elif kind == b"list":
                found[key] = b" ".join(client.lrange(key, 0, -1))
        return found
    finally:
        client.close()


@pytest.mark.parametrize("stack", ["redis"], indirect=True)  # memory: inside the process
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_k1_a_canary_stored_for_replay_is_in_no_redis_value(stack: IdemStack, stream: bool) -> None:
    assert stack.redis_prefix is not None
    canary = f"canary-idem-{uuid.uuid4().hex[:16]}"
    stack.script({"content": f"Noted: {canary} is on file."})
    headers = _key()
    messages = [{"role": "user", "content": f"Remember the code {canary} for the audit."}]

    def answer_of(gateway: int) -> tuple[str, dict[str, str]]:
        raw = stack.client(gateway=gateway).chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=messages, stream=stream, extra_headers=headers
        )
        if stream:
            chunks = raw.parse()
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        else:
            text = raw.parse().choices[0].message.content or ""
        return text, dict(raw.headers)

    first, _ = answer_of(0)
    replayed, replay_headers = answer_of(-1)
    # positive control: the canary went through and came back from the store
    assert canary in first and replayed == first
    assert replay_headers["idempotent-replayed"] == "true"
    values = _redis_values(stack.redis_prefix)
    slots = [key for key in values if key.startswith(f"{stack.redis_prefix}idem:".encode())]
    assert slots and all(values[key] for key in slots)  # the answers are there, sealed
    needles = [canary.encode(), canary.encode().hex().encode()]
    leaked = [key for key, value in values.items() if any(n in key + value for n in needles)]
    assert leaked == []
