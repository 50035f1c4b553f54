"""Traces end to end: a real gateway exports its spans over OTLP/HTTP to a collector
(here a tiny receiver in the test), continues the caller's trace, hands it to the
upstream, and no span holds the prompt or the answer."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.e2e.conftest import running_stack

CANARY = "e2e-TRACE-CANARY-5d1c"
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_TRACEPARENT = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"


class Collector:
    """An OTLP/HTTP trace receiver: keeps every span posted to /v1/traces, with its
    attributes decoded, and the raw bodies (to search them for the canary)."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.bodies: list[bytes] = []
        self.paths: list[str] = []
        self.resources: list[dict[str, Any]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                collector.receive(self.path, self.headers.get("x-collector-token"), body)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.tokens: list[str | None] = []
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def receive(self, path: str, token: str | None, body: bytes) -> None:
        self.paths.append(path)
        self.tokens.append(token)
        self.bodies.append(body)
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            self.resources.append(resource)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(
                        {
                            "name": span.name,
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_span_id": span.parent_span_id.hex(),
                            "attributes": {a.key: _value(a.value) for a in span.attributes},
                        }
                    )

    def wait_for(self, name: str, count: int, timeout_s: float = 60.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = [span for span in self.spans if span["name"] == name]
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"{count} spans named {name!r} did not arrive: {self.spans}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(v) for v in value.array_value.values)
    return getattr(value, kind) if kind else None


@pytest.fixture
def collector() -> Iterator[Collector]:
    running = Collector()
    yield running
    running.close()


def test_spans_reach_the_collector_without_content(tmp_path: Path, collector: Collector) -> None:
    tracing = (
        "tracing:\n"
        "  enabled: true\n"
        f"  endpoint: {collector.url}\n"
        "  service_name: bastion-e2e\n"
        "  headers: {x-collector-token: t0ken}\n"
    )
    with running_stack(tmp_path, tracing) as stack:
        prompt = f"My email is jane.doe@example.com and the code is {CANARY}. Say hi."
        reply = httpx.post(
            f"{stack.base_url}/chat/completions",
            headers={
                "authorization": f"Bearer {stack.key}",
                "traceparent": CALLER_TRACEPARENT,
            },
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]},
            timeout=30,
        )
        assert reply.status_code == 200, reply.text
        stream = stack.client().chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": f"stream please {CANARY}"}],
            stream=True,
        )
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        refused = httpx.post(
            f"{stack.base_url}/chat/completions",
            headers={"authorization": f"Bearer sk-{CANARY}"},
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": CANARY}]},
            timeout=30,
        )
        assert refused.status_code == 401
        upstream_headers = [c["headers"] for c in stack.captures()]
        servers = collector.wait_for("POST /v1/chat/completions", 3)

    assert set(collector.paths) == {"/v1/traces"}
    assert set(collector.tokens) == {"t0ken"}
    assert {r.get("service.name") for r in collector.resources} == {"bastion-e2e"}
    first = next(s for s in servers if s["trace_id"] == CALLER_TRACE)
    assert first["parent_span_id"] == "00f067aa0ba902b7"
    attributes = first["attributes"]
    assert attributes["bastion.decision"] == "allow"
    assert attributes["http.response.status_code"] == 200
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert attributes["bastion.app"] == "e2e-app"
    assert attributes["bastion.team"] == "platform"
    assert attributes["gen_ai.usage.input_tokens"] > 0
    assert "pii.email" in attributes["bastion.classes"]
    phases = {
        span["name"]
        for span in collector.spans
        if span["trace_id"] == CALLER_TRACE and span["parent_span_id"] == first["span_id"]
    }
    assert phases >= {"authenticate", "admit", "parse", "inspect", "decide", "reserve"}
    assert phases >= {"intent", "upstream", "response", "settle"}
    # the upstream call joined the caller's trace, as a child of the upstream phase
    upstream = next(
        s for s in collector.spans if s["trace_id"] == CALLER_TRACE and s["name"] == "upstream"
    )
    assert upstream_headers[0]["traceparent"] == f"00-{CALLER_TRACE}-{upstream['span_id']}-01"
    # K1: nothing of the prompt, the answer or the presented key left in any export
    for body in collector.bodies:
        assert CANARY.encode() not in body
        assert b"jane.doe" not in body
    assert not any(b"sk-sim-e2e" in body for body in collector.bodies)


def test_tracing_off_by_default_sends_no_trace_header(tmp_path: Path, collector: Collector) -> None:
    with running_stack(tmp_path) as stack:
        reply = httpx.post(
            f"{stack.base_url}/chat/completions",
            headers={"authorization": f"Bearer {stack.key}", "traceparent": CALLER_TRACEPARENT},
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            timeout=30,
        )
        assert reply.status_code == 200
        assert "traceparent" not in stack.captures()[0]["headers"]
    assert collector.spans == []
