"""``bastion serve`` as a process: start-up failures (one clear line, exit 1) and the drain."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from tests.e2e.processes import BASTION, cli_json, free_port, output_of, start, stop, wait_http


def _serve(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BASTION, "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=config.parent,
    )


def test_a_port_in_use_is_named_and_exits_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "bastion.yaml"
        config.write_text(
            f"server: {{port: {free_port()}, admin: {{port: {port}}}}}\n"
            'storage: {url: "sqlite:///gateway.db"}\n'
        )
        done = _serve(config)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output
    assert f"cannot listen on 127.0.0.1:{port} (server.admin.port)" in output
    assert "Address already in use" in output


@pytest.mark.parametrize("workers", [1, 2])
def test_a_database_that_cannot_be_opened_is_one_line_and_exit_1(
    tmp_path: Path, workers: int
) -> None:
    """With several workers the parent migrates first: it failed with a traceback."""
    (tmp_path / "gateway.db").write_text("not a database")
    config = tmp_path / "bastion.yaml"
    config.write_text(
        f"server: {{port: {free_port()}, workers: {workers}, admin: {{port: {free_port()}}}}}\n"
        'storage: {url: "sqlite:///gateway.db"}\n'
    )
    done = _serve(config)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output
    assert "database migration failed on sqlite" in output


DRAIN_CONFIG = """
server: {{port: {port}, admin: {{port: {admin_port}}}, drain_timeout_s: {drain}}}
storage: {{url: "sqlite:///gateway.db"}}
providers:
  sim: {{kind: openai, base_url: "http://127.0.0.1:{sim_port}/v1", api_key: sk-x}}
models:
  gpt-4o-mini: {{targets: [{{provider: sim, model: gpt-4o-mini}}]}}
"""


@pytest.mark.parametrize("drain", [0, 0.5])
def test_sigterm_waits_no_longer_than_a_sub_second_drain_timeout(
    tmp_path: Path, drain: float
) -> None:
    """``drain_timeout_s`` below one second (0 included) was read as "wait for ever": a
    stalled stream held the process until it ended by itself."""
    sim_port, port = free_port(), free_port()
    sim = start(["simulate", "--port", str(sim_port)], tmp_path / "sim.log")
    config = tmp_path / "bastion.yaml"
    config.write_text(
        DRAIN_CONFIG.format(port=port, admin_port=free_port(), drain=drain, sim_port=sim_port)
    )
    gateway = None
    try:
        wait_http(f"http://127.0.0.1:{sim_port}/_sim/health", sim)
        key = str(cli_json("keys", "create", "--config", str(config), "--name", "d")["key"])
        gateway = start(["serve", "--config", str(config)], tmp_path / "gateway.log")
        wait_http(f"http://127.0.0.1:{port}/healthz", gateway)
        first_chunk = threading.Event()

        def stalled_stream() -> None:
            with (
                contextlib.suppress(httpx.HTTPError),
                httpx.stream(
                    "POST",
                    f"http://127.0.0.1:{port}/v1/chat/completions",
                    headers={"authorization": f"Bearer {key}"},
                    json={
                        "model": "gpt-4o-mini",
                        "stream": True,
                        "messages": [
                            {"role": "user", "content": "x [[sim:fault=stall,seconds=60,after=1]]"}
                        ],
                    },
                    timeout=90,
                ) as response,
            ):
                for _ in response.iter_bytes():
                    first_chunk.set()

        caller = threading.Thread(target=stalled_stream, daemon=True)
        caller.start()
        assert first_chunk.wait(30)
        gateway.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        gateway.wait(40)
        assert time.monotonic() - stopped_at < 20, output_of(gateway)
        assert gateway.returncode == 0, output_of(gateway)
    finally:
        if gateway is not None:
            stop(gateway)
        stop(sim)


def _workers(parent: int) -> set[int]:
    children: set[int] = set()
    for task in Path(f"/proc/{parent}/task").iterdir():
        children.update(int(pid) for pid in (task / "children").read_text().split())
    return {pid for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()}


def test_a_replaced_worker_does_not_stop_the_gateway_over_a_broken_config_file(
    tmp_path: Path,
) -> None:
    """The file was edited (a typo, not yet reloaded), then a worker died: its
    replacement failed to load the file and the whole gateway stopped with exit 1."""
    port = free_port()
    config = tmp_path / "bastion.yaml"
    good = (
        f"server: {{port: {port}, workers: 2, admin: {{port: {free_port()}}}}}\n"
        'storage: {url: "sqlite:///gateway.db"}\n'
    )
    config.write_text(good)
    gateway = start(["serve", "--config", str(config)], tmp_path / "gateway.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", gateway)
        deadline = time.monotonic() + 60
        while len(first := _workers(gateway.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        config.write_text(good + "server_typo: 1\n")
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = _workers(gateway.pid) if gateway.poll() is None else set()
            if len(now) == 2 and victim not in now:
                break
            time.sleep(0.2)
        deadline = time.monotonic() + 60  # the replacement loads its config (or fails to)
        while "this worker runs the start-up config" not in output_of(gateway):
            assert gateway.poll() is None, output_of(gateway)
            assert time.monotonic() < deadline, output_of(gateway)
            time.sleep(0.2)
        time.sleep(1)  # and keeps running after saying so
        assert gateway.poll() is None, output_of(gateway)
        assert "Traceback" not in output_of(gateway)
    finally:
        stop(gateway, timeout_s=40)
    assert gateway.returncode == 0, output_of(gateway)
