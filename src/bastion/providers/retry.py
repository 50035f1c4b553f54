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
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

from bastion.config.schema import RetryConfig

#: Upstream statuses worth another attempt (rate limited or a transient server fault).
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

# a wait is a plain non-negative decimal: "nan", "-5", "1_000" or non-ASCII digits are no hint
_SECONDS = re.compile(r"\s*[0-9]+(?:\.[0-9]+)?\s*")


@dataclass(frozen=True, slots=True)
class RetryDelay:
    """The wait before the next attempt on the same target, or `None` to give up on it."""

    seconds: float | None
    from_hint: bool


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds the upstream asked us to wait, from `retry-after-ms` or `retry-after`.

    Returns None when neither header holds a wait (absent, negative, not a number),
    so the caller falls back to its own backoff; never negative. An HTTP date without
    a zone (the asctime form, or ``-0000``) is GMT, as RFC 9110 says, whatever the
    host's local time zone.
    """
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None and _SECONDS.fullmatch(raw_ms):
        return float(raw_ms) / 1000.0
    raw = headers.get("retry-after")
    if raw is None:
        return None
    if _SECONDS.fullmatch(raw):
        return float(raw)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
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
