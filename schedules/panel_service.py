"""The panel's data and settings: plan rows loaded once per plan version, the read-only link.

A request needs the school's panel state (plan version, settings, time zone): one small query,
which the worker remembers for CACHE_CHECK_SECONDS (and forgets at once after it committed a
change of it itself; see mdm.freshness). The plan rows of the requested school days are loaded in
a few queries only when this process has not loaded them for that plan version yet. An import
raises the plan version, so no worker serves an older plan longer than CACHE_CHECK_SECONDS after
a newer one was committed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, has_app_context
from sqlalchemy import Row, Select, bindparam, event, or_, select
from sqlalchemy.orm import Session

from mdm import audit, freshness, users
from mdm.actors import Actor
from mdm.errors import NotFound
from mdm.freshness import LRUCache
from mdm.models import School
from mdm.scoping import require_school
from mdm.types import utcnow
from schedules import panel
from schedules.models import (
    Absence,
    Course,
    DayMessage,
    Holiday,
    Lesson,
    PanelSettings,
    Room,
    SchoolClass,
    Subject,
    Substitution,
    Teacher,
    TimeSlot,
)

LINK_PREFIX = "pl_"
LINK_LOOKUP_CHARS = 8
_LINK_RE = re.compile(rf"^{LINK_PREFIX}[A-Za-z0-9_-]{{43}}$")
PLAN_CACHE_ENTRIES = 256
FEED_CACHE_ENTRIES = 2048
PlanKey = tuple[int, int, datetime | None, date, int]


@dataclass(frozen=True)
class PanelState:
    """What every panel request needs first: the plan version and the school's settings."""

    school_id: int
    timezone: str
    plan_version: int
    plan_updated_at: datetime | None
    hide_teachers: bool


@dataclass(frozen=True)
class LoadedPlan:
    """The indexed school days of one plan version, and which user is which teacher."""

    days: list[panel.SchoolDay]
    teacher_of_user: dict[int, str]
    subject_names: dict[str, str]
    change_times: list[datetime]


# Loaded plans by (school, plan version, plan update time, today, days).
plan_cache: LRUCache[PlanKey, LoadedPlan] = LRUCache(PLAN_CACHE_ENTRIES)
# Serialized feeds by the fingerprint of everything a feed depends on (see panel_views).
feed_cache: LRUCache[str, bytes] = LRUCache(FEED_CACHE_ENTRIES)


def _state_query() -> Select[Any]:
    """Built once: building a statement costs more than running this one."""
    return select(
        School.id,
        School.timezone,
        PanelSettings.plan_version,
        PanelSettings.plan_updated_at,
        PanelSettings.hide_teachers_from_students,
        PanelSettings.public_link_hash,
    ).outerjoin(PanelSettings, PanelSettings.school_id == School.id)


_STATE_BY_SCHOOL = _state_query().where(School.id == bindparam("school_id"))
_STATE_BY_LINK = _state_query().where(PanelSettings.public_link_lookup == bindparam("lookup"))


def _state(row: Row[Any]) -> PanelState:
    return PanelState(
        school_id=row[0],
        timezone=row[1],
        plan_version=row[2] or 0,
        plan_updated_at=row[3],
        hide_teachers=bool(row[4]),
    )


class RememberedStates:
    """The panel state of each school as this worker last read it (see mdm.freshness)."""

    def __init__(self) -> None:
        self._states: dict[int, tuple[float, PanelState]] = {}
        self._forgotten: dict[int, int] = {}  # how often each school's state was forgotten
        self._lock = threading.Lock()

    def get(self, school_id: int) -> PanelState | None:
        """The school's state, unless it is older than CACHE_CHECK_SECONDS."""
        remembered = self._states.get(school_id)
        if remembered is None or freshness.now() - remembered[0] > freshness.check_seconds():
            return None
        return remembered[1]

    def generation(self, school_id: int) -> int:
        """Taken before reading a state, so that `remember` can tell it was forgotten since."""
        return self._forgotten.get(school_id, 0)

    def remember(self, looked_at: float, state: PanelState, generation: int) -> None:
        """Keep a state read at `looked_at`, unless it was forgotten while it was read."""
        with self._lock:
            if self._forgotten.get(state.school_id, 0) == generation:
                self._states[state.school_id] = (looked_at, state)

    def forget(self, school_id: int) -> None:
        """Read the school's state again at its next request."""
        with self._lock:
            self._forgotten[school_id] = self._forgotten.get(school_id, 0) + 1
            self._states.pop(school_id, None)


def init_app(app: Flask) -> None:
    """Give the app its remembered panel states."""
    app.extensions["panel_states"] = RememberedStates()


def panel_state(session: Session, school_id: int) -> PanelState:
    """The school's panel state (remembered for a moment, else one query); NotFound for an
    unknown school."""
    states: RememberedStates = current_app.extensions["panel_states"]
    state = states.get(school_id)
    if state is None:
        looked_at, generation = freshness.now(), states.generation(school_id)
        state = _read_state(session, school_id)
        states.remember(looked_at, state, generation)
    return state


def _read_state(session: Session, school_id: int) -> PanelState:
    row = session.connection().execute(_STATE_BY_SCHOOL, {"school_id": school_id}).one_or_none()
    if row is None:
        raise NotFound(f"school {school_id} not found")
    return _state(row)


@event.listens_for(Session, "before_flush")
def _forget_changed_states(session: Session, _context: Any, _instances: Any) -> None:
    """After a commit that changes a school's panel settings (an import raises the plan version)
    or the school itself, this worker reads its panel state again."""
    schools = {
        obj.school_id if isinstance(obj, PanelSettings) else obj.id
        for obj in (*session.new, *session.dirty, *session.deleted)
        if isinstance(obj, PanelSettings | School)
    }
    if not schools or not has_app_context():
        return
    states: RememberedStates | None = current_app.extensions.get("panel_states")
    if states is None:
        return
    for school_id in schools:
        freshness.after_commit(session, lambda school_id=school_id: states.forget(school_id))


def school_today(timezone: str, now: datetime | None = None) -> date:
    """Today's date in the school's time zone."""
    return (now or utcnow()).astimezone(ZoneInfo(timezone)).date()


def load_plan(session: Session, state: PanelState, today: date, count: int) -> LoadedPlan:
    """The school days from today on, from this process's cache or the database."""
    key = (state.school_id, state.plan_version, state.plan_updated_at, today, count)
    cached = plan_cache.get(key)
    if cached is not None:
        return cached
    plan = _load(session, state.school_id, today, count)
    # An import committed while loading may have mixed versions into the rows: keep them only
    # when the version is still the one the key names.
    latest = _read_state(session, state.school_id)
    if (latest.plan_version, latest.plan_updated_at) == (state.plan_version, state.plan_updated_at):
        plan_cache.put(key, plan)
    return plan


def _load(session: Session, school_id: int, today: date, count: int) -> LoadedPlan:
    horizon = today + timedelta(days=panel.LOOKAHEAD_DAYS)
    holidays = [
        panel.PlanHoliday(from_date=r.from_date, to_date=r.to_date, name=r.name)
        for r in session.execute(
            select(Holiday.from_date, Holiday.to_date, Holiday.name).where(
                Holiday.school_id == school_id,
                Holiday.to_date >= today,
                Holiday.from_date <= horizon,
            )
        )
    ]
    dates = panel.school_days(today, count, holidays)
    if not dates:
        return LoadedPlan(days=[], teacher_of_user={}, subject_names={}, change_times=[])
    first, last = dates[0], dates[-1]
    grid = [
        panel.GridSlot(weekday=r.weekday, period=r.period, starts=r.starts, ends=r.ends)
        for r in session.execute(
            select(TimeSlot.weekday, TimeSlot.period, TimeSlot.starts, TimeSlot.ends).where(
                TimeSlot.school_id == school_id
            )
        )
    ]
    lessons = [
        panel.PlanLesson(
            weekday=r.weekday,
            period=r.period,
            subject=r.subject,
            classes=tuple(r.classes or ()),
            teachers=tuple(r.teachers or ()),
            rooms=tuple(r.rooms or ()),
            course=r.course,
            lesson_number=r.lesson_number,
            valid_from=r.valid_from,
            valid_to=r.valid_to,
        )
        for r in session.execute(
            select(
                Lesson.weekday,
                Lesson.period,
                Lesson.subject,
                Lesson.classes,
                Lesson.teachers,
                Lesson.rooms,
                Lesson.course,
                Lesson.lesson_number,
                Lesson.valid_from,
                Lesson.valid_to,
            ).where(
                Lesson.school_id == school_id,
                Lesson.weekday.in_({d.isoweekday() for d in dates}),
                or_(Lesson.valid_from.is_(None), Lesson.valid_from <= last),
                or_(Lesson.valid_to.is_(None), Lesson.valid_to >= first),
            )
        )
    ]
    substitutions = [
        panel.PlanSubstitution(
            date=s.date,
            period=s.period,
            period_to=s.period_to,
            kind=s.kind,
            changed_at=s.changed_at,
            original_subject=s.original_subject,
            original_teachers=tuple(s.original_teachers or ()),
            original_rooms=tuple(s.original_rooms or ()),
            original_classes=tuple(s.original_classes or ()),
            new_subject=s.new_subject,
            new_teachers=tuple(s.new_teachers or ()),
            new_rooms=tuple(s.new_rooms or ()),
            new_classes=tuple(s.new_classes or ()),
            course=s.course,
            text=s.text,
            lesson_number=s.lesson_number,
        )
        for s in session.scalars(
            select(Substitution).where(
                Substitution.school_id == school_id, Substitution.date.in_(dates)
            )
        )
    ]
    absences = [
        panel.PlanAbsence(
            kind=r.kind,
            name=r.name,
            from_date=r.from_date,
            to_date=r.to_date,
            first_period=r.first_period,
            last_period=r.last_period,
            text=r.text or r.reason,
        )
        for r in session.execute(
            select(
                Absence.kind,
                Absence.name,
                Absence.from_date,
                Absence.to_date,
                Absence.first_period,
                Absence.last_period,
                Absence.text,
                Absence.reason,
            ).where(
                Absence.school_id == school_id,
                Absence.from_date <= last,
                Absence.to_date >= first,
            )
        )
    ]
    messages = [
        panel.PlanMessage(date=r.date, text=r.text, audience=r.audience)
        for r in session.execute(
            select(DayMessage.date, DayMessage.text, DayMessage.audience)
            .where(DayMessage.school_id == school_id, DayMessage.date.in_(dates))
            .order_by(DayMessage.id)
        )
    ]
    days = [panel.school_day(d, grid, lessons, substitutions, absences, messages) for d in dates]
    teachers = session.execute(
        select(Teacher.user_id, Teacher.abbreviation).where(
            Teacher.school_id == school_id, Teacher.user_id.is_not(None)
        )
    )
    subjects = session.execute(
        select(Subject.name, Subject.long_name).where(
            Subject.school_id == school_id, Subject.long_name != ""
        )
    )
    return LoadedPlan(
        days=days,
        teacher_of_user={row[0]: row[1] for row in teachers},
        subject_names={row[0]: row[1] for row in subjects},
        change_times=sorted({s.changed_at for s in substitutions}),
    )


def selection_options(session: Session, actor: Actor, school_id: int) -> dict[str, list[Any]]:
    """The classes, courses, teachers and rooms of a school, for the panel's picker."""
    require_school(actor, school_id)
    state = panel_state(session, school_id)
    hide = state.hide_teachers and actor.role == "student"
    classes = session.scalars(
        select(SchoolClass.name)
        .where(SchoolClass.school_id == school_id)
        .order_by(SchoolClass.name)
    )
    courses = session.execute(
        select(Course.name, Course.subject, Course.classes)
        .where(Course.school_id == school_id)
        .order_by(Course.name)
    )
    rooms = session.scalars(
        select(Room.name).where(Room.school_id == school_id).order_by(Room.name)
    )
    teachers = (
        []
        if hide
        else session.execute(
            select(Teacher.abbreviation, Teacher.title, Teacher.first_name, Teacher.last_name)
            .where(Teacher.school_id == school_id)
            .order_by(Teacher.abbreviation)
        )
    )
    return {
        "classes": list(classes),
        "courses": [
            {"name": name, "subject": subject, "classes": list(classes or [])}
            for name, subject, classes in courses
        ],
        "teachers": [
            {"abbreviation": abbreviation, "name": " ".join(p for p in (title, first, last) if p)}
            for abbreviation, title, first, last in teachers
        ],
        "rooms": list(rooms),
    }


def _settings_row(session: Session, school_id: int) -> PanelSettings:
    """The school's settings row, added when the school has none yet."""
    settings = session.get(PanelSettings, school_id)
    if settings is None:
        settings = PanelSettings(
            school_id=school_id, hide_teachers_from_students=False, plan_version=0
        )
        session.add(settings)
    return settings


def get_settings(session: Session, actor: Actor, school_id: int) -> PanelSettings:
    """A school's panel settings (defaults when none were saved)."""
    users.get_school(session, actor, school_id)
    settings = session.get(PanelSettings, school_id)
    return settings or PanelSettings(
        school_id=school_id, hide_teachers_from_students=False, plan_version=0
    )


def set_hide_teachers(session: Session, actor: Actor, school_id: int, hide: bool) -> PanelSettings:
    """Hide (or show again) teacher names from students on the panel."""
    users.get_school(session, actor, school_id)
    settings = _settings_row(session, school_id)
    settings.hide_teachers_from_students = hide
    session.flush()
    audit.record(
        session,
        actor,
        "panel.settings.update",
        "school",
        school_id,
        school_id=school_id,
        details={"hide_teachers_from_students": hide},
    )
    return settings


def link_lookup_key(secret: str) -> str | None:
    """The indexed, non-secret beginning of a panel link secret, or None if it has not its shape."""
    if _LINK_RE.fullmatch(secret) is None:
        return None
    return secret[: len(LINK_PREFIX) + LINK_LOOKUP_CHARS]


def _hash(secret: str) -> str:
    # 256 random bits: a fast hash is enough.
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_panel_link(session: Session, actor: Actor, school_id: int) -> str:
    """Create the read-only panel link, or replace it (the old one stops working); the secret is
    returned once and only its hash is kept."""
    users.get_school(session, actor, school_id)
    settings = _settings_row(session, school_id)
    action = "panel.link.rotate" if settings.public_link_hash else "panel.link.create"
    secret = LINK_PREFIX + secrets.token_urlsafe(32)
    settings.public_link_lookup = link_lookup_key(secret)
    settings.public_link_hash = _hash(secret)
    session.flush()
    audit.record(
        session,
        actor,
        action,
        "school",
        school_id,
        school_id=school_id,
        details={"lookup": settings.public_link_lookup},
    )
    return secret


def revoke_panel_link(session: Session, actor: Actor, school_id: int) -> None:
    """Switch the read-only panel link off."""
    users.get_school(session, actor, school_id)
    settings = session.get(PanelSettings, school_id)
    if settings is None or settings.public_link_hash is None:
        raise NotFound("the school has no panel link")
    lookup = settings.public_link_lookup
    settings.public_link_lookup = None
    settings.public_link_hash = None
    session.flush()
    audit.record(
        session,
        actor,
        "panel.link.revoke",
        "school",
        school_id,
        school_id=school_id,
        details={"lookup": lookup},
    )


def state_for_link(session: Session, secret: str) -> PanelState:
    """The panel state of the school whose read-only link this is; NotFound otherwise."""
    lookup = link_lookup_key(secret)
    row = None
    if lookup is not None:
        row = session.connection().execute(_STATE_BY_LINK, {"lookup": lookup}).one_or_none()
    if row is None or not hmac.compare_digest(_hash(secret), row[5] or ""):
        raise NotFound("unknown or revoked panel link")
    return _state(row)
