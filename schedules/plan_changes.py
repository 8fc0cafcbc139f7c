"""Replacing the parts of a school's plan that an import is authoritative for, counting what
changed, and reading those parts as they were (to undo an import).

The rules are in docs/timetable-import.md. Which parts an import replaces is its `Scope`, taken
from the batch (`scope_of`); the rows it puts there are the batch's. Each kind reports how many
rows are new, changed and removed, with a few examples. These functions flush, never commit.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select
from sqlalchemy.orm import Session

from mdm.accounts.models import User
from schedules import models
from schedules.import_data import (
    Absence,
    Course,
    DayMessage,
    ImportBatch,
    Lesson,
    Period,
    Room,
    SchoolClass,
    Subject,
    Substitution,
    Teacher,
)

# Users of these roles can be the person behind a timetable teacher.
TEACHING_ROLES = ("teacher", "school_admin")
MASTER_DATA = ("classes", "teachers", "rooms", "subjects", "courses")
EXAMPLES = 3
# Substitution changes are written in chunks, so a huge export is never held twice in memory.
CHUNK = 2000


@dataclass
class KindChanges:
    """What an import did to one kind of the plan."""

    new: int = 0
    changed: int = 0
    removed: int = 0
    before: int = 0  # rows of the kind in the replaced part before the import
    examples: list[str] = field(default_factory=list)

    def example(self, text: str) -> None:
        """Keep the first few examples of what changed."""
        if len(self.examples) < EXAMPLES:
            self.examples.append(text)

    @property
    def any(self) -> bool:
        """Whether anything changed."""
        return bool(self.new or self.changed or self.removed)

    def counts(self) -> dict[str, int]:
        """new, changed, removed."""
        return {"new": self.new, "changed": self.changed, "removed": self.removed}


@dataclass
class Scope:
    """Which parts of the plan an import replaces (see ImportBatch)."""

    master_data: set[str] = field(default_factory=set)
    time_grid: bool = False
    holidays: bool = False
    weekly_lessons: bool = False
    dated_lessons: bool = False  # on the substitution dates
    substitution_dates: set[date] = field(default_factory=set)  # complete: also removes
    partial_dates: set[date] = field(default_factory=set)  # adds and updates only
    absence_dates: set[date] = field(default_factory=set)
    message_dates: set[date] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        """The scope as JSON."""
        return {
            "master_data": sorted(self.master_data),
            "time_grid": self.time_grid,
            "holidays": self.holidays,
            "weekly_lessons": self.weekly_lessons,
            "dated_lessons": self.dated_lessons,
            "substitution_dates": _iso(self.substitution_dates),
            "partial_dates": _iso(self.partial_dates),
            "absence_dates": _iso(self.absence_dates),
            "message_dates": _iso(self.message_dates),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scope:
        """A scope from its JSON."""
        return cls(
            master_data=set(data["master_data"]),
            time_grid=data["time_grid"],
            holidays=data["holidays"],
            weekly_lessons=data["weekly_lessons"],
            dated_lessons=data["dated_lessons"],
            substitution_dates=_dates(data["substitution_dates"]),
            partial_dates=_dates(data["partial_dates"]),
            absence_dates=_dates(data["absence_dates"]),
            message_dates=_dates(data["message_dates"]),
        )


def _iso(days: Iterable[date]) -> list[str]:
    return [day.isoformat() for day in sorted(days)]


def _dates(values: Iterable[str]) -> set[date]:
    return {date.fromisoformat(value) for value in values}


def scope_of(batch: ImportBatch) -> Scope:
    """What a parsed export is authoritative for."""
    return Scope(
        master_data={kind for kind in MASTER_DATA if getattr(batch, kind)},
        time_grid=bool(batch.periods),
        holidays=bool(batch.holidays),
        weekly_lessons=batch.weekly_plan,
        # Day plans (Indiware) carry the day's unchanged lessons; GPU and HTML exports do not.
        dated_lessons=any(is_dated(lesson) for lesson in batch.lessons)
        or "indiware" in batch.source.split("+"),
        substitution_dates=set(batch.covered_dates),
        partial_dates=set(batch.partial_dates) - set(batch.covered_dates),
        absence_dates=set(batch.absence_dates),
        message_dates=set(batch.message_dates),
    )


def _clip(model: type[Any], values: dict[str, Any]) -> dict[str, Any]:
    """Cut strings to their column's length, so a strange export cannot fail on insert."""
    columns = model.__table__.c
    return {
        name: value[: columns[name].type.length]
        if isinstance(value, str) and getattr(columns[name].type, "length", None)
        else value
        for name, value in values.items()
    }


def _canonical(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, default=str, ensure_ascii=False)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# Master data


def _master_rows(batch: ImportBatch, kind: str) -> dict[str, dict[str, Any]]:
    """name -> column values of one kind of master data."""
    if kind == "classes":
        return {
            c.name: {"long_name": c.long_name, "class_teacher": c.teacher, "room": c.room}
            for c in batch.classes
        }
    if kind == "teachers":
        return {
            t.abbreviation: {
                "first_name": t.first_name,
                "last_name": t.last_name,
                "title": t.title,
                "email": t.email,
            }
            for t in batch.teachers
        }
    if kind == "rooms":
        return {r.name: {"long_name": r.long_name, "capacity": r.capacity} for r in batch.rooms}
    if kind == "subjects":
        return {s.name: {"long_name": s.long_name} for s in batch.subjects}
    return _course_rows(batch.courses)


MASTER_MODELS: dict[str, tuple[type[Any], str]] = {
    "classes": (models.SchoolClass, "name"),
    "teachers": (models.Teacher, "abbreviation"),
    "rooms": (models.Room, "name"),
    "subjects": (models.Subject, "name"),
    "courses": (models.Course, "name"),
}


def _course_rows(courses: list[Course]) -> dict[str, dict[str, Any]]:
    """Named course groups (GPU002 field 42): subject, and every teacher and class of the group."""
    rows: dict[str, dict[str, Any]] = {}
    for course in courses:
        if not course.name:
            continue
        row = rows.setdefault(
            course.name, {"subject": course.subject, "teachers": [], "classes": []}
        )
        if course.teacher and course.teacher not in row["teachers"]:
            row["teachers"].append(course.teacher)
        row["classes"].extend(name for name in course.classes if name not in row["classes"])
    return rows


def sync_master_data(
    session: Session, school_id: int, kind: str, rows: dict[str, dict[str, Any]]
) -> KindChanges:
    """Make the school's rows of one kind exactly `rows` (by name)."""
    model, key = MASTER_MODELS[kind]
    existing = {
        getattr(row, key): row
        for row in session.scalars(select(model).where(model.school_id == school_id))
    }
    result = KindChanges(before=len(existing))
    for name, row in existing.items():
        if name not in rows:
            session.delete(row)
            result.removed += 1
            result.example(f"{name} removed")
    for name, values in rows.items():
        values = _clip(model, values)
        row = existing.get(name)
        if row is None:
            session.add(model(school_id=school_id, **{key: name}, **values))
            result.new += 1
            result.example(f"{name} new")
            continue
        if any(getattr(row, attribute) != value for attribute, value in values.items()):
            for attribute, value in values.items():
                setattr(row, attribute, value)
            result.changed += 1
            result.example(f"{name} changed")
    return result


def replace_time_grid(session: Session, school_id: int, periods: list[Period]) -> KindChanges:
    """Replace the time grid; the first period of a (weekday, number) wins."""
    wanted: dict[tuple[int | None, int], tuple[time, time]] = {}
    for period in periods:
        wanted.setdefault((period.weekday, period.number), (period.starts, period.ends))
    existing = {
        (slot.weekday, slot.period): slot
        for slot in session.scalars(
            select(models.TimeSlot).where(models.TimeSlot.school_id == school_id)
        )
    }
    result = KindChanges(before=len(existing))
    for key, slot in existing.items():
        if key not in wanted:
            session.delete(slot)
            result.removed += 1
    for (weekday, number), (starts, ends) in wanted.items():
        slot = existing.get((weekday, number))
        if slot is None:
            session.add(
                models.TimeSlot(
                    school_id=school_id, weekday=weekday, period=number, starts=starts, ends=ends
                )
            )
            result.new += 1
        elif (slot.starts, slot.ends) != (starts, ends):
            slot.starts, slot.ends = starts, ends
            result.changed += 1
            result.example(f"period {number}: {starts:%H:%M}-{ends:%H:%M}")
    return result


def link_teachers(session: Session, school_id: int) -> bool:
    """Link each teacher to the user of the school with the same e-mail, else username = Kürzel.

    Users of TEACHING_ROLES count; e-mail and username compare case-insensitively. Without a
    match a teacher keeps the link it has (one made by hand, or by an earlier import).
    """
    users = session.execute(
        select(User.id, User.username, User.email).where(
            User.school_id == school_id, User.role.in_(TEACHING_ROLES)
        )
    ).all()
    by_email = {user.email.lower(): user.id for user in users if user.email}
    by_username = {user.username.lower(): user.id for user in users}
    changed = False
    for teacher in session.scalars(
        select(models.Teacher).where(models.Teacher.school_id == school_id)
    ):
        user_id = (teacher.email and by_email.get(teacher.email.lower())) or by_username.get(
            teacher.abbreviation.lower()
        )
        if user_id and teacher.user_id != user_id:
            teacher.user_id = user_id
            changed = True
    return changed


# Lessons


def _lesson_values(lesson: Lesson) -> dict[str, Any]:
    return {
        "lesson_number": lesson.lesson_number,
        "weekday": lesson.weekday,
        "period": lesson.period,
        "subject": lesson.subject,
        "classes": list(lesson.classes),
        "teachers": list(lesson.teachers),
        "rooms": list(lesson.rooms),
        "course": lesson.course,
        "week_type": lesson.week_type,
        "valid_from": lesson.valid_from,
        "valid_to": lesson.valid_to,
        "text": lesson.text,
    }


LESSON_COLUMNS = tuple(_lesson_values(Lesson(None, 1, 1, "")))
WEEKDAYS = ("", "Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")


def _describe_lesson(values: dict[str, Any]) -> str:
    day = WEEKDAYS[values["weekday"]] if 0 < values["weekday"] < 8 else values["weekday"]
    classes = ",".join(values["classes"])
    teachers = ",".join(values["teachers"])
    return f"{day} {values['period']}. {values['subject']} {classes} {teachers}".strip()


def is_dated(lesson: Lesson) -> bool:
    """A lesson on one date only (Indiware's day plans), as opposed to a weekly lesson."""
    return lesson.valid_from is not None and lesson.valid_from == lesson.valid_to


_WEEKLY = or_(
    models.Lesson.valid_from.is_(None),
    models.Lesson.valid_to.is_(None),
    models.Lesson.valid_from != models.Lesson.valid_to,
)


def _dated_on(dates: set[date]) -> Any:
    return and_(
        models.Lesson.valid_from == models.Lesson.valid_to, models.Lesson.valid_from.in_(dates)
    )


def _lesson_rows(session: Session, school_id: int, where: Any) -> list[dict[str, Any]]:
    columns = [getattr(models.Lesson, name) for name in LESSON_COLUMNS]
    rows = session.execute(select(*columns).where(models.Lesson.school_id == school_id, where))
    return [dict(zip(LESSON_COLUMNS, row, strict=True)) for row in rows]


def _replace_lessons(
    session: Session, school_id: int, where: Any, lessons: list[Lesson]
) -> KindChanges:
    """Replace the lessons matching `where` with `lessons` unless they are the same already.

    Lessons have no identity of their own: what is only in the export is new, what is only in
    the plan is removed."""
    wanted = [_clip(models.Lesson, _lesson_values(lesson)) for lesson in lessons]
    have = _lesson_rows(session, school_id, where)
    wanted_count = Counter(map(_canonical, wanted))
    have_count = Counter(map(_canonical, have))
    result = KindChanges(before=len(have))
    result.new = sum((wanted_count - have_count).values())
    result.removed = sum((have_count - wanted_count).values())
    if not result.any:
        return result
    for values in wanted:
        if have_count[_canonical(values)] < wanted_count[_canonical(values)]:
            result.example(f"{_describe_lesson(values)} new")
    session.execute(delete(models.Lesson).where(models.Lesson.school_id == school_id, where))
    if wanted:
        session.execute(insert(models.Lesson), [row | {"school_id": school_id} for row in wanted])
    return result


def replace_weekly_lessons(session: Session, school_id: int, lessons: list[Lesson]) -> KindChanges:
    """A weekly plan (Untis GPU001) replaces every weekly lesson of the school."""
    weekly = [lesson for lesson in lessons if not is_dated(lesson)]
    return _replace_lessons(session, school_id, _WEEKLY, weekly)


def replace_dated_lessons(
    session: Session, school_id: int, lessons: list[Lesson], dates: set[date]
) -> KindChanges:
    """Lessons of one date (Indiware) are replaced on the dates the export covers."""
    dated = [lesson for lesson in lessons if is_dated(lesson) and lesson.valid_from in dates]
    if not dates:
        return KindChanges()
    return _replace_lessons(session, school_id, _dated_on(dates), dated)


# Substitutions


def substitution_values(substitution: Substitution) -> dict[str, Any]:
    """A substitution's column values as stored (lists for tuples, flags sorted)."""
    return _clip(
        models.Substitution,
        {
            "external_id": substitution.external_id,
            "date": substitution.date,
            "period": substitution.period,
            "period_to": substitution.period_to,
            "kind": substitution.kind,
            "lesson_number": substitution.lesson_number,
            "original_subject": substitution.original_subject,
            "original_teachers": list(substitution.original_teachers),
            "original_rooms": list(substitution.original_rooms),
            "original_classes": list(substitution.original_classes),
            "new_subject": substitution.new_subject,
            "new_teachers": list(substitution.new_teachers),
            "new_rooms": list(substitution.new_rooms),
            "new_classes": list(substitution.new_classes),
            "course": substitution.course,
            "text": substitution.text,
            "reason": substitution.reason,
            "flags": sorted(substitution.flags),
        },
    )


SUBSTITUTION_COLUMNS = tuple(substitution_values(Substitution("", date(2000, 1, 1), 1, 1, "")))


def substitution_key(substitution: Substitution) -> str:
    """The identity of a substitution across imports: date and source id, else the lesson slot.

    Without a source id the slot is what the plan said (date, periods, lesson, subject, teachers,
    classes), so a changed substitute or room is a change of the same substitution.
    """
    day = substitution.date.isoformat()
    if substitution.external_id:
        return f"{day}/{substitution.external_id[:120]}"
    slot = json.dumps(
        [
            substitution.period,
            substitution.period_to,
            substitution.lesson_number,
            substitution.original_subject,
            substitution.original_teachers,
            substitution.original_classes,
            substitution.course,
        ],
        ensure_ascii=False,
    )
    return f"{day}/{substitution.period}-{substitution.period_to}/{_sha256(slot)[:24]}"


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()}


def _describe_substitution(values: dict[str, Any]) -> str:
    day: date = values["date"]
    periods = (
        str(values["period"])
        if values["period"] == values["period_to"]
        else f"{values['period']}-{values['period_to']}"
    )
    classes = ",".join(values["original_classes"] or values["new_classes"])
    subject = values["original_subject"] or values["new_subject"]
    return f"{day:%d.%m.} {periods}. {classes} {subject}: {values['kind']}"


def _wanted_substitutions(substitutions: list[Substitution]) -> dict[str, dict[str, Any]]:
    wanted: dict[str, dict[str, Any]] = {}
    for substitution in substitutions:
        key = base = substitution_key(substitution)
        number = 2
        while key in wanted:
            key, number = f"{base}#{number}", number + 1
        wanted[key] = substitution_values(substitution)
    return wanted


def _chunks(items: list[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def replace_substitutions(
    session: Session,
    school_id: int,
    import_id: int | None,
    substitutions: list[Substitution],
    scope: Scope,
    now: datetime,
) -> KindChanges:
    """Put the export's substitutions on the dates it covers (new, changed), remove the others
    of its complete dates, and record each change for the import (when import_id is given)."""
    dates = scope.substitution_dates | scope.partial_dates
    if not dates:
        return KindChanges()
    wanted = _wanted_substitutions([s for s in substitutions if s.date in dates])
    table = models.Substitution
    existing = {
        row.key: row
        for row in session.execute(
            select(table.id, table.key, table.date, table.content_hash).where(
                table.school_id == school_id, table.date.in_(dates)
            )
        )
    }
    result = KindChanges(before=len(existing))
    removed = [
        row.id
        for key, row in existing.items()
        if key not in wanted and row.date in scope.substitution_dates
    ]
    new_rows: list[dict[str, Any]] = []
    changed: dict[int, tuple[str, dict[str, Any], str]] = {}
    for key, values in wanted.items():
        content_hash = _sha256(_canonical(values))
        row = existing.get(key)
        if row is None:
            new_rows.append(values | {"key": key, "content_hash": content_hash, "changed_at": now})
        elif row.content_hash != content_hash:
            changed[row.id] = (key, values, content_hash)
    records: list[dict[str, Any]] = []

    def record(change: str, key: str, day: date, before: Any, after: Any) -> None:
        if import_id is not None:
            records.append(
                {
                    "school_id": school_id,
                    "import_id": import_id,
                    "change": change,
                    "key": key,
                    "date": day,
                    "before": before,
                    "after": after,
                }
            )
            if len(records) >= CHUNK:
                session.execute(insert(models.SubstitutionChange), records)
                records.clear()

    for ids in _chunks(removed + list(changed)):
        for row in session.scalars(select(table).where(table.id.in_(ids))):
            before = {name: getattr(row, name) for name in SUBSTITUTION_COLUMNS}
            if row.id in changed:
                key, values, content_hash = changed[row.id]
                for name, value in values.items():
                    setattr(row, name, value)
                row.content_hash, row.changed_at = content_hash, now
                result.changed += 1
                result.example(f"{_describe_substitution(values)} changed")
                record("changed", key, row.date, _jsonable(before), _jsonable(values))
            else:
                result.removed += 1
                result.example(f"{_describe_substitution(before)} removed")
                record("removed", row.key, row.date, _jsonable(before), None)
                session.delete(row)
        session.flush()
    for chunk in _chunks(new_rows):
        session.execute(insert(table), [row | {"school_id": school_id} for row in chunk])
        for row in chunk:
            result.new += 1
            result.example(f"{_describe_substitution(row)} new")
            values = {name: row[name] for name in SUBSTITUTION_COLUMNS}
            record("new", row["key"], row["date"], None, _jsonable(values))
    if records:
        session.execute(insert(models.SubstitutionChange), records)
    return result


# Absences, day messages, holidays


def _absence_values(absence: Absence) -> dict[str, Any]:
    return _clip(
        models.Absence,
        {
            "kind": absence.kind,
            "name": absence.name,
            "from_date": absence.from_date,
            "to_date": absence.to_date,
            "first_period": absence.first_period,
            "last_period": absence.last_period,
            "reason": absence.reason,
            "text": absence.text,
        },
    )


ABSENCE_COLUMNS = tuple(_absence_values(Absence("", "", date.min, date.min)))


def _touches(row: Any, dates: set[date]) -> bool:
    return any(row.from_date <= day <= row.to_date for day in dates)


def replace_absences(
    session: Session, school_id: int, absences: list[Absence], dates: set[date]
) -> KindChanges:
    """Absences touching the dates the export lists absences for are replaced by the export's
    absences; its other absences are added unless identical ones exist."""
    wanted = {_canonical(values): values for values in map(_absence_values, absences)}
    rows = session.scalars(select(models.Absence).where(models.Absence.school_id == school_id))
    have: dict[str, models.Absence] = {}
    result = KindChanges()
    for row in rows:
        canonical = _canonical({name: getattr(row, name) for name in ABSENCE_COLUMNS})
        touches = _touches(row, dates)
        result.before += touches
        if canonical in wanted and canonical not in have:
            have[canonical] = row
        elif touches or canonical in have:
            session.delete(row)
            result.removed += 1
            result.example(f"{row.name} {row.from_date:%d.%m.} removed")
    for canonical, values in wanted.items():
        if canonical not in have:
            session.add(models.Absence(school_id=school_id, **values))
            result.new += 1
            result.example(f"{values['name']} {values['from_date']:%d.%m.} new")
    return result


def replace_day_messages(
    session: Session, school_id: int, messages: list[DayMessage], dates: set[date]
) -> KindChanges:
    """Day messages on the dates the export lists messages for are replaced by its messages;
    its messages on other dates are added unless there already."""
    wanted = list(dict.fromkeys((m.date, m.text, m.audience) for m in messages if m.text.strip()))
    days = dates | {day for day, _text, _audience in wanted}
    if not days:
        return KindChanges()
    rows = list(
        session.scalars(
            select(models.DayMessage)
            .where(models.DayMessage.school_id == school_id, models.DayMessage.date.in_(days))
            .order_by(models.DayMessage.id)
        )
    )
    result = KindChanges(before=sum(row.date in dates for row in rows))
    have = {(row.date, row.text, row.audience) for row in rows}
    keep = set(wanted)
    for row in rows:
        if row.date in dates and (row.date, row.text, row.audience) not in keep:
            session.delete(row)
            result.removed += 1
            result.example(f"{row.date:%d.%m.} {row.text[:40]} removed")
    for day, text, audience in wanted:
        if (day, text, audience) not in have:
            session.add(
                models.DayMessage(
                    school_id=school_id,
                    **_clip(models.DayMessage, {"date": day, "text": text, "audience": audience}),
                )
            )
            result.new += 1
            result.example(f"{day:%d.%m.} {text[:40]} new")
    return result


def _date_ranges(days: set[date]) -> list[tuple[date, date]]:
    """Consecutive days joined into (first, last) ranges."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(days):
        if ranges and ranges[-1][1] + timedelta(days=1) == day:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def replace_holidays(session: Session, school_id: int, holidays: set[date]) -> KindChanges:
    """An export that names free days (Indiware) replaces the school's holidays."""
    wanted = _date_ranges(holidays)
    rows = list(
        session.scalars(
            select(models.Holiday)
            .where(models.Holiday.school_id == school_id)
            .order_by(models.Holiday.from_date)
        )
    )
    result = KindChanges(before=len(rows))
    have = [(row.from_date, row.to_date) for row in rows]
    if have == wanted:
        return result
    result.removed = len(set(have) - set(wanted))
    result.new = len(set(wanted) - set(have))
    for row in rows:
        session.delete(row)
    for first, last in wanted:
        session.add(models.Holiday(school_id=school_id, from_date=first, to_date=last))
        if (first, last) not in have:
            result.example(f"{first:%d.%m.}-{last:%d.%m.} new")
    return result


# The plan as it was: what an import replaces, read back as a batch (to undo the import)


def plan_before(session: Session, school_id: int, scope: Scope, batch: ImportBatch) -> dict:
    """The part of the school's plan that applying `batch` with `scope` replaces, as JSON:
    restoring it (restore_batch) undoes the import."""
    absence_days = scope.absence_dates | {
        day
        for absence in batch.absences
        for day in _days(absence.from_date, absence.to_date, limit=366)
    }
    message_days = scope.message_dates | {message.date for message in batch.day_messages}
    substitution_days = scope.substitution_dates | scope.partial_dates
    plan: dict[str, Any] = {
        "scope": Scope(
            master_data=scope.master_data,
            time_grid=scope.time_grid,
            holidays=scope.holidays,
            weekly_lessons=scope.weekly_lessons,
            dated_lessons=scope.dated_lessons,
            substitution_dates=substitution_days,
            absence_dates=absence_days,
            message_dates=message_days,
        ).to_json(),
        "master_data": {},
    }
    for kind in sorted(scope.master_data):
        model, key = MASTER_MODELS[kind]
        columns = [c.name for c in model.__table__.c if c.name not in ("id", "school_id")]
        plan["master_data"][kind] = [
            {name: _plain(getattr(row, name)) for name in columns}
            for row in session.scalars(select(model).where(model.school_id == school_id))
        ]
    if scope.time_grid:
        plan["time_grid"] = [
            [slot.weekday, slot.period, slot.starts.isoformat(), slot.ends.isoformat()]
            for slot in session.scalars(
                select(models.TimeSlot).where(models.TimeSlot.school_id == school_id)
            )
        ]
    if scope.holidays:
        plan["holidays"] = [
            [row.from_date.isoformat(), row.to_date.isoformat()]
            for row in session.scalars(
                select(models.Holiday).where(models.Holiday.school_id == school_id)
            )
        ]
    lessons: list[dict[str, Any]] = []
    if scope.weekly_lessons:
        lessons += _lesson_rows(session, school_id, _WEEKLY)
    if scope.dated_lessons and substitution_days:
        lessons += _lesson_rows(session, school_id, _dated_on(substitution_days))
    plan["lessons"] = [_jsonable(values) for values in lessons]
    plan["substitutions"] = [
        {name: _plain(getattr(row, name)) for name in SUBSTITUTION_COLUMNS}
        for row in session.scalars(
            select(models.Substitution).where(
                models.Substitution.school_id == school_id,
                models.Substitution.date.in_(substitution_days),
            )
        )
    ]
    plan["absences"] = [
        {name: _plain(getattr(row, name)) for name in ABSENCE_COLUMNS}
        for row in session.scalars(
            select(models.Absence).where(models.Absence.school_id == school_id)
        )
        if _touches(row, absence_days)
    ]
    plan["day_messages"] = [
        [row.date.isoformat(), row.text, row.audience]
        for row in session.scalars(
            select(models.DayMessage).where(
                models.DayMessage.school_id == school_id,
                models.DayMessage.date.in_(message_days),
            )
        )
    ]
    return plan


def _days(first: date, last: date, limit: int) -> list[date]:
    count = min((last - first).days + 1, limit)
    return [first + timedelta(days=n) for n in range(max(count, 0))]


def _plain(value: Any) -> Any:
    if isinstance(value, date | time):
        return value.isoformat()
    return value


def restore_batch(plan: dict[str, Any]) -> tuple[ImportBatch, Scope]:
    """The batch and scope that put a plan read by plan_before back."""
    scope = Scope.from_json(plan["scope"])
    batch = ImportBatch(source="restore")
    master = plan["master_data"]
    batch.classes = [
        SchoolClass(row["name"], row["long_name"], row["class_teacher"], row["room"])
        for row in master.get("classes", [])
    ]
    batch.teachers = [
        Teacher(
            row["abbreviation"], row["last_name"], row["first_name"], row["title"], row["email"]
        )
        for row in master.get("teachers", [])
    ]
    batch.rooms = [
        Room(row["name"], row["long_name"], row["capacity"]) for row in master.get("rooms", [])
    ]
    batch.subjects = [Subject(row["name"], row["long_name"]) for row in master.get("subjects", [])]
    batch.courses = [
        Course(0, row["subject"], teacher, tuple(row["classes"]), name=row["name"])
        for row in master.get("courses", [])
        for teacher in (row["teachers"] or [""])
    ]
    batch.periods = [
        Period(number, time.fromisoformat(starts), time.fromisoformat(ends), weekday)
        for weekday, number, starts, ends in plan.get("time_grid", [])
    ]
    batch.holidays = {
        day
        for first, last in plan.get("holidays", [])
        for day in _days(date.fromisoformat(first), date.fromisoformat(last), limit=400)
    }
    batch.lessons = [
        Lesson(
            lesson_number=row["lesson_number"],
            weekday=row["weekday"],
            period=row["period"],
            subject=row["subject"],
            classes=tuple(row["classes"]),
            teachers=tuple(row["teachers"]),
            rooms=tuple(row["rooms"]),
            valid_from=_optional_date(row["valid_from"]),
            valid_to=_optional_date(row["valid_to"]),
            course=row["course"],
            week_type=row["week_type"],
            text=row["text"],
        )
        for row in plan["lessons"]
    ]
    batch.substitutions = [
        Substitution(
            external_id=row["external_id"],
            date=date.fromisoformat(row["date"]),
            period=row["period"],
            period_to=row["period_to"],
            kind=row["kind"],
            lesson_number=row["lesson_number"],
            original_subject=row["original_subject"],
            original_teachers=tuple(row["original_teachers"]),
            original_rooms=tuple(row["original_rooms"]),
            original_classes=tuple(row["original_classes"]),
            new_subject=row["new_subject"],
            new_teachers=tuple(row["new_teachers"]),
            new_rooms=tuple(row["new_rooms"]),
            new_classes=tuple(row["new_classes"]),
            course=row["course"],
            text=row["text"],
            reason=row["reason"],
            flags=frozenset(row["flags"]),
        )
        for row in plan["substitutions"]
    ]
    batch.absences = [
        Absence(
            kind=row["kind"],
            name=row["name"],
            from_date=date.fromisoformat(row["from_date"]),
            to_date=date.fromisoformat(row["to_date"]),
            first_period=row["first_period"],
            last_period=row["last_period"],
            reason=row["reason"],
            text=row["text"],
        )
        for row in plan["absences"]
    ]
    batch.day_messages = [
        DayMessage(date.fromisoformat(day), text, audience)
        for day, text, audience in plan["day_messages"]
    ]
    return batch, scope


def _optional_date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)
