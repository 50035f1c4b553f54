"""Kill test (issue 7, RELIABILITY.md A1-A3): under load, ``kill -9`` the gateway at
random moments and restart it; every call the upstream saw has an intent record and
exactly one terminal state, ``bastion audit verify`` passes, and at least 90 % of the
calls offered while the gateway was up completed."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.e2e.conftest import CONFIG, SIM_KEY
from tests.e2e.processes import BASTION, cli_json, free_port, start, stop, wait_http

KILLS = 3
WORKERS = 4


class Load:
    """Workers sending chat calls while ``up`` is set, each with a unique end-user id."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.key = key
        self.up = threading.Event()
        self.stop = threading.Event()
        self.offered = 0
        self.completed = 0
        self.answered: set[str] = set()  # end users whose call got a 200
        self.statuses: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._next = 0
        self.threads = [threading.Thread(target=self._work, daemon=True) for _ in range(WORKERS)]

    def _work(self) -> None:
        with httpx.Client(timeout=5.0) as client:
            while not self.stop.is_set():
                if not self.up.wait(0.05):
                    continue
                with self._lock:
                    self._next += 1
                    number = self._next
                    self.offered += 1
                try:
                    response = client.post(
                        f"{self.base_url}/chat/completions",
                        headers={"authorization": f"Bearer {self.key}"},
                        json={
                            "model": "gpt-4o-mini",
                            "user": f"call-{number}",
                            "messages": [{"role": "user", "content": "Say hello."}],
                        },
                    )
                    outcome = str(response.status_code)
                except httpx.TransportError as exc:
                    outcome = type(exc).__name__
                with self._lock:
                    self.statuses[outcome] += 1
                    if outcome == "200":
                        self.completed += 1
                        self.answered.add(f"call-{number}")


def test_kill_9_under_load_leaves_a_complete_verifiable_trail(tmp_path: Path) -> None:
    sim_port, port, admin_port, dead_port = free_port(), free_port(), free_port(), free_port()
    config = tmp_path / "bastion.yaml"
    config.write_text(
        CONFIG.format(
            port=port,
            admin_port=admin_port,
            sim_port=sim_port,
            dead_port=dead_port,
            sim_key=SIM_KEY,
        )
        + "audit: {flush_interval_s: 0.02, checkpoint_every: 50}\n"
    )
    sim = start(
        ["simulate", "--port", str(sim_port), "--api-key", SIM_KEY, "--latency-ms", "30"],
        tmp_path / "sim.log",
    )
    sim_url = f"http://127.0.0.1:{sim_port}"
    wait_http(f"{sim_url}/_sim/health", sim)
    key = str(
        cli_json(
            "keys",
            "create",
            "--config",
            str(config),
            "--name",
            "kill",
            "--app",
            "kill",
            "--trust-end-user",
        )["key"]
    )
    load = Load(f"http://127.0.0.1:{port}/v1", key)
    seen: set[str] = set()

    def collect_captures() -> None:
        found = httpx.get(f"{sim_url}/_sim/captures").json()["captures"]
        httpx.delete(f"{sim_url}/_sim/captures").raise_for_status()
        for capture in found:
            body = capture.get("body")
            if isinstance(body, dict) and isinstance(body.get("user"), str):
                seen.add(body["user"])

    def serve(n: int) -> subprocess.Popen[bytes]:
        proc = start(["serve", "--config", str(config)], tmp_path / f"gateway-{n}.log")
        wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        return proc

    rng = random.Random(7)
    gateway = serve(0)
    try:
        for thread in load.threads:
            thread.start()
        for n in range(1, KILLS + 1):
            load.up.set()
            time.sleep(rng.uniform(1.5, 2.5))
            load.up.clear()
            gateway.kill()  # SIGKILL: no shutdown, no flush, no checkpoint
            gateway.wait()
            collect_captures()
            gateway = serve(n)  # the reconciler closes what the killed process left open
        load.up.set()
        time.sleep(1.0)
        load.up.clear()
        time.sleep(0.5)  # let the last calls finish
    finally:
        load.stop.set()
        for thread in load.threads:
            thread.join(10)
        log = stop(gateway)
        assert "Traceback" not in log, log[-4000:]
        collect_captures()
        stop(sim)

    assert load.offered > 100
    assert load.completed >= 0.9 * load.offered, (load.completed, load.offered, load.statuses)

    database = sqlite3.connect(tmp_path / "gateway.db")
    intents = {
        json.loads(body)["user"]: request_id
        for request_id, body in database.execute(
            "SELECT request_id, body FROM audit_events WHERE kind = 'intent'"
        )
    }
    assert seen and seen <= set(intents), sorted(seen - set(intents))[:5]
    endings = Counter(
        request_id
        for (request_id,) in database.execute(
            "SELECT request_id FROM audit_events WHERE kind = 'completion'"
        )
    )
    assert all(endings[request_id] == 1 for request_id in intents.values())
    statuses = dict(
        database.execute("SELECT status, count(*) FROM call_records GROUP BY status").fetchall()
    )
    assert sum(statuses.values()) == len(endings)
    assert statuses.get("unknown_after_crash", 0) >= 1, statuses  # kills hit calls upstream
    # A call the client got its answer for is recorded as completed. The record is
    # written once the answer is out, so a kill in between leaves it to the reconciler:
    # then, and only then, it reads unknown_after_crash. At most the calls in flight at
    # each kill can be caught so.
    status_of = dict(database.execute("SELECT request_id, status FROM call_records"))
    answered = Counter(status_of.get(intents.get(user, ""), "missing") for user in load.answered)
    assert set(answered) <= {"completed", "unknown_after_crash"}, answered
    assert answered["unknown_after_crash"] <= KILLS * WORKERS, answered
    database.close()

    verified = subprocess.run(
        [BASTION, "audit", "verify", "--config", str(config), "--json"],
        capture_output=True,
        timeout=60,
    )
    report = json.loads(verified.stdout)
    assert verified.returncode == 0 and report["ok"], report
    assert report["checkpoints"] >= 1 and report["records"] == len(endings)
