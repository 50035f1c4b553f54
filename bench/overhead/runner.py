"""The measurement loop: warm-up, then alternating rounds over the targets.

Each round visits every available target once, in an order rotated by one per round so
no target always runs first or last; at each visit it runs three phases back to back:
wrk at fixed concurrency (throughput and CPU per request), the open-loop generator at
a fixed rate (latency), and sequential streaming calls (time to first byte).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import uvloop

from bench.overhead.openloop import open_loop, stream_probe
from bench.overhead.procs import ServerProcess, http_ok
from bench.overhead.stats import quantile
from bench.overhead.targets import Target
from bench.overhead.workload import Workload
from bench.overhead.wrkload import run_wrk, write_script


@dataclass(frozen=True, slots=True)
class Settings:
    """How long and how hard each phase runs."""

    rounds: int
    warmup_s: float
    wrk_s: float
    connections: int
    rate_rps: float
    openloop_s: float
    stream_requests: int
    stream_budget_s: float
    pause_s: float = 0.5


QUICK = Settings(
    rounds=2,
    warmup_s=2,
    wrk_s=3,
    connections=64,
    rate_rps=200,
    openloop_s=3,
    stream_requests=60,
    stream_budget_s=6,
)
FULL = Settings(
    rounds=5,
    warmup_s=4,
    wrk_s=10,
    connections=64,
    rate_rps=200,
    openloop_s=10,
    stream_requests=300,
    stream_budget_s=15,
)


@dataclass(frozen=True, slots=True)
class Plan:
    """One available target, ready to measure: its process, workload, wrk script and rate."""

    target: Target
    process: ServerProcess
    workload: Workload
    script: Path
    rate_rps: float


def _overhead(target: Target, method: str) -> dict[str, Any] | None:
    """Read (GET) or read-and-reset (DELETE) Bastion's in-process overhead samples."""
    if target.admin is None:
        return None
    raw = http_ok(
        f"{target.admin.base_url}/admin/api/overhead",
        method=method,
        headers={"authorization": f"Bearer {target.admin.token}"},
    )
    sample: dict[str, Any] | None = orjson.loads(raw) if raw is not None else None
    return sample


def _measure_wrk(
    plan: Plan, simulator: ServerProcess, settings: Settings, duration_s: float
) -> dict[str, float]:
    sim_before = simulator.cpu_seconds()
    before = plan.process.cpu_seconds()
    result = run_wrk(
        plan.target.url, plan.script, connections=settings.connections, duration_s=duration_s
    )
    cpu = plan.process.cpu_seconds() - before
    sim_cpu = simulator.cpu_seconds() - sim_before
    requests = max(result.requests, 1)
    return {
        "rps": result.rps,
        "wrk_requests": result.requests,
        "wrk_errors": result.errors,
        "wrk_p50_ms": result.p50_ms,
        "wrk_p99_ms": result.p99_ms,
        "cpu_ms_per_req": cpu * 1000 / requests,
        "simulator_cpu_ms_per_req": sim_cpu * 1000 / requests,
    }


def _measure_latency(plan: Plan, settings: Settings) -> dict[str, float]:
    result = uvloop.run(
        open_loop(
            plan.target.url, plan.workload, rate_rps=plan.rate_rps, duration_s=settings.openloop_s
        )
    )
    return {
        "rate_rps": plan.rate_rps,
        "achieved_rps": result.achieved_rps,
        "latency_errors": result.errors,
        "send_lag_p50_ms": result.send_lag_p50_ms,
        "send_lag_p99_ms": result.send_lag_p99_ms,
        "p50_ms": result.latency(0.5),
        "p90_ms": result.latency(0.9),
        "p99_ms": result.latency(0.99),
    }


def _measure_stream(plan: Plan, settings: Settings) -> dict[str, float]:
    result = uvloop.run(
        stream_probe(
            plan.target.url,
            plan.workload,
            requests=settings.stream_requests,
            budget_s=settings.stream_budget_s,
        )
    )
    return {
        "stream_count": len(result.ttfb_ms),
        "stream_errors": result.errors,
        "ttfb_p50_ms": quantile(result.ttfb_ms, 0.5),
        "ttfb_p90_ms": quantile(result.ttfb_ms, 0.9),
        "stream_total_p50_ms": quantile(result.total_ms, 0.5),
    }


def _visit(plan: Plan, simulator: ServerProcess, settings: Settings) -> dict[str, float]:
    """One round's three phases on one target, with Bastion's own overhead around them."""
    row: dict[str, float] = {}
    _overhead(plan.target, "DELETE")
    row.update(_measure_wrk(plan, simulator, settings, settings.wrk_s))
    saturated = _overhead(plan.target, "GET")
    _overhead(plan.target, "DELETE")
    time.sleep(settings.pause_s)
    row.update(_measure_latency(plan, settings))
    at_rate = _overhead(plan.target, "GET")
    time.sleep(settings.pause_s)
    row.update(_measure_stream(plan, settings))
    for prefix, sample in (("overhead", at_rate), ("overhead_saturated", saturated)):
        if sample and sample.get("count"):
            row[f"{prefix}_count"] = sample["count"]
            for q in ("p50", "p90", "p99"):
                row[f"{prefix}_{q}_us"] = sample[f"{q}_us"]
    return row


def _plan(target: Target, simulator: ServerProcess, settings: Settings, workdir: Path) -> Plan:
    """Warm the target with wrk and a few calls; pick its open-loop rate from the result.

    The fixed rate applies unless it is not well below the target's saturation (less
    than twice the rate); then the target runs at half its warm-up throughput instead.
    """
    assert target.process is not None and target.workload is not None
    script = write_script(workdir / f"{target.name}.lua", target.workload)
    plan = Plan(target, target.process, target.workload, script, settings.rate_rps)
    warm = _measure_wrk(plan, simulator, settings, settings.warmup_s)
    uvloop.run(open_loop(target.url, target.workload, rate_rps=50, duration_s=1))
    uvloop.run(stream_probe(target.url, target.workload, requests=10, budget_s=3))
    rate = settings.rate_rps
    if warm["rps"] < 2 * settings.rate_rps:
        rate = max(10.0, float(int(warm["rps"] / 20) * 10))
    print(
        f"  warm-up {target.name}: {warm['rps']:.0f} req/s, open-loop rate {rate:.0f}/s", flush=True
    )
    return Plan(target, target.process, target.workload, script, rate)


def run_rounds(
    targets: list[Target], simulator: ServerProcess, settings: Settings, workdir: Path
) -> dict[str, list[dict[str, float]]]:
    """Warm up, then ``settings.rounds`` alternating rounds; per target, one row per round."""
    plans = [_plan(t, simulator, settings, workdir) for t in targets if t.unavailable is None]
    rows: dict[str, list[dict[str, float]]] = {plan.target.name: [] for plan in plans}
    for round_index in range(settings.rounds):
        shift = round_index % len(plans)
        for plan in plans[shift:] + plans[:shift]:
            started = time.monotonic()
            row = _visit(plan, simulator, settings)
            rows[plan.target.name].append(row)
            print(
                f"  round {round_index + 1}/{settings.rounds} {plan.target.name:<11} "
                f"{row['rps']:7.0f} req/s  cpu {row['cpu_ms_per_req']:.3f} ms/req  "
                f"p50 {row['p50_ms']:.2f} ms  ttfb {row['ttfb_p50_ms']:.2f} ms  "
                f"({time.monotonic() - started:.0f} s)",
                flush=True,
            )
            time.sleep(settings.pause_s)
    return rows
