"""Feeds: their secret links (create, rotate, revoke), and serving one fast.

A feed request finds its feed by the sha256 of the link's secret and works out the version of
the content it would get: the plan's version, the school's events, the owner's sources, today
and the feed's settings. Those answers are remembered for CACHE_CHECK_SECONDS (and forgotten at
once by the worker that commits a change); a feed is rendered once per content version and kept
with its gzip form in the worker cache (mdm.platform.cache). A render compares each event with
what its UID last looked like (`CalendarEventState`): SEQUENCE rises when its time, rooms,
teachers or status changed, and LAST-MODIFIED/DTSTAMP are the time of that change, so the same
content renders to the same bytes on every worker and after every restart.
"""

from __future__ import annotations

import gzip
import hashlib
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from calendars import events as calendar_events
from calendars import ics, school_events, sources
from calendars.models import (
    FEED_KINDS,
    CalendarEventState,
    CalendarFeed,
    CalendarSource,
    CalendarSourceCopy,
)
from mdm.accounts.models import School, User
from mdm.extensions import db
from mdm.platform import audit
from mdm.platform.actors import Actor
from mdm.platform.cache import Facts, Remembered, forget_after_commit, worker_cache
from mdm.platform.errors import NotFound, ValidationFailed
from mdm.platform.http import base_url
from mdm.platform.types import utcnow
from schedules import panel, panel_service
from schedules.models import Holiday, Lesson, Subject, Substitution, Teacher, TimeSlot

PRUNE_JOB_ID = "calendars.prune-event-states"
TOKEN_PREFIX = "cal_"
TOKEN_BYTES = 32  # 256 bits
STAFF = ("teacher", "school_admin", "it_admin")
LINKS_CACHE_ENTRIES = 20_000
PLAN_CACHE_ENTRIES = 8
CHUNK = 500
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FeedFacts:
    """What a feed request needs first: the feed's settings, its owner and school."""

    feed_id: int
    token_hash: str
    school_id: int
    owner_id: int
    owner_role: str
    owner_class: str
    kind: str
    name: str
    teacher: str
    class_name: str
    courses: tuple[str, ...]
    include_cancelled: bool
    updated_at: datetime
    school_name: str
    timezone: str


@dataclass(frozen=True)
class RenderedFeed:
    """A feed rendered for one content version: its bytes, gzipped bytes, ETag and last change."""

    body: bytes
    gzipped: bytes
    etag: str
    last_modified: datetime


@dataclass(frozen=True)
class WindowPlan:
    """A school's plan over a window of dates, one plan version: the school days, its holidays,
    which user is which teacher and the subjects' long names."""

    days: list[panel.SchoolDay]
    holidays: list[panel.PlanHoliday]
    teacher_of_user: dict[int, str]
    subject_names: dict[str, str]


def token_hash(token: str) -> str:
    """The sha256 of a link's secret (256 random bits: a fast hash is enough)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _links() -> Remembered[str, FeedFacts]:
    return worker_cache().remembered("calendar-links", LINKS_CACHE_ENTRIES)


def _rendered() -> Facts[tuple[Any, ...], RenderedFeed]:
    size = int(current_app.config["CALENDAR_FEED_CACHE_ENTRIES"])
    return worker_cache().facts("calendar-feeds", size)


def _plans() -> Facts[tuple[Any, ...], WindowPlan]:
    return worker_cache().facts("calendar-plans", PLAN_CACHE_ENTRIES)


def feed_url(token: str) -> str:
    """The https (or http) link of a feed: on BASE_URL, or on the address the request came to
    (mdm.platform.http.base_url)."""
    return f"{base_url()}/calendars/{token}.ics"


def webcal_url(token: str) -> str:
    """The webcal:// link, which calendar apps open as a subscription."""
    url = feed_url(token)
    return "webcal://" + url.split("://", 1)[1]


def uid_domain() -> str:
    """The domain part of event UIDs: the service's host as BASE_URL names it ("localhost" when
    it is empty). Never the request's Host: a UID must not change with the address a calendar
    app happens to use."""
    return urlsplit(current_app.config["BASE_URL"]).hostname or "localhost"


# Feeds and their links


def _check_selection(
    session: Session, owner: User, kind: str, teacher: str, class_name: str, courses: list[str]
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if kind not in FEED_KINDS:
        errors["kind"] = [f"must be one of {', '.join(FEED_KINDS)}"]
        return errors
    state = panel_service.panel_state(session, owner.school_id or 0)
    if teacher and kind not in ("teacher", "personal"):
        errors["teacher"] = ["only a teacher feed or a personal feed names a teacher"]
    if teacher and owner.role not in STAFF:
        errors["teacher"] = ["only teachers and admins subscribe to a teacher's timetable"]
    elif teacher and panel_service.hides_teachers(state, panel_service.Viewer(owner.role)):
        errors["teacher"] = ["this school hides teacher names"]
    elif teacher and not session.scalar(
        select(Teacher.id).where(
            Teacher.school_id == owner.school_id, Teacher.abbreviation == teacher
        )
    ):
        errors["teacher"] = [f"the school has no teacher {teacher}"]
    if kind == "teacher" and owner.role not in STAFF:
        errors["kind"] = ["only teachers and admins subscribe to a teacher's timetable"]
    if kind == "class" and not class_name:
        errors["class"] = ["a class feed names its class"]
    if kind == "courses" and not courses:
        errors["courses"] = ["a course feed names at least one course"]
    if kind in ("events", "teacher") and (class_name or courses):
        errors["class" if class_name else "courses"] = [f"a {kind} feed has no class or courses"]
    if class_name and teacher:
        errors["class"] = ["choose a class or a teacher"]
    return errors


def _owner(session: Session, actor: Actor) -> User:
    owner = session.get(User, actor.user_id) if actor.user_id is not None else None
    if owner is None or owner.school_id is None:
        raise ValidationFailed(
            errors={"_body": ["calendar feeds belong to users of a school; this login has none"]}
        )
    return owner


def _new_token(feed: CalendarFeed) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    feed.token_hash = token_hash(token)
    feed.token = token.encode()
    return token


def list_feeds(session: Session, actor: Actor) -> list[CalendarFeed]:
    """The actor's own feeds."""
    return list(
        session.scalars(
            select(CalendarFeed)
            .where(CalendarFeed.owner_id == actor.user_id)
            .order_by(CalendarFeed.id)
        )
    )


def get_feed(session: Session, actor: Actor, feed_id: int) -> CalendarFeed:
    """One of the actor's own feeds (another user's is not found: links are their owner's)."""
    feed = session.get(CalendarFeed, feed_id)
    if feed is None or feed.owner_id != actor.user_id:
        raise NotFound(f"calendar feed {feed_id} not found")
    return feed


def create_feed(
    session: Session,
    actor: Actor,
    *,
    kind: str,
    name: str = "",
    teacher: str = "",
    class_name: str = "",
    courses: Iterable[str] = (),
    include_cancelled: bool = True,
) -> CalendarFeed:
    """A new feed of the actor's with a new secret link."""
    owner = _owner(session, actor)
    chosen = sorted({c.strip() for c in courses if c.strip()})
    errors = _check_selection(session, owner, kind, teacher, class_name, chosen)
    if errors:
        raise ValidationFailed(errors=errors)
    feed = CalendarFeed(
        school_id=owner.school_id,
        owner_id=owner.id,
        kind=kind,
        name=name.strip(),
        teacher=teacher,
        class_name=class_name,
        courses=chosen,
        include_cancelled=include_cancelled,
        updated_at=utcnow(),
    )
    _new_token(feed)
    session.add(feed)
    session.flush()
    audit.record(
        session,
        actor,
        "calendar.feed.create",
        "calendar_feed",
        feed.id,
        school_id=feed.school_id,
        details={"kind": kind, "class": class_name, "courses": chosen, "teacher": teacher},
    )
    return feed


def update_feed(
    session: Session, actor: Actor, feed_id: int, changes: dict[str, Any]
) -> CalendarFeed:
    """Change a feed's name, selection or whether cancelled lessons stay in it."""
    feed = get_feed(session, actor, feed_id)
    owner = _owner(session, actor)
    values = {
        "name": feed.name,
        "teacher": feed.teacher,
        "class_name": feed.class_name,
        "courses": list(feed.courses),
        "include_cancelled": feed.include_cancelled,
    } | changes
    values["courses"] = sorted({c.strip() for c in values["courses"] if c.strip()})
    errors = _check_selection(
        session, owner, feed.kind, values["teacher"], values["class_name"], values["courses"]
    )
    if errors:
        raise ValidationFailed(errors=errors)
    for name, value in values.items():
        setattr(feed, name, value.strip() if name == "name" else value)
    feed.updated_at = utcnow()
    session.flush()
    _forget_link(session, feed.token_hash)
    audit.record(
        session,
        actor,
        "calendar.feed.update",
        "calendar_feed",
        feed.id,
        school_id=feed.school_id,
        details={key: changes[key] for key in sorted(changes)},
    )
    return feed


def rotate_feed(session: Session, actor: Actor, feed_id: int) -> CalendarFeed:
    """Give a feed a new secret link; the old one stops working at once."""
    feed = get_feed(session, actor, feed_id)
    _forget_link(session, feed.token_hash)
    _new_token(feed)
    feed.rotated_at = utcnow()
    session.flush()
    audit.record(
        session, actor, "calendar.feed.rotate", "calendar_feed", feed.id, school_id=feed.school_id
    )
    return feed


def revoke_feed(session: Session, actor: Actor, feed_id: int) -> None:
    """Delete a feed; its link stops working at once."""
    feed = get_feed(session, actor, feed_id)
    _forget_link(session, feed.token_hash)
    session.delete(feed)
    session.flush()
    audit.record(
        session, actor, "calendar.feed.revoke", "calendar_feed", feed_id, school_id=feed.school_id
    )


def _forget_link(session: Session, hashed: str) -> None:
    links = _links()
    forget_after_commit(session, lambda: links.forget(hashed))


# Serving


_FACTS = (
    select(
        CalendarFeed.id,
        CalendarFeed.school_id,
        CalendarFeed.owner_id,
        User.role,
        User.class_name,
        CalendarFeed.kind,
        CalendarFeed.name,
        CalendarFeed.teacher,
        CalendarFeed.class_name,
        CalendarFeed.courses,
        CalendarFeed.include_cancelled,
        CalendarFeed.updated_at,
        School.name,
        School.timezone,
    )
    .join(User, User.id == CalendarFeed.owner_id)
    .join(School, School.id == CalendarFeed.school_id)
    .where(
        CalendarFeed.token_hash == bindparam("hash"),
        User.active.is_(True),
        User.school_id == CalendarFeed.school_id,
    )
)


def _read_facts(session: Session, hashed: str) -> FeedFacts:
    row = session.execute(_FACTS, {"hash": hashed}).one_or_none()
    if row is None:
        raise NotFound("unknown or revoked calendar link")
    return FeedFacts(
        row[0],
        hashed,
        row[1],
        row[2],
        row[3],
        row[4] or "",
        row[5],
        row[6],
        row[7],
        row[8],
        tuple(row[9] or ()),
        bool(row[10]),
        row[11],
        row[12],
        row[13],
    )


def feed_facts(session: Session, token: str) -> FeedFacts:
    """The feed of a link's secret (remembered for a moment); NotFound for an unknown or revoked
    link, or one whose owner is disabled or left the school."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        raise NotFound("unknown or revoked calendar link")
    hashed = token_hash(token)
    return _links().get_or_read(hashed, lambda: _read_facts(session, hashed))


def _window(timezone: str) -> tuple[date, date, date]:
    today = panel_service.school_today(timezone)
    back = int(current_app.config["CALENDAR_WINDOW_DAYS_BACK"])
    ahead = int(current_app.config["CALENDAR_WINDOW_DAYS_AHEAD"])
    return today, today - timedelta(days=back), today + timedelta(days=ahead)


def content_version(session: Session, facts: FeedFacts) -> tuple[Any, ...]:
    """Everything the feed's bytes depend on: the key of its rendering (a tuple, hashed by the
    cache's dict, which is cheaper per request than hashing its text)."""
    state = panel_service.panel_state(session, facts.school_id)
    events_version = school_events.events_version(session, facts.school_id)
    owned = sources_version(session, facts.owner_id) if facts.kind == "personal" else ()
    today, _, _ = _window(facts.timezone)
    config = current_app.config
    return (
        facts,
        state.plan_version,
        state.plan_updated_at,
        state.hide_teachers,
        events_version,
        owned,
        today,
        config["CALENDAR_WINDOW_DAYS_BACK"],
        config["CALENDAR_WINDOW_DAYS_AHEAD"],
        config["CALENDAR_REFRESH_MINUTES"],
        config["BASE_URL"],
    )


def rendered_feed(session: Session, facts: FeedFacts) -> RenderedFeed:
    """The feed's bytes for its current content version, rendered once per version."""
    version = content_version(session, facts)
    store = _rendered()
    rendered = store.get(version)
    if rendered is None:
        rendered = render_feed(session, facts)
        store.put(version, rendered)
    return rendered


def _selection(facts: FeedFacts, plan: WindowPlan) -> panel.Selection:
    """Whose timetable the feed shows: its selection, or the owner's own."""
    if facts.kind == "events":
        return panel.Selection()
    if facts.kind == "class" or facts.class_name:
        return panel.Selection(class_name=facts.class_name, courses=frozenset(facts.courses))
    if facts.kind == "courses":
        return panel.Selection(courses=frozenset(facts.courses))
    own = facts.teacher or plan.teacher_of_user.get(facts.owner_id, "")
    if facts.kind == "teacher" or (facts.kind == "personal" and facts.owner_role in STAFF):
        return panel.Selection(teacher=own) if own else panel.Selection()
    if facts.owner_class:
        return panel.Selection(class_name=facts.owner_class, courses=frozenset(facts.courses))
    return panel.Selection()


def _default_name(facts: FeedFacts, selection: panel.Selection) -> str:
    if facts.kind == "events":
        return f"Termine {facts.school_name}"
    if facts.kind == "personal":
        return f"Mein Kalender ({facts.school_name})"
    if selection.kind == "teacher":
        return f"Stundenplan {selection.teacher}"
    if selection.kind == "class":
        chosen = f" ({', '.join(sorted(facts.courses))})" if facts.courses else ""
        return f"Stundenplan {selection.class_name}{chosen}"
    return f"Kurse {', '.join(sorted(facts.courses))}"


def render_feed(session: Session, facts: FeedFacts) -> RenderedFeed:
    """Render the feed: its events, their states brought up to date, then the bytes."""
    state = panel_service.panel_state(session, facts.school_id)
    today, first, last = _window(facts.timezone)
    zone = ZoneInfo(facts.timezone)
    domain = uid_domain()
    plan = window_plan(session, state, first, last)
    selection = _selection(facts, plan)
    school = school_events.school_event_facts(session, facts.school_id)
    changed_at = state.plan_updated_at or facts.updated_at
    found: list[calendar_events.CalendarEvent] = []
    if facts.kind != "events":
        free = school_events.holiday_dates(school, zone, first, last)
        view = calendar_events.TimetableView(
            selection=selection,
            hide_teachers=panel_service.hides_teachers(
                state, panel_service.Viewer(facts.owner_role)
            ),
            include_cancelled=facts.include_cancelled,
        )
        found += calendar_events.timetable_events(
            [day for day in plan.days if day.date not in free],
            view,
            zone=zone,
            school_id=facts.school_id,
            domain=domain,
            subject_names=plan.subject_names,
            changed_at=changed_at,
        )
    if facts.kind in ("events", "personal"):
        found += calendar_events.holiday_events(
            plan.holidays, school_id=facts.school_id, domain=domain, changed_at=changed_at
        )
        found += [
            calendar_events.school_event(event, zone=zone, domain=domain)
            for event in school
            if school_events.touches(event, zone, first, last)
        ]
    if facts.kind == "personal":
        found += _personal_events(session, facts.owner_id, first, last, zone, domain)
    if not facts.include_cancelled:
        found = [event for event in found if not event.cancelled]
    states = sync_states(session, facts.school_id, found)
    document = ics.FeedDocument(
        name=facts.name or _default_name(facts, selection),
        description=f"{facts.school_name}: aus dem Schul-MDM, aktualisiert mit jedem Plan",
        timezone=facts.timezone,
        refresh_minutes=int(current_app.config["CALENDAR_REFRESH_MINUTES"]),
        window_start=first,
        window_end=last,
        events=[(event, states[event.uid]) for event in found],
    )
    body = ics.render(document)
    modified = max([s.modified_at for s in states.values()] + [facts.updated_at])
    return RenderedFeed(
        body=body,
        gzipped=gzip.compress(body, mtime=0),
        etag=hashlib.sha256(body).hexdigest()[:32],
        last_modified=modified,
    )


def _personal_events(
    session: Session, owner_id: int, first: date, last: date, zone: ZoneInfo, domain: str
) -> list[calendar_events.CalendarEvent]:
    rows = session.execute(
        select(CalendarSource.id, CalendarSource.content_changed_at, CalendarSourceCopy.body)
        .join(CalendarSourceCopy, CalendarSourceCopy.source_id == CalendarSource.id)
        .where(CalendarSource.owner_id == owner_id)
        .order_by(CalendarSource.id)
    )
    found: list[calendar_events.CalendarEvent] = []
    limit = int(current_app.config["CALENDAR_SOURCE_MAX_EVENTS"])
    for source_id, changed_at, body in rows:
        try:
            found += sources.personal_events(
                body,
                source_id=source_id,
                first=first,
                last=last,
                zone=zone,
                domain=domain,
                changed_at=changed_at or EPOCH,
                limit=limit,
            )
        except sources.SourceRefused:
            continue  # a copy is only kept when it was readable; never fail the whole feed
    return found


def sources_version(session: Session, owner_id: int) -> tuple[tuple[int, str], ...]:
    """The owner's sources and the hash of each one's last good copy (remembered for a moment)."""
    store = worker_cache().remembered("calendar-owner-sources", LINKS_CACHE_ENTRIES)
    return store.get_or_read(
        owner_id,
        lambda: tuple(
            (row[0], row[1])
            for row in session.execute(
                select(CalendarSource.id, CalendarSource.content_hash)
                .where(CalendarSource.owner_id == owner_id)
                .order_by(CalendarSource.id)
            )
        ),
    )


def forget_sources(session: Session, owner_id: int) -> None:
    """After this session commits, read the owner's sources again at the next feed request."""
    if "mdm_cache" not in current_app.extensions:
        return
    store = worker_cache().remembered("calendar-owner-sources", LINKS_CACHE_ENTRIES)
    forget_after_commit(session, lambda: store.forget(owner_id))


# The plan over the window


def window_plan(
    session: Session, state: panel_service.PanelState, first: date, last: date
) -> WindowPlan:
    """The school days between two dates (weekdays that are not holidays) for this plan version,
    from this worker's cache or the database."""
    key = (state.school_id, state.plan_version, state.plan_updated_at, first, last)
    plan = _plans().get(key)
    if plan is None:
        plan = _load_window(session, state.school_id, first, last)
        _plans().put(key, plan)
    return plan


def _dates(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _load_window(session: Session, school_id: int, first: date, last: date) -> WindowPlan:
    holidays = [
        panel.PlanHoliday(from_date=r.from_date, to_date=r.to_date, name=r.name)
        for r in session.execute(
            select(Holiday.from_date, Holiday.to_date, Holiday.name)
            .where(
                Holiday.school_id == school_id, Holiday.to_date >= first, Holiday.from_date <= last
            )
            .order_by(Holiday.from_date)
        )
    ]
    dates = [
        day
        for day in _dates(first, last)
        if day.isoweekday() <= 5 and not any(h.from_date <= day <= h.to_date for h in holidays)
    ]
    grid = [
        panel.GridSlot(weekday=r.weekday, period=r.period, starts=r.starts, ends=r.ends)
        for r in session.execute(
            select(TimeSlot.weekday, TimeSlot.period, TimeSlot.starts, TimeSlot.ends).where(
                TimeSlot.school_id == school_id
            )
        )
    ]
    by_weekday: dict[int, list[panel.PlanLesson]] = {}
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
        )
        .where(Lesson.school_id == school_id)
        .order_by(Lesson.id)
    ):
        if (r.valid_from is None or r.valid_from <= last) and (
            r.valid_to is None or r.valid_to >= first
        ):
            by_weekday.setdefault(r.weekday, []).append(
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
            )
    by_date: dict[date, list[panel.PlanSubstitution]] = {}
    for s in session.scalars(
        select(Substitution)
        .where(Substitution.school_id == school_id, Substitution.date.between(first, last))
        .order_by(Substitution.id)
    ):
        by_date.setdefault(s.date, []).append(
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
                key=s.key,
            )
        )
    days = [
        panel.school_day(
            day, grid, by_weekday.get(day.isoweekday(), []), by_date.get(day, []), [], []
        )
        for day in dates
    ]
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
    return WindowPlan(
        days=days,
        holidays=holidays,
        teacher_of_user={row[0]: row[1] for row in teachers},
        subject_names={row[0]: row[1] for row in subjects},
    )


# What each UID last looked like


def _chunks(items: list[str], size: int = CHUNK) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _read_states(session: Session, school_id: int, uids: list[str]) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for chunk in _chunks(uids):
        for row in session.execute(
            select(
                CalendarEventState.id,
                CalendarEventState.uid,
                CalendarEventState.significant_hash,
                CalendarEventState.content_hash,
                CalendarEventState.sequence,
                CalendarEventState.modified_at,
            ).where(CalendarEventState.school_id == school_id, CalendarEventState.uid.in_(chunk))
        ):
            rows[row.uid] = row
    return rows


def sync_states(
    session: Session, school_id: int, found: list[calendar_events.CalendarEvent]
) -> dict[str, ics.EventState]:
    """Each event's SEQUENCE and time of last change, recording what changed since its UID was
    last seen (two workers rendering at once write the same values, and a lost race re-reads)."""
    by_uid = {event.uid: event for event in found}
    uids = sorted(by_uid)
    rows = _read_states(session, school_id, uids)
    states: dict[str, ics.EventState] = {}
    new: list[dict[str, Any]] = []
    raced: list[str] = []
    for uid in uids:
        event, row = by_uid[uid], rows.get(uid)
        if row is None:
            new.append(
                {
                    "school_id": school_id,
                    "uid": uid,
                    "significant_hash": event.significant,
                    "content_hash": event.content,
                    "sequence": 0,
                    "modified_at": event.changed_at,
                    "last_day": event.last_day,
                }
            )
            continue
        if (row.significant_hash, row.content_hash) == (event.significant, event.content):
            states[uid] = ics.EventState(row.sequence, row.modified_at)
            continue
        sequence = row.sequence + (1 if row.significant_hash != event.significant else 0)
        modified = max(event.changed_at, row.modified_at)
        result = session.execute(
            update(CalendarEventState)
            .where(
                CalendarEventState.id == row.id,
                CalendarEventState.significant_hash == row.significant_hash,
                CalendarEventState.content_hash == row.content_hash,
            )
            .values(
                significant_hash=event.significant,
                content_hash=event.content,
                sequence=sequence,
                modified_at=modified,
                last_day=event.last_day,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            states[uid] = ics.EventState(sequence, modified)
        else:
            raced.append(uid)
    if new:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        statement = dialect.insert(CalendarEventState).on_conflict_do_nothing(
            index_elements=["school_id", "uid"]
        )
        for chunk in _chunks(new):  # type: ignore[arg-type]
            session.execute(statement, chunk)
        raced += [row["uid"] for row in new]
    for uid, row in _read_states(session, school_id, raced).items():
        states[uid] = ics.EventState(row.sequence, row.modified_at)
    return states


def prune_states(session: Session, before: date) -> int:
    """Forget what events looked like that ended before this date (no feed shows them again)."""
    result = session.execute(
        CalendarEventState.__table__.delete().where(CalendarEventState.last_day < before)
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


def prune_old_states() -> None:
    """The job: forget the states of events that ended a month before any feed's window."""
    back = int(current_app.config["CALENDAR_WINDOW_DAYS_BACK"]) + 31
    prune_states(db.session, utcnow().date() - timedelta(days=back))
