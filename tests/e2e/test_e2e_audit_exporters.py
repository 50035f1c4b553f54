"""Audit exporters end to end: a real gateway with a webhook, an OTLP collector and a
syslog server configured; calls made with the official SDK while the HTTP sinks are
down arrive once each after they recover; a planted secret never reaches any sink
(K1), while a caller-chosen string that records do keep does (the positive control);
and the gateway's JSON log lines carry the request id of the call they are about."""

from __future__ import annotations

import json
import socketserver
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.e2e.conftest import Stack, running_stack

SECRET = "AKIA" + "Q3EGRTZ5LXKE2E7X"  # an AWS access key id shape
POLICY = """\
name: exporters
version: "1"
rules:
  - id: secret.mask
    match: {classes: ["secret.*"]}
    action: redact
    transform: mask
    log: true
"""


@dataclass
class Receiver:
    """Every request the HTTP sink got; answers 503 while ``down``."""

    requests: list[tuple[str, bytes]] = field(default_factory=list)
    down: bool = True
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self, path: str) -> list[bytes]:
        with self.lock:
            return [body for p, body in self.requests if p == path]


def _http_sink(receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with receiver.lock:
                if receiver.down:
                    receiver.failed += 1
                    status = 503
                else:
                    receiver.requests.append((self.path, body))
                    status = 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            return None

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


def _syslog_sink(messages: list[bytes]) -> socketserver.ThreadingTCPServer:
    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            while True:
                length = b""
                while not length.endswith(b" "):
                    char = self.rfile.read(1)
                    if not char:
                        return
                    length += char
                messages.append(self.rfile.read(int(length)))

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


def _serve(server: socketserver.BaseServer) -> None:
    threading.Thread(target=server.serve_forever, daemon=True).start()


def _eventually(check: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out waiting for the sinks"
        time.sleep(0.05)


@dataclass
class Exporting:
    stack: Stack
    receiver: Receiver
    syslog: list[bytes]
    work: Path


@pytest.fixture(scope="module")
def exporting(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch
) -> Iterator[Exporting]:
    receiver, syslog = Receiver(), []
    http, tcp = _http_sink(receiver), _syslog_sink(syslog)
    _serve(http)
    _serve(tcp)
    http_url = f"http://127.0.0.1:{http.server_address[1]}"
    work = tmp_path_factory.mktemp("exporters")
    (work / "policy.yaml").write_text(POLICY, encoding="utf-8")
    extra = f"""
policy: {{file: {work / "policy.yaml"}}}
audit:
  flush_interval_s: 0.02
  exporters:
    - {{name: hook, kind: webhook, url: "{http_url}/hook", secret: "${{HOOK_SECRET}}",
        max_backoff_s: 0.2, poll_interval_s: 0.1}}
    - {{name: otel, kind: otlp, endpoint: "{http_url}", max_backoff_s: 0.2,
        poll_interval_s: 0.1}}
    - {{name: siem, kind: syslog, host: 127.0.0.1, port: {tcp.server_address[1]},
        poll_interval_s: 0.1}}
"""
    monkeypatch_module.setenv("BASTION_SERVER__LOG_FORMAT", "json")
    monkeypatch_module.setenv("HOOK_SECRET", "e2e-hook-secret")
    try:
        with running_stack(work, extra) as stack:
            yield Exporting(stack, receiver, syslog, work)
    finally:
        for server in (http, tcp):
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_calls_made_while_the_sink_is_down_arrive_once_each_after_it_recovers(
    exporting: Exporting,
) -> None:
    client = exporting.stack.client()
    control = f"ctl-{uuid.uuid4().hex[:12]}"  # end_user_claimed: records keep it
    ids = []
    for n in range(5):
        prompt = f"deploy with key {SECRET} please" if n == 2 else f"hello {n}"
        reply = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": prompt}],
            user=control,
        )
        ids.append(reply.headers["x-bastion-request-id"])
    _eventually(lambda: exporting.receiver.failed >= 2)  # the exporters tried: 503
    assert exporting.receiver.bodies("/hook") == []
    exporting.receiver.down = False

    def hook_ids() -> list[str]:
        docs = [d for body in exporting.receiver.bodies("/hook") for d in json.loads(body)]
        return [d["request_id"] for d in docs if d["event"] == "call"]

    def otlp_ids() -> set[str]:
        return {
            attribute["value"]["stringValue"]
            for body in exporting.receiver.bodies("/v1/logs")
            for record in json.loads(body)["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
            for attribute in record["attributes"]
            if attribute["key"] == "bastion.request_id"
        }

    def syslog_text() -> bytes:
        return b"\n".join(exporting.syslog)

    # each sink gets the calls in batches of its own (after the admin events of the
    # set-up, which may come alone): wait for every call, not for a first batch
    _eventually(lambda: set(ids) <= set(hook_ids()))
    _eventually(lambda: set(ids) <= otlp_ids())
    _eventually(lambda: all(request_id.encode() in syslog_text() for request_id in ids))
    assert sorted(hook_ids()) == sorted(ids)  # each call exactly once
    docs = [d for body in exporting.receiver.bodies("/hook") for d in json.loads(body)]
    assert [d["seq"] for d in docs] == sorted(d["seq"] for d in docs)
    masked = next(d for d in docs if d["request_id"] == ids[2])
    assert masked["decision"] == "redact" and masked["rules"] == ["secret.mask"]

    # K1: the planted key reached no sink and no log line; the control string did reach
    # the sinks (the grep sees what records hold)
    everything = b"".join(body for _, body in exporting.receiver.requests) + syslog_text()
    assert control.encode() in everything
    assert SECRET.encode() not in everything
    log = Path(exporting.work / "gateway.log").read_bytes()
    assert SECRET.encode() not in log
    assert b"e2e-hook-secret" not in everything + log

    # JSON logs: one object per line; the policy's log line names its call
    lines = [json.loads(line) for line in log.splitlines() if line.startswith(b"{")]
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    logged = [line for line in lines if "secret.mask" in line["message"]]
    assert [line.get("request_id") for line in logged] == [ids[2]]
