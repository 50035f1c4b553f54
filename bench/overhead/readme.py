"""Regenerate the result tables in bench/README.md from every saved result (latest first).

Only the text between the ``<!-- overhead:budget -->`` and ``<!-- overhead:runs -->``
marker pairs is replaced; everything else in the README is written by hand.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.overhead.targets import REPO

README = REPO / "bench" / "README.md"
Doc = Mapping[str, Any]

# DESIGN.md §3: the CPU budget per call (ms) with one worker
BUDGET = (
    ("core: HTTP in/out, parse, route, relay", 0.20, "core"),
    ("request detection, fast tier, incl. normalisation", 0.15, "idle"),
    ("injection detection", 0.20, "idle"),
    ("output scanning and restore", 0.10, "idle"),
    ("policy + transforms", 0.05, "idle"),
    ("audit intent + completion", 0.05, "in-core"),
    ("limits", 0.03, "in-core"),
)


def _num(value: Any, digits: int = 2, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}{suffix}"


def _signed(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:+.{digits}f}"


def _verdict(passed: bool | None) -> str:
    return {True: "**pass**", False: "**FAIL**", None: "not measured"}[passed]


def render_budget(latest: Doc | None) -> str:
    """The DESIGN.md budget table with the latest run's measured figures beside it."""
    b1 = (latest or {}).get("targets", {}).get("bastion-1w", {}).get("median", {})
    cpu = b1.get("cpu_ms_per_req")
    ratio = (
        (latest or {}).get("comparisons", {}).get("bastion-1w", {}).get("throughput_ratio_vs_floor")
    )
    lines = ["| stage | budget | measured |", "|---|---|---|"]
    for stage, budget, kind in BUDGET:
        measured = {
            "core": "in the total (one process measured whole)",
            "idle": "in the total; alone: Detection, Policy, Audit and Limits below",
            "in-core": "in the total; alone: Audit and Limits below",
        }[kind]
        lines.append(f"| {stage} | {budget:.2f} ms | {measured} |")
    lines.append(
        f"| **total** | **≤ 0.78 ms → ≥ 25 % of the floor's throughput** | "
        f"**{_num(cpu, 3)} ms (all of Bastion's CPU per call, quickstart config and its "
        f"policy) → {_num(ratio * 100 if ratio else None, 0)} % of the floor's throughput** |"
    )
    if latest:
        medians = {n: t.get("median", {}) for n, t in latest.get("targets", {}).items()}
        lines += [
            "",
            f"Same run, for reference: the floor costs "
            f"{_num(medians.get('floor', {}).get('cpu_ms_per_req'), 3)} ms per call "
            f"(DESIGN.md: 0.19 ms), LiteLLM "
            f"{_num(medians.get('litellm', {}).get('cpu_ms_per_req'), 3)} ms (DESIGN.md: 14 ms). "
            f"Figures from the run of {latest['date']} (commit {latest['commit']}).",
        ]
    return "\n".join(lines)


def _targets_table(doc: Doc) -> list[str]:
    lines = [
        "| target | req/s | x floor | CPU ms/req | rate/s | p50 ms | p90 ms | p99 ms "
        "| added p50 vs direct | minus floor's | TTFB p50 ms | TTFB minus floor "
        "| stream total p50 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, target in doc["targets"].items():
        if not target["available"]:
            reason = str(target.get("unavailable_reason") or "").replace("|", "/")[:160]
            lines.append(f"| {target['label']} | unavailable: {reason} |" + " |" * 11)
            continue
        m, c = target["median"], doc["comparisons"].get(name, {})
        cells = [
            _num(m.get("rps"), 0),
            _num(c.get("throughput_ratio_vs_floor")),
            _num(m.get("cpu_ms_per_req"), 3),
            _num(m.get("achieved_rps"), 0),
            _num(m.get("p50_ms")),
            _num(m.get("p90_ms")),
            _num(m.get("p99_ms")),
            _signed(c.get("added_p50_ms")),
            _signed(c.get("added_p50_minus_floor_ms")),
            _num(m.get("ttfb_p50_ms")),
            _signed(c.get("ttfb_p50_minus_floor_ms")),
            _num(m.get("stream_total_p50_ms")),
        ]
        lines.append(f"| {target['label']} | " + " | ".join(cells) + " |")
    return lines


def render_run(doc: Doc) -> str:
    """One run: header (command, commit, date, machine), targets, overhead, goals."""
    m = doc["machine"]
    dirty = " (with uncommitted changes)" if doc.get("dirty") else ""
    s = doc["settings"]
    out = [
        f"### {doc['date']} · commit `{doc['commit']}`{dirty} · {doc['mode']}",
        "",
        f"Command: `{doc['command']}` · machine: {m['cpu_model']}, {m['cores']} cores, "
        f"{m['memory_gib']} GiB, Python {m['python']}, kernel {m['kernel']} · "
        f"{s['rounds']} rounds of wrk {s['wrk_s']:g} s at c={s['connections']}, open loop "
        f"{s['openloop_s']:g} s, {s['stream_requests']} streams; took {doc['elapsed_s']:.0f} s.",
        "",
        *_targets_table(doc),
        "",
    ]
    o = doc.get("bastion_overhead_us", {})
    out.append(
        f"Bastion in-process overhead (1 worker, 2 KB prompt), at the fixed rate: "
        f"p50 {_num(o.get('overhead_p50_us'), 0)} µs, p90 {_num(o.get('overhead_p90_us'), 0)} µs, "
        f"p99 {_num(o.get('overhead_p99_us'), 0)} µs; under saturation (wrk): "
        f"p50 {_num(o.get('overhead_saturated_p50_us'), 0)} µs, "
        f"p99 {_num(o.get('overhead_saturated_p99_us'), 0)} µs."
    )
    out += ["", "| goal | measured | limit | result |", "|---|---:|---:|---|"]
    for goal in doc.get("goals", []):
        digits = 0 if goal["unit"] == "us" else 2
        out.append(
            f"| {goal['name']} | {_num(goal['measured'], digits)} {goal['unit']} "
            f"| {goal['comparison']} {goal['limit']:g} {goal['unit']} "
            f"| {_verdict(goal['passed'])} |"
        )
    return "\n".join(out)


def _replace_block(text: str, name: str, body: str) -> str:
    begin, end = f"<!-- overhead:{name}:begin -->", f"<!-- overhead:{name}:end -->"
    block = f"{begin}\n{body}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text)
    return text.rstrip("\n") + "\n\n" + block + "\n"


def regenerate(documents: Sequence[Doc], readme: Path = README) -> None:
    """Rewrite the generated blocks of ``readme`` from ``documents`` (latest first)."""
    text = readme.read_text() if readme.exists() else "# Benchmarks\n"
    full_runs = [doc for doc in documents if doc.get("mode") == "full"]
    candidates = full_runs or list(documents)
    latest = candidates[0] if candidates else None
    text = _replace_block(text, "budget", render_budget(latest))
    runs = "\n\n".join(render_run(doc) for doc in documents) or "No runs yet."
    text = _replace_block(text, "runs", runs)
    readme.write_text(text)
