"""Query parameters: the time ranges and field filters the reporting routes share, and
the refusal of a query parameter the route does not take (every route, one check);
the time type of body fields the store keeps (expiries)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import AfterValidator, AwareDatetime

from bastion.errors import InvalidRequest
from bastion.server.admin_api.context import Actor

Since = Annotated[
    datetime | None,
    Query(description="From (ISO-8601, UTC unless a zone is given, or epoch seconds)."),
]
Until = Annotated[datetime | None, Query(description="Until, exclusive (default: now).")]
Filter = Annotated[str | None, Query(max_length=200)]


def _in_utc(moment: datetime) -> datetime:
    """``moment`` in UTC, as the store keeps it; a time past year 9999 there is refused
    while validating (400), not by the database (which would read as a failed store)."""
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("out of range; dates run from year 1 to 9999 (UTC)") from exc


UtcTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
"""A body field's time with a zone (ISO-8601), converted to UTC."""


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


async def refuse_unknown_query(actor: Actor, request: Request) -> None:
    """400 ``unknown_parameter`` for a query parameter the route does not declare: a typo
    or another route's filter would otherwise be ignored and the unfiltered answer read
    as the filtered one. Runs after the role check, so 401 and 403 come first."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _query_names(route.dependant)
    for name in request.query_params:
        if name not in known:
            takes = ", ".join(sorted(known)) or "no query parameters"
            raise InvalidRequest(
                f"unknown query parameter {name[:64]!r}; "
                f"{request.method} {request.url.path[:200]} takes {takes}",
                code="unknown_parameter",
                param=name[:64],
            )


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameters a route declares, its dependencies' included (by alias)."""
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names
