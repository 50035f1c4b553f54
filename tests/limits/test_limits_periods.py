"""Calendar periods in a time zone: month and week boundaries, DST days."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bastion.limits.periods import PeriodClock, period_at

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str, zone: ZoneInfo = BERLIN) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def test_month_changes_at_local_midnight_not_utc() -> None:
    before = period_at("month", at("2026-11-30T23:59:59"), BERLIN)
    after = period_at("month", at("2026-12-01T00:00:00"), BERLIN)
    assert before.id == "month:2026-11" and after.id == "month:2026-12"
    assert before.end == after.start == at("2026-12-01T00:00:00")
    # 23:30 UTC on Nov 30 is already December in Berlin
    utc = datetime.fromisoformat("2026-11-30T23:30:00+00:00").timestamp()
    assert period_at("month", utc, BERLIN).id == "month:2026-12"
    assert period_at("month", utc, ZoneInfo("UTC")).id == "month:2026-11"


def test_december_rolls_into_the_next_year() -> None:
    period = period_at("month", at("2026-12-15T12:00:00"), BERLIN)
    assert period.end == at("2027-01-01T00:00:00")


def test_weeks_start_on_monday() -> None:
    period = period_at("week", at("2026-11-29T10:00:00"), BERLIN)  # a Sunday
    assert period.id == "week:2026-11-23"
    assert period.end == at("2026-11-30T00:00:00")


def test_a_dst_day_is_23_hours_long() -> None:
    day = period_at("day", at("2026-03-29T12:00:00"), BERLIN)
    assert day.end - day.start == 23 * 3600


def test_the_clock_moves_to_the_next_period_when_one_ends() -> None:
    clock = PeriodClock(BERLIN)
    november = clock.current("month", at("2026-11-30T23:59:59"))
    december = clock.current("month", at("2026-12-01T00:00:01"))
    assert (november.id, december.id) == ("month:2026-11", "month:2026-12")
    assert clock.reset_text(november) == "2026-12-01T00:00:00+01:00"
