"""End-to-end fixtures: a real simulator and a real gateway process, driven by the SDK."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import openai
import pytest

from tests.e2e.processes import cli_json, free_port, start, stop, wait_http

SIM_KEY = "sk-sim-e2e-upstream-key"

CONFIG = """
server:
  host: 127.0.0.1
  port: {port}
  max_body_bytes: 65536
  body_timeout_s: 2
  admin: {{port: {admin_port}}}
storage: {{url: "sqlite:///gateway.db", poll_interval_s: 0.2}}
providers:
  sim:
    kind: openai
    base_url: http://127.0.0.1:{sim_port}/v1
    api_key: {sim_key}
    retry: {{max_attempts: 2, backoff_base_s: 0.01, backoff_max_s: 0.5}}
    timeouts: {{first_byte_s: 1.5, idle_s: 1.0, total_s: 20}}
    breaker: {{failure_threshold: 1000}}
  dead:
    kind: openai
    base_url: http://127.0.0.1:{dead_port}/v1
    api_key: sk-dead
    retry: {{max_attempts: 2, backoff_base_s: 0.01}}
    breaker: {{failure_threshold: 1000}}
  wrongkey:
    kind: openai_compatible
    base_url: http://127.0.0.1:{sim_port}/v1
    api_key: sk-not-the-simulators-key
models:
  gpt-4o-mini: {{targets: [{{provider: sim, model: gpt-4o-mini}}]}}
  gpt-4o: {{targets: [{{provider: sim, model: gpt-4o-2024-08-06}}]}}
  text-embedding-3-small:
    kind: embedding
    targets: [{{provider: sim, model: text-embedding-3-small}}]
  fallback-chat:
    targets: [{{provider: dead, model: gpt-4o-mini}}, {{provider: sim, model: fallback-upstream}}]
  retry-chat: {{targets: [{{provider: sim, model: retry-upstream}}]}}
  badauth-chat: {{targets: [{{provider: wrongkey, model: gpt-4o-mini}}]}}
  fault-chat: {{targets: [{{provider: sim, model: fault-upstream}}]}}
  internal-llm: {{targets: [{{provider: sim, model: llama-3.1-70b-instruct}}]}}
  gpt-4.1: {{targets: [{{provider: sim, model: gpt-4.1}}]}}
"""


@dataclass
class Stack:
    """A running simulator + gateway pair and what tests need to reach them."""

    base_url: str
    admin_url: str
    sim_url: str
    config: Path
    key: str
    admin_token: str

    clients: dict[str, openai.OpenAI] = field(default_factory=dict)

    def client(self, key: str | None = None) -> openai.OpenAI:
        """One SDK client per key for the whole session (closed at the end)."""
        key = key or self.key
        if key not in self.clients:
            self.clients[key] = openai.OpenAI(base_url=self.base_url, api_key=key, max_retries=0)
        return self.clients[key]

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def create_key(self, *args: str) -> dict[str, object]:
        return cli_json("keys", "create", "--config", str(self.config), *args)

    def keys(self, *args: str) -> None:
        subprocess.run(
            [*_bastion_cmd(), "keys", *args, "--config", str(self.config)],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def script(self, model: str, *replies: dict[str, object]) -> None:
        httpx.post(
            f"{self.sim_url}/_sim/script", json={"model": model, "replies": list(replies)}
        ).raise_for_status()

    def captures(self) -> list[dict[str, object]]:
        found: list[dict[str, object]] = httpx.get(f"{self.sim_url}/_sim/captures").json()[
            "captures"
        ]
        return found

    def clear_captures(self) -> None:
        httpx.delete(f"{self.sim_url}/_sim/captures").raise_for_status()


def _bastion_cmd() -> list[str]:
    from tests.e2e.processes import BASTION

    return [BASTION]


@contextmanager
def running_stack(work: Path, extra_config: str = "", server_extra: str = "") -> Iterator[Stack]:
    """Start a simulator and a gateway on free ports with ``CONFIG`` + ``extra_config``
    (``server_extra``: indented lines added to its ``server:`` section)."""
    sim_port, port, admin_port, dead_port = free_port(), free_port(), free_port(), free_port()
    config = work / "bastion.yaml"
    config.write_text(
        CONFIG.format(
            port=port,
            admin_port=admin_port,
            sim_port=sim_port,
            dead_port=dead_port,
            sim_key=SIM_KEY,
        ).replace("\nstorage:", f"\n{server_extra}storage:", 1)
        + extra_config
    )
    sim = start(["simulate", "--port", str(sim_port), "--api-key", SIM_KEY], work / "sim.log")
    gateway = None
    try:
        wait_http(f"http://127.0.0.1:{sim_port}/_sim/health", sim)
        key = str(
            cli_json(
                "keys",
                "create",
                "--config",
                str(config),
                "--name",
                "e2e",
                "--app",
                "e2e-app",
                "--team",
                "platform",
            )["key"]
        )
        token = cli_json(
            "admin-token",
            "create",
            "--config",
            str(config),
            "--role",
            "auditor",
            "--subject",
            "e2e",
        )
        gateway = start(["serve", "--config", str(config)], work / "gateway.log")
        wait_http(f"http://127.0.0.1:{port}/healthz", gateway)
        running = Stack(
            base_url=f"http://127.0.0.1:{port}/v1",
            admin_url=f"http://127.0.0.1:{admin_port}",
            sim_url=f"http://127.0.0.1:{sim_port}",
            config=config,
            key=key,
            admin_token=str(token.get("token") or token.get("key")),
        )
        yield running
        running.close()
    finally:
        if gateway is not None:
            log = stop(gateway)
            assert "Traceback" not in log, log[-4000:]
        stop(sim)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The gateway with no policy: every call is allowed as asked."""
    with running_stack(tmp_path_factory.mktemp("e2e")) as running:
        yield running


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
