"""One run's result document: where it ran, the per-round rows, medians, ratios, goals."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.metadata
import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from bench.overhead.runner import Settings
from bench.overhead.stats import evaluate_goals, median_of, paired_median, summarise_rounds
from bench.overhead.targets import REPO, Target
from bench.overhead.workload import PROMPT_BYTES

RESULTS_DIR = REPO / "bench" / "results"
Rows = Mapping[str, Sequence[Mapping[str, Any]]]


def git_commit() -> tuple[str, bool]:
    """The short commit of the working tree and whether it has uncommitted changes."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return commit, dirty


def machine() -> dict[str, Any]:
    """CPU model, core count, memory, kernel and Python version of this machine."""
    cpu = "unknown"
    memory_kb = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def _versions() -> dict[str, str]:
    found = {}
    for package in ("bastion", "uvicorn", "uvloop", "httptools", "aiohttp"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "missing"
    wrk = subprocess.run(["/usr/bin/wrk", "-v"], capture_output=True, text=True, check=False)
    found["wrk"] = (wrk.stdout or wrk.stderr).split("\n", 1)[0].strip()
    return found


def compare(rows: Rows) -> dict[str, dict[str, float | None]]:
    """Per target, paired (same-round) medians against the floor and against direct."""
    floor, direct = rows.get("floor", []), rows.get("direct", [])
    out: dict[str, dict[str, float | None]] = {}
    for name, own in rows.items():
        out[name] = {
            "throughput_ratio_vs_floor": paired_median(own, floor, "rps", ratio=True),
            "cpu_ms_per_req_minus_floor": paired_median(own, floor, "cpu_ms_per_req", ratio=False),
            "added_p50_ms": paired_median(own, direct, "p50_ms", ratio=False),
            "added_p99_ms": paired_median(own, direct, "p99_ms", ratio=False),
            "added_p50_minus_floor_ms": paired_median(own, floor, "p50_ms", ratio=False),
            "ttfb_p50_minus_direct_ms": paired_median(own, direct, "ttfb_p50_ms", ratio=False),
            "ttfb_p50_minus_floor_ms": paired_median(own, floor, "ttfb_p50_ms", ratio=False),
        }
    return out


def build(
    *,
    command: str,
    mode: str,
    settings: Settings,
    targets: Sequence[Target],
    rows: Rows,
    started: dt.datetime,
    elapsed_s: float,
) -> dict[str, Any]:
    """The JSON-ready result document of one run."""
    commit, dirty = git_commit()
    comparisons = compare(rows)
    bastion_rows = rows.get("bastion-1w", [])
    overhead = {
        key: median_of(row.get(key) for row in bastion_rows)
        for key in (
            "overhead_p50_us",
            "overhead_p90_us",
            "overhead_p99_us",
            "overhead_saturated_p50_us",
            "overhead_saturated_p90_us",
            "overhead_saturated_p99_us",
        )
    }
    goals = evaluate_goals(comparisons, overhead["overhead_p50_us"])
    return {
        "benchmark": "overhead",
        "command": command,
        "mode": mode,
        "commit": commit,
        "dirty": dirty,
        "date": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "elapsed_s": round(elapsed_s, 1),
        "machine": machine(),
        "software": _versions(),
        "settings": dataclasses.asdict(settings),
        "prompt_bytes": PROMPT_BYTES,
        "targets": {
            t.name: {
                "label": t.label,
                "available": t.unavailable is None,
                "unavailable_reason": t.unavailable,
                "info": {k: v for k, v in t.info.items()},
                "median": summarise_rounds(rows.get(t.name, [])),
                "rounds": list(rows.get(t.name, [])),
            }
            for t in targets
        },
        "comparisons": comparisons,
        "bastion_overhead_us": overhead,
        "goals": [goal.as_json() for goal in goals],
    }


def write_result(kind: str, document: Mapping[str, Any]) -> Path:
    """Save as bench/results/<kind>-<UTC date>-<short commit>[-<mode>].json (no suffix for
    a full run); return the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    day = str(document["date"])[:10]
    mode = str(document.get("mode", "full"))
    suffix = "" if mode == "full" else f"-{mode}"
    path = RESULTS_DIR / f"{kind}-{day}-{document['commit']}{suffix}.json"
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    return path


def load_results(kind: str) -> list[dict[str, Any]]:
    """Every saved result of ``kind`` (overhead, detect, accuracy), latest first."""
    documents = [orjson.loads(p.read_bytes()) for p in RESULTS_DIR.glob(f"{kind}-*.json")]
    return sorted(documents, key=lambda d: str(d.get("date", "")), reverse=True)


def write(document: Mapping[str, Any]) -> Path:
    """Save an overhead result (bench/results/overhead-…json)."""
    return write_result("overhead", document)


def load_all() -> list[dict[str, Any]]:
    """Every saved overhead result, latest first."""
    return load_results("overhead")
