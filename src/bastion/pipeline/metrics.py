"""The gateway's Prometheus metrics, on a registry owned by one app instance."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from bastion.model import CallRecord

# Overhead is tens to hundreds of microseconds; buckets resolve that range.
_OVERHEAD_BUCKETS = (
    0.00002,
    0.00005,
    0.000075,
    0.0001,
    0.00015,
    0.0002,
    0.0003,
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.05,
)


class GatewayMetrics:
    """Counters and histograms; labels are low-cardinality names, never content."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[str | None, ...], tuple[Any, ...]] = {}
        r = self.registry
        self.calls = Counter(
            "bastion_calls_total",
            "Calls answered, by endpoint, environment, decision and status.",
            ["endpoint", "environment", "decision", "status"],
            registry=r,
        )
        self.unauthenticated = Counter(
            "bastion_unauthenticated_total", "Calls refused before identity (401).", registry=r
        )
        self.errors = Counter(
            "bastion_errors_total", "Error replies by code.", ["code"], registry=r
        )
        self.overhead = Histogram(
            "bastion_overhead_seconds",
            "Bastion's own time per call: received → upstream send, plus last upstream "
            "byte → client send.",
            ["endpoint"],
            buckets=_OVERHEAD_BUCKETS,
            registry=r,
        )
        self.upstream = Histogram(
            "bastion_upstream_seconds", "Upstream time per call.", ["provider"], registry=r
        )
        self.tokens = Counter(
            "bastion_tokens_total", "Tokens billed, by kind.", ["environment", "kind"], registry=r
        )
        # livesum: with several workers the scrape adds the live processes' values.
        self.in_flight = Gauge(
            "bastion_in_flight", "Calls being handled.", registry=r, multiprocess_mode="livesum"
        )
        self.config_reloads = Counter(
            "bastion_config_reloads_total",
            "Config reload attempts, by result (applied, rejected).",
            ["result"],
            registry=r,
        )
        self.policy_loads = Counter(
            "bastion_policy_loads_total",
            "Policy versions loaded (at start, on activation, on config reload), by result "
            "(ok, rejected).",
            ["result"],
            registry=r,
        )
        self.audit_pending = Gauge(
            "bastion_audit_pending",
            "Audit records waiting for a commit.",
            registry=r,
            multiprocess_mode="livesum",
        )

    def observe_call(self, record: CallRecord, overhead_s: float | None, upstream_s: float) -> None:
        """Count one finished call; labelled children are cached (this runs per call)."""
        env = record.principal.environment if record.principal else ""
        key = (record.endpoint, env, record.decision, record.status.value, record.provider)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.calls.labels(record.endpoint, env, record.decision, record.status.value),
                self.overhead.labels(record.endpoint),
                self.upstream.labels(record.provider or "none"),
                self.tokens.labels(env, "prompt"),
                self.tokens.labels(env, "completion"),
            )
        calls, overhead, upstream, prompt, completion = children
        calls.inc()
        if overhead_s is not None:
            overhead.observe(overhead_s)
            upstream.observe(upstream_s)
        if record.usage.prompt_tokens:
            prompt.inc(record.usage.prompt_tokens)
        if record.usage.completion_tokens:
            completion.inc(record.usage.completion_tokens)


class OverheadSamples:
    """A ring of recent overhead samples (seconds) for exact quantiles in benchmarks."""

    def __init__(self, capacity: int = 200_000) -> None:
        self._capacity = capacity
        self._values: list[float] = []
        self._next = 0

    def add(self, seconds: float) -> None:
        if len(self._values) < self._capacity:
            self._values.append(seconds)
        else:
            self._values[self._next] = seconds
            self._next = (self._next + 1) % self._capacity

    def reset(self) -> None:
        self._values.clear()
        self._next = 0

    def quantiles(self) -> dict[str, float]:
        """Count and p50/p90/p99 in microseconds."""
        values = sorted(self._values)
        if not values:
            return {"count": 0}

        def at(q: float) -> float:
            return values[min(len(values) - 1, int(q * len(values)))] * 1e6

        return {"count": len(values), "p50_us": at(0.5), "p90_us": at(0.9), "p99_us": at(0.99)}
