"""Unauthenticated calls, summarised: one rate-capped event per window, never per call.

DESIGN.md §1: calls refused before identity are counted in metrics and written as
summary events (count, key-id prefix, client address per window), so a flood of bad
keys costs a counter increment each and cannot crowd out the records of accepted
calls. Each window's summary is one log event; memory is bounded by ``max_groups``.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable

log = logging.getLogger("bastion.audit.unauthenticated")

_KEY_ID = re.compile(r"bst_([A-Za-z0-9]{1,8})")


def key_id_prefix(presented: str | None) -> str:
    """What may be shown of a presented key: the first 4 characters of its id, or a kind."""
    if not presented:
        return "missing"
    match = _KEY_ID.match(presented)
    return f"bst_{match.group(1)[:4]}" if match else "not_a_bastion_key"


class RejectionSummary:
    """Counts refused calls by (key-id prefix, client address) per ``window_s``."""

    def __init__(
        self,
        *,
        window_s: float = 10.0,
        max_groups: int = 1000,
        clock: Callable[[], float] = time.monotonic,
        emit: Callable[[str], None] = log.warning,
    ) -> None:
        self._window_s = window_s
        self._max_groups = max_groups
        self._clock = clock
        self._emit = emit
        self._counts: Counter[tuple[str, str]] = Counter()
        self._other = 0
        self._window_end = clock() + window_s

    def add(self, presented: str | None, client: str | None) -> None:
        """Count one refused call (and close the window if it has passed)."""
        if self._clock() >= self._window_end:
            self.flush()
        group = (key_id_prefix(presented), client or "unknown")
        if group in self._counts or len(self._counts) < self._max_groups:
            self._counts[group] += 1
        else:
            self._other += 1

    def flush(self) -> None:
        """Emit the current window's summary, if anything was refused, and start anew."""
        total = sum(self._counts.values()) + self._other
        if total:
            top = ", ".join(
                f"{prefix} from {client}: {count}"
                for (prefix, client), count in self._counts.most_common(10)
            )
            more = f"; {self._other} in groups beyond the cap" if self._other else ""
            self._emit(
                f"unauthenticated calls in the last {self._window_s:g}s: {total} "
                f"({len(self._counts)} groups; top: {top}{more})"
            )
        self._counts.clear()
        self._other = 0
        self._window_end = self._clock() + self._window_s
