"""A circuit breaker per upstream target (provider + upstream model).

closed ── `failure_threshold` consecutive failures ──► open
open ── `reset_s` elapsed ──► half_open: exactly one trial call is let through
half_open ── trial succeeds ──► closed;  trial fails ──► open again for `reset_s`

Failures are what says the target is unhealthy: connection errors, timeouts, 5xx
and 429. 429 counts on purpose: a target that keeps rate-limiting us should shed
traffic to its fallbacks for a while instead of every call paying for the retries
first. Any other answer (2xx, and 4xx such as 400, 401, 404: the upstream is up
and said something definite) is a success and resets the count.

State lives in one process (each replica judges its own upstream view), changes only
on the event loop, and reads the monotonic clock given to it (tests pass a fake).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from bastion.config.schema import BreakerConfig


class BreakerState(StrEnum):
    """What the breaker lets through."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Counts consecutive failures of one target and opens for `reset_s` past the threshold."""

    __slots__ = ("_clock", "_failures", "_opened_at", "_reset_s", "_threshold", "_trial_out")

    def __init__(
        self, config: BreakerConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = config.failure_threshold
        self._reset_s = config.reset_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_out = False

    @property
    def state(self) -> BreakerState:
        """The current state, moving open → half_open once `reset_s` has passed."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self._reset_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def try_acquire(self) -> bool:
        """True if a call may go to this target now (takes the half-open trial slot)."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._trial_out:
            self._trial_out = True
            return True
        return False

    def record_success(self) -> None:
        """The target answered definitely: close and forget past failures."""
        self._failures = 0
        self._opened_at = None
        self._trial_out = False

    def record_failure(self) -> None:
        """The target failed; opens at the threshold, or again after a failed trial."""
        self._failures += 1
        if self._opened_at is not None or self._failures >= self._threshold:
            self._opened_at = self._clock()
        self._trial_out = False

    def release_trial(self) -> None:
        """Give back an unused half-open trial slot (the call ended with no verdict)."""
        self._trial_out = False
