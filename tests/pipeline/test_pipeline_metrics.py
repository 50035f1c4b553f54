"""Exact overhead quantiles kept for the benchmark: a bounded ring of recent samples."""

from __future__ import annotations

from bastion.pipeline.metrics import OverheadSamples


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
