"""Change push between replicas (issue 9): two gateways share one PostgreSQL database and
one Redis namespace and poll the change feed only every 30 s, so a change that reaches
the other gateway within 2 s was pushed over Redis, not polled.

Shown: a key revoked through gateway A's admin API is refused by gateway B, and a policy
version activated from the CLI decides B's calls, each within 2 s. Needs PostgreSQL
(127.0.0.1:5432) and Redis (127.0.0.1:6379); either missing skips the module, except
with ``CI=true``, where it fails.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import redis

from tests.conftest import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, _postgres_admin
from tests.e2e.processes import BASTION, cli_json, free_port, start, stop, wait_http
from tests.e2e.test_e2e_limits import SIM_KEY
from tests.limits.redis_servers import REDIS_URL, unavailable

POLL_INTERVAL_S = 30.0  # nothing arrives by polling during a test
PUSH_S = 2.0
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
storage: {{url: "{database_url}", poll_interval_s: {poll}}}
redis: {{url: "{redis_url}", key_prefix: "{prefix}"}}
crypto: {{keyring_file: keyring.json}}
audit: {{wal_dir: wal/{name}, checkpoint_file: checkpoints/{name}.jsonl}}
policy: {{file: policy.yaml}}
providers:
  sim:
    kind: openai
    base_url: http://127.0.0.1:{sim_port}/v1
    api_key: {sim_key}
    retry: {{max_attempts: 1}}
models:
  gpt-4o-mini: {{targets: [{{provider: sim, model: gpt-4o-mini}}]}}
"""


@dataclass
class Gateway:
    name: str
    config: Path
    port: int
    admin_port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"


@dataclass
class Pair:
    work: Path
    a: Gateway
    b: Gateway
    token: str

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A call to gateway A's admin API."""
        headers = {"authorization": f"Bearer {self.token}"}
        return httpx.request(
            method, f"{self.a.admin_url}/admin/api{path}", headers=headers, **kwargs
        )

    def sdk(self, gateway: Gateway, key: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)


def _require_redis() -> None:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}")
    finally:
        client.close()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    _require_redis()
    work = tmp_path_factory.mktemp("change-push")
    database = f"bastion_push_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_postgres_admin(f'CREATE DATABASE "{database}"'))
    except (OSError, TimeoutError) as exc:
        unavailable(f"PostgreSQL not reachable at {POSTGRES_HOST}:{POSTGRES_PORT}: {exc}")
    prefix = f"bastion-e2e-push:{uuid.uuid4().hex[:12]}:"
    sim_port = free_port()
    (work / "policy.yaml").write_text(OPEN)
    (work / "strict.yaml").write_text(STRICT)
    gateways = []
    for name in ("a", "b"):
        gateway = Gateway(name, work / f"{name}.yaml", free_port(), free_port())
        gateway.config.write_text(
            CONFIG.format(
                port=gateway.port,
                admin_port=gateway.admin_port,
                name=name,
                poll=POLL_INTERVAL_S,
                database_url=f"postgresql://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{database}",
                redis_url=REDIS_URL,
                prefix=prefix,
                sim_port=sim_port,
                sim_key=SIM_KEY,
            )
        )
        gateways.append(gateway)
    a, b = gateways
    sim = start(["simulate", "--port", str(sim_port), "--api-key", SIM_KEY], work / "sim.log")
    procs = []
    try:
        wait_http(f"http://127.0.0.1:{sim_port}/_sim/health", sim)
        config = str(a.config)
        subprocess.run([BASTION, "crypto", "init", "--config", config], check=True, timeout=60)
        token = cli_json(
            "admin-token", "create", "--config", config, "--role", "admin", "--subject", "ops"
        )
        for gateway in (a, b):  # A first: it migrates the database and seeds the policy
            proc = start(
                ["serve", "--config", str(gateway.config)], work / f"{gateway.name}.log", cwd=work
            )
            procs.append(proc)
            wait_http(f"http://127.0.0.1:{gateway.port}/healthz", proc, timeout_s=60)
        yield Pair(work, a, b, str(token["token"]))
    finally:
        for proc in procs:
            log = stop(proc)
            assert "Traceback" not in log, log[-4000:]
        stop(sim, timeout_s=3)
        asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


def within(seconds: float, condition: Callable[[], bool]) -> float:
    """Seconds until ``condition`` held; fails past ``seconds``."""
    began = time.monotonic()
    while not condition():
        elapsed = time.monotonic() - began
        assert elapsed < seconds, f"not within {seconds} s"
        time.sleep(0.02)
    return time.monotonic() - began


def refused_with(client: openai.OpenAI, text: str = "Say hello.") -> openai.APIStatusError | None:
    try:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": text}]
        )
    except openai.APIStatusError as exc:
        return exc
    return None


def test_a_key_revoked_on_one_gateway_is_refused_by_the_other_within_2_s(pair: Pair) -> None:
    created = pair.admin("POST", "/keys", json={"name": "push", "team": "push"})
    assert created.status_code == 201, created.text
    key = created.json()
    with pair.sdk(pair.b, key["key"]) as client:
        assert refused_with(client) is None  # B knows the key, and caches it as valid
        revoked = pair.admin("POST", f"/keys/{key['id']}/revoke")
        assert revoked.status_code == 200, revoked.text
        took = within(PUSH_S, lambda: isinstance(refused_with(client), openai.AuthenticationError))
    print(f"revocation reached the other gateway in {took:.3f} s")


def test_a_policy_activated_from_the_cli_decides_the_other_gateway_within_2_s(
    pair: Pair,
) -> None:
    created = pair.admin("POST", "/keys", json={"name": "policy", "team": "push"})
    assert created.status_code == 201, created.text
    with pair.sdk(pair.b, created.json()["key"]) as client:
        assert refused_with(client, f"Write to {EMAIL}") is None
        activated = cli_json(
            "policy",
            "activate",
            str(pair.work / "strict.yaml"),
            "--config",
            str(pair.a.config),
            "--admin-token-file",
            str(_token_file(pair)),
        )

        def decides() -> bool:
            refused = refused_with(client, f"Write to {EMAIL}")
            return (
                isinstance(refused, openai.PermissionDeniedError)
                and refused.response.headers["x-bastion-policy"] == activated["version"]
            )

        took = within(PUSH_S, decides)
    print(f"policy activation reached the other gateway in {took:.3f} s")


def _token_file(pair: Pair) -> Path:
    path = pair.work / "admin-token"
    path.write_text(pair.token)
    return path
