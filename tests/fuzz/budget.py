"""How hard the fuzz targets search: bounded in CI, longer on demand.

Each target runs ``examples(n)`` Hypothesis examples: ``n`` by default (about a minute
per target at most on a loaded 2-core machine), times ``BASTION_FUZZ_SCALE`` for a longer
campaign (docs/reliability-drills.md, "Fuzzing"). No per-example deadline: timing is
asserted by the targets that are about time, with generous linear bounds.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings


def examples(n: int) -> int:
    """``n`` scaled by ``BASTION_FUZZ_SCALE`` (default 1)."""
    return max(1, int(n * float(os.environ.get("BASTION_FUZZ_SCALE", "1"))))


def fuzz(n: int) -> settings:
    """Settings for a fuzz target of ``n`` examples (scaled)."""
    return settings(
        max_examples=examples(n),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
