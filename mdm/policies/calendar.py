"""Where the policies' time windows learn a school's days: a provider that `schedules`
registers (mdm never imports schedules). Without one, Monday to Friday are school days without
holidays or periods, so period and break windows never open."""

from collections.abc import Callable
from datetime import date

from flask import Flask, current_app
from sqlalchemy.orm import Session

from mdm.policies.windows import SchoolDay

SchoolCalendar = Callable[[Session, int, date], SchoolDay]
_CALENDAR = "mdm_school_calendar"


def register_school_calendar(app: Flask, calendar: SchoolCalendar) -> None:
    """Let a package tell the windows what a date is at a school (one provider per app)."""
    if _CALENDAR in app.extensions:
        raise ValueError("a school calendar is registered already")
    app.extensions[_CALENDAR] = calendar


def weekdays(session: Session, school_id: int, day: date) -> SchoolDay:
    """The calendar without a timetable: weekdays are school days, without periods."""
    return SchoolDay(day=day, school_day=day.weekday() < 5)


def school_day(session: Session, school_id: int, day: date) -> SchoolDay:
    """What the registered calendar says about this date at this school."""
    calendar: SchoolCalendar = current_app.extensions.get(_CALENDAR, weekdays)
    return calendar(session, school_id, day)
