"""Calendar periods (day, ISO week, month) in a configured time zone.

A period is named by its first local day (``day:2026-11-30``, ``week:2026-11-30``,
``month:2026-11``), which becomes part of the counter key, so a new period starts
from zero without anyone resetting anything. Local midnights are converted with the
zone's rules (``tzdata``), so DST days are 23 or 25 hours long as they should be.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

PeriodKind = Literal["day", "week", "month"]


@dataclass(frozen=True, slots=True)
class Period:
    """One calendar period: its id and its bounds in epoch seconds ``[start, end)``."""

    id: str
    start: float
    end: float

    def contains(self, at: float) -> bool:
        return self.start <= at < self.end


def _midnight(day: date, zone: ZoneInfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()


def period_at(kind: PeriodKind, at: float, zone: ZoneInfo) -> Period:
    """The period of ``kind`` holding the instant ``at``."""
    local = datetime.fromtimestamp(at, zone).date()
    if kind == "day":
        first, following = local, local + timedelta(days=1)
        name = f"day:{first.isoformat()}"
    elif kind == "week":
        first = local - timedelta(days=local.weekday())
        following = first + timedelta(days=7)
        name = f"week:{first.isoformat()}"
    else:
        first = local.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        name = f"month:{first.year:04d}-{first.month:02d}"
    return Period(name, _midnight(first, zone), _midnight(following, zone))


class PeriodClock:
    """The current period of each kind, recomputed only when one ends."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._current: dict[str, Period] = {}

    def current(self, kind: PeriodKind, now: float) -> Period:
        period = self._current.get(kind)
        if period is None or not period.contains(now):
            period = self._current[kind] = period_at(kind, now, self.zone)
        return period

    def reset_text(self, period: Period) -> str:
        """When the period ends, as a local ISO-8601 time with offset."""
        return datetime.fromtimestamp(period.end, self.zone).isoformat()
