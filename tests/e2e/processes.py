"""Starting real ``bastion`` processes for end-to-end tests, and stopping them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

BASTION = str(Path(sys.executable).with_name("bastion"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def output_of(proc: subprocess.Popen[bytes]) -> str:
    """What a process started by ``start`` printed so far."""
    log = getattr(proc, "log_path", None)
    return Path(log).read_text(errors="replace") if log else ""


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    """Wait until ``url`` answers (any status), failing fast if the process died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}:\n{output_of(proc)[-4000:]}")
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout_s}s")


def start(
    args: list[str],
    log_path: Path,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    command: list[str] | None = None,
    new_session: bool = False,
) -> subprocess.Popen[bytes]:
    """Start ``bastion ARGS`` (or ``command``) with its output going to ``log_path``."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command or [BASTION, *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env if env is not None else os.environ.copy(),
            cwd=cwd,
            start_new_session=new_session,
        )
    proc.log_path = str(log_path)  # type: ignore[attr-defined]
    return proc


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> str:
    """SIGTERM, wait, then SIGKILL; returns what the process printed."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return output_of(proc)


def cli_json(*args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    """Run a ``bastion`` command with ``--json`` and parse what it prints."""
    done = subprocess.run(
        [BASTION, *args, "--json"], capture_output=True, check=True, timeout=60, env=env
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result
