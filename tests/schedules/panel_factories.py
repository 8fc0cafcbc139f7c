"""A small plan for panel tests, written with the models: two classes, today and the next day."""

from datetime import UTC, date, datetime, time

from mdm.extensions import db
from mdm.platform.types import utcnow
from schedules import panel, panel_service
from schedules.import_data import CANCELLATION, ROOM_CHANGE, SUBSTITUTION
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

GRID = [
    (1, time(8, 0), time(8, 45)),
    (2, time(8, 50), time(9, 35)),
    (3, time(9, 55), time(10, 40)),
    (4, time(10, 45), time(11, 30)),
]
# weekday-independent timetable: (period, subject, class, teacher, room, course, lesson number)
TIMETABLE = [
    (1, "M", "7a", "MUE", "R101", "", 10),
    (2, "D", "7a", "SCH", "R101", "", 11),
    (3, "E", "7a", "BAU", "R102", "", 12),
    (1, "BIO", "5b", "KLE", "R201", "", 20),
    (2, "M", "5b", "MUE", "R201", "", 21),
    (3, "REL", "5b", "KLE", "R201", "REL-5", 22),
    (3, "ETH", "5b", "BAU", "R202", "ETH-5", 23),
]
EARLY = datetime(2020, 1, 1, tzinfo=UTC)


def school_days_from_today(count: int = 2) -> list[date]:
    """The next school days in Berlin from the real current date on (weekends skipped)."""
    return panel.school_days(panel_service.school_today("Europe/Berlin"), count, [])


def change(school_id: int, key: str, on: date, kind: str, period: int, **fields: object) -> None:
    """Add one substitution."""
    fields.setdefault("changed_at", EARLY)
    db.session.add(
        Substitution(
            school_id=school_id,
            key=key,
            date=on,
            kind=kind,
            period=period,
            period_to=fields.pop("period_to", period),
            content_hash=key,
            **fields,
        )
    )


def seed_plan(
    school_id: int, days: list[date] | None = None, teacher_user_id: int | None = None
) -> tuple[date, date]:
    """Master data, the weekly lessons, and changes for the two next school days; returns them.

    Day 1: 7a period 1 maths cancelled ("Mathe fällt aus"); 5b period 2 MUE replaced by SCH;
    a day message for everybody and MUE absent. Day 2: 7a English in R999 instead of R102;
    5b biology cancelled.
    """
    first, second = days or school_days_from_today(2)
    for period, starts, ends in GRID:
        db.session.add(
            TimeSlot(school_id=school_id, weekday=None, period=period, starts=starts, ends=ends)
        )
    for name in ("7a", "5b"):
        db.session.add(SchoolClass(school_id=school_id, name=name))
    for abbreviation, last_name in (("MUE", "Müller"), ("SCH", "Schmidt"), ("BAU", "Bauer")):
        db.session.add(
            Teacher(
                school_id=school_id,
                abbreviation=abbreviation,
                last_name=last_name,
                user_id=teacher_user_id if abbreviation == "SCH" else None,
            )
        )
    db.session.add(Teacher(school_id=school_id, abbreviation="KLE", last_name="Klein"))
    for name in ("R101", "R102", "R201", "R202", "R999"):
        db.session.add(Room(school_id=school_id, name=name))
    for name, long_name in (("M", "Mathematik"), ("D", "Deutsch"), ("E", "Englisch")):
        db.session.add(Subject(school_id=school_id, name=name, long_name=long_name))
    for name in ("REL-5", "ETH-5"):
        db.session.add(Course(school_id=school_id, name=name, subject=name[:3], classes=["5b"]))
    for weekday in range(1, 6):
        for period, subject, cls, teacher, room, course, number in TIMETABLE:
            db.session.add(
                Lesson(
                    school_id=school_id,
                    lesson_number=number,
                    weekday=weekday,
                    period=period,
                    subject=subject,
                    classes=[cls],
                    teachers=[teacher],
                    rooms=[room],
                    course=course,
                )
            )
    change(
        school_id,
        "c1",
        first,
        CANCELLATION,
        1,
        lesson_number=10,
        original_subject="M",
        original_teachers=["MUE"],
        original_rooms=["R101"],
        original_classes=["7a"],
        text="Mathe fällt aus",
    )
    change(
        school_id,
        "c2",
        first,
        SUBSTITUTION,
        2,
        lesson_number=21,
        original_subject="M",
        original_teachers=["MUE"],
        original_rooms=["R201"],
        original_classes=["5b"],
        new_subject="M",
        new_teachers=["SCH"],
        new_rooms=["R201"],
        new_classes=["5b"],
        text="Aufgaben im Buch S. 42",
    )
    change(
        school_id,
        "c3",
        second,
        ROOM_CHANGE,
        3,
        lesson_number=12,
        original_subject="E",
        original_teachers=["BAU"],
        original_rooms=["R102"],
        original_classes=["7a"],
        new_rooms=["R999"],
    )
    change(
        school_id,
        "c4",
        second,
        CANCELLATION,
        1,
        lesson_number=20,
        original_subject="BIO",
        original_teachers=["KLE"],
        original_rooms=["R201"],
        original_classes=["5b"],
        text="Biologie entfällt",
    )
    db.session.add(
        DayMessage(school_id=school_id, date=first, text="Heute Schulkonzert in der Aula")
    )
    db.session.add(
        Absence(school_id=school_id, kind="teacher", name="MUE", from_date=first, to_date=first)
    )
    settings = db.session.get(PanelSettings, school_id) or PanelSettings(school_id=school_id)
    settings.plan_version = (settings.plan_version or 0) + 1
    settings.plan_updated_at = utcnow()
    db.session.add(settings)
    db.session.commit()
    return first, second


def bump_plan(school_id: int) -> None:
    """What an import does at its end: a new plan version and update time."""
    settings = db.session.get(PanelSettings, school_id)
    settings.plan_version += 1
    settings.plan_updated_at = utcnow()
    db.session.commit()


def add_holiday(school_id: int, on: date) -> None:
    """A one-day holiday."""
    db.session.add(Holiday(school_id=school_id, name="Brückentag", from_date=on, to_date=on))
    db.session.commit()
