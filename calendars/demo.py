"""The demo school's calendars: a few school events, and feed links for a demo teacher and a
student's class, printed by `mdm demo` (running it again makes nothing new)."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from calendars import feed_service, school_events
from calendars.models import CalendarFeed, SchoolEvent
from mdm.accounts.auth import actor_of
from mdm.accounts.models import School, User
from mdm.platform.actors import Actor
from mdm.platform.http import BaseUrlMissing

DEMO_TEACHER = "s.mueller"
DEMO_STUDENT = "lena.schmidt"  # of class 5a


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _events(school: School) -> list[dict[str, object]]:
    """A parent evening, a weekly conference, an exam week and a bridge day, near today."""
    zone = ZoneInfo(school.timezone)
    monday = _monday(datetime.now(zone).date())

    def at(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=zone)

    return [
        {
            "title": "Elternabend 5a",
            "category": "parent_evening",
            "location": "Raum 101",
            "starts_at": at(monday + timedelta(days=3), 19),
            "ends_at": at(monday + timedelta(days=3), 20, 30),
        },
        {
            "title": "Lehrerkonferenz",
            "category": "conference",
            "location": "Lehrerzimmer",
            "starts_at": at(monday + timedelta(days=1), 15, 30),
            "ends_at": at(monday + timedelta(days=1), 17),
            "recurrence": "FREQ=WEEKLY;COUNT=8",
        },
        {
            "title": "Klausurwoche Oberstufe",
            "category": "exam_week",
            "all_day": True,
            "starts_on": monday + timedelta(days=21),
            "ends_on": monday + timedelta(days=25),
        },
        {
            "title": "Brückentag (unterrichtsfrei)",
            "category": "holiday",
            "all_day": True,
            "starts_on": monday + timedelta(days=32),
        },
    ]


def _feed(session: Session, user: User, kind: str, **selection: str) -> CalendarFeed:
    """The user's demo feed of this kind, made the first time."""
    found = session.scalar(
        select(CalendarFeed)
        .where(CalendarFeed.owner_id == user.id, CalendarFeed.kind == kind)
        .order_by(CalendarFeed.id)
    )
    return found or feed_service.create_feed(session, actor_of(user, None), kind=kind, **selection)


def seed(session: Session, school: School, actor: Actor) -> list[str]:
    """Add the demo events once, and print the demo teacher's and class 5a's feed links."""
    if not session.scalar(select(SchoolEvent.id).where(SchoolEvent.school_id == school.id)):
        for values in _events(school):
            school_events.create_event(session, actor, school.id, values)
    lines = []
    teacher = session.scalar(select(User).where(User.username == DEMO_TEACHER))
    student = session.scalar(select(User).where(User.username == DEMO_STUDENT))
    if teacher is not None:
        feed = _feed(session, teacher, "teacher")
        lines.append(f"Calendar feed of teacher {DEMO_TEACHER}: {_link(feed.token.decode())}")
    if student is not None and student.class_name:
        feed = _feed(session, student, "class", class_name=student.class_name)
        lines.append(
            f"Calendar feed of class {student.class_name} ({DEMO_STUDENT}): "
            f"{_link(feed.token.decode())}"
        )
    return lines


def _link(token: str) -> str:
    """A feed's webcal link; without BASE_URL outside a request (`mdm demo`), its path."""
    try:
        return feed_service.webcal_url(token)
    except BaseUrlMissing:
        return (
            f"/calendars/{token}.ics on the service's address "
            "(set MDM_BASE_URL to have whole links printed)"
        )
