"""Personal calendars, read defensively: is it a calendar at all, and its events in a window.

Pure: bytes in, a verdict or events out. An HTML page, a file that is cut off or does not parse,
or one without events where the last good copy had some is refused (`SourceRefused`), so that
the caller keeps the last good copy. Recurring events are expanded in the window with their time
zones (also in calendars that only name one in X-WR-TIMEZONE) by `recurring_ical_events`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import recurring_ical_events
from icalendar import Calendar, Component
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from calendars.events import CalendarEvent, fingerprint

_BOM = b"\xef\xbb\xbf"
_END = re.compile(rb"END:VCALENDAR\s*\Z", re.IGNORECASE)
# Properties that say nothing about the events themselves (many servers stamp every download).
_UNSTABLE = frozenset({"DTSTAMP"})
# A rule is expanded from its first occurrence on, not from the window: steps it may walk up to
# the window's end, each series and all of a calendar's together (every second since years ago
# would keep a feed's worker busy for hours).
MAX_SERIES_STEPS = 100_000
MAX_CALENDAR_STEPS = 200_000
_STEP_SECONDS = {
    "SECONDLY": 1,
    "MINUTELY": 60,
    "HOURLY": 3600,
    "DAILY": 86_400,
    "WEEKLY": 7 * 86_400,
    "MONTHLY": 28 * 86_400,
    "YEARLY": 365 * 86_400,
}
_EXPANDING = ("BYSECOND", "BYMINUTE", "BYHOUR", "BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYMONTH")


class SourceRefused(ValueError):
    """The bytes are not a usable calendar; the message says why, for the source's last error."""


@dataclass(frozen=True)
class CheckedCalendar:
    """A calendar that passed the checks: how many events it has and a hash of what they are."""

    event_count: int
    content_hash: str


def _stripped(body: bytes) -> bytes:
    return body.removeprefix(_BOM).strip()


def _good_events(calendar: Component) -> list[Component]:
    """Events whose start can be read (a broken event is left out, not the whole calendar)."""
    good = []
    for event in calendar.walk("VEVENT"):
        broken = {name for name, _ in getattr(event, "errors", [])}
        if "DTSTART" in event and "DTSTART" not in broken:
            good.append(event)
    return good


def read_calendar(body: bytes, content_type: str = "") -> Calendar:
    """Parse the bytes as one iCalendar object, or refuse them with the reason."""
    text = _stripped(body)
    if not text:
        raise SourceRefused("the file is empty")
    head = text[:512].lower()
    if content_type.split(";")[0].strip().lower() == "text/html" or head.startswith(
        (b"<!doctype", b"<html", b"<")
    ):
        raise SourceRefused("an HTML page, not a calendar (a login page or an error page?)")
    if not head.startswith(b"begin:vcalendar"):
        raise SourceRefused("not an iCalendar file (it does not begin with BEGIN:VCALENDAR)")
    if not _END.search(text):
        raise SourceRefused("the calendar is cut off (it does not end with END:VCALENDAR)")
    try:
        calendar = Calendar.from_ical(text)
    except (ValueError, IndexError, KeyError, TypeError, AttributeError) as exc:
        raise SourceRefused(f"the calendar cannot be read: {str(exc)[:200]}") from exc
    return calendar


def _ical_text(value: object) -> str:
    text = value.to_ical()  # type: ignore[attr-defined]
    return text.decode(errors="replace") if isinstance(text, bytes) else str(text)


def check(body: bytes, content_type: str = "", previous_count: int = 0) -> CheckedCalendar:
    """Check that the bytes are a calendar worth keeping instead of a last good copy with
    `previous_count` events."""
    calendar = read_calendar(body, content_type)
    all_events = calendar.walk("VEVENT")
    events = _good_events(calendar)
    if all_events and not events:
        raise SourceRefused("none of the calendar's events can be read")
    if not events and previous_count:
        raise SourceRefused(
            f"the calendar has no events, where the last good copy had {previous_count}"
        )
    described = sorted(
        "\n".join(
            sorted(
                f"{name}:{_ical_text(value)}"
                for name, value in event.property_items(recursive=False, sorted=True)
                if name not in _UNSTABLE and hasattr(value, "to_ical")
            )
        )
        for event in events
    )
    zones = sorted(tz.to_ical().decode(errors="replace") for tz in calendar.walk("VTIMEZONE"))
    named_zone = str(calendar.get("X-WR-TIMEZONE", ""))
    return CheckedCalendar(len(events), fingerprint([described, zones, named_zone]))


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _series_steps(event: Component, last: date) -> int:
    """About how many steps expanding the event's rules up to `last` walks (more than any
    series may when a rule never advances)."""
    rules = event.get("RRULE")
    if rules is None:
        return 0
    starts = _day(event["DTSTART"].dt)
    steps = 0
    for rule in rules if isinstance(rules, list) else [rules]:
        frequency = str((rule.get("FREQ") or ["YEARLY"])[0]).upper()
        interval = int((rule.get("INTERVAL") or [1])[0])
        if interval < 1:  # a rule that never advances would be expanded forever
            return MAX_SERIES_STEPS + 1
        until = min([last, *(_day(value) for value in rule.get("UNTIL") or [])])
        seconds = max((until - starts).days + 1, 1) * 86_400
        periods = seconds // (_STEP_SECONDS.get(frequency, 1) * interval) + 1
        for part in _EXPANDING:
            periods *= max(len(rule.get(part) or []), 1)
        steps += periods
    return steps


def _without_dense_series(calendar: Calendar, last: date) -> Calendar:
    """The calendar without the series whose expansion would walk too far (they are left out)."""
    budget = MAX_CALENDAR_STEPS
    parents = [calendar]
    while parents:
        parent = parents.pop()
        kept = []
        for child in parent.subcomponents:
            if child.name == "VEVENT":
                try:
                    steps = _series_steps(child, last)
                except (KeyError, TypeError, ValueError, AttributeError):
                    steps = 0  # a rule that cannot be read is skipped by the expansion itself
                if steps > MAX_SERIES_STEPS or steps > budget:
                    continue
                budget -= steps
            kept.append(child)
            parents.append(child)
        parent.subcomponents[:] = kept
    return calendar


def _with_known_zone_name(calendar: Calendar) -> Calendar:
    """The calendar with X-WR-TIMEZONE as an IANA name: Outlook writes Windows names ("W. Europe
    Standard Time"), which are translated; a name nobody knows is dropped, so the times it would
    have placed float (and are taken as the school's)."""
    name = str(calendar.get("X-WR-TIMEZONE", "")).strip()
    if not name:
        return calendar
    name = WINDOWS_TO_OLSON.get(name, name)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        del calendar["X-WR-TIMEZONE"]
    else:
        calendar["X-WR-TIMEZONE"] = name
    return calendar


def _start_key(instance: Component) -> datetime:
    starts = instance["DTSTART"].dt
    if not isinstance(starts, datetime):
        return datetime.combine(starts, time(), UTC)
    return starts if starts.tzinfo is not None else starts.replace(tzinfo=UTC)


def _instances(calendar: Calendar, first: date, last: date) -> list[Component]:
    """Occurrences that end after `first` and start by `last`, by start. Expanded in the window
    at once: the library's lazy "after" steps through a long all-day event in quarter hours,
    expanding every other series each time (the dense series are left out before)."""
    try:
        instances = recurring_ical_events.of(calendar, skip_bad_series=True).between(
            first, last + timedelta(days=1)
        )
        return sorted(instances, key=_start_key)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SourceRefused(f"the calendar's events cannot be placed in time: {exc}") from exc


def _value(component: Component, name: str) -> str:
    value = component.get(name)
    return "" if value is None else str(value)


def _in_zone(value: datetime | date, zone: ZoneInfo) -> datetime | date:
    """A time in the school's zone (floating times are taken as the school's); dates stay."""
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=zone)
    return value.astimezone(zone)


def personal_events(
    body: bytes,
    *,
    source_id: int,
    first: date,
    last: date,
    zone: ZoneInfo,
    domain: str,
    changed_at: datetime,
    limit: int,
) -> list[CalendarEvent]:
    """The events of a source's last good copy that touch the window, recurrences expanded (at
    most `limit`), as private events of the owner's feed."""
    calendar = _with_known_zone_name(_without_dense_series(read_calendar(body), last))
    result: list[CalendarEvent] = []
    seen: set[str] = set()
    for instance in islice(_instances(calendar, first, last), limit):
        starts = _in_zone(instance["DTSTART"].dt, zone)
        ends = _in_zone(instance["DTEND"].dt, zone) if "DTEND" in instance else starts
        if isinstance(starts, datetime) != isinstance(ends, datetime):
            ends = starts
        original = _value(instance, "UID") or fingerprint(
            [_value(instance, "SUMMARY"), str(starts)]
        )
        uid = f"personal-{source_id}-{fingerprint([original, str(starts)])[:24]}@{domain}"
        if uid in seen:
            continue
        seen.add(uid)
        cancelled = _value(instance, "STATUS").upper() == "CANCELLED"
        location = _value(instance, "LOCATION")
        summary = _value(instance, "SUMMARY") or "(ohne Titel)"
        description = _value(instance, "DESCRIPTION")
        last_day = ends if not isinstance(ends, datetime) else ends.date()
        result.append(
            CalendarEvent(
                uid=uid,
                summary=summary,
                starts=starts,
                ends=ends,
                significant=fingerprint([str(starts), str(ends), location, cancelled]),
                content=fingerprint([summary, description]),
                changed_at=changed_at,
                last_day=last_day,
                description=description,
                location=location,
                cancelled=cancelled,
                private=True,
            )
        )
    return result
