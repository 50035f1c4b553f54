"""The W3C ``traceparent`` an upstream call carries, when the call is traced.

Set by the pipeline's ``upstream`` phase span (``pipeline.otel``) for the duration of
the provider call, read by the provider attempt when it builds its headers; unset
(the default, tracing off) the provider sends no trace header.
"""

from contextvars import ContextVar

UPSTREAM_TRACEPARENT: ContextVar[str | None] = ContextVar("upstream_traceparent", default=None)
