"""What call tracing costs the pipeline, paired in one process.

``python -m bench.tracing`` runs the gateway's ``handle`` on in-memory parts (the
pipeline tests' fakes: no network, no detectors) three ways, interleaved round by round
so machine noise hits each alike:

- ``off``: tracing off (the default; a shared no-op trace);
- ``bare``: the same with the phase wrappers replaced by nothing at all, which is the
  code before tracing existed, to price the no-op wrappers themselves;
- ``on``: the OpenTelemetry SDK with every span sampled, batched to an exporter that
  drops them (what a collector-bound gateway pays on its request path);
- ``unsampled``: the SDK on, with ``sample_ratio: 0`` (spans are created, not recorded).

Prints the median per-call time of each and the ratios.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

import orjson
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from tests.pipeline.test_pipeline_gateway import Harness, _answer

from bastion.config.schema import TracingConfig
from bastion.model import Endpoint
from bastion.pipeline.context import IncomingCall
from bastion.pipeline.otel import OtelTracer, tracer_provider
from bastion.pipeline.tracing import NoTracing

ROUNDS = 41
CALLS = 400
BODY = orjson.dumps(
    {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello a@b.example"}]}
)


class _Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class _Bare:
    """A trace with no wrappers at all: ``phase`` is a bare ``nullcontext`` reused."""

    _none = nullcontext()

    def phase(self, name: str) -> Any:
        return self._none

    def start_phase(self, name: str) -> Any:
        return self

    def end(self, *args: Any) -> None:
        return None

    def refuse(self, *args: Any) -> None:
        return None


class _BareTracing(NoTracing):
    def start(self, call: IncomingCall) -> Any:
        return _Bare()


async def _per_call_us(harness: Harness) -> float:
    gateway = harness.gateway
    started = time.perf_counter()
    for i in range(CALLS):
        call = IncomingCall(Endpoint.CHAT, BODY, "good", f"req_{i}", 0.0)
        reply = await gateway.handle(call)
        if reply.finish is not None:
            await reply.finish()
    elapsed = time.perf_counter() - started
    harness.sink.records.clear()
    return elapsed / CALLS * 1e6


async def main() -> None:
    names = ("off", "bare", "on", "unsampled")
    harnesses = {name: Harness(router_answer=_answer()) for name in names}
    harnesses["bare"].parts.tracer = _BareTracing()
    provider = tracer_provider(TracingConfig(enabled=True), BatchSpanProcessor(_Drop()))
    harnesses["on"].parts.tracer = OtelTracer(provider)
    never = tracer_provider(
        TracingConfig(enabled=True, sample_ratio=0.0), BatchSpanProcessor(_Drop())
    )
    harnesses["unsampled"].parts.tracer = OtelTracer(never)
    times: dict[str, list[float]] = {name: [] for name in harnesses}
    for round_ in range(ROUNDS):
        order = list(harnesses) if round_ % 2 else list(reversed(harnesses))
        for name in order:
            times[name].append(await _per_call_us(harnesses[name]))
    provider.shutdown()
    never.shutdown()
    median = {name: statistics.median(values[1:]) for name, values in times.items()}
    for name, value in median.items():
        print(f"{name:5s} {value:8.2f} µs per call")
    print(
        f"off/bare {median['off'] / median['bare']:.3f}  on/off {median['on'] / median['off']:.3f}"
    )
    paired = [off - bare for off, bare in zip(times["off"][1:], times["bare"][1:], strict=True)]
    print(f"off - bare, paired median: {statistics.median(paired):+.2f} µs per call")


if __name__ == "__main__":
    asyncio.run(main())
