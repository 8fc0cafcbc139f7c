"""The panel's data, rules and settings: plan rows loaded once per plan version, which selection
a viewer sees and whether teacher names are hidden, the feed's version, the read-only link.

A request needs the school's panel state (plan version, settings, time zone): one small query,
which the worker remembers for CACHE_CHECK_SECONDS (and forgets at once after it committed a
change of it itself; see mdm.platform.cache). The plan rows of the requested school days are
loaded in a few queries only when this worker has not loaded them for that plan version yet. An
import raises the plan version, so no worker serves an older plan longer than
CACHE_CHECK_SECONDS after a newer one was committed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from sqlalchemy import Row, Select, bindparam, event, or_, select
from sqlalchemy.orm import Session

from mdm.accounts.models import School
from mdm.accounts.service import get_school
from mdm.platform import audit
from mdm.platform.actors import Actor
from mdm.platform.cache import Facts, Remembered, forget_after_commit, worker_cache
from mdm.platform.errors import NotFound, ValidationFailed
from mdm.platform.scoping import require_school
from mdm.platform.types import utcnow
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
from schedules.panel_texts import LANGUAGES

LINK_PREFIX = "pl_"
LINK_LOOKUP_CHARS = 8
_LINK_RE = re.compile(rf"^{LINK_PREFIX}[A-Za-z0-9_-]{{43}}$")
STATE_CACHE_ENTRIES = 1024  # schools
PLAN_CACHE_ENTRIES = 256
FEED_CACHE_ENTRIES = 8192  # a class feed of two days is about 6 KB: 50 MB a worker at most
PlanKey = tuple[int, int, datetime | None, date, int]
DEFAULT_SCREEN_LANGUAGE = LANGUAGES[0]
# Viewers from whom a school may hide teacher names: students and the entrance-hall screen
# (the read-only link, whose viewer is "public").
HIDDEN_FROM = ("student", "public")


@dataclass(frozen=True)
class PanelState:
    """What every panel request needs first: the plan version and the school's settings."""

    school_id: int
    timezone: str
    plan_version: int
    plan_updated_at: datetime | None
    hide_teachers: bool
    screen_language: str


@dataclass(frozen=True)
class LoadedPlan:
    """The indexed school days of one plan version, and which user is which teacher."""

    days: list[panel.SchoolDay]
    teacher_of_user: dict[int, str]
    subject_names: dict[str, str]
    change_times: list[datetime]


def _state_query() -> Select[Any]:
    """Built once: building a statement costs more than running this one."""
    return select(
        School.id,
        School.timezone,
        PanelSettings.plan_version,
        PanelSettings.plan_updated_at,
        PanelSettings.hide_teachers_from_students,
        PanelSettings.public_link_hash,
        PanelSettings.screen_language,
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
        screen_language=row[6] or DEFAULT_SCREEN_LANGUAGE,
    )


def _states() -> Remembered[int, PanelState]:
    return worker_cache().remembered("panel-states", STATE_CACHE_ENTRIES)


def _plans() -> Facts[PlanKey, LoadedPlan]:
    return worker_cache().facts("panel-plans", PLAN_CACHE_ENTRIES)


def feeds() -> Facts[str, bytes]:
    """Rendered feeds by their version (the ETag, a hash of everything a feed depends on)."""
    return worker_cache().facts("panel-feeds", FEED_CACHE_ENTRIES)


def panel_state(session: Session, school_id: int) -> PanelState:
    """The school's panel state (remembered for a moment, else one query); NotFound for an
    unknown school."""
    return _states().get_or_read(school_id, lambda: _read_state(session, school_id))


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
    if not schools or not has_app_context() or "mdm_cache" not in current_app.extensions:
        return
    states = _states()
    for school_id in schools:
        forget_after_commit(session, lambda school_id=school_id: states.forget(school_id))


def school_today(timezone: str, now: datetime | None = None) -> date:
    """Today's date in the school's time zone."""
    return (now or utcnow()).astimezone(ZoneInfo(timezone)).date()


def load_plan(session: Session, state: PanelState, today: date, count: int) -> LoadedPlan:
    """The school days from today on, from this process's cache or the database."""
    key = (state.school_id, state.plan_version, state.plan_updated_at, today, count)
    cached = _plans().get(key)
    if cached is not None:
        return cached
    plan = _load(session, state.school_id, today, count)
    # An import committed while loading may have mixed versions into the rows: keep them only
    # when the version is still the one the key names.
    latest = _read_state(session, state.school_id)
    if (latest.plan_version, latest.plan_updated_at) == (state.plan_version, state.plan_updated_at):
        _plans().put(key, plan)
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


@dataclass(frozen=True)
class Viewer:
    """Who looks at the panel: a logged-in user, or the read-only link (role "public")."""

    role: str
    user_id: int | None = None
    class_name: str | None = None


@dataclass(frozen=True)
class Asked:
    """What a feed request asks for (all empty: the viewer's own plan)."""

    days: int
    class_name: str = ""
    courses: tuple[str, ...] = ()
    teacher: str = ""
    room: str = ""
    since: datetime | None = None


@dataclass(frozen=True)
class Feed:
    """One feed as a viewer asked for it, before it is rendered; `version` is its ETag."""

    state: PanelState
    plan: LoadedPlan
    today: date
    selection: panel.Selection
    courses: tuple[str, ...]
    since: datetime | None
    hide_teachers: bool
    version: str


def hides_teachers(state: PanelState, viewer: Viewer) -> bool:
    """Whether this viewer sees no teacher names: the school hides them from students and the
    read-only link."""
    return state.hide_teachers and viewer.role in HIDDEN_FROM


def choose_selection(
    asked: Asked, viewer: Viewer, own_teacher: str | None, hide: bool
) -> panel.Selection:
    """The selection asked for, or the viewer's own plan when none is asked for: a student's
    class, a teacher's own plan, else everything."""
    chosen = [name for name in ("class_name", "teacher", "room") if getattr(asked, name)]
    if len(chosen) > 1:
        reason = ["choose one of class, teacher and room"]
        raise ValidationFailed(
            errors={"class" if name == "class_name" else name: reason for name in chosen}
        )
    if hide and asked.teacher:
        raise ValidationFailed(errors={"teacher": ["this school hides teacher names"]})
    if asked.courses and (asked.teacher or asked.room):
        raise ValidationFailed(errors={"course": ["courses go with a class or alone"]})
    if chosen or asked.courses:
        return panel.Selection(
            class_name=asked.class_name,
            courses=frozenset(asked.courses),
            teacher=asked.teacher,
            room=asked.room,
        )
    if viewer.role == "student" and viewer.class_name:
        return panel.Selection(class_name=viewer.class_name)
    if viewer.role == "teacher" and own_teacher:
        return panel.Selection(teacher=own_teacher)
    return panel.Selection()


def prepare_feed(session: Session, state: PanelState, viewer: Viewer, asked: Asked) -> Feed:
    """The plan and selection of a feed request, and the version of the feed it makes."""
    today = school_today(state.timezone)
    plan = load_plan(session, state, today, asked.days)
    hide = hides_teachers(state, viewer)
    own_teacher = plan.teacher_of_user.get(viewer.user_id) if viewer.user_id is not None else None
    selection = choose_selection(asked, viewer, own_teacher, hide)
    # Everything the body depends on; `since` only through which entries it marks as changed.
    fingerprint = "|".join(
        [
            str(state.school_id),
            str(state.plan_version),
            str(state.plan_updated_at),
            today.isoformat(),
            str(asked.days),
            selection.kind,
            selection.class_name,
            ",".join(sorted(asked.courses)),
            selection.teacher,
            selection.room,
            "hidden" if hide else "shown",
            "student" if viewer.role in HIDDEN_FROM else "staff",
            str(panel.since_rank(plan.change_times, asked.since)),
        ]
    )
    return Feed(
        state=state,
        plan=plan,
        today=today,
        selection=selection,
        courses=asked.courses,
        since=asked.since,
        hide_teachers=hide,
        version=hashlib.sha256(fingerprint.encode()).hexdigest()[:32],
    )


def feed_body(feed: Feed) -> dict[str, Any]:
    """The feed's content, as the panel schema dumps it."""
    days = panel.panel_days(
        feed.plan.days, feed.selection, since=feed.since, hide_teachers=feed.hide_teachers
    )
    return {
        "school_id": feed.state.school_id,
        "timezone": feed.state.timezone,
        "today": feed.today,
        "plan_version": feed.state.plan_version,
        "updated_at": feed.state.plan_updated_at,
        "hide_teachers": feed.hide_teachers,
        "selection": {
            "kind": feed.selection.kind,
            "class_name": feed.selection.class_name or None,
            "courses": sorted(feed.courses),
            "teacher": feed.selection.teacher or None,
            "room": feed.selection.room or None,
        },
        "days": days,
        "subjects": panel.used_subjects(days, feed.plan.subject_names),
    }


def selection_options(session: Session, actor: Actor, school_id: int) -> dict[str, list[Any]]:
    """The classes, courses, teachers and rooms of a school, for the panel's picker."""
    require_school(actor, school_id)
    state = panel_state(session, school_id)
    hide = hides_teachers(state, Viewer(actor.role))
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
            school_id=school_id,
            hide_teachers_from_students=False,
            screen_language=DEFAULT_SCREEN_LANGUAGE,
            plan_version=0,
        )
        session.add(settings)
    return settings


def get_settings(session: Session, actor: Actor, school_id: int) -> PanelSettings:
    """A school's panel settings (defaults when none were saved)."""
    get_school(session, actor, school_id)
    settings = session.get(PanelSettings, school_id)
    return settings or PanelSettings(
        school_id=school_id,
        hide_teachers_from_students=False,
        screen_language=DEFAULT_SCREEN_LANGUAGE,
        plan_version=0,
    )


def update_settings(
    session: Session,
    actor: Actor,
    school_id: int,
    *,
    hide_teachers_from_students: bool | None = None,
    screen_language: str | None = None,
) -> PanelSettings:
    """Change the school's panel settings that are given: hide (or show again) teacher names
    from students, the language of the entrance-hall screen."""
    get_school(session, actor, school_id)
    if screen_language is not None and screen_language not in LANGUAGES:
        raise ValidationFailed(
            errors={"screen_language": [f"must be one of {', '.join(LANGUAGES)}"]}
        )
    settings = _settings_row(session, school_id)
    changed: dict[str, Any] = {}
    if hide_teachers_from_students is not None:
        settings.hide_teachers_from_students = hide_teachers_from_students
        changed["hide_teachers_from_students"] = hide_teachers_from_students
    if screen_language is not None:
        settings.screen_language = screen_language
        changed["screen_language"] = screen_language
    session.flush()
    audit.record(
        session,
        actor,
        "panel.settings.update",
        "school",
        school_id,
        school_id=school_id,
        details=changed,
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
    get_school(session, actor, school_id)
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
    get_school(session, actor, school_id)
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
