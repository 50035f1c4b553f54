"""Prometheus metrics of the audit exporters, labelled by exporter name only (the
names come from the config, so the label set is bounded)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from bastion.audit.exporters.runner import ExportMeters


def prometheus_meters(registry: CollectorRegistry) -> ExportMeters:
    """Exported records, failed deliveries and lag, registered on ``registry``."""
    exported = Counter(
        "bastion_audit_exported_total",
        "Audit records a sink acknowledged, by exporter.",
        ["exporter"],
        registry=registry,
    )
    failures = Counter(
        "bastion_audit_export_failures_total",
        "Failed deliveries of a batch (retried), by exporter.",
        ["exporter"],
        registry=registry,
    )
    lag = Gauge(
        "bastion_audit_export_lag_seconds",
        "Age of the oldest record being delivered; 0 when the exporter is caught up.",
        ["exporter"],
        registry=registry,
        multiprocess_mode="livemax",
    )
    return ExportMeters(
        exported=lambda name, count: exported.labels(name).inc(count),
        failed=lambda name: failures.labels(name).inc(),
        lag=lambda name, seconds: lag.labels(name).set(seconds),
    )
