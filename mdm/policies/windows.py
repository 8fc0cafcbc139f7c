"""Time windows of policies: weekly days and times, or the school's own periods and breaks on
school days, in the school's time zone. Pure: the school's day comes from a calendar provider
(`mdm.policies.calendar`), which `schedules` fills from the imported time grid and holidays."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from mdm.policies.document import WEEKDAYS


@dataclass(frozen=True)
class Period:
    """One period of a school day, from its start to its end (local times)."""

    number: int
    starts: time
    ends: time


@dataclass(frozen=True)
class SchoolDay:
    """What a school's calendar says about one date."""

    day: date
    school_day: bool  # a weekday of teaching: not a weekend, not a holiday
    holiday: bool = False
    periods: tuple[Period, ...] = field(default_factory=tuple)


def _minutes(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def _of(moment: time) -> float:
    return moment.hour * 60 + moment.minute + moment.second / 60


def _periods(window: dict[str, Any], day: SchoolDay) -> list[Period]:
    first = window.get("first_period")
    last = window.get("last_period")
    return sorted(
        (
            period
            for period in day.periods
            if (first is None or period.number >= first) and (last is None or period.number <= last)
        ),
        key=lambda period: period.number,
    )


def window_open(window: dict[str, Any], day: SchoolDay, local: time) -> bool:
    """Whether one window is open at this local time of this day."""
    now = _of(local)
    if window["kind"] == "weekly":
        if WEEKDAYS[day.day.weekday()] not in window["days"]:
            return False
        if window.get("except_holidays") and day.holiday:
            return False
        return _minutes(window["start"]) <= now < _minutes(window["end"])
    if not day.school_day:
        return False
    periods = _periods(window, day)
    if window["kind"] == "periods":
        return any(_of(p.starts) <= now < _of(p.ends) for p in periods)
    return any(
        _of(before.ends) <= now < _of(after.starts)
        for before, after in zip(periods, periods[1:], strict=False)
    )


def windows_open(windows: Iterable[dict[str, Any]], day: SchoolDay, local: time) -> bool:
    """Whether a policy with these windows applies now: any window open (none: always)."""
    windows = list(windows)
    return not windows or any(window_open(window, day, local) for window in windows)


def local_moment(now: datetime, timezone: str) -> datetime:
    """The moment in the school's time zone."""
    return now.astimezone(ZoneInfo(timezone))
