"""Drills on the gateway process itself (RELIABILITY.md "Faults to drill"): ``kill -9``
at each point of a request, SIGTERM drain, a client leaving mid-stream, a bad config on
SIGHUP.

``kill -9`` once with a call at every point at the same time — before its intent (the
body still arriving), after its intent (the upstream connection hung by a fault proxy:
nothing reached the upstream), mid-upstream (the simulator holding its answer),
mid-stream (the client holding part of a stream), after its response — then restart:
each call that got an intent has exactly one terminal state (A1, A2), the ones cut off
are ``unknown_after_crash``, the answered one stays ``completed``, the one without an
intent left no trace upstream, and ``bastion audit verify`` passes (A3).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import CONFIG, SIM_KEY
from tests.e2e.faultproxy import HANG, PASS, FaultProxy
from tests.e2e.processes import BASTION, cli_json, free_port, start, stop, wait_http

EXTRA_PROVIDERS = """providers:
  held:
    kind: openai
    base_url: http://127.0.0.1:{sim_port}/v1
    api_key: {sim_key}
    retry: {{max_attempts: 1}}
    timeouts: {{first_byte_s: 60, idle_s: 60, total_s: 120}}
  hung:
    kind: openai
    base_url: http://127.0.0.1:{proxy_port}/v1
    api_key: {sim_key}
    retry: {{max_attempts: 1}}
    timeouts: {{connect_s: 60, first_byte_s: 60, idle_s: 60, total_s: 120}}
"""
EXTRA_MODELS = """models:
  held-chat: {targets: [{provider: held, model: gpt-4o-mini}]}
  hung-chat: {targets: [{provider: hung, model: gpt-4o-mini}]}
"""


@dataclass
class Drill:
    work: Path
    config: Path
    port: int
    sim_url: str
    proxy: FaultProxy
    key: str
    gateway: subprocess.Popen[bytes] | None = None
    runs: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def serve(self, **env: str) -> subprocess.Popen[bytes]:
        self.runs += 1
        log = self.work / f"gateway-{self.runs}.log"
        self.gateway = start(
            ["serve", "--config", str(self.config)], log, env={**os.environ, **env}
        )
        wait_http(f"http://127.0.0.1:{self.port}/healthz", self.gateway, timeout_s=60)
        return self.gateway

    def body(self, user: str, text: str, model: str = "gpt-4o-mini", **extra: object) -> bytes:
        payload = {"model": model, "user": user, "messages": [{"role": "user", "content": text}]}
        return json.dumps({**payload, **extra}).encode()

    def captured_users(self) -> set[str]:
        found = httpx.get(f"{self.sim_url}/_sim/captures").json()["captures"]
        return {
            str(c["body"]["user"])
            for c in found
            if isinstance(c.get("body"), dict) and "user" in c["body"]
        }

    def trail(self) -> tuple[dict[str, str], Counter[str], dict[str, str]]:
        """Intents by end user, terminal records per request id, status per request id."""
        with sqlite3.connect(self.work / "gateway.db") as db:
            intents = {
                json.loads(body)["user"]: request_id
                for request_id, body in db.execute(
                    "SELECT request_id, body FROM audit_events WHERE kind = 'intent'"
                )
            }
            endings = Counter(
                request_id
                for (request_id,) in db.execute(
                    "SELECT request_id FROM audit_events WHERE kind = 'completion'"
                )
            )
            statuses = dict(db.execute("SELECT request_id, status FROM call_records").fetchall())
        return intents, endings, statuses

    def verify(self) -> dict[str, object]:
        done = subprocess.run(
            [BASTION, "audit", "verify", "--config", str(self.config), "--json"],
            capture_output=True,
            timeout=60,
        )
        report: dict[str, object] = json.loads(done.stdout)
        assert done.returncode == 0 and report["ok"], report
        return report


@pytest.fixture
def drill(tmp_path: Path) -> Iterator[Drill]:
    sim_port, port = free_port(), free_port()
    proxy = FaultProxy("127.0.0.1", sim_port)
    text = CONFIG.format(
        port=port, admin_port=free_port(), sim_port=sim_port, dead_port=free_port(), sim_key=SIM_KEY
    )
    text = text.replace(
        "providers:\n",
        EXTRA_PROVIDERS.format(sim_port=sim_port, proxy_port=proxy.port, sim_key=SIM_KEY),
        1,
    ).replace("models:\n", EXTRA_MODELS, 1)
    config = tmp_path / "bastion.yaml"
    config.write_text(text + "audit: {flush_interval_s: 0.02, checkpoint_every: 5}\n")
    sim = start(["simulate", "--port", str(sim_port), "--api-key", SIM_KEY], tmp_path / "sim.log")
    running = None
    try:
        wait_http(f"http://127.0.0.1:{sim_port}/_sim/health", sim)
        key = cli_json(
            "keys", "create", "--config", str(config), "--name", "drill", "--trust-end-user"
        )["key"]
        running = Drill(tmp_path, config, port, f"http://127.0.0.1:{sim_port}", proxy, str(key))
        yield running
    finally:
        proxy.set_mode(PASS)
        if running is not None and running.gateway is not None:
            log = stop(running.gateway)
            assert "Traceback" not in log, log[-4000:]
        sim.kill()  # it may be holding a minute-long answer: no drain
        sim.wait()
        proxy.close()


def _until(check: object, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not within {timeout_s}s"
        time.sleep(0.05)


def _raw_request(drill: Drill, body: bytes, *, send_all: bool) -> socket.socket:
    """A chat request on a raw socket: whole, or with only half its body sent."""
    sock = socket.create_connection(("127.0.0.1", drill.port), timeout=30)
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\n"
        f"authorization: Bearer {drill.key}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode()
    sock.sendall(head + (body if send_all else body[: len(body) // 2]))
    return sock


def _refuses_connections(port: int) -> bool:
    """Whether nothing listens on ``port`` any more (a connection is refused)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def _read_until(sock: socket.socket, wanted: bytes) -> None:
    seen = b""
    while wanted not in seen:
        chunk = sock.recv(65536)
        assert chunk, seen
        seen += chunk


def test_kill_9_at_every_point_of_a_request_leaves_one_ending_each(drill: Drill) -> None:
    drill.serve()
    sockets: list[socket.socket] = []
    try:
        _kill_with_a_call_at_every_point(drill, sockets)
        # before the proxy lets go of the bytes it holds for a process now dead
        upstream = drill.captured_users()
    finally:
        for sock in sockets:
            sock.close()
        drill.proxy.set_mode(PASS)
    drill.serve()  # the reconciler closes what the killed process left open
    _until(lambda: len(drill.trail()[2]) >= 4)
    assert drill.gateway is not None
    log = stop(drill.gateway)
    drill.gateway = None
    assert "Traceback" not in log, log[-4000:]

    intents, endings, statuses = drill.trail()
    assert set(intents) == {"after-response", "mid-upstream", "mid-stream", "after-intent"}
    assert all(endings[request_id] == 1 for request_id in intents.values()), endings  # A2
    assert sum(endings.values()) == len(statuses) == 4, (endings, statuses)
    expected = {
        "after-response": "completed",
        "mid-upstream": "unknown_after_crash",
        "mid-stream": "unknown_after_crash",
        "after-intent": "unknown_after_crash",
    }
    assert {user: statuses[request_id] for user, request_id in intents.items()} == expected
    assert "after-intent" not in upstream and "before-intent" not in upstream  # A1
    report = drill.verify()
    checkpoints = report["checkpoints"]
    assert report["records"] == 4 and isinstance(checkpoints, int) and checkpoints >= 1, report


def _kill_with_a_call_at_every_point(drill: Drill, sockets: list[socket.socket]) -> None:
    # after response: answered in full before the kill
    answered = httpx.post(
        f"{drill.base_url}/chat/completions",
        headers={"authorization": f"Bearer {drill.key}", "content-type": "application/json"},
        content=drill.body("after-response", "done before the kill"),
    )
    assert answered.status_code == 200
    # mid-upstream: the simulator holds the answer
    held = _raw_request(
        drill,
        drill.body("mid-upstream", "[[sim:fault=slow_first_byte,seconds=60]]", "held-chat"),
        send_all=True,
    )
    sockets.append(held)
    # mid-stream: two events out, then the upstream stalls
    streamed = _raw_request(
        drill,
        drill.body(
            "mid-stream", "[[sim:fault=stall,seconds=60,after=2]]", "held-chat", stream=True
        ),
        send_all=True,
    )
    sockets.append(streamed)
    _read_until(streamed, b"data: ")  # part of the stream reached the client
    # after intent: the upstream connection hangs, nothing reaches the simulator
    drill.proxy.set_mode(HANG)
    sockets.append(
        _raw_request(drill, drill.body("after-intent", "never", "hung-chat"), send_all=True)
    )
    _until(lambda: {"mid-upstream", "mid-stream"} <= drill.captured_users())
    _until(lambda: "after-intent" in drill.trail()[0])  # its intent is in the store
    # before intent: half the body sent, the gateway waiting for the rest (for less than
    # server.body_timeout_s: the kill comes first)
    sockets.append(_raw_request(drill, drill.body("before-intent", "never"), send_all=False))
    time.sleep(0.2)

    assert drill.gateway is not None
    drill.gateway.kill()  # SIGKILL: no drain, no flush, no checkpoint
    drill.gateway.wait()


def test_sigterm_drains_a_stream_and_takes_no_new_call(drill: Drill) -> None:
    gateway = drill.serve()
    chunks: list[bytes] = []

    def stream() -> None:
        with httpx.stream(
            "POST",
            f"{drill.base_url}/chat/completions",
            headers={"authorization": f"Bearer {drill.key}", "content-type": "application/json"},
            content=drill.body(
                "draining", "[[sim:fault=stall,seconds=2,after=2]]", "held-chat", stream=True
            ),
            timeout=30,
        ) as response:
            chunks.extend(response.iter_bytes())

    caller = threading.Thread(target=stream)
    caller.start()
    _until(lambda: "draining" in drill.captured_users())
    gateway.send_signal(signal.SIGTERM)
    _until(lambda: _refuses_connections(drill.port))  # the listener closes first
    with pytest.raises(httpx.TransportError):
        httpx.post(
            f"{drill.base_url}/chat/completions",
            headers={"authorization": f"Bearer {drill.key}"},
            content=drill.body("too-late", "after SIGTERM"),
            timeout=5,
        )
    caller.join(30)
    gateway.wait(30)
    drill.gateway = None
    text = b"".join(chunks).decode()
    assert text.rstrip().endswith("data: [DONE]"), text[-500:]
    assert gateway.returncode == 0
    intents, endings, statuses = drill.trail()
    assert set(intents) == {"draining"} and "too-late" not in drill.captured_users()
    assert statuses[intents["draining"]] == "completed" and endings[intents["draining"]] == 1
    drill.verify()


def test_a_call_still_waiting_when_the_drain_time_ends_gets_503_and_is_recorded(
    drill: Drill,
) -> None:
    gateway = drill.serve(BASTION_SERVER__DRAIN_TIMEOUT_S="1")
    answers: list[httpx.Response] = []

    def call() -> None:
        answers.append(
            httpx.post(
                f"{drill.base_url}/chat/completions",
                headers={
                    "authorization": f"Bearer {drill.key}",
                    "content-type": "application/json",
                },
                content=drill.body("held", "[[sim:fault=slow_first_byte,seconds=60]]", "held-chat"),
                timeout=30,
            )
        )

    caller = threading.Thread(target=call)
    caller.start()
    _until(lambda: "held" in drill.captured_users())
    gateway.send_signal(signal.SIGTERM)
    caller.join(30)
    gateway.wait(30)
    drill.gateway = None
    log = Path(gateway.log_path).read_text()  # type: ignore[attr-defined]
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-4000:]
    (answer,) = answers
    assert answer.status_code == 503, answer.text
    error = answer.json()["error"]
    assert (error["type"], error["code"]) == ("server_error", "shutting_down")
    assert answer.headers["x-bastion-request-id"].startswith("req_")
    intents, endings, statuses = drill.trail()
    assert statuses[intents["held"]] == "cancelled" and endings[intents["held"]] == 1  # A2
    drill.verify()


def test_a_client_leaving_mid_stream_cancels_the_upstream_and_settles(drill: Drill) -> None:
    drill.serve()
    body = drill.body("leaving", "[[sim:fault=stall,seconds=60,after=2]]", "hung-chat", stream=True)
    with httpx.stream(
        "POST",
        f"{drill.base_url}/chat/completions",
        headers={"authorization": f"Bearer {drill.key}", "content-type": "application/json"},
        content=body,
        timeout=30,
    ) as response:
        request_id = response.headers["x-bastion-request-id"]
        next(response.iter_bytes())
        _until(lambda: drill.proxy.live == 1, 30)  # the upstream call, stalled for a minute
    _until(lambda: drill.proxy.live == 0, 30)  # cancelled, not left to run out
    _until(lambda: request_id in drill.trail()[2], 30)
    _, endings, statuses = drill.trail()
    assert statuses[request_id] == "cancelled" and endings[request_id] == 1
    with sqlite3.connect(drill.work / "gateway.db") as db:
        prompt, estimated = db.execute(
            "SELECT prompt_tokens, usage_estimated FROM call_records WHERE request_id = ?",
            (request_id,),
        ).fetchone()
    assert prompt > 0 and estimated  # B2: settled on an estimate, the usage never came
    assert drill.gateway is not None
    started = time.monotonic()
    stop(drill.gateway)
    assert drill.gateway.returncode == 0 and time.monotonic() - started < 10  # nothing hangs on
    drill.gateway = None


def _metric(drill: Drill, token: str, name: str) -> float:
    admin = drill.config.read_text().split("admin: {port: ", 1)[1].split("}", 1)[0]
    text = httpx.get(
        f"http://127.0.0.1:{admin}/metrics", headers={"authorization": f"Bearer {token}"}
    ).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def _reload_with_a_bad_config(drill: Drill) -> tuple[str, str]:
    """SIGHUP with an invalid config; the token of an auditor; what the old config
    serves afterwards."""
    token = str(
        cli_json("admin-token", "create", "--config", str(drill.config), "--role", "auditor")[
            "token"
        ]
    )
    gateway = drill.serve()
    good = drill.config.read_text()
    drill.config.write_text(good.replace("provider: held,", "provider: nowhere,", 1))
    gateway.send_signal(signal.SIGHUP)
    rejected = 'bastion_config_reloads_total{result="rejected"}'
    _until(lambda: _metric(drill, token, rejected) == 1)
    drill.config.write_text(good)
    reply = httpx.post(
        f"{drill.base_url}/chat/completions",
        headers={"authorization": f"Bearer {drill.key}", "content-type": "application/json"},
        content=drill.body("after-reload", "old config still serves", "held-chat"),
    )
    assert reply.status_code == 200, reply.text
    return token, reply.json()["choices"][0]["message"]["content"]


# the trail of the drill above, read by the one below (one reload for both)
_REJECTED_RELOAD: dict[str, Path] = {}


def test_a_bad_config_on_sighup_is_rejected_counted_and_logged(drill: Drill) -> None:
    _, answer = _reload_with_a_bad_config(drill)
    assert answer == "old config still serves"
    assert drill.gateway is not None
    log = stop(drill.gateway)
    drill.gateway = None
    assert "config reload rejected" in log and "nowhere" in log
    _REJECTED_RELOAD["database"] = drill.work / "gateway.db"


def test_a_bad_config_on_sighup_is_an_admin_event() -> None:
    if "database" not in _REJECTED_RELOAD:
        pytest.skip("runs after test_a_bad_config_on_sighup_is_rejected_counted_and_logged")
    with sqlite3.connect(_REJECTED_RELOAD["database"]) as db:
        query = "SELECT body FROM audit_events WHERE kind = 'admin'"
        events = [body for (body,) in db.execute(query)]
    assert any("reload" in body for body in events), events
