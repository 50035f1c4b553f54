"""After start-up the collector is tuned for serving: the objects of calls in flight are
not promoted and collected over and over (collections of the older generations are
the multi-millisecond pauses that land in the latency tail)."""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Iterator
from typing import Any

import pytest

from bastion.server.heap import settle_heap


@pytest.fixture
def collector() -> Iterator[list[int]]:
    """The generation of every collection that runs; the collector restored after."""
    saved = gc.get_threshold()
    generations: list[int] = []

    def note(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            generations.append(info["generation"])

    gc.callbacks.append(note)
    try:
        yield generations
    finally:
        gc.callbacks.remove(note)
        gc.unfreeze()
        gc.set_threshold(*saved)


def serve(calls: int, *, in_flight: int = 8, objects_per_call: int = 1_000) -> None:
    """Allocate like a gateway: each call builds its objects, which die a few calls later."""
    window: deque[list[dict[str, int]]] = deque()
    for _ in range(calls):
        window.append([{"n": n} for n in range(objects_per_call)])
        if len(window) > in_flight:
            window.popleft()


def test_serving_runs_no_collection_of_the_older_generations(collector: list[int]) -> None:
    settle_heap()
    assert gc.get_freeze_count() > 0  # start-up's tables are out of the collector's way
    collector.clear()  # settle_heap's own full collection
    serve(3_000)
    assert [g for g in collector if g > 0] == []


def test_control_cpythons_default_thresholds_collect_all_the_time(collector: list[int]) -> None:
    gc.set_threshold(700, 10, 10)
    serve(3_000)
    assert len([g for g in collector if g > 0]) > 100
