"""The demo school's timetable: generated GPU files, imported like a real Untis export."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from mdm.accounts.demo import TEACHERS
from mdm.accounts.models import School, User
from mdm.platform.actors import Actor
from schedules import demo_gpu, import_service, untis_gpu
from schedules.import_data import DayMessage
from schedules.import_files import file_hashes
from schedules.models import Teacher, TimetableImport

SEED = 2026
# Two school weeks from this week's Monday, so today and the next school day are always in it.
SCHOOL_DAYS = 10


def first_school_day(today: date) -> date:
    """Today, or the Monday after a weekend."""
    return today if today.isoweekday() <= 5 else today + timedelta(days=8 - today.isoweekday())


def seed(session: Session, school: School, actor: Actor) -> list[str]:
    """Import the generated plan unless an import covers today already; link the demo teachers."""
    first_day = first_school_day(datetime.now(ZoneInfo(school.timezone)).date())
    imports = session.scalars(
        select(TimetableImport.covered_dates).where(TimetableImport.school_id == school.id)
    )
    if any(first_day.isoformat() in dates for dates in imports):
        return [f"Timetable: already imported for {first_day:%d.%m.%Y}"]
    monday = first_day - timedelta(days=first_day.weekday())
    files = demo_gpu.generate_school(
        SEED,
        start=monday,
        days=SCHOOL_DAYS,
        named_teachers=[(first, last) for _, first, last in TEACHERS],
    )
    batch = untis_gpu.parse_gpu_files(files)
    batch.periods = demo_gpu.time_grid()
    batch.day_messages = [
        DayMessage(day, "Demo-Plan: alle Klassen, Lehrkräfte und Vertretungen sind erfunden.")
        for day in sorted(batch.covered_dates)
    ]
    result = import_service.apply_batch(session, actor, school.id, batch, file_hashes(files))
    teachers = _link_demo_teachers(session, school.id)
    return [
        f"Timetable: {result.record.counts['substitutions']} substitutions from "
        f"{monday:%d.%m.%Y} on, {result.record.counts['classes']} classes "
        f"(the students' 5a, 5b, 7a, 10c among them)",
        f"Teachers in the plan: {', '.join(teachers)}",
    ]


def _link_demo_teachers(session: Session, school_id: int) -> list[str]:
    """Link the demo teacher accounts to the generated teachers of the same name."""
    linked = []
    for username, first, last in TEACHERS:
        teacher = session.scalar(
            select(Teacher).where(
                Teacher.school_id == school_id,
                Teacher.first_name == first,
                Teacher.last_name == last,
            )
        )
        user_id = session.scalar(select(User.id).where(User.username == username))
        if teacher is not None and user_id is not None:
            teacher.user_id = user_id
            linked.append(f"{username} = {teacher.abbreviation}")
    session.flush()
    return linked
