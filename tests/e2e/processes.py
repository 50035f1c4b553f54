"""Starting real ``bastion`` processes for end-to-end tests, and stopping them."""

from __future__ import annotations

import json
import os
import shutil
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


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 120.0) -> None:
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


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> str:
    """SIGTERM, wait, then SIGKILL; returns what the process printed.

    The wait ends as soon as the process exits; 30 s leaves a loaded runner time to
    drain and flush (a SIGKILL there would fail tests asserting a clean exit)."""
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


def nginx_binary() -> str | None:
    """The ``nginx`` executable (also looked for in /usr/sbin, often not on PATH)."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    return found


def start_nginx(binary: str, site: Path, work: Path) -> subprocess.Popen[bytes]:
    """Run nginx in the foreground with ``site`` (a file for the ``http`` block) included
    in a main config of its own: prefix, pid, logs and temp files all under ``work``."""
    work.mkdir(parents=True, exist_ok=True)
    temp = {name: work / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(exist_ok=True)
    # as root, nginx would run its workers as `nobody`, who cannot read pytest's tmp dirs
    user = "user root;\n" if os.geteuid() == 0 else ""
    main = work / "nginx.conf"
    main.write_text(
        f"{user}worker_processes 1;\n"
        f"error_log {work / 'error.log'} warn;\n"
        f"pid {work / 'nginx.pid'};\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        "    access_log off;\n"
        f"    client_body_temp_path {temp['client_body']};\n"
        f"    proxy_temp_path {temp['proxy']};\n"
        f"    fastcgi_temp_path {temp['fastcgi']};\n"
        f"    uwsgi_temp_path {temp['uwsgi']};\n"
        f"    scgi_temp_path {temp['scgi']};\n"
        f"    include {site};\n"
        "}\n"
    )
    command = [binary, "-p", f"{work}/", "-e", str(work / "error.log"), "-c", str(main)]
    command += ["-g", "daemon off;"]
    return start([], work / "nginx.out", command=command)
