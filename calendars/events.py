"""Calendar events, computed: timetable entries, school events and holidays as events of a feed.

Pure: the services hand in the plan's school days (schedules.panel), school event rows as plain
values and the feed's options; this module returns `CalendarEvent`s, each with a UID derived from
what it is and two fingerprints of the plan's facts about it (not of how one feed shows it), from
which the service keeps SEQUENCE and LAST-MODIFIED. No Flask, no session.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from schedules.import_data import BREAK_SUPERVISION, CANCELLATION, RELEASED
from schedules.panel import DayEntry, PlanHoliday, PlanLesson, SchoolDay, Selection, day_entries

# Kinds after which nothing takes place (new_* are empty).
CANCELLED_KINDS = frozenset({CANCELLATION, RELEASED})
# The summary's prefix of a changed lesson, by kind.
KIND_PREFIX = {
    "cancellation": "Entfall",
    "substitution": "Vertretung",
    "room_change": "Raumänderung",
    "swap": "Tausch",
    "moved": "Verlegung",
    "supervision": "Aufsicht",
    "break_supervision": "Pausenaufsicht",
    "exam": "Klausur",
    "special_duty": "Sonderdienst",
    "released": "Freisetzung",
}
REPLACED_PREFIX = "Vertreten"  # a teacher's own lesson that another teacher takes
CATEGORY_NAMES = {
    "holiday": "Ferien",
    "exam_week": "Prüfungswoche",
    "conference": "Konferenz",
    "parent_evening": "Elternabend",
    "other": "Termin",
}
BREAK_MINUTES = 15  # a break supervision before the first period, or without a break in the grid


@dataclass(frozen=True)
class CalendarEvent:
    """One event of a feed, as shown. `starts`/`ends` are aware local datetimes, or dates (ends
    exclusive) for all-day events; `significant` and `content` fingerprint the facts behind it
    (SEQUENCE follows the first, LAST-MODIFIED both); `changed_at` is when the facts last
    changed as far as the caller knows (the plan's or the event's time of update)."""

    uid: str
    summary: str
    starts: datetime | date
    ends: datetime | date
    significant: str
    content: str
    changed_at: datetime
    last_day: date
    description: str = ""
    location: str = ""
    cancelled: bool = False
    categories: tuple[str, ...] = ()
    recurrence: str = ""
    excluded: tuple[datetime | date, ...] = ()
    private: bool = False


@dataclass(frozen=True)
class TimetableView:
    """How one feed shows the timetable: whose it is, whether teacher names are hidden, whether
    cancelled lessons are left out."""

    selection: Selection
    hide_teachers: bool = False
    include_cancelled: bool = True


@dataclass(frozen=True)
class SchoolEventFacts:
    """A school event as the feed needs it (all-day: dates, ends inclusive; else UTC times)."""

    id: int
    title: str
    description: str
    location: str
    category: str
    all_day: bool
    starts_on: date | None
    ends_on: date | None
    starts_at: datetime | None
    ends_at: datetime | None
    recurrence: str
    excluded_dates: tuple[date, ...]
    cancelled: bool
    updated_at: datetime


def fingerprint(values: Any) -> str:
    """The sha256 of values as canonical JSON."""
    text = json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _folded(values: Iterable[str]) -> list[str]:
    return sorted({v.casefold() for v in values if v})


def parallel_keys(lessons: Sequence[PlanLesson]) -> dict[int, str]:
    """For each of a day's lessons (by its id()), what tells it apart from the parallel lessons
    of its period under the same Untis number: its subject and course, and its teachers, then
    its classes and rooms only where those are needed to tell it apart."""
    groups: dict[tuple[int | None, int], list[int]] = {}
    for position, lesson in enumerate(lessons):
        groups.setdefault((lesson.lesson_number, lesson.period), []).append(position)
    keys: dict[int, str] = {}
    for positions in groups.values():
        for depth in range(3):
            candidates = {id(lessons[p]): _parallel_key(lessons[p], depth) for p in positions}
            if len(set(candidates.values())) == len(positions) or depth == 2:
                keys.update(candidates)
                break
    return keys


def _parallel_key(lesson: PlanLesson, depth: int) -> str:
    parts: list[Any] = [lesson.subject.casefold(), lesson.course.casefold()]
    if depth >= 1:
        parts.append(_folded(lesson.teachers))
    if depth >= 2:
        parts += [_folded(lesson.classes), _folded(lesson.rooms)]
    return fingerprint(parts)[:12]


def _local(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=zone)


def _entry_times(
    day: SchoolDay, entry: DayEntry, zone: ZoneInfo
) -> tuple[datetime, datetime] | None:
    """The entry's start and end; a break supervision covers the break before its period."""
    if entry.lesson is None and entry.change is not None and entry.change.kind == BREAK_SUPERVISION:
        slot = day.slots.get(entry.period)
        if slot is None:
            return None
        before = day.slots.get(entry.period - 1)
        starts = _local(day.date, slot[0], zone)
        if before is not None and before[1] < slot[0]:
            return _local(day.date, before[1], zone), starts
        return starts - timedelta(minutes=BREAK_MINUTES), starts
    first = day.slots.get(entry.period)
    last = day.slots.get(entry.period_to)
    if first is None or last is None:
        return None
    return _local(day.date, first[0], zone), _local(day.date, last[1], zone)


@dataclass(frozen=True)
class _Facts:
    """What the plan says about one timetable entry, the same in every feed."""

    subject: str
    classes: tuple[str, ...]
    teachers: tuple[str, ...]
    rooms: tuple[str, ...]
    course: str
    kind: str | None
    cancelled: bool
    original_subject: str
    original_teachers: tuple[str, ...]
    original_rooms: tuple[str, ...]
    text: str


def _facts(entry: DayEntry) -> _Facts:
    lesson, change = entry.lesson, entry.change
    if change is None:
        assert lesson is not None
        return _Facts(
            lesson.subject,
            lesson.classes,
            lesson.teachers,
            lesson.rooms,
            lesson.course,
            None,
            False,
            lesson.subject,
            lesson.teachers,
            lesson.rooms,
            "",
        )
    planned_subject = change.original_subject or (lesson.subject if lesson else "")
    planned_teachers = change.original_teachers or (lesson.teachers if lesson else ())
    planned_rooms = change.original_rooms or (lesson.rooms if lesson else ())
    planned_classes = change.original_classes or (lesson.classes if lesson else ())
    cancelled = change.kind in CANCELLED_KINDS
    return _Facts(
        subject=planned_subject if cancelled else (change.new_subject or planned_subject),
        classes=change.new_classes or planned_classes,
        teachers=() if cancelled else (change.new_teachers or planned_teachers),
        rooms=planned_rooms if cancelled else (change.new_rooms or planned_rooms),
        course=change.course or (lesson.course if lesson else ""),
        kind=change.kind,
        cancelled=cancelled,
        original_subject=planned_subject,
        original_teachers=planned_teachers,
        original_rooms=planned_rooms,
        text=change.text,
    )


def _uid(kind: str, parts: Sequence[Any], school_id: int, domain: str) -> str:
    return f"{kind}-{'-'.join(str(p) for p in parts)}-s{school_id}@{domain}"


def _entry_uid(
    day: SchoolDay, entry: DayEntry, keys: dict[int, str], school_id: int, domain: str
) -> str:
    """A lesson's UID: school, date, period, Untis number and what tells it apart from parallel
    lessons; a change that changes no lesson of the feed: its date and identity in the plan."""
    stamp = day.date.strftime("%Y%m%d")
    if entry.lesson is not None:
        number = entry.lesson.lesson_number if entry.lesson.lesson_number is not None else "x"
        key = keys[id(entry.lesson)]
        return _uid("lesson", (stamp, entry.period, number, key), school_id, domain)
    assert entry.change is not None
    identity = entry.change.key or fingerprint(
        [entry.change.period, entry.change.period_to, entry.change.kind, entry.change.course]
        + [list(entry.change.original_classes), list(entry.change.original_teachers)]
    )
    return _uid("change", (stamp, fingerprint(identity)[:16]), school_id, domain)


def _names(values: Iterable[str]) -> str:
    return ", ".join(v for v in values if v)


def _periods(entry: DayEntry) -> str:
    if entry.lesson is None and entry.change is not None and entry.change.kind == BREAK_SUPERVISION:
        return f"Pause vor der {entry.period}. Stunde"
    if entry.period_to != entry.period:
        return f"{entry.period}.–{entry.period_to}. Stunde"
    return f"{entry.period}. Stunde"


def _subject(name: str, subject_names: dict[str, str]) -> str:
    return subject_names.get(name, name)


def _timetable_event(
    day: SchoolDay,
    entry: DayEntry,
    uid: str,
    times: tuple[datetime, datetime],
    view: TimetableView,
    subject_names: dict[str, str],
    changed_at: datetime,
) -> CalendarEvent:
    facts = _facts(entry)
    me = view.selection.teacher.casefold()
    # A teacher's own lesson that another teacher now takes is cancelled for them.
    replaced = (
        view.selection.kind == "teacher"
        and not facts.cancelled
        and me in _folded(facts.original_teachers)
        and me not in _folded(facts.teachers)
    )
    subject = _subject(facts.subject, subject_names)
    if view.selection.kind == "teacher":
        title = " ".join(p for p in (subject, _names(facts.classes)) if p)
    else:
        title = subject + (f" · {facts.course}" if facts.course else "")
    prefix = REPLACED_PREFIX if replaced else KIND_PREFIX.get(facts.kind or "", "")
    summary = f"{prefix}: {title}" if prefix else title
    lines = [_periods(entry)]
    if facts.subject:
        lines.append(
            f"Fach: {subject}" + (f" ({facts.subject})" if subject != facts.subject else "")
        )
    if facts.classes:
        lines.append(f"Klasse: {_names(facts.classes)}")
    if facts.course:
        lines.append(f"Kurs: {facts.course}")
    if facts.teachers and not view.hide_teachers:
        lines.append(f"Lehrkraft: {_names(facts.teachers)}")
    if facts.rooms:
        lines.append(f"Raum: {_names(facts.rooms)}")
    if facts.kind is not None:
        lines.append(f"Änderung: {KIND_PREFIX.get(facts.kind, facts.kind)}")
        planned = [_subject(facts.original_subject, subject_names)]
        if not view.hide_teachers:
            planned.append(_names(facts.original_teachers))
        planned.append(_names(facts.original_rooms))
        lines.append("Ursprünglich: " + " · ".join(p for p in planned if p))
    if replaced:
        lines.append(f"Vertreten durch: {_names(facts.teachers)}")
    if facts.text:
        lines.append(facts.text)
    significant = fingerprint(
        [
            times[0].isoformat(),
            times[1].isoformat(),
            _folded(facts.teachers),
            _folded(facts.rooms),
            facts.cancelled,
        ]
    )
    content = fingerprint(
        [
            facts.subject,
            list(facts.classes),
            facts.course,
            facts.kind,
            facts.original_subject,
            list(facts.original_teachers),
            list(facts.original_rooms),
            facts.text,
        ]
    )
    return CalendarEvent(
        uid=uid,
        summary=summary,
        starts=times[0],
        ends=times[1],
        significant=significant,
        content=content,
        changed_at=changed_at,
        last_day=day.date,
        description="\n".join(lines),
        location=_names(facts.rooms),
        cancelled=facts.cancelled or replaced,
        categories=("Vertretungsplan" if facts.kind else "Stundenplan",),
    )


def timetable_events(
    days: Iterable[SchoolDay],
    view: TimetableView,
    *,
    zone: ZoneInfo,
    school_id: int,
    domain: str,
    subject_names: dict[str, str],
    changed_at: datetime,
) -> list[CalendarEvent]:
    """The timetable of a selection over the given school days as events: its lessons with their
    changes, and its changes that change none of them; cancelled ones only when the view keeps
    them; entries without a time in the grid are left out."""
    events: list[CalendarEvent] = []
    if view.selection.kind == "all":
        return events
    seen: set[str] = set()
    for day in days:
        keys = parallel_keys(day.lessons)
        for entry in day_entries(day, view.selection):
            times = _entry_times(day, entry, zone)
            if times is None:
                continue
            uid = _entry_uid(day, entry, keys, school_id, domain)
            if uid in seen:  # the same lesson twice in the export: one event
                continue
            seen.add(uid)
            event = _timetable_event(day, entry, uid, times, view, subject_names, changed_at)
            if event.cancelled and not view.include_cancelled:
                continue
            events.append(event)
    return events


def holiday_events(
    holidays: Iterable[PlanHoliday], *, school_id: int, domain: str, changed_at: datetime
) -> list[CalendarEvent]:
    """The timetable's holidays (days without school) as all-day events."""
    return [
        CalendarEvent(
            uid=_uid("holiday", (h.from_date.strftime("%Y%m%d"),), school_id, domain),
            summary=h.name or CATEGORY_NAMES["holiday"],
            starts=h.from_date,
            ends=h.to_date + timedelta(days=1),
            significant=fingerprint([h.from_date.isoformat(), h.to_date.isoformat()]),
            content=fingerprint([h.name]),
            changed_at=changed_at,
            last_day=h.to_date,
            categories=(CATEGORY_NAMES["holiday"],),
        )
        for h in holidays
    ]


def school_event(facts: SchoolEventFacts, *, zone: ZoneInfo, domain: str) -> CalendarEvent:
    """A school event as a feed event (recurring ones with their RRULE and excluded dates)."""
    starts: datetime | date
    ends: datetime | date
    if facts.all_day:
        assert facts.starts_on is not None and facts.ends_on is not None
        starts, ends = facts.starts_on, facts.ends_on + timedelta(days=1)
        excluded: tuple[datetime | date, ...] = facts.excluded_dates
        last_day = facts.ends_on
    else:
        assert facts.starts_at is not None and facts.ends_at is not None
        starts, ends = facts.starts_at.astimezone(zone), facts.ends_at.astimezone(zone)
        excluded = tuple(datetime.combine(d, starts.timetz()) for d in facts.excluded_dates)
        last_day = ends.date()
    category = CATEGORY_NAMES.get(facts.category, CATEGORY_NAMES["other"])
    significant = fingerprint(
        [str(starts), str(ends), facts.location, facts.cancelled, facts.recurrence]
        + [[str(d) for d in facts.excluded_dates]]
    )
    return CalendarEvent(
        uid=f"event-{facts.id}@{domain}",
        summary=facts.title,
        starts=starts,
        ends=ends,
        significant=significant,
        content=fingerprint([facts.title, facts.description, facts.category]),
        changed_at=facts.updated_at,
        last_day=date.max if facts.recurrence else last_day,
        description=facts.description,
        location=facts.location,
        cancelled=facts.cancelled,
        categories=(category,),
        recurrence=facts.recurrence,
        excluded=excluded,
    )
