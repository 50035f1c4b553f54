"""Call traces through the OpenTelemetry SDK, exported over OTLP/HTTP.

Imported by name from ``pipeline.tracing.build_tracer`` only when ``tracing.enabled``
(the ``bastion-gateway[tracing]`` extra). Spans are batched and exported from the SDK's
own thread, so a slow or absent collector never delays a call; the batch queue is
bounded and drops spans when full.

The call's server span continues the caller's trace when the request carries a W3C
``traceparent``; the ``upstream`` phase hands its own ``traceparent`` to the provider
call (``model.trace_context``) so a traced upstream joins the same trace.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from bastion.config.schema import TracingConfig
from bastion.errors import ApiError
from bastion.model import CallRecord
from bastion.model.trace_context import UPSTREAM_TRACEPARENT
from bastion.pipeline.context import IncomingCall
from bastion.pipeline.tracing import NO_PHASE, OpenPhase, record_attributes

_PROPAGATOR = TraceContextTextMapPropagator()
_SPAN_NAMES = {
    "chat.completions": "POST /v1/chat/completions",
    "responses": "POST /v1/responses",
    "embeddings": "POST /v1/embeddings",
    "scan": "POST /v1/bastion/scan",
}


class OtelPhase:
    """A phase span started by hand; ``end`` once (later calls do nothing)."""

    __slots__ = ("_span",)

    def __init__(self, span: Span) -> None:
        self._span = span

    def end(self, error_code: str | None = None) -> None:
        if error_code is not None:
            _mark_failed(self._span, error_code)
        self._span.end()


class OtelCallTrace:
    """The server span of one call and its phase spans."""

    __slots__ = ("_context", "_ended", "_recording", "_span", "_tracer")

    def __init__(self, tracer: OtelTracer, call: IncomingCall) -> None:
        self._tracer = tracer.sdk_tracer
        parent: Context | None = None
        if call.traceparent:
            carrier = {"traceparent": call.traceparent}
            if call.tracestate:
                carrier["tracestate"] = call.tracestate
            parent = _PROPAGATOR.extract(carrier)
        self._span = self._tracer.start_span(
            _SPAN_NAMES.get(call.endpoint.value, "POST"),
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"bastion.request_id": call.request_id},
        )
        self._context = set_span_in_context(self._span)
        self._ended = False
        # a trace not sampled: no phase spans (nothing would be exported anyway)
        self._recording = self._span.is_recording()

    def phase(self, name: str) -> AbstractContextManager[None]:
        return self._phase(name) if self._recording else NO_PHASE

    @contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        span = self._tracer.start_span(name, context=self._context)
        token = None
        if name == "upstream" and span.get_span_context().is_valid:
            token = UPSTREAM_TRACEPARENT.set(_traceparent(span))
        try:
            yield
        except BaseException as exc:
            _mark_failed(span, exc.code if isinstance(exc, ApiError) else type(exc).__name__)
            raise
        finally:
            if token is not None:
                UPSTREAM_TRACEPARENT.reset(token)
            span.end()

    def start_phase(self, name: str) -> OpenPhase:
        if not self._recording:
            return NO_PHASE
        return OtelPhase(self._tracer.start_span(name, context=self._context))

    def end(self, record: CallRecord) -> None:
        if self._ended:
            return
        self._ended = True
        self._span.set_attributes(record_attributes(record))
        if record.http_status >= 500:
            self._span.set_status(Status(StatusCode.ERROR, record.error_code or None))
        self._span.end()

    def refuse(self, http_status: int, error_code: str) -> None:
        if self._ended:
            return
        self._ended = True
        self._span.set_attributes(
            {"http.response.status_code": http_status, "bastion.error_code": error_code}
        )
        self._span.end()


class OtelTracer:
    """Starts call traces on an SDK tracer provider; ``shutdown`` flushes the exporter."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.sdk_tracer = provider.get_tracer("bastion")

    def start(self, call: IncomingCall) -> OtelCallTrace:
        return OtelCallTrace(self, call)

    def shutdown(self) -> None:
        self.provider.shutdown()


def tracer_provider(config: TracingConfig, processor: SpanProcessor) -> TracerProvider:
    """A provider sampling ``sample_ratio`` of new traces (a caller's sampled flag wins)."""
    provider = TracerProvider(
        resource=Resource.create({"service.name": config.service_name}),
        sampler=ParentBased(TraceIdRatioBased(config.sample_ratio)),
    )
    provider.add_span_processor(processor)
    return provider


def otlp_tracer(config: TracingConfig) -> OtelTracer:
    """The tracer ``tracing.enabled`` builds: batches exported over OTLP/HTTP."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    endpoint = config.endpoint.rstrip("/")
    if not endpoint.endswith("/v1/traces"):
        endpoint += "/v1/traces"
    headers = {name: value.get_secret_value() for name, value in config.headers.items()}
    exporter = OTLPSpanExporter(endpoint=endpoint, headers=headers, timeout=config.export_timeout_s)
    return OtelTracer(tracer_provider(config, BatchSpanProcessor(exporter)))


def _mark_failed(span: Span, error_code: str) -> None:
    """A failed phase: the error's code or class name, never its message (K1)."""
    span.set_attribute("error.type", error_code[:64])
    span.set_status(Status(StatusCode.ERROR, error_code[:64]))


def _traceparent(span: Span) -> str:
    context = span.get_span_context()
    flags = int(context.trace_flags)
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}"
