"""Process lifecycle: several workers, SIGTERM drains in-flight calls, SIGHUP reloads config."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.e2e.processes import cli_json, free_port, output_of, start, stop, wait_http

CONFIG = """
server: {{host: 127.0.0.1, port: {port}, workers: {workers}, admin: {{port: {admin_port}}}}}
storage: {{url: "sqlite:///gateway.db", poll_interval_s: 0.2}}
providers:
  sim: {{kind: openai, base_url: "http://127.0.0.1:{sim_port}/v1", api_key: sk-x}}
models:
  gpt-4o-mini: {{targets: [{{provider: sim, model: gpt-4o-mini}}]}}
{extra}
"""


class Gateway:
    def __init__(
        self, work: Path, sim_port: int, workers: int, *, new_session: bool = False
    ) -> None:
        self.work = work
        self.sim_port = sim_port
        self.port, self.admin_port = free_port(), free_port()
        self.workers = workers
        self.config = work / "bastion.yaml"
        self.write_config()
        self.key = str(
            cli_json("keys", "create", "--config", str(self.config), "--name", "life")["key"]
        )
        self.proc = start(
            ["serve", "--config", str(self.config)], work / "gateway.log", new_session=new_session
        )
        wait_http(f"http://127.0.0.1:{self.port}/healthz", self.proc)

    def write_config(self, extra: str = "") -> None:
        self.config.write_text(
            CONFIG.format(
                port=self.port,
                admin_port=self.admin_port,
                workers=self.workers,
                sim_port=self.sim_port,
                extra=extra,
            )
        )

    def client(self) -> openai.OpenAI:
        """A new SDK client; use it in a ``with`` block so its sockets close."""
        return openai.OpenAI(
            base_url=f"http://127.0.0.1:{self.port}/v1", api_key=self.key, max_retries=0
        )


@pytest.fixture
def sim_port(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    sim = start(["simulate", "--port", str(port)], tmp_path / "sim.log")
    wait_http(f"http://127.0.0.1:{port}/_sim/health", sim)
    yield port
    stop(sim)


def test_two_workers_serve_and_stop_cleanly(tmp_path: Path, sim_port: int) -> None:
    gateway = Gateway(tmp_path, sim_port, workers=2)
    client = gateway.client()
    try:
        answers = {
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"call {i}"}]
            )
            .choices[0]
            .message.content
            for i in range(20)
        }
        assert answers == {f"call {i}" for i in range(20)}
        token = cli_json(
            "admin-token", "create", "--config", str(gateway.config), "--role", "auditor"
        )["token"]
        # Whichever worker answers the scrape, it reports every worker's calls.
        for _ in range(4):
            text = httpx.get(
                f"http://127.0.0.1:{gateway.admin_port}/metrics",
                headers={"authorization": f"Bearer {token}"},
            ).text
            total = sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("bastion_calls_total{")
            )
            assert total == 20, text
    finally:
        client.close()
        log = stop(gateway.proc)
    assert gateway.proc.returncode == 0, log
    assert "Traceback" not in log


def test_sigterm_lets_an_in_flight_stream_finish(tmp_path: Path, sim_port: int) -> None:
    gateway = Gateway(tmp_path, sim_port, workers=1)
    texts: list[str] = []

    def slow_stream() -> None:
        with gateway.client() as client:
            stream = client.chat.completions.create(
                model="gpt-4o-mini",
                stream=True,
                messages=[
                    {"role": "user", "content": "draining [[sim:fault=stall,seconds=1,after=2]]"}
                ],
            )
            texts.append("".join(c.choices[0].delta.content or "" for c in stream if c.choices))

    caller = threading.Thread(target=slow_stream)
    caller.start()
    _until_upstream_received(sim_port, "draining")  # the stream is under way
    gateway.proc.send_signal(signal.SIGTERM)
    caller.join(60)
    log = stop(gateway.proc)
    assert texts == ["draining [[sim:fault=stall,seconds=1,after=2]]"], log
    assert gateway.proc.returncode == 0, log


def _until_upstream_received(sim_port: int, marker: str) -> None:
    """Wait until the simulator received the chat call whose prompt holds ``marker``: the
    gateway is then mid-call (a fixed sleep may end before a loaded runner got there)."""

    def received() -> bool:
        found = httpx.get(f"http://127.0.0.1:{sim_port}/_sim/captures", timeout=30).json()
        return any(marker in json.dumps(c.get("body")) for c in found["captures"])

    _eventually(received, timeout_s=60)


def _workers(parent: int) -> set[int]:
    """The worker processes of a ``bastion serve`` (not multiprocessing's resource tracker)."""
    children: set[int] = set()
    for task in Path(f"/proc/{parent}/task").iterdir():
        children.update(int(pid) for pid in (task / "children").read_text().split())
    return {pid for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()}


def test_a_worker_killed_while_serving_is_replaced(tmp_path: Path, sim_port: int) -> None:
    gateway = Gateway(tmp_path, sim_port, workers=2)
    try:
        _eventually(lambda: len(_workers(gateway.proc.pid)) == 2, timeout_s=60)
        first = _workers(gateway.proc.pid)
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        _eventually(lambda: len(_workers(gateway.proc.pid) - {victim}) == 2, timeout_s=60)
        with gateway.client() as client:
            for i in range(10):  # a replacement still starting leaves the other to answer
                reply = client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": f"after {i}"}]
                )
                assert reply.choices[0].message.content == f"after {i}"
    finally:
        log = stop(gateway.proc)
    assert gateway.proc.returncode == 0, log
    assert "died (exit -9); starting another" in log
    assert "Traceback" not in log


def test_a_worker_that_cannot_start_stops_the_gateway_with_exit_1(
    tmp_path: Path, sim_port: int
) -> None:
    (tmp_path / "keyring.json").write_text("not a keyring")
    config = tmp_path / "bastion.yaml"
    config.write_text(
        CONFIG.format(
            port=free_port(),
            admin_port=free_port(),
            workers=2,
            sim_port=sim_port,
            extra="crypto: {keyring_file: keyring.json}",
        )
    )
    proc = start(["serve", "--config", str(config)], tmp_path / "gateway.log")
    try:
        proc.wait(90)
    finally:
        log = stop(proc)
    assert proc.returncode == 1, log
    assert "not a Bastion keyring" in log and "stopping the gateway" in log
    assert "Traceback" not in log


def test_ctrl_c_to_the_process_group_drains_every_worker(tmp_path: Path, sim_port: int) -> None:
    """Ctrl-C in a terminal signals the parent and its workers at once: the workers must
    still drain (one signal each), not stop at once as on a second signal."""
    gateway = Gateway(tmp_path, sim_port, workers=2, new_session=True)
    texts: list[str] = []
    content = "interrupted [[sim:fault=stall,seconds=1,after=2]]"

    def slow_stream() -> None:
        with gateway.client() as client:
            stream = client.chat.completions.create(
                model="gpt-4o-mini", stream=True, messages=[{"role": "user", "content": content}]
            )
            texts.append("".join(c.choices[0].delta.content or "" for c in stream if c.choices))

    caller = threading.Thread(target=slow_stream)
    caller.start()
    _until_upstream_received(sim_port, "interrupted")  # the stream is under way
    os.killpg(gateway.proc.pid, signal.SIGINT)
    caller.join(60)
    gateway.proc.wait(60)  # on its own: another signal would mean "stop now"
    log = stop(gateway.proc)
    assert texts == [content], log
    assert gateway.proc.returncode == 0, log
    assert "Traceback" not in log


def test_sighup_applies_a_valid_config_and_keeps_the_old_one_when_invalid(
    tmp_path: Path, sim_port: int
) -> None:
    gateway = Gateway(tmp_path, sim_port, workers=1)
    client = gateway.client()
    try:
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve("gpt-4o")
        gateway.write_config("  gpt-4o: {targets: [{provider: sim, model: gpt-4o}]}")
        gateway.proc.send_signal(signal.SIGHUP)
        _eventually(lambda: client.models.retrieve("gpt-4o").id == "gpt-4o")
        gateway.write_config("  gpt-4o: {targets: [{provider: nowhere, model: gpt-4o}]}")
        gateway.proc.send_signal(signal.SIGHUP)
        _eventually(lambda: "config reload rejected" in output_of(gateway.proc))
        assert (
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "still here"}]
            )
            .choices[0]
            .message.content
            == "still here"
        )
    finally:
        client.close()
        log = stop(gateway.proc)
    assert "config reload rejected" in log and "nowhere" in log
    metrics_ok = "Traceback" not in log
    assert metrics_ok, log


def _eventually(check: object, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except (openai.APIError, httpx.HTTPError) as exc:
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"condition not met in {timeout_s}s (last error: {last})")


def test_bad_keys_leave_one_summary_event_without_the_keys(tmp_path: Path, sim_port: int) -> None:
    gateway = Gateway(tmp_path, sim_port, workers=1)
    forged = "bst_Zz9Zz9Zz_" + "Q" * 32
    try:
        for key in (forged, forged, "sk-not-ours", forged):
            response = httpx.get(
                f"http://127.0.0.1:{gateway.port}/v1/models",
                headers={"authorization": f"Bearer {key}"},
            )
            assert response.status_code == 401
    finally:
        log = stop(gateway.proc)
    summaries = [line for line in log.splitlines() if "unauthenticated calls" in line]
    assert len(summaries) == 1, log
    assert ": 4 (" in summaries[0] and "bst_Zz9Z from 127.0.0.1: 3" in summaries[0]
    assert "QQQQ" not in log and "sk-not-ours" not in log
