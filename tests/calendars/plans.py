"""A small school for the feed tests: a GPU export with dates in the feed's window, imported
through the import service, with a time grid; and the four parsers that read the feeds."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import icalendar
import recurring_ical_events
import vobject
from dateutil.rrule import rrulestr
from ical.calendar_stream import IcsCalendarStream

from mdm.extensions import db
from mdm.platform.actors import Actor
from schedules import import_service, panel_service
from schedules.models import TimeSlot
from tests.schedules.import_fixtures import gpu_files, substitution

ADMIN = Actor(name="admin", role="school_admin", school_id=None)
GRID = [(1, time(8, 0), time(8, 45)), (2, time(8, 50), time(9, 35)), (3, time(9, 55), time(10, 40))]
# Lesson 1: 5a maths with MUE on Mondays, periods 1 and 2; lesson 2: 5b German with SCH, Monday
# period 1; lesson 3: two parallel lines of one Untis number (religion groups of 5a), period 3.
TIMETABLE = (
    '1,"5a","MUE","M","A101",1,1\r\n1,"5a","MUE","M","A101",1,2\r\n2,"5b","SCH","D","A102",1,1\r\n'
    '3,"5a","MUE","REV","A101",1,3\r\n3,"5a","SCH","ETH","A102",1,3\r\n'
)


def next_monday(weeks: int = 1) -> date:
    """A Monday `weeks` weeks after this week's (in Berlin), inside the feed window."""
    today = panel_service.school_today("Europe/Berlin")
    return today - timedelta(days=today.weekday()) + timedelta(weeks=weeks)


def export(*lines: str) -> dict[str, bytes]:
    """The GPU export with the test timetable and these GPU014 lines."""
    files = gpu_files(*lines)
    files["GPU001.TXT"] = TIMETABLE.encode("cp1252")
    return files


def cancelled_maths(on: date, number: int = 1) -> str:
    """GPU014: 5a maths of period 1 on that day is cancelled."""
    return substitution(number, on, 1, substitute="", art=1, letter="C")


def room_change(on: date, room: str, number: int = 2) -> str:
    """GPU014: 5a maths of period 2 moves to another room."""
    return substitution(number, on, 2, substitute="MUE", new_room=room, letter="R")


def import_plan(school_id: int, files: dict[str, bytes]) -> import_service.ImportResult:
    """Import an export as the school's admin would, with the time grid in place."""
    if not db.session.query(TimeSlot).filter_by(school_id=school_id).count():
        for period, starts, ends in GRID:
            db.session.add(TimeSlot(school_id=school_id, period=period, starts=starts, ends=ends))
    actor = Actor(name="admin", role="school_admin", school_id=school_id)
    result = import_service.import_files(db.session, actor, school_id, files)
    db.session.commit()
    return result


def _normal(value: Any) -> Any:
    return value.astimezone(UTC) if isinstance(value, datetime) else value


def _in_window(value: Any, start: date, end: date) -> bool:
    day = value.date() if isinstance(value, datetime) else value
    return start <= day < end


def _icalendar_rows(calendar: icalendar.Calendar, start: date, end: date) -> list[tuple[Any, ...]]:
    """icalendar's own reading, recurrences expanded by dateutil from its RRULE and EXDATE."""
    rows = []
    for event in calendar.walk("VEVENT"):
        first = event["DTSTART"].dt
        moments = [first]
        if "RRULE" in event:
            rule = rrulestr(event["RRULE"].to_ical().decode(), dtstart=first)
            exdates = event.get("EXDATE", [])
            exdates = exdates if isinstance(exdates, list) else [exdates]
            excluded = {d.dt for x in exdates for d in x.dts}
            moments = [m for m in rule if _in_window(m, start, end) and m not in excluded]
        for moment in moments:
            if _in_window(moment, start, end):
                status = str(event.get("STATUS"))
                rows.append((str(event["UID"]), _normal(moment), str(event["SUMMARY"]), status))
    return sorted(rows)


def parse_all(body: bytes, start: date, end: date) -> dict[str, list[tuple[Any, ...]]]:
    """The events of a feed in a window as four independent parsers read them: (UID, start in
    UTC or a date, summary, status), sorted, recurrences expanded."""
    text = body.decode()
    calendar = icalendar.Calendar.from_ical(body)
    results = {"icalendar": _icalendar_rows(calendar, start, end)}
    results["recurring_ical_events"] = sorted(
        (str(e["UID"]), _normal(e["DTSTART"].dt), str(e["SUMMARY"]), str(e.get("STATUS")))
        for e in recurring_ical_events.of(calendar).between(start, end)
        if _in_window(e["DTSTART"].dt, start, end)
    )
    rows = []
    for event in getattr(vobject.readOne(text, validate=True), "vevent_list", []):
        for moment in event.getrruleset(addRDate=True) or [event.dtstart.value]:
            if _in_window(moment, start, end):
                status = event.status.value if hasattr(event, "status") else "None"
                rows.append((event.uid.value, _normal(moment), event.summary.value, status))
    results["vobject"] = sorted(rows)
    rows = []
    for event in IcsCalendarStream.calendar_from_ics(text).timeline.overlapping(start, end):
        if _in_window(event.dtstart, start, end):
            status = event.status.value if event.status else "None"
            rows.append((event.uid, _normal(event.dtstart), event.summary, status))
    results["ical"] = sorted(rows)
    return results


def agreed_events(body: bytes, start: date, end: date) -> list[tuple[Any, ...]]:
    """The events all four parsers agree on; fails the test if any parser disagrees."""
    results = parse_all(body, start, end)
    first = results["icalendar"]
    for name, rows in results.items():
        assert rows == first, f"{name} disagrees: {sorted(set(rows) ^ set(first))[:6]}"
    return first
