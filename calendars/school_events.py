"""School events: holidays, exam weeks, conferences, parent evenings, maybe recurring. Admins
create and change them; everybody of the school sees them. They flush, never commit; every
change raises the school's events version (so feeds render again) and is audited."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import takewhile
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from icalendar import vRecur
from sqlalchemy import select
from sqlalchemy.orm import Session

from calendars.events import SchoolEventFacts
from calendars.models import EVENT_CATEGORIES, SchoolCalendar, SchoolEvent
from mdm.accounts.service import get_school
from mdm.platform import audit
from mdm.platform.actors import Actor
from mdm.platform.cache import forget_after_commit, worker_cache
from mdm.platform.errors import NotFound, ValidationFailed
from mdm.platform.scoping import ADMINS, require_role
from mdm.platform.types import utcnow

FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
MAX_EVENT_DAYS = 366
VERSIONS_CACHE_ENTRIES = 1024
FIELDS = (
    "title",
    "description",
    "location",
    "category",
    "all_day",
    "starts_on",
    "ends_on",
    "starts_at",
    "ends_at",
    "recurrence",
    "excluded_dates",
    "cancelled",
)


@dataclass(frozen=True)
class EventsVersion:
    """How often a school's events changed, and when last."""

    version: int
    updated_at: datetime | None


def _versions() -> Any:
    return worker_cache().remembered("calendar-events-versions", VERSIONS_CACHE_ENTRIES)


def events_version(session: Session, school_id: int) -> EventsVersion:
    """The version of a school's events (remembered for a moment)."""

    def read() -> EventsVersion:
        row = session.get(SchoolCalendar, school_id)
        return (
            EventsVersion(row.events_version, row.events_updated_at)
            if row
            else EventsVersion(0, None)
        )

    return _versions().get_or_read(school_id, read)


def _raise_version(session: Session, school_id: int) -> None:
    row = session.get(SchoolCalendar, school_id, with_for_update=True)
    if row is None:
        row = SchoolCalendar(school_id=school_id, events_version=0)
        session.add(row)
    row.events_version = (row.events_version or 0) + 1
    row.events_updated_at = utcnow()
    versions = _versions()
    forget_after_commit(session, lambda: versions.forget(school_id))


def _first_start(event: SchoolEvent | SchoolEventFacts, zone: ZoneInfo | None) -> datetime:
    if event.all_day:
        assert event.starts_on is not None
        return datetime.combine(event.starts_on, time())
    assert event.starts_at is not None
    local = event.starts_at.astimezone(zone or ZoneInfo("UTC"))
    return local.replace(tzinfo=None)


def _normalized_rule(text: str, all_day: bool, zone: ZoneInfo) -> str:
    """An RRULE as the feed writes it: UNTIL as a date for all-day events, else in UTC."""
    try:
        rule = vRecur.from_ical(text.strip().removeprefix("RRULE:"))
    except (ValueError, TypeError) as exc:
        raise ValidationFailed(errors={"recurrence": [f"not an RRULE: {exc}"]}) from exc
    frequency = (rule.get("FREQ") or [""])[0]
    if frequency not in FREQUENCIES:
        raise ValidationFailed(
            errors={"recurrence": [f"FREQ must be one of {', '.join(FREQUENCIES)}"]}
        )
    if any(int(interval) < 1 for interval in rule.get("INTERVAL", [])):
        raise ValidationFailed(errors={"recurrence": ["INTERVAL must be at least 1"]})
    if "UNTIL" in rule and "COUNT" in rule:
        raise ValidationFailed(errors={"recurrence": ["UNTIL and COUNT exclude each other"]})
    if "UNTIL" in rule:
        until = rule["UNTIL"][0]
        if all_day:
            rule["UNTIL"] = [until.date() if isinstance(until, datetime) else until]
        else:
            if not isinstance(until, datetime):
                until = datetime.combine(until, time(23, 59, 59))
            if until.tzinfo is None:
                until = until.replace(tzinfo=zone)
            rule["UNTIL"] = [until.astimezone(UTC)]
    return rule.to_ical().decode()


def _validate(values: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    if not values.get("title", "").strip():
        errors["title"] = ["required"]
    if values.get("category", "other") not in EVENT_CATEGORIES:
        errors["category"] = [f"must be one of {', '.join(EVENT_CATEGORIES)}"]
    if values.get("all_day"):
        starts_on, ends_on = values.get("starts_on"), values.get("ends_on")
        if starts_on is None:
            errors["starts_on"] = ["required for an all-day event"]
        elif ends_on is not None and ends_on < starts_on:
            errors["ends_on"] = ["must not be before starts_on"]
        elif ends_on is not None and (ends_on - starts_on).days > MAX_EVENT_DAYS:
            errors["ends_on"] = [f"an event lasts at most {MAX_EVENT_DAYS} days"]
        if values.get("starts_at") or values.get("ends_at"):
            errors["starts_at"] = ["an all-day event has dates (starts_on, ends_on), not times"]
        values["ends_on"] = ends_on or starts_on
        values["starts_at"] = values["ends_at"] = None
    else:
        starts_at, ends_at = values.get("starts_at"), values.get("ends_at")
        if starts_at is None:
            errors["starts_at"] = ["required for an event with times (or set all_day)"]
        if ends_at is None:
            errors["ends_at"] = ["required for an event with times (or set all_day)"]
        if starts_at is not None and ends_at is not None:
            if ends_at <= starts_at:
                errors["ends_at"] = ["must be after starts_at"]
            elif ends_at - starts_at > timedelta(days=MAX_EVENT_DAYS):
                errors["ends_at"] = [f"an event lasts at most {MAX_EVENT_DAYS} days"]
        if values.get("starts_on") or values.get("ends_on"):
            errors["starts_on"] = ["an event with times has starts_at and ends_at, not dates"]
        values["starts_on"] = values["ends_on"] = None
    if values.get("recurrence") and not errors:
        values["recurrence"] = _normalized_rule(values["recurrence"], values["all_day"], zone)
    if errors:
        raise ValidationFailed(errors=errors)
    values["excluded_dates"] = sorted({d.isoformat() for d in values.get("excluded_dates") or []})
    values["title"] = values["title"].strip()
    return values


def _check_admin(actor: Actor) -> None:
    require_role(actor, ADMINS, "only admins manage school events")


def list_events(
    session: Session,
    actor: Actor,
    school_id: int,
    *,
    starting: date | None = None,
    ending: date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[SchoolEvent], int]:
    """A school's events (recurring ones whenever they recur), by start."""
    school = get_school(session, actor, school_id)
    zone = ZoneInfo(school.timezone)
    rows = session.scalars(select(SchoolEvent).where(SchoolEvent.school_id == school_id))
    chosen = [
        row
        for row in rows
        if touches(facts_of(row), zone, starting or date.min, ending or date.max)
    ]
    chosen.sort(key=lambda e: (_first_start(e, zone), e.id))
    return chosen[offset : offset + limit], len(chosen)


def get_event(session: Session, actor: Actor, school_id: int, event_id: int) -> SchoolEvent:
    """One event of a school the actor belongs to."""
    get_school(session, actor, school_id)
    event = session.get(SchoolEvent, event_id)
    if event is None or event.school_id != school_id:
        raise NotFound(f"school event {event_id} not found")
    return event


def create_event(
    session: Session, actor: Actor, school_id: int, values: dict[str, Any]
) -> SchoolEvent:
    """Add a school event."""
    _check_admin(actor)
    school = get_school(session, actor, school_id)
    values = {"all_day": False, "category": "other", **values}
    values = _validate(values, ZoneInfo(school.timezone))
    event = SchoolEvent(school_id=school_id, created_by=actor.user_id, **values)
    session.add(event)
    _raise_version(session, school_id)
    session.flush()
    audit.record(
        session,
        actor,
        "calendar.event.create",
        "school_event",
        event.id,
        school_id=school_id,
        details={"title": event.title, "category": event.category},
    )
    return event


def update_event(
    session: Session, actor: Actor, school_id: int, event_id: int, changes: dict[str, Any]
) -> SchoolEvent:
    """Change a school event (changing its kind of time replaces the other kind's fields)."""
    _check_admin(actor)
    event = get_event(session, actor, school_id, event_id)
    school = get_school(session, actor, school_id)
    current = {name: getattr(event, name) for name in FIELDS}
    current["excluded_dates"] = [date.fromisoformat(d) for d in event.excluded_dates]
    if "all_day" in changes and changes["all_day"] != event.all_day:
        for name in ("starts_on", "ends_on", "starts_at", "ends_at"):
            current[name] = None
    values = _validate(current | changes, ZoneInfo(school.timezone))
    for name, value in values.items():
        setattr(event, name, value)
    event.updated_at = utcnow()
    _raise_version(session, school_id)
    session.flush()
    audit.record(
        session,
        actor,
        "calendar.event.update",
        "school_event",
        event.id,
        school_id=school_id,
        details={"fields": sorted(changes)},
    )
    return event


def delete_event(session: Session, actor: Actor, school_id: int, event_id: int) -> None:
    """Remove a school event (to keep it in the calendars as cancelled, set `cancelled`)."""
    _check_admin(actor)
    event = get_event(session, actor, school_id, event_id)
    session.delete(event)
    _raise_version(session, school_id)
    session.flush()
    audit.record(
        session,
        actor,
        "calendar.event.delete",
        "school_event",
        event_id,
        school_id=school_id,
        details={"title": event.title},
    )


def facts_of(event: SchoolEvent) -> SchoolEventFacts:
    """A school event row as plain values."""
    return SchoolEventFacts(
        id=event.id,
        title=event.title,
        description=event.description,
        location=event.location,
        category=event.category,
        all_day=event.all_day,
        starts_on=event.starts_on,
        ends_on=event.ends_on,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        recurrence=event.recurrence,
        excluded_dates=tuple(date.fromisoformat(d) for d in event.excluded_dates),
        cancelled=event.cancelled,
        updated_at=event.updated_at,
    )


def school_event_facts(session: Session, school_id: int) -> list[SchoolEventFacts]:
    """Every event of a school, as plain values."""
    rows = session.scalars(
        select(SchoolEvent).where(SchoolEvent.school_id == school_id).order_by(SchoolEvent.id)
    )
    return [facts_of(row) for row in rows]


def _days(event: SchoolEventFacts, zone: ZoneInfo, first: date, last: date) -> Iterator[date]:
    """The first days of the event's occurrences that touch the window, one at a time (a series
    without an end is walked only as far as the window)."""
    start = _first_start(event, zone)
    length = _length_days(event, zone)
    reach = timedelta(days=length)
    candidates: Iterable[date]
    if not event.recurrence:
        candidates = [start.date()]
    else:
        rule = rrulestr(f"RRULE:{event.recurrence}", dtstart=start, ignoretz=True)
        earliest = datetime.combine(max(first, date.min + reach) - reach, time())
        latest = datetime.combine(last, time(23, 59, 59))
        moments = rule.xafter(earliest, inc=True)  # type: ignore[union-attr]
        candidates = (moment.date() for moment in takewhile(lambda m: m <= latest, moments))
    for day in candidates:
        if day not in event.excluded_dates and day <= last and (first - day).days <= length:
            yield day


def occurrences(event: SchoolEventFacts, zone: ZoneInfo, first: date, last: date) -> list[date]:
    """The first days of the event's occurrences that touch the window (excluded dates left out)."""
    return list(_days(event, zone, first, last))


def _length_days(event: SchoolEventFacts, zone: ZoneInfo) -> int:
    if event.all_day:
        assert event.starts_on is not None and event.ends_on is not None
        return (event.ends_on - event.starts_on).days
    assert event.starts_at is not None and event.ends_at is not None
    return (event.ends_at.astimezone(zone).date() - event.starts_at.astimezone(zone).date()).days


def touches(event: SchoolEventFacts, zone: ZoneInfo, first: date, last: date) -> bool:
    """Whether the event (or one of its occurrences) lies in the window."""
    return next(_days(event, zone, first, last), None) is not None


def holiday_dates(
    school: list[SchoolEventFacts], zone: ZoneInfo, first: date, last: date
) -> set[date]:
    """The days that the school's holiday events (not cancelled) keep free of lessons."""
    free: set[date] = set()
    for event in school:
        if event.category != "holiday" or event.cancelled:
            continue
        length = _length_days(event, zone)
        for day in occurrences(event, zone, first, last):
            free.update(day + timedelta(days=n) for n in range(length + 1))
    return free
