"""iCalendar rendering: a feed's events into the bytes of a `text/calendar` (RFC 5545, RFC 7986).

Pure: no Flask, no session. Nothing here reads the clock: DTSTAMP and LAST-MODIFIED are the time
each event last changed, so the same events give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vDuration, vRecur

from calendars.events import CalendarEvent

PRODID = "-//Schul-MDM//Kalender//DE"


@dataclass(frozen=True)
class EventState:
    """What the feed says about an event's history: SEQUENCE and the time of its last change."""

    sequence: int
    modified_at: datetime


@dataclass(frozen=True)
class FeedDocument:
    """A feed's calendar: its name, time zone, refresh hint and events with their states."""

    name: str
    description: str
    timezone: str
    refresh_minutes: int
    window_start: date
    window_end: date
    events: list[tuple[CalendarEvent, EventState]]


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(microsecond=0)


def _vevent(event: CalendarEvent, state: EventState) -> Event:
    vevent = Event()
    vevent.add("uid", event.uid)
    vevent.add("dtstamp", _utc(state.modified_at))
    vevent.add("last-modified", _utc(state.modified_at))
    vevent.add("sequence", state.sequence)
    vevent.add("dtstart", event.starts)
    vevent.add("dtend", event.ends)
    vevent.add("summary", event.summary)
    if event.location:
        vevent.add("location", event.location)
    if event.description:
        vevent.add("description", event.description)
    vevent.add("status", "CANCELLED" if event.cancelled else "CONFIRMED")
    if event.categories:
        vevent.add("categories", list(event.categories))
    if event.private:
        vevent.add("class", "PRIVATE")
    if not isinstance(event.starts, datetime):
        vevent.add("transp", "TRANSPARENT")  # an all-day event does not make anyone busy
    if event.recurrence:
        vevent.add("rrule", _rrule(event.recurrence))
    if event.excluded:
        vevent.add("exdate", list(event.excluded))
    return vevent


def _rrule(text: str) -> vRecur:
    """An RRULE value ("FREQ=WEEKLY;BYDAY=MO;UNTIL=20270630") as icalendar's typed rule (its
    UNTIL a date or a time, as the renderer needs it)."""
    return vRecur.from_ical(text)


def _sort_key(item: tuple[CalendarEvent, EventState]) -> tuple[str, str]:
    starts = item[0].starts
    stamp = _utc(starts).isoformat() if isinstance(starts, datetime) else starts.isoformat()
    return stamp, item[0].uid


def render(feed: FeedDocument) -> bytes:
    """The feed as iCalendar bytes: the calendar's name and refresh hints, a VTIMEZONE for the
    school's zone (covering the window's years and the next), then the events by start."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("name", feed.name)
    calendar.add("x-wr-calname", feed.name)
    if feed.description:
        calendar.add("description", feed.description)
        calendar.add("x-wr-caldesc", feed.description)
    calendar.add("x-wr-timezone", feed.timezone)
    refresh = timedelta(minutes=feed.refresh_minutes)
    calendar.add("refresh-interval", refresh, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(refresh))
    calendar.add_component(
        Timezone.from_tzinfo(
            ZoneInfo(feed.timezone),
            feed.timezone,
            first_date=date(feed.window_start.year, 1, 1),
            last_date=date(feed.window_end.year + 2, 1, 1),
        )
    )
    for event, state in sorted(feed.events, key=_sort_key):
        calendar.add_component(_vevent(event, state))
    return calendar.to_ical()
