"""When to try an upstream call again, and how long to wait first.

Retried: connection errors, timeouts before any byte reached the caller, and the
statuses in `RETRYABLE_STATUSES`. The wait is exponential backoff with full jitter
(AWS architecture blog, "Exponential Backoff And Jitter"), unless the upstream says
how long to wait with ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP
date): that hint is honoured when it fits under ``backoff_max_s``; a longer hint
means this target is out for a while, so the router moves on to the next target.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from bastion.config.schema import RetryConfig

#: Upstream statuses worth another attempt (rate limited or a transient server fault).
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryDelay:
    """The wait before the next attempt on the same target, or `None` to give up on it."""

    seconds: float | None
    from_hint: bool


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds the upstream asked us to wait, from `retry-after-ms` or `retry-after`.

    Returns None when neither header is present or parseable; never negative.
    """
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def backoff_delay(config: RetryConfig, attempt: int) -> float:
    """Full-jitter backoff before retry number `attempt` (1 = first retry)."""
    ceiling = min(config.backoff_max_s, config.backoff_base_s * (2 ** (attempt - 1)))
    return random.uniform(0.0, ceiling)


def next_delay(config: RetryConfig, attempt: int, hint_s: float | None) -> RetryDelay:
    """The wait after failed attempt number `attempt` on a target.

    `None` seconds means: do not retry this target (attempts used up, or the
    upstream's Retry-After hint is longer than `backoff_max_s`).
    """
    if attempt >= config.max_attempts:
        return RetryDelay(seconds=None, from_hint=False)
    if hint_s is not None:
        if hint_s > config.backoff_max_s:
            return RetryDelay(seconds=None, from_hint=True)
        return RetryDelay(seconds=hint_s, from_hint=True)
    return RetryDelay(seconds=backoff_delay(config, attempt), from_hint=False)
