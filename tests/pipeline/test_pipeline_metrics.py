"""The gateway's Prometheus metrics as an operator scrapes them (calls, refusals,
injections, exception uses, tokens and cost, latency, upstream errors, the audit
backlog, remaining budgets, capped label sets), and the exact overhead quantiles kept
for the benchmark."""

from __future__ import annotations

import dataclasses
import tracemalloc

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bastion.limits.budget_status import BudgetStatus
from bastion.model import CallRecord, CallStatus, FindingSummary, Principal, Usage
from bastion.pipeline.metrics import GatewayMetrics, OverheadSamples

SUPPORT = Principal(
    key_id="key_1",
    name="helpdesk-prod",
    user="ana@example.com",
    app="helpdesk",
    team="support",
    environment="prod",
    owner="olga",
)
LABS = Principal(key_id="key_2", name="notebook", app="notebook", team="research")


def call(principal: Principal | None = SUPPORT, **changes: object) -> CallRecord:
    """A forwarded, allowed call; ``changes`` replace its fields."""
    record = CallRecord(
        request_id="req_1",
        started_at=1_700_000_000.0,
        endpoint="chat.completions",
        principal=principal,
        model_requested="gpt-4o",
        model_used="gpt-4o",
        decision="allow",
        status=CallStatus.COMPLETED,
        http_status=200,
        provider="openai",
    )
    return dataclasses.replace(record, **changes)  # type: ignore[arg-type]


def scrape(metrics: GatewayMetrics, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """The samples named ``name`` in the scraped text, by label set (zero-valued ones too)."""
    text = generate_latest(metrics.registry).decode()
    return {
        frozenset(sample.labels.items()): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


def test_calls_are_counted_by_environment_app_team_model_decision_and_status() -> None:
    metrics = GatewayMetrics()
    metrics.observe_call(call(), 0.0001, 0.2)
    metrics.observe_call(call(), 0.0001, 0.2)
    metrics.observe_call(call(LABS, decision="block", status=CallStatus.BLOCKED), None, 0.0)
    common = {"endpoint": "chat.completions", "model": "gpt-4o"}
    assert scrape(metrics, "bastion_calls_total") == {
        labels(
            **common,
            environment="prod",
            app="helpdesk",
            team="support",
            decision="allow",
            status="completed",
        ): 2.0,
        labels(
            **common,
            environment="dev",
            app="notebook",
            team="research",
            decision="block",
            status="blocked",
        ): 1.0,
    }


def test_refused_and_redacted_calls_are_counted_by_environment_and_app() -> None:
    metrics = GatewayMetrics()
    refused = CallStatus.BLOCKED
    metrics.observe_call(call(decision="block", status=refused), None, 0.0)
    metrics.observe_call(call(decision="require_exception", status=refused), None, 0.0)
    metrics.observe_call(call(decision="redact"), 0.0001, 0.1)
    metrics.observe_call(
        call(decision="reroute", request_facts={"redacted": {"pii.email": 1}}), 0.0001, 0.1
    )
    metrics.observe_call(call(decision="reroute"), 0.0001, 0.1)  # rerouted, nothing redacted
    metrics.observe_call(call(), 0.0001, 0.1)
    helpdesk = labels(environment="prod", app="helpdesk")
    assert scrape(metrics, "bastion_blocked_total") == {helpdesk: 2.0}
    assert scrape(metrics, "bastion_redacted_total") == {helpdesk: 2.0}


def test_injection_detections_are_counted_by_source_and_class() -> None:
    metrics = GatewayMetrics()
    findings = (
        FindingSummary("injection.instruction_override", "retrieved", "messages.1.content", 2),
        FindingSummary("injection.instruction_override", "user", "messages.2.content"),
        FindingSummary("injection.exfiltration", "tool_result", "messages.3.content"),
        FindingSummary("pii.email", "user", "messages.2.content", 5),  # not an injection
    )
    metrics.observe_call(call(decision="block", findings=findings), None, 0.0)
    metrics.observe_call(call(findings=findings[:1]), 0.0001, 0.1)
    assert scrape(metrics, "bastion_injection_detections_total") == {
        labels(source="retrieved", data_class="injection.instruction_override"): 4.0,
        labels(source="user", data_class="injection.instruction_override"): 1.0,
        labels(source="tool_result", data_class="injection.exfiltration"): 1.0,
    }


def test_exception_uses_are_counted_by_app_owner() -> None:
    metrics = GatewayMetrics()
    used = {"exception_applied": "exc_1"}
    metrics.observe_call(call(request_facts=used), 0.0001, 0.1)
    metrics.observe_call(call(decision="redact", request_facts=used), 0.0001, 0.1)
    metrics.observe_call(call(LABS, request_facts=used), 0.0001, 0.1)  # a key without owner
    metrics.observe_call(call(), 0.0001, 0.1)  # no exception
    assert scrape(metrics, "bastion_exception_uses_total") == {
        labels(owner="olga"): 2.0,
        labels(owner=""): 1.0,
    }


def test_tokens_and_cost_are_counted_by_team() -> None:
    metrics = GatewayMetrics()
    usage = Usage(prompt_tokens=100, completion_tokens=20)
    metrics.observe_call(call(usage=usage, cost_usd=0.25), 0.0001, 0.1)
    metrics.observe_call(call(usage=usage, cost_usd=0.5), 0.0001, 0.1)
    metrics.observe_call(call(LABS, usage=Usage(prompt_tokens=7)), 0.0001, 0.1)
    assert scrape(metrics, "bastion_tokens_total") == {
        labels(environment="prod", team="support", kind="prompt"): 200.0,
        labels(environment="prod", team="support", kind="completion"): 40.0,
        labels(environment="dev", team="research", kind="prompt"): 7.0,
        labels(environment="dev", team="research", kind="completion"): 0.0,
    }
    assert scrape(metrics, "bastion_cost_usd_total") == {
        labels(environment="prod", team="support"): 0.75
    }


def test_overhead_and_upstream_time_are_apart_and_only_for_forwarded_calls() -> None:
    metrics = GatewayMetrics()
    metrics.observe_call(call(), 0.00006, 1.5)
    metrics.observe_call(call(decision="block", status=CallStatus.BLOCKED), None, 0.0)
    overhead = scrape(metrics, "bastion_overhead_seconds_bucket")
    prod = {"endpoint": "chat.completions", "environment": "prod"}
    assert overhead[labels(**prod, le="5e-05")] == 0.0
    assert overhead[labels(**prod, le="7.5e-05")] == 1.0
    assert scrape(metrics, "bastion_overhead_seconds_count") == {labels(**prod): 1.0}
    assert scrape(metrics, "bastion_upstream_seconds_sum") == {
        labels(provider="openai", environment="prod"): 1.5
    }


def test_upstream_errors_are_counted_by_provider_and_code() -> None:
    metrics = GatewayMetrics()
    failed = CallStatus.FAILED
    metrics.observe_call(call(status=failed, error_code="upstream_timeout"), 0.0001, 30.0)
    metrics.observe_call(
        call(status=failed, error_code="upstream_error", provider=None), 0.0001, 1.0
    )
    metrics.observe_call(call(status=failed, error_code="rate_limited"), None, 0.0)  # local
    assert scrape(metrics, "bastion_upstream_errors_total") == {
        labels(provider="openai", code="upstream_timeout"): 1.0,
        labels(provider="", code="upstream_error"): 1.0,
    }


def test_operator_named_labels_are_capped_and_caller_text_never_is_one() -> None:
    metrics = GatewayMetrics(label_limit=2)
    for app in ("a1", "a2", "a3", "a4"):
        metrics.observe_call(call(dataclasses.replace(SUPPORT, app=app)), 0.0001, 0.1)
    # refused before any decision: the model name is the caller's own text
    canary = "sk-canary-0123456789abcdef"
    metrics.observe_call(
        call(None, model_requested=canary, decision="none", status=CallStatus.FAILED), None, 0.0
    )
    calls = scrape(metrics, "bastion_calls_total")
    assert sorted((dict(k)["app"], dict(k)["model"], v) for k, v in calls.items()) == [
        ("", "", 1.0),
        ("a1", "gpt-4o", 1.0),
        ("a2", "gpt-4o", 1.0),
        ("other", "gpt-4o", 2.0),
    ]
    text = generate_latest(metrics.registry).decode()
    assert canary not in text and "ana@example.com" not in text and "key_1" not in text


class Backlog:
    pending = 12
    spool_bytes = 4096
    lag_s = 0.75


def test_the_audit_backlog_is_read_at_scrape_time() -> None:
    metrics = GatewayMetrics()
    metrics.observe_audit(Backlog())
    assert scrape(metrics, "bastion_audit_pending") == {labels(): 12.0}
    assert scrape(metrics, "bastion_audit_spool_bytes") == {labels(): 4096.0}
    assert scrape(metrics, "bastion_audit_lag_seconds") == {labels(): 0.75}


def budget(team: str, spent: float, limit: float = 100.0, period: str = "month") -> BudgetStatus:
    return BudgetStatus(
        rule="teams",
        scope={"team": team},
        measure="usd",
        window=f"per {period}",
        period=f"{period}:2026-12",
        start=0.0,
        resets_at=None,
        limit=limit,
        spent=spent,
        soft=None,
    )


def test_remaining_budgets_are_what_the_last_read_found() -> None:
    metrics = GatewayMetrics(label_limit=2)
    metrics.budget_remaining.observe(
        [budget("finance", 30.0), budget("finance", 95.0, 20.0, "day"), budget("legal", 99.5)]
    )
    found = scrape(metrics, "bastion_budget_remaining")
    finance = {"rule": "teams", "scope": "team=finance", "measure": "usd"}
    assert found == {
        labels(**finance, window="month"): 70.0,
        labels(**finance, window="day"): -75.0,  # overspent by usage beyond reservations
        labels(rule="teams", scope="team=legal", measure="usd", window="month"): 0.5,
    }
    # a new period, and more scopes than the cap: gone scopes go, the rest share "other"
    metrics.budget_remaining.observe(
        [budget("legal", 10.0), budget("ops", 40.0), budget("sales", 80.0)]
    )
    found = scrape(metrics, "bastion_budget_remaining")
    assert {dict(k)["scope"]: v for k, v in found.items()} == {
        "team=legal": 90.0,
        "other": 20.0,  # the smallest remainder of the scopes past the cap
    }


def test_a_remaining_budget_is_exported_without_float_noise() -> None:
    metrics = GatewayMetrics()
    metrics.budget_remaining.observe([budget("finance", 80.1, 100.0)])
    assert list(scrape(metrics, "bastion_budget_remaining").values()) == [19.9]


def test_end_users_behind_a_budget_are_never_label_values() -> None:
    # A trust_end_user key takes its user from the request: a caller's own text (an
    # email, or anything at all) must not become a label; the smallest remainder of
    # the rule's users stays visible for alerts.
    metrics = GatewayMetrics()
    canary = "sk-canary-0123456789abcdef"
    metrics.budget_remaining.observe(
        [
            dataclasses.replace(budget("x", 1.0, 5.0), rule="per-user", scope={"user": canary}),
            dataclasses.replace(
                budget("x", 3.0, 5.0),
                rule="per-user",
                scope={"user": "ana@example.com", "team": "support"},
            ),
        ]
    )
    found = scrape(metrics, "bastion_budget_remaining")
    assert {dict(k)["scope"]: v for k, v in found.items()} == {
        "user=*": 4.0,
        "user=*,team=support": 2.0,
    }
    text = generate_latest(metrics.registry).decode()
    assert canary not in text and "ana@example.com" not in text


def test_quantiles_in_microseconds() -> None:
    samples = OverheadSamples()
    assert samples.quantiles() == {"count": 0}
    for us in range(1, 101):
        samples.add(us / 1e6)
    q = samples.quantiles()
    assert q["count"] == 100
    assert round(q["p50_us"]) == 51 and round(q["p90_us"]) == 91 and round(q["p99_us"]) == 100


def test_the_ring_keeps_only_the_latest_samples_and_resets() -> None:
    samples = OverheadSamples(capacity=10)
    for _ in range(10):
        samples.add(1.0)  # old, slow samples
    for _ in range(10):
        samples.add(1e-6)  # they are all overwritten
    q = samples.quantiles()
    assert q["count"] == 10 and round(q["p99_us"]) == 1
    samples.reset()
    assert samples.quantiles() == {"count": 0}


def test_the_ring_takes_its_memory_once_and_never_grows() -> None:
    """One sample per forwarded call, for the process's life: serving must not grow it
    (a list of floats grew 32 bytes a call until full, half an hour at 100 calls/s)."""
    samples = OverheadSamples(capacity=1000)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for n in range(5000):
            samples.add(n * 1e-6)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 1024
    assert samples.quantiles()["count"] == 1000
    assert round(samples.quantiles()["p50_us"]) == 4500  # the latest 1000: 4000..4999
