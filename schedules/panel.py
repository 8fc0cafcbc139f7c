"""The panel feed, computed: a school's plan for one selection over the next school days.

Pure: the service hands in plain dataclasses (the plan rows of a few dates), this module picks
the school days, groups and indexes the rows per day, filters them for a selection (a class with
or without chosen courses, a teacher, a room, or everything), applies the substitutions to the
regular lessons and returns plain dicts that the panel schema serializes. No Flask, no session.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from schedules.import_data import (
    ABSENT_TEACHER,
    BREAK_SUPERVISION,
    CANCELLATION,
    EXAM,
    MOVED,
    RELEASED,
    ROOM_CHANGE,
    SPECIAL_DUTY,
    SUBSTITUTION,
    SUPERVISION,
    SWAP,
)

COLOURS = {
    CANCELLATION: "red",
    SUBSTITUTION: "blue",
    ROOM_CHANGE: "green",
    SWAP: "yellow",
    MOVED: "yellow",
    EXAM: "orange",
    SUPERVISION: "grey",
    BREAK_SUPERVISION: "grey",
    SPECIAL_DUTY: "purple",
    RELEASED: "teal",
}
# How far ahead to look for school days (covers the summer holidays).
LOOKAHEAD_DAYS = 62
MAX_DAYS = 5


@dataclass(frozen=True, slots=True)
class GridSlot:
    """One period of the time grid; weekday None applies to days without their own row."""

    weekday: int | None
    period: int
    starts: time
    ends: time


@dataclass(frozen=True, slots=True)
class PlanLesson:
    """A weekly lesson as the panel needs it."""

    weekday: int
    period: int
    subject: str
    classes: tuple[str, ...]
    teachers: tuple[str, ...]
    rooms: tuple[str, ...]
    course: str = ""
    lesson_number: int | None = None
    valid_from: date | None = None
    valid_to: date | None = None


@dataclass(frozen=True, slots=True)
class PlanSubstitution:
    """A dated change of the plan as the panel needs it."""

    date: date
    period: int
    period_to: int
    kind: str
    changed_at: datetime
    original_subject: str = ""
    original_teachers: tuple[str, ...] = ()
    original_rooms: tuple[str, ...] = ()
    original_classes: tuple[str, ...] = ()
    new_subject: str = ""
    new_teachers: tuple[str, ...] = ()
    new_rooms: tuple[str, ...] = ()
    new_classes: tuple[str, ...] = ()
    course: str = ""
    text: str = ""
    lesson_number: int | None = None
    key: str = ""


@dataclass(frozen=True, slots=True)
class PlanAbsence:
    """An absent teacher, class or room over a date range (periods None = whole days)."""

    kind: str
    name: str
    from_date: date
    to_date: date
    first_period: int | None = None
    last_period: int | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class PlanMessage:
    """A day message; audience names the classes or teachers it is for, empty for everybody."""

    date: date
    text: str
    audience: str = ""


@dataclass(frozen=True, slots=True)
class PlanHoliday:
    """Days without school."""

    from_date: date
    to_date: date
    name: str = ""


@dataclass(frozen=True)
class Selection:
    """What a viewer wants to see: a class (optionally only chosen courses), courses alone, a
    teacher, a room, or everything when all are empty."""

    class_name: str = ""
    courses: frozenset[str] = frozenset()
    teacher: str = ""
    room: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "courses", frozenset(c.casefold() for c in self.courses if c))

    @property
    def kind(self) -> str:
        """class, courses, teacher, room or all."""
        if self.class_name:
            return "class"
        if self.courses:
            return "courses"
        if self.teacher:
            return "teacher"
        if self.room:
            return "room"
        return "all"


@dataclass
class SchoolDay:
    """The plan rows of one date, indexed by class, course, teacher and room (casefolded).

    `lesson_index` holds positions in `lessons`; `change_of` maps a lesson's position to the
    substitution that changes it (at most one per lesson, and a substitution changes at most one
    lesson per period).
    """

    date: date
    slots: dict[int, tuple[time, time]]
    lessons: list[PlanLesson]
    substitutions: list[PlanSubstitution]
    absences: list[PlanAbsence]
    messages: list[PlanMessage]
    change_of: dict[int, PlanSubstitution] = field(default_factory=dict)
    lesson_index: dict[str, list[int]] = field(default_factory=dict)
    substitution_index: dict[str, list[PlanSubstitution]] = field(default_factory=dict)


def school_days(today: date, count: int, holidays: Iterable[PlanHoliday]) -> list[date]:
    """The next `count` school days from today on, skipping weekends and holidays."""
    free = [(h.from_date, h.to_date) for h in holidays]
    days: list[date] = []
    day = today
    while len(days) < count and day <= today + timedelta(days=LOOKAHEAD_DAYS):
        if day.isoweekday() <= 5 and not any(start <= day <= end for start, end in free):
            days.append(day)
        day += timedelta(days=1)
    return days


def since_rank(change_times: Sequence[datetime], since: datetime | None) -> int | None:
    """How many of the plan's sorted distinct change times lie at or before `since` (None without
    one): two `since` values of the same rank mark the same entries as changed."""
    return None if since is None else bisect_right(change_times, since)


def _key(kind: str, name: str) -> str:
    return f"{kind}:{name.casefold()}"


def _lesson_keys(lesson: PlanLesson) -> set[str]:
    keys = {_key("class", n) for n in lesson.classes}
    keys |= {_key("teacher", n) for n in lesson.teachers}
    keys |= {_key("room", n) for n in lesson.rooms}
    if lesson.course:
        keys.add(_key("course", lesson.course))
    return keys


def _substitution_keys(sub: PlanSubstitution) -> set[str]:
    keys = {_key("class", n) for n in (*sub.original_classes, *sub.new_classes)}
    keys |= {_key("teacher", n) for n in (*sub.original_teachers, *sub.new_teachers)}
    keys |= {_key("room", n) for n in (*sub.original_rooms, *sub.new_rooms)}
    if sub.course:
        keys.add(_key("course", sub.course))
    return keys


def grid_for(weekday: int, grid: Iterable[GridSlot]) -> dict[int, tuple[time, time]]:
    """period -> (starts, ends) on a weekday; a weekday's own rows win over the general ones."""
    general = {s.period: (s.starts, s.ends) for s in grid if s.weekday is None}
    own = {s.period: (s.starts, s.ends) for s in grid if s.weekday == weekday}
    return general | own


def school_day(
    day: date,
    grid: Sequence[GridSlot],
    lessons: Iterable[PlanLesson],
    substitutions: Iterable[PlanSubstitution],
    absences: Iterable[PlanAbsence],
    messages: Iterable[PlanMessage],
) -> SchoolDay:
    """Pick the rows that apply to one date, match each substitution to the lesson it changes,
    and index them."""
    weekday = day.isoweekday()
    day_lessons = [
        lesson
        for lesson in lessons
        if lesson.weekday == weekday
        and (lesson.valid_from is None or lesson.valid_from <= day)
        and (lesson.valid_to is None or day <= lesson.valid_to)
    ]
    day_subs = [s for s in substitutions if s.date == day]
    change_of, day_subs = _match_changes(day_lessons, day_subs)
    result = SchoolDay(
        date=day,
        slots=grid_for(weekday, grid),
        lessons=day_lessons,
        substitutions=day_subs,
        absences=[a for a in absences if a.from_date <= day <= a.to_date],
        messages=[m for m in messages if m.date == day],
        change_of=change_of,
    )
    for position, lesson in enumerate(result.lessons):
        for key in _lesson_keys(lesson):
            result.lesson_index.setdefault(key, []).append(position)
    for sub in result.substitutions:
        for key in _substitution_keys(sub):
            result.substitution_index.setdefault(key, []).append(sub)
    return result


@dataclass(frozen=True, slots=True)
class _Names:
    """What a lesson is, or what a substitution says the plan was, casefolded for matching."""

    lesson_number: int | None
    subject: frozenset[str]
    course: frozenset[str]
    teachers: frozenset[str]
    classes: frozenset[str]
    rooms: frozenset[str]


def _folded(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.casefold() for v in values if v)


def _lesson_names(lesson: PlanLesson) -> _Names:
    return _Names(
        lesson.lesson_number,
        _folded((lesson.subject,)),
        _folded((lesson.course,)),
        _folded(lesson.teachers),
        _folded(lesson.classes),
        _folded(lesson.rooms),
    )


def _planned_names(sub: PlanSubstitution) -> _Names:
    return _Names(
        sub.lesson_number,
        _folded((sub.original_subject,)),
        _folded((sub.course,)),
        _folded(sub.original_teachers),
        _folded(sub.original_classes),
        _folded(sub.original_rooms),
    )


def _match_score(planned: _Names, lesson: _Names) -> int | None:
    """How well a substitution names a lesson of one of its periods, None when it cannot be that
    lesson's change.

    Parallel lessons share a lesson number (Untis couplings: religion groups, language groups, a
    class split in two for sport), so the number alone is not enough: every field that both name
    must agree (subject, course, teachers, classes), and the rooms break the remaining ties.
    Without a lesson number, the classes or the teachers must overlap.
    """
    score = 0
    if planned.lesson_number is not None and lesson.lesson_number is not None:
        if planned.lesson_number != lesson.lesson_number:
            return None
        score += 1
    elif not (planned.classes & lesson.classes or planned.teachers & lesson.teachers):
        return None
    for named, known in (
        (planned.subject, lesson.subject),
        (planned.course, lesson.course),
        (planned.teachers, lesson.teachers),
        (planned.classes, lesson.classes),
    ):
        if named and known:
            if not named & known:
                return None
            score += 1
    if planned.rooms & lesson.rooms:
        score += 1
    return score


def _match_changes(
    lessons: list[PlanLesson], subs: list[PlanSubstitution]
) -> tuple[dict[int, PlanSubstitution], list[PlanSubstitution]]:
    """Which lesson each substitution changes, best matches first: a lesson gets at most one
    change and a substitution changes at most one lesson per period. A substitution without a
    course takes the course of the lessons it changes, so course selections see it only there."""
    names = [_lesson_names(lesson) for lesson in lessons]
    by_period: dict[int, list[int]] = {}
    for position, lesson in enumerate(lessons):
        by_period.setdefault(lesson.period, []).append(position)
    candidates = []
    for number, sub in enumerate(subs):
        planned = _planned_names(sub)
        for period in range(sub.period, sub.period_to + 1):
            for position in by_period.get(period, ()):
                score = _match_score(planned, names[position])
                if score is not None:
                    candidates.append((-score, number, position, period))
    candidates.sort()
    changed: dict[int, int] = {}
    taken: set[tuple[int, int]] = set()
    for _, number, position, period in candidates:
        if position not in changed and (number, period) not in taken:
            changed[position] = number
            taken.add((number, period))
    courses: dict[int, set[str]] = {}
    for position, number in changed.items():
        courses.setdefault(number, set()).add(lessons[position].course)
    filled = [
        replace(sub, course=courses[number].pop())
        if not sub.course and len(courses.get(number, ())) == 1
        else sub
        for number, sub in enumerate(subs)
    ]
    return {position: filled[number] for position, number in changed.items()}, filled


def _in_courses(course: str, courses: frozenset[str]) -> bool:
    """Rows without a course belong to the whole class; course rows only to their course."""
    return not courses or not course or course.casefold() in courses


def _selected_lessons(day: SchoolDay, selection: Selection) -> list[int]:
    """Positions of the day's lessons in the selection."""
    kind = selection.kind
    if kind == "class":
        rows = day.lesson_index.get(_key("class", selection.class_name), [])
        return [r for r in rows if _in_courses(day.lessons[r].course, selection.courses)]
    if kind == "courses":
        return [r for c in selection.courses for r in day.lesson_index.get(_key("course", c), [])]
    if kind == "teacher":
        return day.lesson_index.get(_key("teacher", selection.teacher), [])
    if kind == "room":
        return day.lesson_index.get(_key("room", selection.room), [])
    return []


def _selected_substitutions(day: SchoolDay, selection: Selection) -> list[PlanSubstitution]:
    kind = selection.kind
    if kind == "class":
        rows = day.substitution_index.get(_key("class", selection.class_name), [])
        return [r for r in rows if _in_courses(r.course, selection.courses)]
    if kind == "courses":
        found = [
            r for c in selection.courses for r in day.substitution_index.get(_key("course", c), [])
        ]
        return list(dict.fromkeys(found))
    if kind == "teacher":
        return day.substitution_index.get(_key("teacher", selection.teacher), [])
    if kind == "room":
        return day.substitution_index.get(_key("room", selection.room), [])
    return day.substitutions


def _order_changes(subs: list[PlanSubstitution], selection: Selection) -> list[PlanSubstitution]:
    """Teachers: where they are the new teacher first, then where they were the original one."""
    if selection.kind == "teacher":
        me = selection.teacher.casefold()

        def mine_first(sub: PlanSubstitution) -> tuple[int, int, int]:
            is_new = any(t.casefold() == me for t in sub.new_teachers)
            return (0 if is_new else 1, sub.period, sub.period_to)

        return sorted(subs, key=mine_first)
    if selection.kind == "all":
        return sorted(
            subs,
            key=lambda s: ([_natural(c) for c in s.original_classes or s.new_classes], s.period),
        )
    return sorted(subs, key=lambda s: (s.period, s.period_to))


def _natural(name: str) -> tuple[str | int, ...]:
    """A sort key that puts 5b before 10a."""
    return tuple(int(p) if p.isdigit() else p.casefold() for p in re.split(r"(\d+)", name))


def _clock(value: time | None) -> str | None:
    return None if value is None else value.strftime("%H:%M")


def _times(day: SchoolDay, first: int, last: int) -> tuple[str | None, str | None]:
    starts = day.slots.get(first)
    ends = day.slots.get(last)
    return _clock(starts[0] if starts else None), _clock(ends[1] if ends else None)


def _names(values: tuple[str, ...], hide: bool) -> list[str] | None:
    return None if hide else list(values)


def change_entry(
    day: SchoolDay,
    sub: PlanSubstitution,
    *,
    since: datetime | None,
    hide_teachers: bool,
    period: int | None = None,
) -> dict[str, Any]:
    """One substitution as the feed shows it: what happens, what the plan said, type, colour."""
    first = sub.period if period is None else period
    last = sub.period_to if period is None else period
    starts, ends = _times(day, first, last)
    # What happens: the new values, or the plan's where an export leaves a field unchanged empty.
    happens = sub.kind != CANCELLATION
    return {
        "kind": sub.kind,
        "colour": COLOURS.get(sub.kind, "grey"),
        "period": first,
        "period_to": last,
        "starts": starts,
        "ends": ends,
        "subject": (sub.new_subject or sub.original_subject) if happens else "",
        "teachers": _names(
            (sub.new_teachers or sub.original_teachers) if happens else (), hide_teachers
        ),
        "rooms": list(sub.new_rooms or sub.original_rooms) if happens else [],
        "classes": list(sub.new_classes or sub.original_classes),
        "course": sub.course,
        "original": {
            "subject": sub.original_subject,
            "teachers": _names(sub.original_teachers, hide_teachers),
            "rooms": list(sub.original_rooms),
            "classes": list(sub.original_classes),
        },
        "text": sub.text,
        "changed": since is not None and sub.changed_at > since,
    }


def lesson_entry(day: SchoolDay, lesson: PlanLesson, *, hide_teachers: bool) -> dict[str, Any]:
    """One regular lesson, unchanged."""
    starts, ends = _times(day, lesson.period, lesson.period)
    return {
        "kind": None,
        "colour": None,
        "period": lesson.period,
        "period_to": lesson.period,
        "starts": starts,
        "ends": ends,
        "subject": lesson.subject,
        "teachers": _names(lesson.teachers, hide_teachers),
        "rooms": list(lesson.rooms),
        "classes": list(lesson.classes),
        "course": lesson.course,
        "original": None,
        "text": "",
        "changed": False,
    }


@dataclass(frozen=True, slots=True)
class DayEntry:
    """One entry of a selection's day: a lesson with the change that changes it (if any), or a
    change of the selection that changes none of its lessons (lesson None)."""

    period: int
    period_to: int
    lesson: PlanLesson | None
    change: PlanSubstitution | None


def _entries(day: SchoolDay, positions: list[int], subs: list[PlanSubstitution]) -> list[DayEntry]:
    entries: list[DayEntry] = []
    used: set[int] = set()
    for position in dict.fromkeys(positions):
        lesson = day.lessons[position]
        change = day.change_of.get(position)
        if change is not None:
            used.add(id(change))
        entries.append(DayEntry(lesson.period, lesson.period, lesson, change))
    entries.extend(DayEntry(s.period, s.period_to, None, s) for s in subs if id(s) not in used)
    return entries


def day_entries(day: SchoolDay, selection: Selection) -> list[DayEntry]:
    """The selection's lessons of a day with their changes, plus its changes that change none of
    them (a lesson covered by a substitute teacher, an extra exam)."""
    return _entries(day, _selected_lessons(day, selection), _selected_substitutions(day, selection))


def _day_lessons(
    day: SchoolDay,
    positions: list[int],
    subs: list[PlanSubstitution],
    *,
    since: datetime | None,
    hide_teachers: bool,
) -> list[dict[str, Any]]:
    """The selected lessons with their changes applied, plus the selection's changes that change
    none of them."""
    entries = [
        lesson_entry(day, entry.lesson, hide_teachers=hide_teachers)
        if entry.change is None and entry.lesson is not None
        else change_entry(
            day,
            entry.change,  # type: ignore[arg-type]
            since=since,
            hide_teachers=hide_teachers,
            period=entry.period if entry.lesson is not None else None,
        )
        for entry in _entries(day, positions, subs)
    ]
    entries.sort(key=lambda e: (e["period"], e["period_to"], e["subject"]))
    return entries


def _for_audience(message: PlanMessage, selection: Selection) -> bool:
    """Messages for everybody go to every selection; a message with an audience (classes or
    teachers) only to a selection of one of them, never to "everything"."""
    if not message.audience:
        return True
    if selection.kind == "all":
        return False
    names = {n.strip().casefold() for n in message.audience.replace(";", ",").split(",")}
    wanted = {selection.class_name, selection.teacher, *selection.courses}
    return bool(names & {w.casefold() for w in wanted if w})


def _absence(absence: PlanAbsence) -> dict[str, Any]:
    return {
        "kind": absence.kind,
        "name": absence.name,
        "first_period": absence.first_period,
        "last_period": absence.last_period,
        "text": absence.text,
    }


def panel_day(
    day: SchoolDay, selection: Selection, *, since: datetime | None, hide_teachers: bool
) -> dict[str, Any]:
    """One day of the feed: messages, absences, the changes and the day's lessons."""
    subs = _selected_substitutions(day, selection)
    lessons = _selected_lessons(day, selection)
    return {
        "date": day.date,
        "messages": [m.text for m in day.messages if _for_audience(m, selection)],
        "absences": [
            _absence(a) for a in day.absences if not (hide_teachers and a.kind == ABSENT_TEACHER)
        ],
        "changes": [
            change_entry(day, s, since=since, hide_teachers=hide_teachers)
            for s in _order_changes(subs, selection)
        ],
        "lessons": _day_lessons(day, lessons, subs, since=since, hide_teachers=hide_teachers)
        if selection.kind != "all"
        else [],
    }


def panel_days(
    days: Sequence[SchoolDay], selection: Selection, *, since: datetime | None, hide_teachers: bool
) -> list[dict[str, Any]]:
    """The feed's days for a selection."""
    return [panel_day(d, selection, since=since, hide_teachers=hide_teachers) for d in days]


def used_subjects(days: Iterable[dict[str, Any]], names: dict[str, str]) -> dict[str, str]:
    """The long names of the subjects the feed's days mention."""
    used: dict[str, str] = {}
    for day in days:
        for entry in (*day["changes"], *day["lessons"]):
            for subject in (entry["subject"], (entry["original"] or {}).get("subject", "")):
                if subject in names:
                    used[subject] = names[subject]
    return used
