"""Call traces: a server span per call, a span per phase, outcomes as attributes, and
never the prompt's or the answer's text (K1)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from tests.pipeline.test_pipeline_gateway import STREAM, FakeStream, Harness

from bastion.config.schema import TracingConfig
from bastion.errors import ConfigError
from bastion.model import Action, CallRecord, CallStatus, Endpoint
from bastion.model.trace_context import UPSTREAM_TRACEPARENT
from bastion.pipeline.context import IncomingCall, Reply, StreamingReply
from bastion.pipeline.otel import OtelTracer, tracer_provider
from bastion.pipeline.tracing import NO_TRACE, NoTracing, build_tracer, record_attributes
from bastion.providers import UpstreamResponse

CANARY = "zq7-CANARY-e1f0c3"
PROMPT = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": f"hello a@b.example {CANARY} sk-live-{CANARY}"}],
}
CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_TRACEPARENT = f"00-{CALLER_TRACE}-b7ad6b7169203331-01"


def _answer_with_canary() -> UpstreamResponse:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": f"the answer is {CANARY}"},
            }
        ],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
    }
    return UpstreamResponse(200, orjson.dumps(body), {}, "sim", "m", "gpt-4o-mini", 1, 1.0)


class TracedHarness(Harness):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spans = InMemorySpanExporter()
        provider = tracer_provider(TracingConfig(enabled=True), SimpleSpanProcessor(self.spans))
        self.parts.tracer = OtelTracer(provider)

    async def traced_call(
        self, body: dict[str, Any], key: str = "good", traceparent: str | None = None
    ) -> Reply | StreamingReply:
        call = IncomingCall(
            Endpoint.CHAT, orjson.dumps(body), key, "req_traced", 0.0, traceparent=traceparent
        )
        reply = await self.gateway.handle(call)
        if isinstance(reply, StreamingReply):
            async for _ in reply.chunks:
                pass
        if reply.finish is not None:
            await reply.finish()
        return reply

    def finished(self) -> dict[str, ReadableSpan]:
        return {span.name: span for span in self.spans.get_finished_spans()}


def _everything_in(span: ReadableSpan) -> str:
    """Every string a span exports: name, attributes, events, status, resource."""
    parts: list[Any] = [span.name, dict(span.attributes or {}), span.status.description]
    parts += [(event.name, dict(event.attributes or {})) for event in span.events]
    parts.append(dict(span.resource.attributes))
    return repr(parts)


async def test_a_call_is_one_server_span_with_a_child_per_phase() -> None:
    harness = TracedHarness(router_answer=_answer_with_canary())
    reply = await harness.traced_call(PROMPT)
    assert reply.status == 200
    spans = harness.finished()
    server = spans["POST /v1/chat/completions"]
    assert server.kind is SpanKind.SERVER
    phases = ["authenticate", "admit", "parse", "inspect", "decide", "reserve", "intent"]
    phases += ["upstream", "response", "settle"]
    for name in phases:
        assert spans[name].parent is not None
        assert spans[name].parent.span_id == server.context.span_id, name
    started = sorted(phases, key=lambda name: spans[name].start_time or 0)
    assert started == phases
    attributes = dict(server.attributes or {})
    assert attributes["bastion.request_id"] == "req_traced"
    assert attributes["bastion.decision"] == "allow"
    assert attributes["bastion.status"] == "completed"
    assert attributes["http.response.status_code"] == 200
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert attributes["gen_ai.usage.input_tokens"] == 7
    assert attributes["gen_ai.usage.output_tokens"] == 3
    assert attributes["bastion.classes"] == ("pii.email",)
    assert attributes["bastion.rules"] == ("pii.block",)
    assert attributes["bastion.app"] == "app"
    assert attributes["bastion.environment"] == "prod"


async def test_no_span_carries_prompt_or_answer_text() -> None:
    harness = TracedHarness(router_answer=_answer_with_canary())
    await harness.traced_call(PROMPT)
    blocked = TracedHarness(action=Action.BLOCK)
    await blocked.traced_call(PROMPT)
    streamed = TracedHarness()
    streamed.router.answer = FakeStream(streamed.rec, STREAM)
    await streamed.traced_call({**PROMPT, "stream": True})
    refused = TracedHarness()
    await refused.traced_call(PROMPT, key=f"sk-{CANARY}")
    everything = [
        span for h in (harness, blocked, streamed, refused) for span in h.spans.get_finished_spans()
    ]
    assert len(everything) > 20
    for span in everything:
        assert CANARY not in _everything_in(span), span.name
        assert "a@b.example" not in _everything_in(span), span.name


async def test_a_refused_call_ends_its_span_with_the_refusal() -> None:
    blocked = TracedHarness(action=Action.BLOCK)
    reply = await blocked.traced_call(PROMPT)
    assert reply.status == 403
    spans = blocked.finished()
    server = dict(spans["POST /v1/chat/completions"].attributes or {})
    assert server["bastion.decision"] == "block"
    assert server["bastion.status"] == CallStatus.BLOCKED.value
    assert server["http.response.status_code"] == 403
    assert "upstream" not in spans  # the upstream never saw it
    assert spans["settle"].parent is not None

    unknown = TracedHarness()
    reply = await unknown.traced_call(PROMPT, key="bad")
    assert reply.status == 401
    spans = unknown.finished()
    assert spans["authenticate"].status.status_code is StatusCode.ERROR
    assert spans["authenticate"].status.description == "invalid_api_key"
    server = dict(spans["POST /v1/chat/completions"].attributes or {})
    assert server["http.response.status_code"] == 401


async def test_a_caller_traceparent_is_continued_and_passed_upstream() -> None:
    seen: list[str | None] = []
    harness = TracedHarness(router_answer=_answer_with_canary())
    send = harness.router.send

    async def send_and_look(*args: Any, **kwargs: Any) -> Any:
        seen.append(UPSTREAM_TRACEPARENT.get())
        return await send(*args, **kwargs)

    harness.router.send = send_and_look  # type: ignore[method-assign]
    await harness.traced_call(PROMPT, traceparent=CALLER_TRACEPARENT)
    spans = harness.finished()
    server = spans["POST /v1/chat/completions"]
    assert f"{server.context.trace_id:032x}" == CALLER_TRACE
    assert server.parent is not None and f"{server.parent.span_id:016x}" == "b7ad6b7169203331"
    upstream = spans["upstream"]
    assert seen == [f"00-{CALLER_TRACE}-{upstream.context.span_id:016x}-01"]
    assert UPSTREAM_TRACEPARENT.get() is None  # only for the upstream call


async def test_an_unsampled_caller_trace_exports_nothing() -> None:
    harness = TracedHarness(router_answer=_answer_with_canary())
    await harness.traced_call(PROMPT, traceparent=f"00-{CALLER_TRACE}-b7ad6b7169203331-00")
    assert harness.spans.get_finished_spans() == ()


async def test_tracing_off_is_the_default_and_records_nothing() -> None:
    harness = Harness(router_answer=_answer_with_canary())
    assert isinstance(harness.parts.tracer, NoTracing)
    assert isinstance(build_tracer(TracingConfig()), NoTracing)
    with NO_TRACE.phase("inspect"):
        pass
    reply = await harness.call(PROMPT)
    assert reply.status == 200


def test_enabled_tracing_builds_the_otlp_exporter() -> None:
    tracer = build_tracer(TracingConfig(enabled=True, endpoint="http://127.0.0.1:9/"))
    try:
        assert isinstance(tracer, OtelTracer)
    finally:
        tracer.shutdown()


def test_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    real = importlib.import_module

    def without_otel(name: str, package: str | None = None) -> Any:
        if name == "bastion.pipeline.otel":
            raise ImportError("No module named 'opentelemetry'")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", without_otel)
    with pytest.raises(ConfigError, match=r"bastion-gateway\[tracing\]"):
        build_tracer(TracingConfig(enabled=True))


def test_span_attributes_are_bounded() -> None:
    record = CallRecord(
        "req_1", 0.0, "chat.completions", None, "m" * 500, None, "allow", CallStatus.COMPLETED, 200
    )
    attributes = record_attributes(record)
    assert attributes["gen_ai.request.model"] == "m" * 128
