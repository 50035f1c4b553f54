"""Which part of a time range the hourly rollups answer, and which the call records.

The rollup tables (migration 0009) count the records of whole hours, so a range
``[since, until)`` splits into runs of whole hours, read from the rollups, and hours
that an edge cuts (the range's ends; for calls per time bucket, bucket edges too).
An hour cut once has two sides: its rollup row counts both, so the larger side is the
rollup less the smaller side, and only the smaller side is read from ``call_records``
(at most half an hour per cut). An hour cut twice is read from the records.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

HOUR_S = 3600
MAX_BUCKETS = 5000
"""Ranges with more buckets than this are read raw (planning them would cost more)."""


@dataclass(frozen=True, slots=True)
class HourRun:
    """Whole hours ``[start, end)`` (epoch seconds, multiples of 3600) in one bucket."""

    start: int
    end: int
    bucket: int = 0


@dataclass(frozen=True, slots=True)
class Piece:
    """The smaller side ``[start, end)`` of an hour cut once, read from the records: the
    hour's rollup counts it in bucket ``other`` (the larger side's), so it is subtracted
    there, and added where it falls when ``inside`` the range."""

    start: float
    end: float
    inside: bool
    other: int


@dataclass(frozen=True, slots=True)
class RangePlan:
    """Hour runs to read from the rollups, ``[start, end)`` spans to read raw (added),
    and pieces of hours to read raw and subtract from their hour's bucket."""

    runs: tuple[HourRun, ...]
    raw: tuple[tuple[float, float], ...]
    less: tuple[Piece, ...] = ()

    def bucket_of(self, hour: int) -> int | None:
        """The bucket of a rollup hour, or None when the hour is read raw."""
        low, high = 0, len(self.runs)
        while low < high:  # the last run starting at or before ``hour``
            middle = (low + high) // 2
            if self.runs[middle].start <= hour:
                low = middle + 1
            else:
                high = middle
        if low == 0:
            return None
        run = self.runs[low - 1]
        return run.bucket if hour + HOUR_S <= run.end else None


def hour_floor(at: float) -> int:
    """The start of the hour holding ``at``."""
    hour = math.floor(at / HOUR_S) * HOUR_S
    if hour > at:  # the division rounded up across an hour's start
        hour -= HOUR_S
    return int(hour)


def hour_ceil(at: float) -> int:
    """The first hour start at or after ``at``."""
    hour = hour_floor(at)
    return hour if hour >= at else hour + HOUR_S


def plan_range(since: float, until: float) -> RangePlan:
    """``[since, until)`` as whole hours and the partial hours at its two ends."""
    return _plan([(since, until, 0)], since, until)


def plan_buckets(since: float, until: float, origin: float, bucket_s: float) -> RangePlan | None:
    """``[since, until)`` cut in buckets of ``bucket_s`` from ``origin``: whole hours
    inside one bucket, and the rest raw. None when the rollups cannot serve it (buckets
    not whole hours, a range starting before ``origin``, too many buckets)."""
    if bucket_s <= 0 or bucket_s % HOUR_S or since < origin:
        return None
    first = math.floor((since - origin) / bucket_s)
    last = math.ceil((until - origin) / bucket_s)
    if last - first > MAX_BUCKETS:
        return None
    pieces = []
    for index in range(first, last):
        start = max(since, origin + index * bucket_s)
        end = min(until, origin + (index + 1) * bucket_s)
        if start < end:
            pieces.append((start, end, index))
    return _plan(pieces, since, until)


def _plan(pieces: list[tuple[float, float, int]], since: float, until: float) -> RangePlan:
    runs = []
    for start, end, bucket in pieces:
        first, last = hour_ceil(start), hour_floor(end)
        if first < last:
            runs.append(HourRun(first, last, bucket))
    cuts: dict[int, set[float]] = {}  # hours that a range or bucket edge falls inside
    for point in (since, until, *(end for _, end, _ in pieces)):
        hour = hour_floor(point)
        if hour < point:
            cuts.setdefault(hour, set()).add(point)
    raw: list[tuple[float, float]] = []
    less: list[Piece] = []
    starts = [start for start, _, _ in pieces]
    for hour in sorted(cuts):
        end = hour + HOUR_S
        if len(cuts[hour]) == 1:  # two sides: the rollup hour less the smaller side
            (cut,) = cuts[hour]
            left, right = _bucket_at(pieces, starts, hour), _bucket_at(pieces, starts, cut)
            small, large = (
                ((hour, cut, left), right)
                if cut - hour <= end - cut
                else (
                    (cut, end, right),
                    left,
                )
            )
            if large is not None:
                runs.append(HourRun(hour, end, large))
                less.append(Piece(small[0], small[1], small[2] is not None, large))
                continue
        _extend(raw, max(hour, since), min(end, until))
    runs.sort(key=lambda run: run.start)
    return RangePlan(tuple(runs), tuple(raw), tuple(less))


def _bucket_at(
    pieces: list[tuple[float, float, int]], starts: list[float], at: float
) -> int | None:
    """The bucket of the piece holding ``at``, or None outside the range."""
    index = bisect.bisect_right(starts, at) - 1
    if index < 0 or at >= pieces[index][1]:
        return None
    return pieces[index][2]


def _extend(spans: list[tuple[float, float]], start: float, end: float) -> None:
    """Append ``[start, end)``, merged with the last span when they touch."""
    if spans and spans[-1][1] >= start:
        spans[-1] = (spans[-1][0], end)
    else:
        spans.append((start, end))
