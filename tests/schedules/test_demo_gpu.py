"""The generated demo school: deterministic, consistent, and readable by the GPU importer."""

import time
from collections import Counter
from datetime import date

from schedules import demo_gpu, untis_gpu
from schedules.import_data import SUBSTITUTION_KINDS, ImportBatch

FRIDAY = date(2024, 9, 6)


def school(**options: object) -> ImportBatch:
    return untis_gpu.parse_gpu_files(demo_gpu.generate_school(3, **options))


def test_same_seed_same_bytes_other_seed_other_school() -> None:
    assert demo_gpu.generate_school(5) == demo_gpu.generate_school(5)
    assert demo_gpu.generate_school(5)["GPU001.TXT"] != demo_gpu.generate_school(6)["GPU001.TXT"]


def test_round_trip_without_warnings() -> None:
    files = demo_gpu.generate_school(3)
    assert sorted(files) == [
        "GPU001.TXT",
        "GPU002.TXT",
        "GPU003.TXT",
        "GPU004.TXT",
        "GPU005.TXT",
        "GPU006.TXT",
        "GPU013.TXT",
        "GPU014.TXT",
    ]
    batch = untis_gpu.parse_gpu_files(files)
    assert batch.warnings == []
    assert len(batch.classes) == 20
    assert len(batch.teachers) == 40
    assert {subject.name for subject in batch.subjects} >= {"D", "M", "REV", "RKA", "ETH"}
    assert all(teacher.first_name and teacher.email for teacher in batch.teachers)
    known_rooms = {room.name for room in batch.rooms}
    assert {room for lesson in batch.lessons for room in lesson.rooms} <= known_rooms
    assert {room for sub in batch.substitutions for room in sub.new_rooms} <= known_rooms


def test_other_separator_and_encoding_round_trip() -> None:
    batch = school(separator=";", encoding="utf-8")
    assert batch.warnings == []
    assert any(
        "ä" in t.last_name or "ö" in t.last_name or "ü" in t.last_name for t in batch.teachers
    )


def test_nobody_is_in_two_places_at_once() -> None:
    lessons = school().lessons
    for attribute in ("teachers", "rooms"):
        slots = Counter(
            (name, lesson.weekday, lesson.period)
            for lesson in lessons
            for name in getattr(lesson, attribute)
        )
        assert max(slots.values()) == 1, attribute
    # A class sits in several lessons of one slot only as the groups of one parallel lesson.
    class_slots: dict[tuple, set[int | None]] = {}
    for lesson in lessons:
        for name in lesson.classes:
            class_slots.setdefault((name, lesson.weekday, lesson.period), set()).add(
                lesson.lesson_number
            )
    assert all(len(numbers) == 1 for numbers in class_slots.values())


RELIGION = {"REV", "RKA", "ETH", "IRU"}


def test_religion_is_a_parallel_group_with_courses() -> None:
    batch = school()
    religion = [lesson for lesson in batch.lessons if lesson.subject in RELIGION]
    by_slot: dict[tuple, set[str]] = {}
    for lesson in religion:
        key = (lesson.lesson_number, lesson.weekday, lesson.period)
        by_slot.setdefault(key, set()).add(lesson.subject)
    assert by_slot
    assert all(subjects == RELIGION for subjects in by_slot.values())
    assert all(lesson.course == f"{lesson.subject}_{lesson.classes[0]}" for lesson in religion)


def test_ten_period_grid_and_weekdays_only() -> None:
    grid = demo_gpu.time_grid()
    assert [period.number for period in grid] == list(range(1, 11))
    assert all(period.starts < period.ends for period in grid)
    lessons = school().lessons
    assert {lesson.weekday for lesson in lessons} == {1, 2, 3, 4, 5}
    assert max(lesson.period for lesson in lessons) <= 10


def test_substitutions_fall_on_school_days_only() -> None:
    batch = school(start=FRIDAY, days=3, substitutions_per_day=12)
    per_day = Counter(sub.date for sub in batch.substitutions)
    assert per_day == {date(2024, 9, 6): 12, date(2024, 9, 9): 12, date(2024, 9, 10): 12}
    assert batch.covered_dates == set(per_day)
    assert {absence.from_date for absence in batch.absences} == set(per_day)
    assert {sub.kind for sub in batch.substitutions} <= SUBSTITUTION_KINDS


def test_benchmark_size_is_fast_and_complete() -> None:
    started = time.perf_counter()
    files = demo_gpu.generate_school(
        11, classes=60, teachers=120, start=date(2024, 9, 2), days=5, substitutions_per_day=400
    )
    batch = untis_gpu.parse_gpu_files(files)
    assert time.perf_counter() - started < 5
    assert batch.warnings == []
    assert files["GPU001.TXT"].count(b"\n") > 2000
    assert len(batch.classes) == 60
    assert Counter(sub.date for sub in batch.substitutions) == {
        date(2024, 9, day): 400 for day in (2, 3, 4, 5, 6)
    }
    kinds = Counter(sub.kind for sub in batch.substitutions)
    assert set(kinds) == SUBSTITUTION_KINDS
