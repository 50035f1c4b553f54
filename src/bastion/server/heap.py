"""The cyclic garbage collector, tuned for serving once start-up is done.

Start-up builds large tables that live as long as the process (detector patterns,
gazetteers, the policy): they are moved out of the collector's generations
(``gc.freeze``) so no collection walks them again. Serving allocates many small
objects per call; nearly all die by reference counting at the end of the call, and
the few that a collection finds alive are the calls still in flight. With CPython's
default first threshold (700 net allocations) a collection runs every few calls and
promotes whatever is in flight, so older generations fill with objects that die a
moment later and their collections (several milliseconds on this hardware) land in
the latency tail. A larger first threshold collects as often as needed to bound
cyclic garbage (a few megabytes at most) while promoting far less.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000
"""Net container allocations between young collections (CPython's default: 700)."""
MIDDLE_THRESHOLD = 20
"""Young collections per middle-generation collection (default 10)."""
OLD_THRESHOLD = 20
"""Middle collections per full collection (default 10; CPython also waits until the
objects pending promotion are a quarter of the old generation)."""


def settle_heap() -> None:
    """Freeze what start-up built and set the serving thresholds (call once, after start-up)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
