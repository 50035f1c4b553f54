"""The README's run command on a clean checkout with an empty environment (CONTRACT §2)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path

import openai
import pytest

from tests.e2e.processes import start, wait_http

REPO = Path(__file__).resolve().parents[2]
PORTS = (8080, 8081, 9000)  # examples/quickstart.yaml and `bastion simulate` defaults


def _busy(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_scripts_run_on_a_clean_checkout_serves_the_sdk(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    busy = [p for p in PORTS if _busy(p)]
    if busy:
        message = f"quickstart ports {busy} are in use on this machine"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    clone = tmp_path / "bastion"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    empty_env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(tmp_path))}
    proc = start(
        [],
        tmp_path / "run.log",
        env=empty_env,
        cwd=clone,
        command=["bash", "scripts/run"],
        new_session=True,
    )
    try:
        wait_http("http://127.0.0.1:8080/healthz", proc, timeout_s=600)
        assert (clone / ".venv" / "bin" / "bastion").exists()
        created = subprocess.run(
            [
                str(clone / ".venv/bin/bastion"),
                "keys",
                "create",
                "--config",
                "examples/quickstart.yaml",
                "--name",
                "quickstart",
                "--json",
            ],
            cwd=clone,
            env=empty_env,
            capture_output=True,
            check=True,
            timeout=60,
        )
        key = json.loads(created.stdout)["key"]
        client = openai.OpenAI(base_url="http://127.0.0.1:8080/v1", api_key=key, max_retries=0)
        request.addfinalizer(client.close)
        answer = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hello quickstart"}]
        )
        assert answer.choices[0].message.content == "hello quickstart"
        assert {m.id for m in client.models.list()} >= {
            "gpt-4o-mini",
            "gpt-4o",
            "text-embedding-3-small",
        }
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert not any(_busy(p) for p in PORTS), "scripts/run left a process listening"
