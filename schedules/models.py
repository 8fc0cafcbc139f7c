"""Timetable models: school years, time grid, master data, lessons, substitutions, imports.

Names of classes, teachers, rooms and subjects are stored as the timetable spells them (Untis
short names such as "7a", "MUE", "R101", "M"); lessons and substitutions refer to them by name
(JSON lists for coupled lessons with several classes, teachers or rooms), so an import can replace
master data and plan data independently and the panel filters without joins.
"""

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from mdm.extensions import db
from mdm.platform.types import UTCDateTime, utcnow


class SchoolYear(db.Model):
    """A school year (Schuljahr), e.g. 2026/27; imports outside it are refused."""

    __tablename__ = "school_years"
    __table_args__ = (UniqueConstraint("school_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)


class Term(db.Model):
    """A term (Halbjahr) within a school year."""

    __tablename__ = "terms"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    school_year_id: Mapped[int] = mapped_column(ForeignKey("school_years.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)


class TimeSlot(db.Model):
    """One period of the time grid; weekday NULL means every day without its own row."""

    __tablename__ = "time_slots"
    __table_args__ = (UniqueConstraint("school_id", "weekday", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    weekday: Mapped[int | None] = mapped_column()
    period: Mapped[int] = mapped_column()
    starts: Mapped[time] = mapped_column(Time)
    ends: Mapped[time] = mapped_column(Time)


class SchoolClass(db.Model):
    """A class (Klasse) such as 7a, or an upper-school year group such as Q1."""

    __tablename__ = "school_classes"
    __table_args__ = (UniqueConstraint("school_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))
    long_name: Mapped[str] = mapped_column(String(200), default="")
    class_teacher: Mapped[str] = mapped_column(String(40), default="")
    room: Mapped[str] = mapped_column(String(40), default="")


class Teacher(db.Model):
    """A teacher by timetable abbreviation (Kürzel), linked to a user account where one exists."""

    __tablename__ = "teachers"
    __table_args__ = (UniqueConstraint("school_id", "abbreviation"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    abbreviation: Mapped[str] = mapped_column(String(40))
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    title: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )


class Room(db.Model):
    """A room."""

    __tablename__ = "rooms"
    __table_args__ = (UniqueConstraint("school_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))
    long_name: Mapped[str] = mapped_column(String(200), default="")
    capacity: Mapped[int | None] = mapped_column()


class Subject(db.Model):
    """A subject (Fach)."""

    __tablename__ = "subjects"
    __table_args__ = (UniqueConstraint("school_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))
    long_name: Mapped[str] = mapped_column(String(200), default="")


class Course(db.Model):
    """A course: an upper-school course group (e.g. "M-LK1") or a parallel group (religion,
    languages) that students choose; lessons and substitutions carry its name."""

    __tablename__ = "courses"
    __table_args__ = (UniqueConstraint("school_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(40), default="")
    teachers: Mapped[list[str]] = mapped_column(JSON, default=list)
    classes: Mapped[list[str]] = mapped_column(JSON, default=list)


class Lesson(db.Model):
    """A weekly lesson (or one dated lesson when valid_from == valid_to)."""

    __tablename__ = "lessons"
    __table_args__ = (Index("ix_lessons_school_weekday", "school_id", "weekday"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    lesson_number: Mapped[int | None] = mapped_column()
    weekday: Mapped[int] = mapped_column()
    period: Mapped[int] = mapped_column()
    subject: Mapped[str] = mapped_column(String(40))
    classes: Mapped[list[str]] = mapped_column(JSON, default=list)
    teachers: Mapped[list[str]] = mapped_column(JSON, default=list)
    rooms: Mapped[list[str]] = mapped_column(JSON, default=list)
    course: Mapped[str] = mapped_column(String(60), default="")
    week_type: Mapped[str] = mapped_column(String(10), default="")
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    text: Mapped[str] = mapped_column(String(500), default="")


class Substitution(db.Model):
    """A dated change of the plan (Vertretung): its kind, what the plan said and what happens."""

    __tablename__ = "substitutions"
    __table_args__ = (
        Index("ix_substitutions_school_date", "school_id", "date"),
        UniqueConstraint("school_id", "key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    # Stable identity across imports (source id, or date/period/lesson/classes when none).
    key: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str] = mapped_column(String(60), default="")
    date: Mapped[date] = mapped_column(Date)
    period: Mapped[int] = mapped_column()
    period_to: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(String(30))
    lesson_number: Mapped[int | None] = mapped_column()
    original_subject: Mapped[str] = mapped_column(String(40), default="")
    original_teachers: Mapped[list[str]] = mapped_column(JSON, default=list)
    original_rooms: Mapped[list[str]] = mapped_column(JSON, default=list)
    original_classes: Mapped[list[str]] = mapped_column(JSON, default=list)
    new_subject: Mapped[str] = mapped_column(String(40), default="")
    new_teachers: Mapped[list[str]] = mapped_column(JSON, default=list)
    new_rooms: Mapped[list[str]] = mapped_column(JSON, default=list)
    new_classes: Mapped[list[str]] = mapped_column(JSON, default=list)
    course: Mapped[str] = mapped_column(String(60), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(String(200), default="")
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # sha256 of the content; an import compares it to tell "changed" from "unchanged".
    content_hash: Mapped[str] = mapped_column(String(64))
    # When this substitution last appeared or changed (for the panel's "changed since" marker).
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Absence(db.Model):
    """An absent teacher, class or room over a date range (periods NULL = whole days)."""

    __tablename__ = "absences"
    __table_args__ = (Index("ix_absences_school_dates", "school_id", "from_date", "to_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(60))
    from_date: Mapped[date] = mapped_column(Date)
    to_date: Mapped[date] = mapped_column(Date)
    first_period: Mapped[int | None] = mapped_column()
    last_period: Mapped[int | None] = mapped_column()
    reason: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(String(500), default="")


class DayMessage(db.Model):
    """A message for a day (Nachrichten zum Tag); audience empty = everybody."""

    __tablename__ = "day_messages"
    __table_args__ = (Index("ix_day_messages_school_date", "school_id", "date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    date: Mapped[date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(String(60), default="")


class Holiday(db.Model):
    """A day or range of days without school (holidays, bridge days)."""

    __tablename__ = "holidays"
    __table_args__ = (Index("ix_holidays_school_dates", "school_id", "from_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), default="")
    from_date: Mapped[date] = mapped_column(Date)
    to_date: Mapped[date] = mapped_column(Date)


class TimetableImport(db.Model):
    """One import, applied or refused: files, counts, warnings and the changes it made."""

    __tablename__ = "timetable_imports"
    __table_args__ = (Index("ix_timetable_imports_school_at", "school_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(160))
    # applied, or refused (nothing changed; reason says why).
    status: Mapped[str] = mapped_column(String(10), default="applied", server_default="applied")
    reason: Mapped[str | None] = mapped_column(Text)
    # {file name: sha256} of the files, so a folder job can skip what it imported already.
    files: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # One line per kind of warning: {"warning", "count", "examples"}.
    warning_summary: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # {"new": n, "changed": n, "removed": n} for substitutions.
    changes: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # The same for every kind the import replaced: {kind: {"new", "changed", "removed"}}.
    kinds: Mapped[dict[str, dict[str, int]]] = mapped_column(JSON, default=dict)
    covered_dates: Mapped[list[str]] = mapped_column(JSON, default=list)
    partial_dates: Mapped[list[str]] = mapped_column(JSON, default=list)
    missing_pages: Mapped[list[str]] = mapped_column(JSON, default=list)


class PlanBeforeImport(db.Model):
    """What the school's last applied import replaced, as it was before: restoring it undoes
    that import (one level)."""

    __tablename__ = "plans_before_import"

    school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True
    )
    import_id: Mapped[int] = mapped_column(ForeignKey("timetable_imports.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The replaced part of the plan and the scope it covers (schedules/plan_changes.py).
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)


class SubstitutionChange(db.Model):
    """What an import changed in the substitutions against the previous plan."""

    __tablename__ = "substitution_changes"
    __table_args__ = (Index("ix_substitution_changes_school_date", "school_id", "date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    import_id: Mapped[int] = mapped_column(
        ForeignKey("timetable_imports.id", ondelete="CASCADE"), index=True
    )
    change: Mapped[str] = mapped_column(String(10))  # new, changed, removed
    key: Mapped[str] = mapped_column(String(200))
    date: Mapped[date] = mapped_column(Date)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class PanelSettings(db.Model):
    """A school's panel settings and the version of its plan (bumped by every import)."""

    __tablename__ = "panel_settings"

    school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True
    )
    hide_teachers_from_students: Mapped[bool] = mapped_column(default=False)
    # The language of the entrance-hall screen (the read-only link's screen mode): the school's,
    # not the browser's. One of schedules.panel_texts.LANGUAGES.
    screen_language: Mapped[str] = mapped_column(String(2), default="de", server_default="de")
    # Read-only panel link for the entrance-hall screen: lookup key + sha256 of the secret.
    public_link_lookup: Mapped[str | None] = mapped_column(String(20), unique=True)
    public_link_hash: Mapped[str | None] = mapped_column(String(64))
    plan_version: Mapped[int] = mapped_column(default=0)
    plan_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TimetableUpload(db.Model):
    """An export an admin uploaded and previewed on the admin pages, kept (as a zip) until it is
    applied, or for a day at most, so that applying it needs no second upload."""

    __tablename__ = "timetable_uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    file_format: Mapped[str] = mapped_column(String(20), default="")
    archive: Mapped[bytes] = mapped_column(LargeBinary)
