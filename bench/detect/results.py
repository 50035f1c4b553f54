"""One detection run's result document: medians, paired ratios, linearity and goals.

Saved as bench/results/detect-<UTC date>-<short commit>[-quick].json, the same shape
of header (command, commit, machine) as the overhead benchmark's results.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.metadata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.detect.corpus import (
    ADVERSARIAL_SIZES,
    MACHINE_KINDS,
    MACHINE_SIZES,
    PERSONAL_SHARE,
    SEED,
    SIZES,
)
from bench.detect.timing import Settings, Target
from bench.overhead.results import git_commit, load_results, machine, write_result
from bench.overhead.stats import Goal, median_of, paired_median

BASTION = ("bastion-fast", "bastion-tagger", "bastion-ner")
PRESIDIO = ("presidio-spacy", "presidio-patterns")
# the fast tier's goals (issue "Detection"): 2 KB p50, 20 KB throughput, linear growth
MAX_P50_2KB_US = 150.0
# DESIGN.md's budgets per call: the fast tier 0.15 ms, the injection detector 0.20 ms
MAX_WITH_INJECTION_P50_2KB_US = 350.0
MAX_TAGGER_P50_2KB_US = 2000.0  # "a tagger of your own": <= 2 ms per 2 KB
MAX_NER_P50_2KB_US = 50000.0  # "a registry NER model": <= 50 ms per 2 KB
MIN_MB_PER_S_20KB = 50.0
MAX_GROWTH_PER_KB = 1.5
Rounds = Mapping[str, Sequence[Mapping[str, Mapping[str, float]]]]


def software() -> dict[str, str]:
    """Versions of Bastion and the detection libraries in this virtualenv."""
    found = {}
    for package in ("bastion-gateway", "google-re2", "pyahocorasick", "phonenumbers", "spacy"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "missing"
    return found


def medians(rounds: Sequence[Mapping[str, Mapping[str, float]]]) -> dict[str, dict[str, float]]:
    """Per size, the median across rounds of every numeric figure."""
    out: dict[str, dict[str, float]] = {}
    for size in (str(s) for s in SIZES):
        visits = [r[size] for r in rounds if size in r]
        keys = sorted({k for v in visits for k in v})
        out[size] = {k: m for k in keys if (m := median_of(v.get(k) for v in visits)) is not None}
    return out


def ratios(rows: Rounds) -> dict[str, dict[str, float | None]]:
    """``presidio/bastion`` p50 ratios per size, paired by round (>1: Bastion is faster)."""
    out: dict[str, dict[str, float | None]] = {}
    for presidio in PRESIDIO:
        for bastion in BASTION:
            if presidio not in rows or bastion not in rows:
                continue
            out[f"{presidio}/{bastion}"] = {
                str(size): paired_median(
                    [r[str(size)] for r in rows[presidio]],
                    [r[str(size)] for r in rows[bastion]],
                    "p50_us",
                    ratio=True,
                )
                for size in SIZES
            }
    return out


def linearity(
    adversarial: Mapping[str, Mapping[str, Mapping[str, Mapping[str, float]]]],
) -> dict[str, dict[str, dict[str, float]]]:
    """Per target and input kind: µs and µs/KB at each size, and the growth of µs/KB."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    small, large = (str(s) for s in ADVERSARIAL_SIZES)
    for target, kinds in adversarial.items():
        out[target] = {}
        for kind, sizes in kinds.items():
            row: dict[str, float] = {}
            for size in (small, large):
                row[f"us_{size}"] = sizes[size]["p50_us"]
                row[f"us_per_kb_{size}"] = sizes[size]["p50_us"] * 1024 / int(size)
            row["growth_per_kb"] = row[f"us_per_kb_{large}"] / row[f"us_per_kb_{small}"]
            out[target][kind] = row
    return out


def goals(
    median: Mapping[str, Mapping[str, Mapping[str, float]]], linear: Mapping[str, Any]
) -> list[Goal]:
    """The fast tier's speed goals, from this run's medians."""
    fast = median.get("bastion-fast", {})
    found = [
        Goal("fast tier p50, 2 KB text", fast.get("2048", {}).get("p50_us"), MAX_P50_2KB_US,
             "us", at_least=False),
        Goal("fast tier throughput, 20 KB text", fast.get("20480", {}).get("mb_per_s"),
             MIN_MB_PER_S_20KB, "MB/s", at_least=True),
        Goal("fast tier + injection p50, 2 KB text (budgets 0.15 + 0.20 ms)",
             median.get("bastion-fast-injection", {}).get("2048", {}).get("p50_us"),
             MAX_WITH_INJECTION_P50_2KB_US, "us", at_least=False),
    ]  # fmt: skip
    tagger = median.get("bastion-tagger", {}).get("2048", {}).get("p50_us")
    ner = median.get("bastion-ner", {}).get("2048", {}).get("p50_us")
    found.append(Goal("second tier (tagger) p50, 2 KB text", tagger, MAX_TAGGER_P50_2KB_US,
                      "us", at_least=False))  # fmt: skip
    found.append(Goal("second tier with NER p50, 2 KB text", ner, MAX_NER_P50_2KB_US,
                      "us", at_least=False))  # fmt: skip
    for kind, row in linear.get("bastion-fast", {}).items():
        found.append(
            Goal(f"fast tier µs/KB growth 10 → 100 KB, {kind}", row["growth_per_kb"],
                 MAX_GROWTH_PER_KB, "x", at_least=False)
        )  # fmt: skip
    return found


def build(
    *,
    command: str,
    mode: str,
    settings: Settings,
    targets: Sequence[Target],
    rows: Rounds,
    adversarial: Mapping[str, Any],
    machine_text: Mapping[str, Any],
    started: dt.datetime,
    elapsed_s: float,
) -> dict[str, Any]:
    """The JSON-ready result document of one run."""
    commit, dirty = git_commit()
    median = {t.name: medians(rows.get(t.name, [])) for t in targets}
    linear = linearity(adversarial)
    return {
        "benchmark": "detect",
        "command": command,
        "mode": mode,
        "commit": commit,
        "dirty": dirty,
        "date": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "elapsed_s": round(elapsed_s, 1),
        "machine": machine(),
        "software": software(),
        "settings": dataclasses.asdict(settings),
        "corpus": {
            "seed": SEED,
            "sizes": list(SIZES),
            "personal_share": PERSONAL_SHARE,
            "adversarial_sizes": list(ADVERSARIAL_SIZES),
            "machine_kinds": list(MACHINE_KINDS),
            "machine_sizes": list(MACHINE_SIZES),
        },
        "targets": {
            t.name: {
                "label": t.label,
                "available": t.unavailable is None,
                "unavailable_reason": t.unavailable,
                "info": t.info,
                "median": median[t.name],
                "rounds": list(rows.get(t.name, [])),
            }
            for t in targets
        },
        "ratios": ratios(rows),
        "adversarial": {"raw": adversarial, "linearity": linear},
        "machine_text": machine_text,
        "goals": [goal.as_json() for goal in goals(median, linear)],
    }


def write(document: Mapping[str, Any]) -> Path:
    """Save a detection result (bench/results/detect-…json)."""
    return write_result("detect", document)


def load_all() -> list[dict[str, Any]]:
    """Every saved detection result, latest first."""
    return load_results("detect")
