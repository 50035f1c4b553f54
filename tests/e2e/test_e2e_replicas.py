"""Several stateless replicas (issue 9): three gateway processes behind nginx, sharing
one PostgreSQL database and one Redis namespace, driven by the official SDK through
nginx's listener (the config in deploy/nginx/bastion.conf, only its addresses changed).

Shown: limits hold globally (R1, B1), a revoked key and a new policy version reach every
replica within 5 s (each replica asked directly), intents of a replica killed with
``kill -9`` mid-call are closed by another replica once its audit writer lease lapses
(A1, A2; the replicas ship intents to the database before forwarding), and ``bastion
audit verify`` passes on the shared database with a record for every call the simulator
saw (A3).

The tests share one cluster and run in file order: the last one restarts the killed
replica, stops the cluster and reads the whole trail.

Needs PostgreSQL (127.0.0.1:5432), Redis (127.0.0.1:6379) and nginx; each missing one
skips the module, except with ``CI=true``, where it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import redis

from bastion.limits.estimate import prompt_tokens
from bastion.model import Conversation, Endpoint, Segment, Source
from bastion.model.spend import PICO_USD
from tests.conftest import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, _postgres_admin
from tests.e2e.processes import (
    BASTION,
    cli_json,
    free_port,
    nginx_binary,
    output_of,
    start,
    start_nginx,
    stop,
    wait_http,
)
from tests.e2e.test_e2e_limits import MAX_TOKENS, SIM_KEY, TEXT
from tests.limits.redis_servers import REDIS_URL, delete_prefixed, unavailable

SITE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "bastion.conf"
REPLICAS = 3
RATE_LIMIT = 6
USER_ID_CHARS = 14  # "u-" and 12 hex digits: every call names its end user
# the reservation of one call of TEXT, MAX_TOKENS and a `user` (scanned, so estimated as prompt too)
PER_CALL_PUSD = (
    prompt_tokens(
        Conversation(
            Endpoint.CHAT,
            "gpt-4o-mini",
            (
                Segment(TEXT, Source.USER, ("messages", 0, "content")),
                Segment("u" * USER_ID_CHARS, Source.USER, ("user",)),
            ),
        )
    )
    * 150_000
    + MAX_TOKENS * 600_000
)
BUDGET_USD = PER_CALL_PUSD * 10.5 / PICO_USD  # room for exactly 10 reservations
LEASE_S = 3.0  # audit writer lease: a killed replica's intents are closed after it lapses
PROPAGATION_S = 5.0  # issue 9: revocations and policy changes reach every replica
EMAIL = "dana.whitfield@northwind-example.com"
OPEN = "name: shared\nversion: open\n"
STRICT = """\
name: shared
version: strict
rules:
  - id: mail.block
    match: {classes: [pii.email]}
    action: block
"""

CONFIG = """
server: {{host: 127.0.0.1, port: {port}, admin: {{port: {admin_port}}}}}
storage: {{url: "{database_url}"}}
redis: {{url: "{redis_url}", key_prefix: "{prefix}"}}
crypto: {{keyring_file: keyring.json}}
audit:
  wal_dir: wal/{name}
  checkpoint_file: checkpoints/{name}.jsonl
  checkpoint_every: 20
  writer_lease_s: {lease}
  intents: database
policy: {{file: policy.yaml}}
providers:
  sim:
    kind: openai
    base_url: http://127.0.0.1:{sim_port}/v1
    api_key: {sim_key}
    retry: {{max_attempts: 1}}
    timeouts: {{first_byte_s: 60, idle_s: 5, total_s: 90}}
models:
  gpt-4o-mini: {{targets: [{{provider: sim, model: gpt-4o-mini}}]}}
  hold-chat: {{targets: [{{provider: sim, model: hold-upstream}}]}}
limits:
  store: redis
  pricing: {{hold-chat: {{input: 0, output: 0}}}}
  rules:
    - name: team-budget
      scope: [team]
      match: {{team: finance}}
      budgets: [{{period: month, usd: {budget}}}]
    - name: support-rate
      scope: [team]
      match: {{team: support}}
      requests_per_minute: {rate}
"""


def end_user() -> str:
    """A unique end-user id: the simulator's captures and the call records both show it."""
    user = f"u-{uuid.uuid4().hex[:12]}"
    assert len(user) == USER_ID_CHARS
    return user


@dataclass
class Replica:
    name: str
    config: Path
    port: int
    admin_port: int
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"


@dataclass
class Cluster:
    """The replicas, nginx in front of them, the simulator and the shared stores."""

    work: Path
    database: str
    replicas: list[Replica]
    nginx_url: str
    sim_url: str
    token_file: Path
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)

    def start(self, *replicas: Replica) -> None:
        """Start ``replicas`` together and wait until each one serves."""
        for replica in replicas:
            replica.starts += 1
            log = self.work / f"{replica.name}-{replica.starts}.log"
            replica.proc = start(["serve", "--config", str(replica.config)], log, cwd=self.work)
        for replica in replicas:
            assert replica.proc is not None
            wait_http(f"http://127.0.0.1:{replica.port}/healthz", replica.proc, timeout_s=60)

    def create_key(self, team: str) -> dict[str, Any]:
        """A key of ``team`` made through replica 0's admin API (the others read the store)."""
        created = httpx.post(
            f"{self.replicas[0].admin_url}/admin/api/keys",
            json={"name": team, "team": team, "trust_end_user": True},
            headers=self.admin_headers(),
        )
        assert created.status_code == 201, created.text
        key: dict[str, Any] = created.json()
        return key

    def admin_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token_file.read_text()}"}

    def stop(self, *replicas: Replica) -> None:
        """SIGTERM ``replicas`` together, wait for each (they drain, ship and sign)."""
        running = [r for r in replicas if r.proc is not None]
        for replica in running:
            assert replica.proc is not None
            replica.proc.send_signal(signal.SIGTERM)
        for replica in running:
            assert replica.proc is not None
            try:  # not processes.stop: a second SIGTERM would skip the drain
                replica.proc.wait(30)
            except subprocess.TimeoutExpired:
                replica.proc.kill()
                replica.proc.wait()
            log = output_of(replica.proc)
            replica.proc = None
            assert "Traceback" not in log, log[-4000:]

    def cli(self, *args: str) -> dict[str, Any]:
        return cli_json(
            *args,
            "--config",
            str(self.replicas[0].config),
            "--admin-token-file",
            str(self.token_file),
        )

    def sdk(self, key: str, base_url: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(base_url=base_url or self.nginx_url, api_key=key, max_retries=0)

    def hold(self, model: str, count: int, seconds: float) -> None:
        """The simulator holds the next ``count`` answers of ``model`` for ``seconds``."""
        reply = {"content": "Numbers are up.", "fault": "slow_first_byte", "seconds": seconds}
        httpx.post(
            f"{self.sim_url}/_sim/script",
            json={"model": model, "replies": [{**reply, "times": count}]},
        ).raise_for_status()

    def seen_users(self) -> list[str]:
        """End-user ids of the chat calls the simulator received."""
        found = httpx.get(f"{self.sim_url}/_sim/captures").json()["captures"]
        return [
            str(c["body"]["user"])
            for c in found
            if str(c["path"]).endswith("/chat/completions")
            and isinstance(c.get("body"), dict)
            and "user" in c["body"]
        ]

    def query(self, statement: str, *args: object) -> list[tuple[Any, ...]]:
        return asyncio.run(_fetch(self.database, statement, *args))


async def _fetch(database: str, statement: str, *args: object) -> list[tuple[Any, ...]]:
    import asyncpg  # type: ignore[import-untyped]

    connection = await asyncpg.connect(
        host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, database=database, timeout=5
    )
    try:
        return [tuple(row) for row in await connection.fetch(statement, *args)]
    finally:
        await connection.close()


def site_for(ports: list[int], listen: int) -> str:
    """deploy/nginx/bastion.conf with this cluster's addresses."""
    text = SITE.read_text()
    servers = iter(ports)
    text, replaced = re.subn(
        r"^(\s*server )127\.0\.0\.1:\d+",
        lambda m: f"{m[1]}127.0.0.1:{next(servers)}",
        text,
        flags=re.M,
    )
    assert replaced == len(ports), "deploy/nginx/bastion.conf: one `server` line per replica"
    text, listens = re.subn(r"^(\s*listen )80;", rf"\g<1>127.0.0.1:{listen};", text, flags=re.M)
    assert listens == 1, "deploy/nginx/bastion.conf: one `listen 80;`"
    return text


def require_services() -> str:
    """The nginx binary, after checking Redis and PostgreSQL answer (else skip/fail)."""
    binary = nginx_binary()
    if binary is None:
        unavailable("nginx is not installed (apt-get install nginx-light)")
        raise AssertionError("unreachable")
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}")
    finally:
        client.close()
    return binary


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    nginx = require_services()
    work = tmp_path_factory.mktemp("replicas")
    database = f"bastion_replicas_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_postgres_admin(f'CREATE DATABASE "{database}"'))
    except (OSError, TimeoutError) as exc:
        unavailable(f"PostgreSQL not reachable at {POSTGRES_HOST}:{POSTGRES_PORT}: {exc}")
    prefix = f"bastion-e2e-replicas:{uuid.uuid4().hex[:12]}:"
    sim_port, nginx_port = free_port(), free_port()
    (work / "policy.yaml").write_text(OPEN)
    (work / "strict.yaml").write_text(STRICT)
    replicas = []
    for index in range(REPLICAS):
        replica = Replica(
            f"replica-{index}", work / f"replica-{index}.yaml", free_port(), free_port()
        )
        replica.config.write_text(
            CONFIG.format(
                port=replica.port,
                admin_port=replica.admin_port,
                name=replica.name,
                database_url=f"postgresql://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{database}",
                redis_url=REDIS_URL,
                prefix=prefix,
                sim_port=sim_port,
                sim_key=SIM_KEY,
                budget=f"{BUDGET_USD:.12f}",
                rate=RATE_LIMIT,
                lease=LEASE_S,
            )
        )
        replicas.append(replica)
    site = work / "bastion-site.conf"
    site.write_text(site_for([r.port for r in replicas], nginx_port))
    cluster = Cluster(
        work,
        database,
        replicas,
        f"http://127.0.0.1:{nginx_port}/v1",
        f"http://127.0.0.1:{sim_port}",
        work / "admin-token",
    )
    sim = start(["simulate", "--port", str(sim_port), "--api-key", SIM_KEY], work / "sim.log")
    proxy = None
    try:
        wait_http(f"{cluster.sim_url}/_sim/health", sim)
        config = str(replicas[0].config)
        subprocess.run([BASTION, "crypto", "init", "--config", config], check=True, timeout=60)
        token = cli_json(
            "admin-token", "create", "--config", config, "--role", "admin", "--subject", "ops"
        )
        cluster.token_file.write_text(str(token["token"]))
        cluster.start(replicas[0])  # migrates the database and seeds the policy
        cluster.start(*replicas[1:])
        for name in ("finance", "support", "platform", "revoked", "killed"):
            cluster.keys[name] = cluster.create_key(name)
        proxy = start_nginx(nginx, site, work / "nginx")
        wait_http(cluster.nginx_url.replace("/v1", "/healthz"), proxy)
        yield cluster
    finally:
        if proxy is not None:
            stop(proxy)
        for replica in replicas:
            if replica.proc is not None:
                stop(replica.proc)
        stop(sim, timeout_s=3)  # it may still hold the killed call's answer
        delete_prefixed(REDIS_URL, prefix)
        asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


async def sdk_burst(cluster: Cluster, key: str, count: int) -> Counter[str]:
    """``count`` calls at once through nginx; outcomes by status (and error code)."""
    # the SDK's default pool (up to 1,000 connections) opens one connection per call
    client = openai.AsyncOpenAI(base_url=cluster.nginx_url, api_key=key, max_retries=0, timeout=60)

    async def one() -> str:
        try:
            await client.chat.completions.create(
                model="gpt-4o-mini",
                max_tokens=MAX_TOKENS,
                messages=[{"role": "user", "content": TEXT}],
                user=end_user(),
            )
        except openai.APIStatusError as exc:
            return f"{exc.status_code} {exc.code}"
        return "200"

    try:
        return Counter(await asyncio.gather(*(one() for _ in range(count))))
    finally:
        await client.close()


def served_calls(cluster: Cluster, replica: Replica) -> float:
    """Calls a replica answered (its /metrics)."""
    text = httpx.get(f"{replica.admin_url}/metrics", headers=cluster.admin_headers()).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("bastion_calls_total{")
    )


def test_limits_hold_across_replicas_behind_nginx(cluster: Cluster) -> None:
    before = [served_calls(cluster, r) for r in cluster.replicas]
    rated = asyncio.run(sdk_burst(cluster, cluster.keys["support"]["key"], 3 * RATE_LIMIT))
    assert rated == {"200": RATE_LIMIT, "429 rate_limit_exceeded": 2 * RATE_LIMIT}

    seen = len(cluster.seen_users())
    cluster.hold("gpt-4o-mini", 10, 3)  # every refusal is decided while 10 calls are open
    budget = asyncio.run(sdk_burst(cluster, cluster.keys["finance"]["key"], 30))
    upstream = len(cluster.seen_users()) - seen
    assert (budget, upstream) == ({"200": 10, "429 budget_exceeded": 20}, 10)
    # nginx spread the calls: every replica decided some of them
    after = [served_calls(cluster, r) for r in cluster.replicas]
    assert all(a > b for a, b in zip(after, before, strict=True)), (before, after)


def within(seconds: float, condition: Callable[[], bool]) -> float:
    """Seconds until ``condition`` held; fails past ``seconds``."""
    began = time.monotonic()
    while not condition():
        elapsed = time.monotonic() - began
        assert elapsed < seconds, f"not within {seconds} s"
        time.sleep(0.05)
    return time.monotonic() - began


def refused_with(client: openai.OpenAI, text: str = "Say hello.") -> openai.APIStatusError | None:
    try:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": text}], user=end_user()
        )
    except openai.APIStatusError as exc:
        return exc
    return None


def test_a_revoked_key_is_refused_by_every_replica_within_5_s(cluster: Cluster) -> None:
    key = cluster.keys["revoked"]
    clients = [cluster.sdk(key["key"], r.base_url) for r in cluster.replicas]
    try:
        assert [refused_with(c) for c in clients] == [None] * REPLICAS  # cached as valid
        revoked = httpx.post(
            f"{cluster.replicas[0].admin_url}/admin/api/keys/{key['id']}/revoke",
            headers=cluster.admin_headers(),
        )
        assert revoked.status_code == 200, revoked.text
        began = time.monotonic()
        for client in clients:  # each replica directly, not through nginx

            def refuses(client: openai.OpenAI = client) -> bool:
                refused = refused_with(client)
                return isinstance(refused, openai.AuthenticationError)

            within(PROPAGATION_S - (time.monotonic() - began), refuses)
    finally:
        for client in clients:
            client.close()


def test_a_policy_update_reaches_every_replica_within_5_s(cluster: Cluster) -> None:
    clients = [cluster.sdk(cluster.keys["platform"]["key"], r.base_url) for r in cluster.replicas]
    try:
        assert [refused_with(c, f"Write to {EMAIL}") for c in clients] == [None] * REPLICAS
        activated = cluster.cli("policy", "activate", str(cluster.work / "strict.yaml"))
        began = time.monotonic()
        for client in clients:

            def decides(client: openai.OpenAI = client) -> bool:
                refused = refused_with(client, f"Write to {EMAIL}")
                return (
                    isinstance(refused, openai.PermissionDeniedError)
                    and refused.response.headers["x-bastion-policy"] == activated["version"]
                )

            within(PROPAGATION_S - (time.monotonic() - began), decides)
    finally:
        for client in clients:
            client.close()


def test_another_replica_closes_the_intents_of_a_killed_one(cluster: Cluster) -> None:
    victim = cluster.replicas[-1]
    assert victim.proc is not None
    user = end_user()
    cluster.hold("hold-upstream", 1, 60)
    headers = {"authorization": f"Bearer {cluster.keys['killed']['key']}"}
    body = {"model": "hold-chat", "user": user, "messages": [{"role": "user", "content": "Hi"}]}

    def call() -> None:  # never answered: the replica dies under it
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(
                f"{victim.base_url}/chat/completions", json=body, headers=headers, timeout=90
            )

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    deadline = time.monotonic() + 60
    while user not in cluster.seen_users():  # upstream has it: its intent is durable
        if time.monotonic() > deadline:  # not an AssertionError: that is the expected one
            raise TimeoutError("the held call never reached the simulator")
        time.sleep(0.05)
    victim.proc.kill()  # SIGKILL: no completion, no flush
    victim.proc.wait()
    victim.proc = None
    caller.join(10)
    # the others are still serving; one adopts the killed writer once its lease lapses
    # (at most LEASE_S after its last renewal) and closes the orphan on the next scan
    try:
        within(
            3 * LEASE_S + 1,
            lambda: (
                cluster.query('SELECT status FROM call_records WHERE "user" = $1', user)
                == [("unknown_after_crash",)]
            ),
        )
    finally:
        (cluster.work / "killed-user").write_text(user)


def test_the_shared_trail_is_complete_and_verifies(cluster: Cluster) -> None:
    killed = cluster.work / "killed-user"
    # the killed one restarts on its own log (a persistent volume)
    cluster.start(*(replica for replica in cluster.replicas if replica.proc is None))
    if killed.exists():
        within(
            10,
            lambda: (
                cluster.query(
                    'SELECT status FROM call_records WHERE "user" = $1', killed.read_text()
                )
                == [("unknown_after_crash",)]
            ),
        )
    # more traffic through nginx, then a clean stop: every replica flushes and signs
    client = cluster.sdk(cluster.keys["platform"]["key"])
    try:
        assert all(refused_with(client) is None for _ in range(3))
        for _ in range(3):  # streams pass nginx unbuffered, chunk by chunk
            chunks = list(
                client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=[{"role": "user", "content": "Count to five."}],
                    user=end_user(),
                    stream=True,
                )
            )
            assert len(chunks) > 2
            assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finally:
        client.close()
    cluster.stop(*cluster.replicas)

    seen = cluster.seen_users()
    # 16 (limits) + 3 (revocation) + 3 (policy) + 1 (killed) + 6 here, and any call a
    # replica still let through while a change propagated
    assert len(seen) >= 29
    intents = {
        json.loads(body)["user"]: request_id
        for request_id, body in cluster.query(
            "SELECT request_id, body FROM audit_events WHERE kind = 'intent'"
        )
    }
    assert set(seen) <= set(intents), sorted(set(seen) - set(intents))[:5]
    endings = Counter(
        request_id
        for (request_id,) in cluster.query(
            "SELECT request_id FROM audit_events WHERE kind = 'completion'"
        )
    )
    assert all(endings[request_id] == 1 for request_id in intents.values())
    writers = cluster.query("SELECT DISTINCT writer_id FROM audit_events WHERE kind = 'intent'")
    assert len(writers) == REPLICAS  # one chain per replica; the restart took its own over

    checkpoints = cluster.work / "all-checkpoints.jsonl"
    checkpoints.write_text(
        "".join(p.read_text() for p in sorted((cluster.work / "checkpoints").glob("*.jsonl")))
    )
    verified = subprocess.run(
        [
            BASTION,
            "audit",
            "verify",
            "--config",
            str(cluster.replicas[0].config),
            "--checkpoints",
            str(checkpoints),
            "--json",
        ],
        capture_output=True,
        timeout=60,
    )
    report = json.loads(verified.stdout)
    assert verified.returncode == 0 and report["ok"], report
    assert report["checkpoints"] >= REPLICAS
    assert report["records"] == sum(endings.values())
