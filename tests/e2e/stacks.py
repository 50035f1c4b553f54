"""Shared stacks for end-to-end tests that start several gateways on shared stores.

One config per gateway built from the same sections (``gateway_config``), a private
PostgreSQL database (``postgres_database``), a Redis namespace (``redis_namespace``),
the simulator (``simulator``), and ``Gateway``: one restartable gateway process with
what the drills ask of it (calls, ``/readyz``, ``bastion audit verify``).
``start_gateways`` starts N of them one after the other (the first migrates the store).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

from tests.conftest import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, _postgres_admin
from tests.e2e.conftest import SIM_KEY
from tests.e2e.processes import BASTION, free_port, start, stop, wait_http
from tests.limits.redis_servers import REDIS_URL, delete_prefixed, unavailable

SIM_PROVIDER = """providers:
  sim:
    kind: openai
    base_url: http://127.0.0.1:{sim_port}/v1
    api_key: {sim_key}
    retry: {{max_attempts: 1}}
    timeouts: {{first_byte_s: {first_byte_s}, idle_s: 5, total_s: 90}}
models:
  gpt-4o-mini: {{targets: [{{provider: sim, model: gpt-4o-mini}}]}}
"""


def until(check: Callable[[], object], timeout_s: float, interval_s: float = 0.1) -> float:
    """Poll ``check`` until it is truthy; fail after ``timeout_s``. Returns the seconds taken."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout_s, f"not within {timeout_s}s"
        time.sleep(interval_s)
    return time.monotonic() - started


@contextmanager
def postgres_database(prefix: str = "bastion_e2e") -> Iterator[str]:
    """A fresh PostgreSQL database (its ``postgresql://`` URL), dropped afterwards; skips
    (fails under ``CI=true``) when the server is unreachable."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_postgres_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, TimeoutError) as exc:
        unavailable(f"PostgreSQL not reachable at {POSTGRES_HOST}:{POSTGRES_PORT}: {exc}")
    try:
        yield f"postgresql://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{name}"
    finally:
        asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def require_redis(url: str = REDIS_URL) -> None:
    """Skip (fail under ``CI=true``) when Redis does not answer a PING."""
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis not reachable at {url}: {type(exc).__name__}")
    finally:
        client.close()


@contextmanager
def redis_namespace(name: str = "bastion-e2e") -> Iterator[str]:
    """A key prefix of the test's own in the shared Redis, deleted afterwards."""
    require_redis()
    prefix = f"{name}:{uuid.uuid4().hex[:12]}:"
    try:
        yield prefix
    finally:
        delete_prefixed(REDIS_URL, prefix)


@contextmanager
def simulator(work: Path, port: int | None = None, api_key: str = SIM_KEY) -> Iterator[str]:
    """The OpenAI-wire simulator on ``port`` (a free one by default), taking ``api_key``:
    its base URL."""
    port = port or free_port()
    sim = start(["simulate", "--port", str(port), "--api-key", api_key], work / "sim.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/_sim/health", sim)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(sim, timeout_s=3)


def gateway_config(
    *,
    port: int,
    admin_port: int,
    storage_url: str,
    sim_port: int,
    sections: str = "",
    sim_key: str = SIM_KEY,
    first_byte_s: float = 30,
    poll_interval_s: float = 0.2,
    workers: int = 1,
) -> str:
    """A gateway config: server (``workers`` processes), storage, the simulator as
    provider ``sim`` serving ``gpt-4o-mini``, plus ``sections`` (YAML top-level sections:
    redis, limits, audit...)."""
    head = (
        f"server: {{host: 127.0.0.1, port: {port}, workers: {workers}, "
        f"admin: {{port: {admin_port}}}}}\n"
        f'storage: {{url: "{storage_url}", poll_interval_s: {poll_interval_s}}}\n'
    )
    provider = SIM_PROVIDER.format(sim_port=sim_port, sim_key=sim_key, first_byte_s=first_byte_s)
    return head + provider + sections


@dataclass
class Gateway:
    """One gateway process on its config file: started, stopped and restarted by tests."""

    name: str
    work: Path
    config: Path
    port: int
    admin_port: int
    proc: subprocess.Popen[bytes] | None = None
    runs: int = 0

    @classmethod
    def write(
        cls, work: Path, name: str, config: Callable[[int, int], str], port: int | None = None
    ) -> Gateway:
        """A gateway named ``name`` whose config is ``config(port, admin_port)``."""
        port, admin_port = port or free_port(), free_port()
        path = work / f"{name}.yaml"
        path.write_text(config(port, admin_port))
        return cls(name, work, path, port, admin_port)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def launch(self) -> subprocess.Popen[bytes]:
        """Start the process without waiting for it (a start that may fail)."""
        self.runs += 1
        log = self.work / f"{self.name}-{self.runs}.log"
        self.proc = start(["serve", "--config", str(self.config)], log, cwd=self.work)
        return self.proc

    def serve(self, timeout_s: float = 90) -> None:
        """Start the process and wait until it answers."""
        wait_http(f"http://127.0.0.1:{self.port}/healthz", self.launch(), timeout_s=timeout_s)

    def stop(self) -> str:
        """SIGTERM and wait; what it printed (which must hold no traceback)."""
        assert self.proc is not None
        log = stop(self.proc, timeout_s=30)
        self.proc = None
        assert "Traceback" not in log, log[-4000:]
        return log

    def chat(self, key: str, text: str = "hello", *, timeout_s: float = 60) -> httpx.Response:
        return httpx.post(
            f"{self.base_url}/chat/completions",
            headers={"authorization": f"Bearer {key}"},
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]},
            timeout=timeout_s,
        )

    def readyz(self) -> int:
        return httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=30).status_code

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        """``bastion ARGS --config <this config>``."""
        return subprocess.run(
            [BASTION, *args, "--config", str(self.config)],
            capture_output=True,
            check=check,
            timeout=120,
        )

    def verify(self, *, ok: bool = True) -> dict[str, object]:
        """``bastion audit verify --json``; asserts it passed (or failed, ``ok=False``)."""
        done = self.cli("audit", "verify", "--json", check=False)
        report: dict[str, object] = json.loads(done.stdout)
        assert (done.returncode == 0 and report["ok"]) is ok, report
        return report


@contextmanager
def start_gateways(gateways: Sequence[Gateway]) -> Iterator[Sequence[Gateway]]:
    """Start ``gateways`` one after the other (the first migrates a fresh store) and stop
    every one still running at the end."""
    try:
        for gateway in gateways:
            gateway.serve()
        yield gateways
    finally:
        for gateway in gateways:
            if gateway.proc is not None:
                gateway.stop()
