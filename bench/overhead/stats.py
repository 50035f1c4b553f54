"""Quantiles within a round, medians across rounds, and the issue's pass/fail targets."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# the targets ("Gateway core", item 12)
MIN_THROUGHPUT_RATIO = 0.50
MAX_ADDED_P50_OVER_FLOOR_MS = 0.30
MAX_INPROCESS_P50_US = 150.0
MAX_TTFB_OVER_FLOOR_MS = 0.50


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (linear interpolation between closest ranks); NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median_of(values: Iterable[float | None]) -> float | None:
    """Median of the known (not None, not NaN) values; None when there are none."""
    known = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(known) if known else None


def summarise_rounds(rounds: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """Per metric, the median across rounds of each round's numeric value."""
    keys: list[str] = []
    for entry in rounds:
        keys.extend(k for k, v in entry.items() if isinstance(v, int | float) and k not in keys)
    return {key: median_of(entry.get(key) for entry in rounds) for key in keys}


def paired_median(
    rounds_a: Sequence[Mapping[str, Any]],
    rounds_b: Sequence[Mapping[str, Any]],
    key: str,
    *,
    ratio: bool,
) -> float | None:
    """Median over rounds of a/b (``ratio``) or a-b for ``key``, pairing round i with i."""
    values: list[float] = []
    for a, b in zip(rounds_a, rounds_b, strict=False):
        x, y = a.get(key), b.get(key)
        if x is None or y is None or math.isnan(x) or math.isnan(y):
            continue
        if ratio:
            if y:
                values.append(x / y)
        else:
            values.append(x - y)
    return statistics.median(values) if values else None


@dataclass(frozen=True, slots=True)
class Goal:
    """One target from the issue: what is compared, the measured value, the limit, verdict."""

    name: str
    measured: float | None
    limit: float
    unit: str
    at_least: bool

    @property
    def passed(self) -> bool | None:
        """True/False, or None when the value could not be measured."""
        if self.measured is None:
            return None
        return self.measured >= self.limit if self.at_least else self.measured <= self.limit

    def as_json(self) -> dict[str, Any]:
        """The goal as a JSON-ready dict."""
        return {
            "name": self.name,
            "measured": self.measured,
            "limit": self.limit,
            "unit": self.unit,
            "comparison": ">=" if self.at_least else "<=",
            "passed": self.passed,
        }


def evaluate_goals(
    comparisons: Mapping[str, Any], bastion_overhead_p50_us: float | None
) -> list[Goal]:
    """The four issue targets for Bastion with one worker, from the paired comparisons."""
    b1 = comparisons.get("bastion-1w", {})
    return [
        Goal(
            "throughput, 1 worker / floor",
            b1.get("throughput_ratio_vs_floor"),
            MIN_THROUGHPUT_RATIO,
            "ratio",
            at_least=True,
        ),
        Goal(
            "added latency p50 at fixed rate, minus the floor's",
            b1.get("added_p50_minus_floor_ms"),
            MAX_ADDED_P50_OVER_FLOOR_MS,
            "ms",
            at_least=False,
        ),
        Goal(
            "in-process overhead p50, 2 KB prompt",
            bastion_overhead_p50_us,
            MAX_INPROCESS_P50_US,
            "us",
            at_least=False,
        ),
        Goal(
            "streaming TTFB p50 minus the floor's",
            b1.get("ttfb_p50_minus_floor_ms"),
            MAX_TTFB_OVER_FLOOR_MS,
            "ms",
            at_least=False,
        ),
    ]
