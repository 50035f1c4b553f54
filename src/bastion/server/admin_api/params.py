"""Query parameters shared by the reporting routes: time ranges and field filters."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query

from bastion.errors import InvalidRequest

Since = Annotated[
    datetime | None,
    Query(description="From (ISO-8601, UTC unless a zone is given, or epoch seconds)."),
]
Until = Annotated[datetime | None, Query(description="Until, exclusive (default: now).")]
Filter = Annotated[str | None, Query(max_length=200)]


def epoch(moment: datetime) -> float:
    """``moment`` as epoch seconds; a time without a zone is UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


_EARLIEST = datetime.min.replace(tzinfo=UTC).timestamp()


def time_range(
    since: datetime | None, until: datetime | None, default_s: float
) -> tuple[float, float | None]:
    """``[since, until)`` as epoch seconds; ``since`` defaults to ``default_s`` before
    ``until`` (or now). 400 when the range is empty."""
    end = epoch(until) if until is not None else None
    # a default start is never before year 1, which a datetime cannot hold (a 500 otherwise)
    default_start = max((time.time() if end is None else end) - default_s, _EARLIEST)
    start = epoch(since) if since is not None else default_start
    if end is not None and end <= start:
        raise InvalidRequest("until must be after since", param="until")
    return start, end


def utc(seconds: float | None) -> datetime | None:
    """Epoch seconds as an aware UTC datetime (None stays None)."""
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)
