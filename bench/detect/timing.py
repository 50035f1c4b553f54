"""The measurement loop: warm-up, alternating rounds over the targets, adversarial inputs.

Every target answers the same question, "time these calls": scan the given texts in
turn until a time budget is spent (at least ``min_calls``, at most ``max_calls``) and
return each call's nanoseconds. Bastion is timed in this process around
``Scanner.scan``; Presidio inside its runner around ``analyze`` and ``anonymize``, so
the pipe is never timed. Each round visits every target once, in an order rotated by
one per round, and each visit measures every text size.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from bench.detect.corpus import (
    ADVERSARIAL_KINDS,
    ADVERSARIAL_SIZES,
    MACHINE_KINDS,
    MACHINE_SIZES,
    SIZES,
    adversarial_text,
    machine_text,
    mixed_text,
)
from bench.overhead.stats import quantile


@dataclass(frozen=True, slots=True)
class Calls:
    """Per-call nanoseconds: the total, and named parts where the target has them."""

    total_ns: list[int]
    parts: dict[str, list[int]] = field(default_factory=dict)


TimeCalls = Callable[[Sequence[str], float, int, int], Calls]
"""(texts, budget_s, min_calls, max_calls) -> Calls."""


@dataclass(slots=True)
class Target:
    """One system under test; ``unavailable`` holds the reason when it cannot run."""

    name: str
    label: str
    time_calls: TimeCalls | None = None
    unavailable: str | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Settings:
    """How many rounds, and how long each size is measured per visit (seconds)."""

    rounds: int
    budget_s: tuple[float, ...]  # one per corpus.SIZES
    adversarial_budget_s: float
    machine_budget_s: float = 1.0
    """Per target, machine kind and size: how long new texts are scanned."""
    variants: int = 3
    min_calls: int = 1
    max_calls: int = 5000
    warmup_calls: int = 20


QUICK = Settings(
    rounds=2, budget_s=(0.3, 0.4, 0.5, 0.5), adversarial_budget_s=0.3, machine_budget_s=0.3
)
FULL = Settings(
    rounds=5, budget_s=(1.0, 1.5, 2.0, 3.0), adversarial_budget_s=1.0, machine_budget_s=1.5
)
_MACHINE_TEXTS = {2_048: 400, 20_480: 60}  # new texts per kind and size (at most)


def time_in_process(scan: Callable[[str], object]) -> TimeCalls:
    """A ``TimeCalls`` for a scan function of this process (Bastion's tiers)."""

    def time_calls(texts: Sequence[str], budget_s: float, min_calls: int, max_calls: int) -> Calls:
        clock = time.perf_counter_ns
        budget_ns = int(budget_s * 1e9)
        total: list[int] = []
        started = clock()
        while len(total) < max_calls and (len(total) < min_calls or clock() - started < budget_ns):
            text = texts[len(total) % len(texts)]
            t0 = clock()
            scan(text)
            total.append(clock() - t0)
        return Calls(total)

    return time_calls


def summarise(calls: Calls, size: int) -> dict[str, float]:
    """p50/p90/mean in µs, throughput in MB/s at the median, per-part medians."""
    us = [ns / 1000 for ns in calls.total_ns]
    p50 = quantile(us, 0.5)
    row = {
        "calls": float(len(us)),
        "p50_us": p50,
        "p90_us": quantile(us, 0.9),
        "mean_us": sum(us) / len(us),
        "mb_per_s": size / p50 if p50 else 0.0,  # bytes per µs = MB/s
    }
    for part, values in calls.parts.items():
        row[f"{part}_p50_us"] = quantile([ns / 1000 for ns in values], 0.5)
    return row


def texts_by_size(variants: int) -> dict[int, list[str]]:
    """The benchmark's mixed texts: ``variants`` different texts per size (warm-up)."""
    return {size: [mixed_text(size, v) for v in range(variants)] for size in SIZES}


FRESH_PER_VISIT = 1_000_000  # more than any visit's calls: no text comes back


class FreshTexts(Sequence[str]):
    """Mixed texts of one size, a new one at every index, made when asked for (outside
    the timed call). A gateway meets a new prompt on every call; scanning a few texts in
    turn would let caches of values and automaton states answer instead."""

    def __init__(self, size: int, first: int) -> None:
        self.size, self.first = size, first

    def __len__(self) -> int:
        return FRESH_PER_VISIT

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not 0 <= index < len(self):
            raise IndexError(index)
        return mixed_text(self.size, self.first + index)


def warm_up(targets: Sequence[Target], texts: dict[int, list[str]], settings: Settings) -> None:
    """A few calls per target on the small sizes (first calls allocate and fill caches).

    A target whose calls fail here becomes unavailable, with the error as the reason.
    """
    for target in targets:
        if target.time_calls is None:
            continue
        started = time.monotonic()
        try:
            for size in SIZES[:3]:
                count = settings.warmup_calls if size <= 2_048 else 2
                target.time_calls(texts[size], 0.0, count, count)
        except Exception as exc:  # a target that fails here is reported, not fatal
            target.time_calls, target.unavailable = None, f"{type(exc).__name__}: {exc}"
            print(f"  warm-up {target.name}: failed: {target.unavailable}", flush=True)
            continue
        print(f"  warm-up {target.name}: {time.monotonic() - started:.1f} s", flush=True)


def run_rounds(
    targets: Sequence[Target], settings: Settings
) -> dict[str, list[dict[str, dict[str, float]]]]:
    """Per target, one row per round: size (as a string) -> summary of that visit, over
    texts no call has scanned before (``FreshTexts``)."""
    live = [t for t in targets if t.time_calls is not None]
    rows: dict[str, list[dict[str, dict[str, float]]]] = {t.name: [] for t in live}
    visit = 0
    for index in range(settings.rounds if live else 0):
        shift = index % len(live)
        for target in live[shift:] + live[:shift]:
            assert target.time_calls is not None
            started = time.monotonic()
            row: dict[str, dict[str, float]] = {}
            visit += 1  # every visit its own texts, none seen before (warm-up used 0..)
            for size, budget in zip(SIZES, settings.budget_s, strict=True):
                fresh = FreshTexts(size, first=visit * FRESH_PER_VISIT)
                calls = target.time_calls(fresh, budget, settings.min_calls, settings.max_calls)
                row[str(size)] = summarise(calls, size)
            rows[target.name].append(row)
            cells = "  ".join(f"{s}: {row[str(s)]['p50_us']:,.0f}" for s in SIZES)
            print(
                f"  round {index + 1}/{settings.rounds} {target.name:<18} p50 µs  {cells}  "
                f"({time.monotonic() - started:.0f} s)",
                flush=True,
            )
    return rows


def run_adversarial(
    targets: Sequence[Target], settings: Settings, passes: int = 3
) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """Per target, kind and size: the median µs of scanning one unbroken run.

    The sizes alternate over ``passes`` passes (small, large, small, ...) and each figure
    is the median of the passes' medians, so a burst of load on the shared machine
    cannot land on one size only and fake a non-linear growth.
    """
    out: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    budget = settings.adversarial_budget_s / passes
    for target in targets:
        if target.time_calls is None:
            continue
        out[target.name] = {}
        for kind in ADVERSARIAL_KINDS:
            texts = {size: adversarial_text(kind, size) for size in ADVERSARIAL_SIZES}
            seen: dict[int, list[dict[str, float]]] = {size: [] for size in ADVERSARIAL_SIZES}
            for _ in range(passes):
                for size in ADVERSARIAL_SIZES:
                    calls = target.time_calls([texts[size]], budget, 1, 200)
                    seen[size].append(summarise(calls, size))
            out[target.name][kind] = {
                str(size): {
                    key: float(statistics.median(row[key] for row in rows)) for key in rows[0]
                }
                for size, rows in seen.items()
            }
            small, large = (out[target.name][kind][str(s)]["p50_us"] for s in ADVERSARIAL_SIZES)
            print(
                f"  adversarial {target.name:<18} {kind:<9} {small:>11,.0f} µs at 10 KB  "
                f"{large:>11,.0f} µs at 100 KB",
                flush=True,
            )
    return out


def run_machine(
    targets: Sequence[Target], settings: Settings
) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """Per target, machine kind and size: the summary of scanning new texts, each once.

    Each target gets texts of its own (same generator, other seeds): Bastion's tiers share
    compiled patterns in this process, so a second tier would otherwise meet texts whose
    automaton states the first one built. Before the first target, the first Bastion
    tier scans other texts of the kind for a while, so the first target measured does
    not pay the shared patterns' warm-up on the kind alone."""
    out: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    live = [t for t in targets if t.time_calls is not None]
    for kind in MACHINE_KINDS:
        for size in MACHINE_SIZES:
            count = _MACHINE_TEXTS[size]
            if live and live[0].time_calls is not None:
                warm = [machine_text(kind, size, -1 - i) for i in range(count)]
                live[0].time_calls(warm, settings.machine_budget_s / 2, 3, len(warm))
            for number, target in enumerate(live):
                texts = [machine_text(kind, size, number * count + i) for i in range(count)]
                assert target.time_calls is not None
                calls = target.time_calls(texts, settings.machine_budget_s, 3, len(texts))
                row = out.setdefault(target.name, {}).setdefault(kind, {})
                row[str(size)] = summarise(calls, size)
                print(
                    f"  machine {target.name:<18} {kind:<12} {size:>6} B: "
                    f"p50 {row[str(size)]['p50_us']:>9,.0f} µs over {len(calls.total_ns)} texts",
                    flush=True,
                )
    return out
