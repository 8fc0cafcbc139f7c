"""Applying an export (an ImportBatch) to a school: one transaction, idempotent, with its changes.

The rules are in docs/timetable-import.md. In short: an import replaces exactly what the export
covers (master data and the time grid when it has them, the weekly lessons when it has a weekly
plan, substitutions, absences, day messages and dated lessons on its dates, the holidays when it
names some) and leaves everything else alone. It flushes and never commits; when it raises
(unreadable files, dates outside the school year) the caller rolls back and nothing changed.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from mdm.accounts.models import User
from mdm.accounts.service import get_school
from mdm.platform import audit
from mdm.platform.actors import Actor
from mdm.platform.errors import NotFound, ValidationFailed
from mdm.platform.scoping import require_school
from mdm.platform.types import utcnow
from schedules import models, untis_gpu
from schedules.import_data import (
    Absence,
    DayMessage,
    ImportBatch,
    ImportFormatError,
    Lesson,
    ParseWarning,
    Substitution,
)
from schedules.import_files import (
    FORMATS,
    ImportFilesError,
    expand_uploads,
    file_hashes,
    parse_files,
)

# An import keeps at most this many warnings; a broken file could otherwise produce millions.
MAX_WARNINGS = 1000
# Users of these roles can be the person behind a timetable teacher.
TEACHING_ROLES = ("teacher", "school_admin")


@dataclass
class ImportResult:
    """An applied import: its history row, whether the plan changed, and the plan's version."""

    record: models.TimetableImport
    plan_changed: bool
    plan_version: int


def import_uploads(
    session: Session,
    actor: Actor,
    school_id: int,
    uploads: list[tuple[str, bytes]],
    file_format: str | None = None,
) -> ImportResult:
    """Import uploaded files (a .zip among them is unpacked) as one export."""
    require_school(actor, school_id)
    if not uploads:
        raise ValidationFailed(errors={"files": ["attach the export's files (or one zip)"]})
    try:
        files = expand_uploads(uploads)
    except ImportFilesError as exc:
        raise ValidationFailed(
            f"The import was refused, nothing changed: {exc}", errors={"files": [str(exc)]}
        ) from exc
    return import_files(session, actor, school_id, files, file_format)


def import_files(
    session: Session,
    actor: Actor,
    school_id: int,
    files: dict[str, bytes],
    file_format: str | None = None,
) -> ImportResult:
    """Parse an export's files (format detected from the names when None) and apply them."""
    require_school(actor, school_id)
    if file_format is not None and file_format not in FORMATS:
        raise ValidationFailed(errors={"format": [f"one of {', '.join(FORMATS)}"]})
    try:
        batch = parse_files(files, file_format)
    except (ImportFormatError, ImportFilesError) as exc:
        raise ValidationFailed(
            f"The import was refused, nothing changed: {exc}", errors={"files": [str(exc)]}
        ) from exc
    return apply_batch(session, actor, school_id, batch, file_hashes(files))


def apply_batch(
    session: Session,
    actor: Actor,
    school_id: int,
    batch: ImportBatch,
    files: dict[str, str],
) -> ImportResult:
    """Apply a parsed export to the school; files maps file names to their sha256."""
    get_school(session, actor, school_id)
    settings = session.get(models.PanelSettings, school_id, with_for_update=True)
    dates = replaced_dates(batch)
    _check_school_year(session, school_id, batch, dates)
    now = utcnow()

    changed = _apply_master_data(session, school_id, batch)
    changed |= _link_teachers(session, school_id)
    changed |= _replace_weekly_lessons(session, school_id, batch.lessons)
    changed |= _replace_dated_lessons(session, school_id, batch.lessons, dates)
    changes = _replace_substitutions(session, school_id, batch.substitutions, dates, now)
    changed |= bool(changes)
    changed |= _replace_absences(session, school_id, batch.absences, dates)
    changed |= _replace_day_messages(session, school_id, batch.day_messages, dates)
    changed |= _replace_holidays(session, school_id, batch.holidays)

    warnings = batch.warnings + _unknown_names(session, school_id, batch, files)
    tally = Counter(change["change"] for change in changes)
    record = models.TimetableImport(
        school_id=school_id,
        source=batch.source,
        created_at=now,
        actor=actor.name,
        files=files,
        counts=batch_counts(batch),
        warnings=_warning_dicts(warnings),
        changes={kind: tally[kind] for kind in ("new", "changed", "removed")},
        covered_dates=[day.isoformat() for day in sorted(dates)],
    )
    session.add(record)
    session.flush()
    if changes:
        session.execute(
            insert(models.SubstitutionChange),
            [change | {"school_id": school_id, "import_id": record.id} for change in changes],
        )
    if settings is None:
        settings = models.PanelSettings(school_id=school_id, plan_version=0)
        session.add(settings)
    if changed:
        settings.plan_version = (settings.plan_version or 0) + 1
        settings.plan_updated_at = now
    session.flush()
    audit.record(
        session,
        actor,
        "timetable.import",
        "timetable_import",
        record.id,
        school_id=school_id,
        details={
            "source": batch.source,
            "files": sorted(files),
            "changes": record.changes,
            "plan_changed": changed,
        },
    )
    return ImportResult(record, changed, settings.plan_version)


def replaced_dates(batch: ImportBatch) -> set[date]:
    """The dates an import is authoritative for: covered dates and any date it has entries on."""
    return (
        set(batch.covered_dates)
        | {substitution.date for substitution in batch.substitutions}
        | {message.date for message in batch.day_messages}
    )


def batch_counts(batch: ImportBatch) -> dict[str, int]:
    """How many of each thing the export holds."""
    return {
        "classes": len(batch.classes),
        "teachers": len(batch.teachers),
        "rooms": len(batch.rooms),
        "subjects": len(batch.subjects),
        "periods": len(batch.periods),
        "courses": len(batch.courses),
        "lessons": len(batch.lessons),
        "substitutions": len(batch.substitutions),
        "absences": len(batch.absences),
        "day_messages": len(batch.day_messages),
        "holidays": len(batch.holidays),
    }


def _check_school_year(
    session: Session, school_id: int, batch: ImportBatch, dates: set[date]
) -> None:
    """Refuse dates outside every school year of the school (when it has any)."""
    years = session.execute(
        select(models.SchoolYear.name, models.SchoolYear.starts_on, models.SchoolYear.ends_on)
        .where(models.SchoolYear.school_id == school_id)
        .order_by(models.SchoolYear.starts_on)
    ).all()
    if not years:
        return
    checked = dates | {a.from_date for a in batch.absences} | {a.to_date for a in batch.absences}
    outside = sorted(
        day for day in checked if not any(y.starts_on <= day <= y.ends_on for y in years)
    )
    if outside:
        spans = ", ".join(f"{y.name} ({y.starts_on} to {y.ends_on})" for y in years)
        shown = ", ".join(day.isoformat() for day in outside[:5])
        more = f" and {len(outside) - 5} more" if len(outside) > 5 else ""
        raise ValidationFailed(
            f"The export has dates outside the school year; nothing changed: {shown}{more}.",
            errors={"dates": [f"{shown}{more} outside the school years {spans}"]},
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


def _sync(
    session: Session, model: type[Any], school_id: int, key: str, rows: dict[Any, dict[str, Any]]
) -> bool:
    """Make the school's rows of model exactly `rows` (by key column); True when any changed."""
    existing = {
        getattr(row, key): row
        for row in session.scalars(select(model).where(model.school_id == school_id))
    }
    changed = False
    for name, row in existing.items():
        if name not in rows:
            session.delete(row)
            changed = True
    for name, values in rows.items():
        values = _clip(model, values)
        row = existing.get(name)
        if row is None:
            session.add(model(school_id=school_id, **{key: name}, **values))
            changed = True
            continue
        for attribute, value in values.items():
            if getattr(row, attribute) != value:
                setattr(row, attribute, value)
                changed = True
    return changed


def _apply_master_data(session: Session, school_id: int, batch: ImportBatch) -> bool:
    """Replace each kind of master data the export has; kinds it lacks stay as they are."""
    changed = False
    if batch.classes:
        changed |= _sync(
            session,
            models.SchoolClass,
            school_id,
            "name",
            {
                c.name: {"long_name": c.long_name, "class_teacher": c.teacher, "room": c.room}
                for c in batch.classes
            },
        )
    if batch.teachers:
        changed |= _sync(
            session,
            models.Teacher,
            school_id,
            "abbreviation",
            {
                t.abbreviation: {
                    "first_name": t.first_name,
                    "last_name": t.last_name,
                    "title": t.title,
                    "email": t.email,
                }
                for t in batch.teachers
            },
        )
    if batch.rooms:
        changed |= _sync(
            session,
            models.Room,
            school_id,
            "name",
            {r.name: {"long_name": r.long_name, "capacity": r.capacity} for r in batch.rooms},
        )
    if batch.subjects:
        changed |= _sync(
            session,
            models.Subject,
            school_id,
            "name",
            {s.name: {"long_name": s.long_name} for s in batch.subjects},
        )
    if batch.courses:
        changed |= _sync(session, models.Course, school_id, "name", _course_rows(batch))
    if batch.periods:
        changed |= _replace_time_grid(session, school_id, batch)
    return changed


def _course_rows(batch: ImportBatch) -> dict[str, dict[str, Any]]:
    """Named course groups (GPU002 field 42): subject, and every teacher and class of the group."""
    rows: dict[str, dict[str, Any]] = {}
    for course in batch.courses:
        if not course.name:
            continue
        row = rows.setdefault(
            course.name, {"subject": course.subject, "teachers": [], "classes": []}
        )
        if course.teacher and course.teacher not in row["teachers"]:
            row["teachers"].append(course.teacher)
        row["classes"].extend(name for name in course.classes if name not in row["classes"])
    return rows


def _replace_time_grid(session: Session, school_id: int, batch: ImportBatch) -> bool:
    """Replace the time grid; the first period of a (weekday, number) wins."""
    wanted: dict[tuple[int | None, int], tuple[Any, Any]] = {}
    for period in batch.periods:
        wanted.setdefault((period.weekday, period.number), (period.starts, period.ends))
    existing = {
        (slot.weekday, slot.period): slot
        for slot in session.scalars(
            select(models.TimeSlot).where(models.TimeSlot.school_id == school_id)
        )
    }
    if {key: (slot.starts, slot.ends) for key, slot in existing.items()} == wanted:
        return False
    for key, slot in existing.items():
        if key not in wanted:
            session.delete(slot)
    for (weekday, number), (starts, ends) in wanted.items():
        slot = existing.get((weekday, number))
        if slot is None:
            session.add(
                models.TimeSlot(
                    school_id=school_id, weekday=weekday, period=number, starts=starts, ends=ends
                )
            )
        else:
            slot.starts, slot.ends = starts, ends
    return True


def _link_teachers(session: Session, school_id: int) -> bool:
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


def _is_dated(lesson: Lesson) -> bool:
    """A lesson on one date only (Indiware's day plans), as opposed to a weekly lesson."""
    return lesson.valid_from is not None and lesson.valid_from == lesson.valid_to


def _replace_lessons(session: Session, school_id: int, where: Any, lessons: list[Lesson]) -> bool:
    """Replace the lessons matching `where` with `lessons` unless they are the same already."""
    wanted = [_clip(models.Lesson, _lesson_values(lesson)) for lesson in lessons]
    columns = [getattr(models.Lesson, name) for name in LESSON_COLUMNS]
    rows = session.execute(
        select(*columns).where(models.Lesson.school_id == school_id, where)
    ).all()
    have = [dict(zip(LESSON_COLUMNS, row, strict=True)) for row in rows]
    if sorted(map(_canonical, have)) == sorted(map(_canonical, wanted)):
        return False
    session.execute(delete(models.Lesson).where(models.Lesson.school_id == school_id, where))
    if wanted:
        session.execute(insert(models.Lesson), [row | {"school_id": school_id} for row in wanted])
    return True


def _replace_weekly_lessons(session: Session, school_id: int, lessons: list[Lesson]) -> bool:
    """A weekly plan (Untis GPU001) replaces every weekly lesson of the school."""
    weekly = [lesson for lesson in lessons if not _is_dated(lesson)]
    if not weekly:
        return False
    where = or_(
        models.Lesson.valid_from.is_(None),
        models.Lesson.valid_to.is_(None),
        models.Lesson.valid_from != models.Lesson.valid_to,
    )
    return _replace_lessons(session, school_id, where, weekly)


def _replace_dated_lessons(
    session: Session, school_id: int, lessons: list[Lesson], dates: set[date]
) -> bool:
    """Lessons of one date (Indiware) are replaced on the dates the export covers."""
    if not dates:
        return False
    dated = [lesson for lesson in lessons if _is_dated(lesson) and lesson.valid_from in dates]
    where = and_(
        models.Lesson.valid_from == models.Lesson.valid_to, models.Lesson.valid_from.in_(dates)
    )
    return _replace_lessons(session, school_id, where, dated)


def _canonical(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, default=str, ensure_ascii=False)


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


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()}


def _replace_substitutions(
    session: Session,
    school_id: int,
    substitutions: list[Substitution],
    dates: set[date],
    now: datetime,
) -> list[dict[str, Any]]:
    """Replace the substitutions on the dates; return the changes (new, changed, removed)."""
    if not dates:
        return []
    wanted: dict[str, dict[str, Any]] = {}
    for substitution in substitutions:
        key = base = substitution_key(substitution)
        number = 2
        while key in wanted:
            key, number = f"{base}#{number}", number + 1
        wanted[key] = substitution_values(substitution)
    existing = {
        row.key: row
        for row in session.scalars(
            select(models.Substitution).where(
                models.Substitution.school_id == school_id, models.Substitution.date.in_(dates)
            )
        )
    }
    changes: list[dict[str, Any]] = []
    for key, row in existing.items():
        if key not in wanted:
            before = _jsonable({name: getattr(row, name) for name in SUBSTITUTION_COLUMNS})
            changes.append(_change("removed", key, row.date, before, None))
            session.delete(row)
    new_rows = []
    for key, values in wanted.items():
        content_hash = _sha256(_canonical(values))
        row = existing.get(key)
        if row is None:
            new_rows.append(values | {"key": key, "content_hash": content_hash, "changed_at": now})
            changes.append(_change("new", key, values["date"], None, _jsonable(values)))
        elif row.content_hash != content_hash:
            before = _jsonable({name: getattr(row, name) for name in SUBSTITUTION_COLUMNS})
            for name, value in values.items():
                setattr(row, name, value)
            row.content_hash, row.changed_at = content_hash, now
            changes.append(_change("changed", key, values["date"], before, _jsonable(values)))
    session.flush()
    if new_rows:
        session.execute(
            insert(models.Substitution), [row | {"school_id": school_id} for row in new_rows]
        )
    return changes


def _change(
    change: str, key: str, day: date, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> dict[str, Any]:
    return {"change": change, "key": key, "date": day, "before": before, "after": after}


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


def _replace_absences(
    session: Session, school_id: int, absences: list[Absence], dates: set[date]
) -> bool:
    """Absences touching the export's dates are replaced by the export's absences."""
    wanted = {_canonical(values): values for values in map(_absence_values, absences)}
    rows = session.scalars(select(models.Absence).where(models.Absence.school_id == school_id))
    have: dict[str, models.Absence] = {}
    changed = False
    for row in rows:
        canonical = _canonical({name: getattr(row, name) for name in ABSENCE_COLUMNS})
        touches = any(row.from_date <= day <= row.to_date for day in dates)
        if canonical in wanted and canonical not in have:
            have[canonical] = row
        elif touches or canonical in have:
            session.delete(row)
            changed = True
    for canonical, values in wanted.items():
        if canonical not in have:
            session.add(models.Absence(school_id=school_id, **values))
            changed = True
    return changed


def _replace_day_messages(
    session: Session, school_id: int, messages: list[DayMessage], dates: set[date]
) -> bool:
    """Day messages on the export's dates are replaced by the export's messages."""
    if not dates:
        return False
    wanted = list(dict.fromkeys((m.date, m.text, m.audience) for m in messages if m.text.strip()))
    rows = list(
        session.scalars(
            select(models.DayMessage)
            .where(models.DayMessage.school_id == school_id, models.DayMessage.date.in_(dates))
            .order_by(models.DayMessage.id)
        )
    )
    if [(row.date, row.text, row.audience) for row in rows] == wanted:
        return False
    for row in rows:
        session.delete(row)
    for day, text, audience in wanted:
        session.add(
            models.DayMessage(
                school_id=school_id,
                **_clip(models.DayMessage, {"date": day, "text": text, "audience": audience}),
            )
        )
    return True


def _date_ranges(days: set[date]) -> list[tuple[date, date]]:
    """Consecutive days joined into (first, last) ranges."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(days):
        if ranges and ranges[-1][1] + timedelta(days=1) == day:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def _replace_holidays(session: Session, school_id: int, holidays: set[date]) -> bool:
    """An export that names free days (Indiware) replaces the school's holidays."""
    if not holidays:
        return False
    wanted = _date_ranges(holidays)
    rows = list(
        session.scalars(
            select(models.Holiday)
            .where(models.Holiday.school_id == school_id)
            .order_by(models.Holiday.from_date)
        )
    )
    if [(row.from_date, row.to_date) for row in rows] == wanted:
        return False
    for row in rows:
        session.delete(row)
    for first, last in wanted:
        session.add(models.Holiday(school_id=school_id, from_date=first, to_date=last))
    return True


def _unknown_names(
    session: Session, school_id: int, batch: ImportBatch, files: dict[str, str]
) -> list[ParseWarning]:
    """Warnings for classes and teachers in substitutions that the school's master data lacks.

    Only checked when the school has master data of that kind (an Indiware-only school has none).
    """
    file = next(
        (name for name in sorted(files) if untis_gpu.gpu_file_type(name) == "GPU014"),
        next(iter(files)) if len(files) == 1 else batch.source,
    )
    warnings = []
    for what, model, column, attributes in (
        ("class", models.SchoolClass, models.SchoolClass.name, ("original_classes", "new_classes")),
        (
            "teacher",
            models.Teacher,
            models.Teacher.abbreviation,
            ("original_teachers", "new_teachers"),
        ),
    ):
        known = set(session.scalars(select(column).where(model.school_id == school_id)))
        if not known:
            continue
        unknown = Counter(
            name
            for substitution in batch.substitutions
            for name in set().union(*(getattr(substitution, a) for a in attributes))
            if name not in known
        )
        warnings += [
            ParseWarning(
                file, None, f"unknown {what} {name!r} in {count} substitution(s); imported"
            )
            for name, count in sorted(unknown.items())
        ]
    return warnings


def _warning_dicts(warnings: list[ParseWarning]) -> list[dict[str, Any]]:
    kept = [{"file": w.file, "line": w.line, "message": w.message} for w in warnings[:MAX_WARNINGS]]
    if len(warnings) > MAX_WARNINGS:
        kept.append(
            {"file": "", "line": None, "message": f"{len(warnings) - MAX_WARNINGS} more warnings"}
        )
    return kept


def list_imports(
    session: Session, actor: Actor, school_id: int, *, limit: int = 50, offset: int = 0
) -> tuple[list[models.TimetableImport], int]:
    """The school's imports, newest first, with the total for paging."""
    require_school(actor, school_id)
    where = models.TimetableImport.school_id == school_id
    total = session.scalar(select(func.count()).select_from(models.TimetableImport).where(where))
    rows = session.scalars(
        select(models.TimetableImport)
        .where(where)
        .order_by(models.TimetableImport.created_at.desc(), models.TimetableImport.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), total or 0


def get_import(
    session: Session, actor: Actor, school_id: int, import_id: int
) -> tuple[models.TimetableImport, list[models.SubstitutionChange]]:
    """One import of the school with the substitution changes it made."""
    require_school(actor, school_id)
    record = session.get(models.TimetableImport, import_id)
    if record is None or record.school_id != school_id:
        raise NotFound(f"import {import_id} not found")
    changes = session.scalars(
        select(models.SubstitutionChange)
        .where(models.SubstitutionChange.import_id == import_id)
        .order_by(models.SubstitutionChange.date, models.SubstitutionChange.key)
    ).all()
    return record, list(changes)


def last_import(session: Session, school_id: int) -> models.TimetableImport | None:
    """The school's most recent import."""
    return session.scalar(
        select(models.TimetableImport)
        .where(models.TimetableImport.school_id == school_id)
        .order_by(models.TimetableImport.created_at.desc(), models.TimetableImport.id.desc())
        .limit(1)
    )
