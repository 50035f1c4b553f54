"""Unauthenticated calls are summarised per window, with bounded memory and no secrets."""

from __future__ import annotations

import pytest

from bastion.audit.rejections import RejectionSummary, key_id_prefix


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    "presented,shown",
    [
        (None, "missing"),
        ("", "missing"),
        ("sk-proj-abcdef", "not_a_bastion_key"),
        ("bst_AbCd1234_" + "s" * 32, "bst_AbCd"),
    ],
)
def test_only_a_short_key_id_prefix_is_shown(presented: str | None, shown: str) -> None:
    assert key_id_prefix(presented) == shown


def test_one_event_per_window_with_counts_by_prefix_and_client() -> None:
    clock, events = Clock(), []
    summary = RejectionSummary(window_s=10, clock=clock, emit=events.append)
    secret = "bst_AbCd1234_" + "S3cr3t" * 5 + "xx"
    for _ in range(500):
        summary.add(secret, "10.0.0.7")
    summary.add(None, "10.0.0.8")
    assert events == []  # nothing per call
    clock.now = 10.0
    summary.add(None, "10.0.0.9")  # the next window's first call closes the last one
    (event,) = events
    assert "501" in event and "bst_AbCd from 10.0.0.7: 500" in event
    assert "S3cr3t" not in event and "1234" not in event


def test_groups_beyond_the_cap_are_counted_not_kept() -> None:
    events: list[str] = []
    summary = RejectionSummary(max_groups=3, emit=events.append)
    for i in range(1000):
        summary.add(None, f"10.0.{i // 256}.{i % 256}")
    summary.flush()
    (event,) = events
    assert "1000 (3 groups" in event and "997 in groups beyond the cap" in event
