"""Traces of calls: one server span per call, one child span per phase.

The gateway asks its ``CallTracer`` for a ``CallTrace`` when a call arrives and wraps
each phase in ``trace.phase(name)``. Tracing is off by default: ``NoTracing`` hands out
one shared trace whose phases are a shared no-op context manager, so the default path
pays two attribute look-ups per phase. ``tracing.enabled`` loads the OpenTelemetry SDK
(``pipeline.otel``, the ``bastion-gateway[tracing]`` extra) by name, only then.

What a span may carry is fixed here (``record_attributes``): ids, names, counts and
outcomes from the call record, never prompt or answer text, keys or secret values (K1).
"""

from __future__ import annotations

import importlib
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

from bastion.errors import ConfigError
from bastion.model import CallRecord

if TYPE_CHECKING:
    from bastion.config.schema import TracingConfig
    from bastion.pipeline.context import IncomingCall

AttributeValue = str | int | float | bool | tuple[str, ...]
PHASES = (
    "authenticate",
    "admit",
    "parse",
    "inspect",
    "decide",
    "reserve",
    "intent",
    "upstream",
    "response",
    "settle",
)
"""Names of the phase spans, in call order (docs/operations.md#tracing)."""


class OpenPhase(Protocol):
    """A phase span started by hand (a stream's relay outlives any ``with`` block)."""

    def end(self, error_code: str | None = None) -> None: ...


class CallTrace(Protocol):
    """The spans of one call. Never raises into the call; ``end`` is idempotent."""

    def phase(self, name: str) -> AbstractContextManager[None]:
        """A child span around one phase; an exception leaving it marks the span failed
        with the error's code or class name (never its message)."""
        ...

    def start_phase(self, name: str) -> OpenPhase: ...

    def end(self, record: CallRecord) -> None:
        """End the call's span with the outcome from its audit record."""
        ...

    def refuse(self, http_status: int, error_code: str) -> None:
        """End the call's span for a call refused before it had a record (bad key)."""
        ...


class CallTracer(Protocol):
    """Starts a trace per call; ``shutdown`` flushes what is queued (lifespan end)."""

    def start(self, call: IncomingCall) -> CallTrace: ...

    def shutdown(self) -> None: ...


class _NoPhase:
    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None

    def end(self, error_code: str | None = None) -> None:
        return None


NO_PHASE = _NoPhase()
"""A phase that does nothing (shared): what untraced and unsampled calls get."""


class _NoTrace:
    """The trace of an untraced call: every method does nothing."""

    __slots__ = ()

    def phase(self, name: str) -> _NoPhase:
        return NO_PHASE

    def start_phase(self, name: str) -> _NoPhase:
        return NO_PHASE

    def end(self, record: CallRecord) -> None:
        return None

    def refuse(self, http_status: int, error_code: str) -> None:
        return None


NO_TRACE: CallTrace = _NoTrace()


class NoTracing:
    """Tracing off (the default): every call gets ``NO_TRACE``."""

    def start(self, call: IncomingCall) -> CallTrace:
        return NO_TRACE

    def shutdown(self) -> None:
        return None


def record_attributes(record: CallRecord) -> dict[str, AttributeValue]:
    """The attributes of a call's span: what the audit record says about the call, less
    everything that could hold content (K1). Values are bounded in size."""
    attributes: dict[str, AttributeValue] = {
        "bastion.request_id": record.request_id,
        "bastion.endpoint": record.endpoint,
        "bastion.decision": record.decision,
        "bastion.status": record.status.value,
        "http.response.status_code": record.http_status,
        "bastion.stream": record.stream,
        "gen_ai.usage.input_tokens": record.usage.prompt_tokens,
        "gen_ai.usage.output_tokens": record.usage.completion_tokens,
        "bastion.gateway_ms": round(record.gateway_ms, 3),
    }
    optional: dict[str, str | None] = {
        "gen_ai.request.model": record.model_requested,
        "gen_ai.response.model": record.model_used,
        "bastion.provider": record.provider,
        "bastion.error_code": record.error_code,
        "bastion.policy_version": record.policy_version,
    }
    principal = record.principal
    if principal is not None:
        optional |= {
            "bastion.key_id": principal.key_id,
            "bastion.app": principal.app,
            "bastion.team": principal.team,
            "bastion.environment": principal.environment,
        }
    for name, value in optional.items():
        if value:
            attributes[name] = value[:128]
    if record.rules:
        attributes["bastion.rules"] = tuple(record.rules)
    if record.findings:
        attributes["bastion.classes"] = tuple(sorted({f.data_class for f in record.findings}))
    return attributes


def build_tracer(config: TracingConfig) -> CallTracer:
    """The process's tracer: ``NoTracing`` unless ``tracing.enabled``, else the
    OpenTelemetry exporter (imported now, by name, so the default path loads nothing)."""
    if not config.enabled:
        return NoTracing()
    try:
        otel = importlib.import_module("bastion.pipeline.otel")
    except ImportError as exc:
        raise ConfigError(
            "tracing.enabled needs the OpenTelemetry SDK: "
            "pip install 'bastion-gateway[tracing]' (or set tracing.enabled: false)"
        ) from exc
    tracer: CallTracer = otel.otlp_tracer(config)
    return tracer
