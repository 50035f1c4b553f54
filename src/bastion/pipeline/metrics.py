"""The gateway's Prometheus metrics, on a registry owned by one app instance.

Every label is a closed set (endpoint, decision, status, finding source, kind) or a name
the operator configured (environment, app, team, owner, model, provider, data class,
error code). The configured ones are capped by ``LabelCap``: past ``label_limit``
distinct values per label, new values are counted as ``other``, so a misconfiguration
cannot explode the series count. No user, key, prompt text or found value is a label.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bastion.limits.budget_status import BudgetStatus
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
LABEL_LIMIT = 200
"""Distinct values kept per operator-named label; later ones are counted as ``other``."""
OTHER = "other"
_REFUSALS = frozenset({"block", "require_exception"})
"""Decisions that refused the call (as the admin overview counts them)."""
_INJECTION = "injection."
_UPSTREAM = "upstream_"


class LabelCap:
    """The first ``limit`` distinct values of one label keep their name; the rest are
    ``other``. A missing value is the empty label."""

    def __init__(self, limit: int = LABEL_LIMIT) -> None:
        self._limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str | None) -> str:
        if not value:
            return ""
        if value in self._seen:
            return value
        if len(self._seen) < self._limit:
            self._seen.add(value)
            return value
        return OTHER


class AuditBacklog(Protocol):
    """What the audit trail tells the metrics about its backlog (``audit.log.AuditLog``)."""

    @property
    def pending(self) -> int: ...

    @property
    def spool_bytes(self) -> int: ...

    @property
    def lag_s(self) -> float: ...


class BudgetRemaining(Collector):
    """``bastion_budget_remaining``: what is left of each budget (USD or tokens) in its
    current period or rolling window, per rule and scope, from the spend ledger as last
    read (``observe``, at scrape time). A collector of its own rather than a ``Gauge``:
    with several workers, gauges live in per-process files and would keep the series of
    scopes and periods that are gone; this one exports what the last read found, and the
    scrape registry of every worker includes it. Scopes past the label cap share the
    ``other`` series, which shows the smallest remainder among them. A ``user`` value
    is never shown (a ``trust_end_user`` key takes it from the request: a caller's own
    text): it reads ``user=*``, the smallest remainder among the users."""

    NAME = "bastion_budget_remaining"

    def __init__(self, label_limit: int = LABEL_LIMIT) -> None:
        self._scope = LabelCap(label_limit)
        self._values: dict[tuple[str, str, str, str], float] = {}

    def observe(self, statuses: Iterable[BudgetStatus]) -> None:
        """Replace the exported values with these budgets' remainders."""
        values: dict[tuple[str, str, str, str], float] = {}
        for status in statuses:
            scope = ",".join(
                f"{name}={'*' if name == 'user' else value}" for name, value in status.scope.items()
            )
            window = status.window.removeprefix("per ").replace(" ", "")
            key = (status.rule, self._scope(scope) or "-", status.measure, window)
            left = status.left
            values[key] = min(values.get(key, left), left)
        self._values = values

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            self.NAME,
            "What is left of each budget in its current period or rolling window (USD or "
            "tokens; negative when usage beyond reservations overspent it), by rule, scope, "
            "measure and window, from the spend ledger at scrape time.",
            labels=["rule", "scope", "measure", "window"],
        )
        for labels, value in sorted(self._values.items()):
            family.add_metric(list(labels), value)
        yield family


class GatewayMetrics:
    """Counters, histograms and gauges; labels are capped names, never content."""

    def __init__(
        self, registry: CollectorRegistry | None = None, *, label_limit: int = LABEL_LIMIT
    ) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[str, ...], tuple[Any, ...]] = {}
        self._labelled: dict[tuple[Any, ...], Any] = {}  # children of the rarer metrics
        self._environment, self._app, self._team = (LabelCap(label_limit) for _ in range(3))
        self._owner, self._model, self._provider = (LabelCap(label_limit) for _ in range(3))
        self._data_class, self._error_code = LabelCap(label_limit), LabelCap(label_limit)
        r = self.registry
        self.calls = Counter(
            "bastion_calls_total",
            "Calls answered, by endpoint, environment, app, team, model, decision and status.",
            ["endpoint", "environment", "app", "team", "model", "decision", "status"],
            registry=r,
        )
        self.blocked = Counter(
            "bastion_blocked_total",
            "Calls the policy refused (block, require_exception), by environment and app.",
            ["environment", "app"],
            registry=r,
        )
        self.redacted = Counter(
            "bastion_redacted_total",
            "Calls whose request text was redacted (redact, or a reroute that redacted), "
            "by environment and app.",
            ["environment", "app"],
            registry=r,
        )
        self.injections = Counter(
            "bastion_injection_detections_total",
            "Injection findings (injection.* classes), by where they sat and class.",
            ["source", "data_class"],
            registry=r,
        )
        self.exception_uses = Counter(
            "bastion_exception_uses_total",
            "Calls a policy exception let through, by the calling key's owner.",
            ["owner"],
            registry=r,
        )
        self.unauthenticated = Counter(
            "bastion_unauthenticated_total", "Calls refused before identity (401).", registry=r
        )
        self.errors = Counter(
            "bastion_errors_total", "Error replies by code.", ["code"], registry=r
        )
        self.upstream_errors = Counter(
            "bastion_upstream_errors_total",
            "Calls that failed upstream, by provider (empty: none answered) and error code.",
            ["provider", "code"],
            registry=r,
        )
        self.overhead = Histogram(
            "bastion_overhead_seconds",
            "Bastion's own time per call: received → upstream send, plus last upstream "
            "byte → client send.",
            ["endpoint", "environment"],
            buckets=_OVERHEAD_BUCKETS,
            registry=r,
        )
        self.upstream = Histogram(
            "bastion_upstream_seconds",
            "Upstream time per call, retries included.",
            ["provider", "environment"],
            registry=r,
        )
        self.tokens = Counter(
            "bastion_tokens_total",
            "Tokens billed, by environment, team and kind.",
            ["environment", "team", "kind"],
            registry=r,
        )
        self.cost = Counter(
            "bastion_cost_usd_total",
            "Cost of calls in US dollars, by environment and team.",
            ["environment", "team"],
            registry=r,
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
        self.audit_spool = Gauge(
            "bastion_audit_spool_bytes",
            "Bytes of the audit write-ahead log not yet in the database.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.budget_remaining = BudgetRemaining(label_limit)
        r.register(self.budget_remaining)
        self.audit_lag = Gauge(
            "bastion_audit_lag_seconds",
            "Upper bound on how long the oldest audit entry not yet in the database waited.",
            registry=r,
            multiprocess_mode="livemax",
        )

    def observe_call(self, record: CallRecord, overhead_s: float | None, upstream_s: float) -> None:
        """Count one finished call; labelled children are cached (this runs per call)."""
        principal = record.principal
        if principal is None:
            env = app = team = ""
        else:
            env = self._environment(principal.environment)
            app = self._app(principal.app)
            team = self._team(principal.team)
        decision = record.decision
        # A decided call passed the model check: its requested model is a configured one.
        model = self._model(record.model_requested) if decision != "none" else ""
        provider = self._provider(record.provider)
        status = record.status.value
        key = (record.endpoint, env, app, team, model, decision, status, provider)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.calls.labels(record.endpoint, env, app, team, model, decision, status),
                self.overhead.labels(record.endpoint, env),
                self.upstream.labels(provider or "none", env),
                self.tokens.labels(env, team, "prompt"),
                self.tokens.labels(env, team, "completion"),
            )
        calls, overhead, upstream, prompt, completion = children
        calls.inc()
        if overhead_s is not None:
            overhead.observe(overhead_s)
            upstream.observe(upstream_s)
        usage = record.usage
        if usage.prompt_tokens:
            prompt.inc(usage.prompt_tokens)
        if usage.completion_tokens:
            completion.inc(usage.completion_tokens)
        if decision != "allow":
            self._observe_refusal(record, env, app)
        if "exception_applied" in record.request_facts:
            owner = self._owner(principal.owner if principal else None)
            self._child(self.exception_uses, owner).inc()
        if record.findings:
            self._observe_injections(record)
        if record.cost_usd:
            self._child(self.cost, env, team).inc(record.cost_usd)
        code = record.error_code
        if code is not None and code.startswith(_UPSTREAM):
            self._child(self.upstream_errors, provider, self._error_code(code)).inc()

    def _observe_refusal(self, record: CallRecord, env: str, app: str) -> None:
        """A refused or redacted call (the admin overview's definitions)."""
        decision = record.decision
        if decision in _REFUSALS:
            self._child(self.blocked, env, app).inc()
        elif decision == "redact" or (decision == "reroute" and "redacted" in record.request_facts):
            self._child(self.redacted, env, app).inc()

    def _observe_injections(self, record: CallRecord) -> None:
        for finding in record.findings:
            if finding.data_class.startswith(_INJECTION):
                data_class = self._data_class(finding.data_class)
                self._child(self.injections, finding.source, data_class).inc(finding.count)

    def _child(self, metric: Counter, *values: str) -> Any:
        """``metric.labels(*values)``, cached: ``labels`` takes a lock and checks names."""
        key = (metric, *values)
        child = self._labelled.get(key)
        if child is None:
            child = self._labelled[key] = metric.labels(*values)
        return child

    def observe_audit(self, audit: AuditBacklog) -> None:
        """Read the audit trail's backlog into its gauges (at scrape time)."""
        self.audit_pending.set(audit.pending)
        self.audit_spool.set(audit.spool_bytes)
        self.audit_lag.set(audit.lag_s)


class OverheadSamples:
    """A ring of recent overhead samples (seconds) for exact quantiles in benchmarks.

    The ring is one array of doubles allocated at start-up (8 bytes a sample): a list of
    ``float`` objects cost 32 bytes a sample and grew with every call until it was full,
    which took half an hour at 100 calls/s and showed as a slow climb of resident memory
    in the soak. A benchmark phase resets it and reads it back within seconds, far below
    the capacity."""

    def __init__(self, capacity: int = 65_536) -> None:
        self._values = array("d", bytes(8 * capacity))
        self._count = 0
        self._next = 0

    def add(self, seconds: float) -> None:
        index = self._next
        self._values[index] = seconds
        self._next = index + 1 if index + 1 < len(self._values) else 0
        if self._count < len(self._values):
            self._count += 1

    def reset(self) -> None:
        self._count = 0
        self._next = 0

    def quantiles(self) -> dict[str, float]:
        """Count and p50/p90/p99 in microseconds."""
        values = sorted(self._values[: self._count])
        if not values:
            return {"count": 0}

        def at(q: float) -> float:
            return values[min(len(values) - 1, int(q * len(values)))] * 1e6

        return {"count": len(values), "p50_us": at(0.5), "p90_us": at(0.9), "p99_us": at(0.99)}
