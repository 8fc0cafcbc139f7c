"""The import service: counts, idempotence, exact changes, covered dates, refusals, links."""

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from mdm.accounts.models import School, User
from mdm.extensions import db
from mdm.platform.actors import Actor
from mdm.platform.errors import ValidationFailed
from mdm.platform.models import AuditEvent
from schedules import demo_gpu, import_service, models
from schedules.import_files import INDIWARE
from tests.conftest import SAMPLES
from tests.schedules.import_fixtures import (
    INDIWARE_PLAN,
    MONDAY,
    TUESDAY,
    base_files,
    gpu_files,
    substitution,
)

ADMIN = Actor(name="admin-a", role="school_admin", user_id=None, school_id=None)


def run(school: School, files: dict[str, bytes], file_format: str | None = None) -> Any:
    """Import as the school's admin and commit, as a request would."""
    actor = Actor(name="admin-a", role="school_admin", school_id=school.id)
    result = import_service.import_files(db.session, actor, school.id, files, file_format)
    db.session.commit()
    return result


def count(model: type[Any], *where: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def plan_version(school: School) -> int:
    return db.session.get(models.PanelSettings, school.id).plan_version


def substitutions(school: School) -> dict[str, models.Substitution]:
    rows = db.session.scalars(
        select(models.Substitution).where(models.Substitution.school_id == school.id)
    )
    return {row.external_id: row for row in rows}


def test_first_import_of_a_generated_school_counts_everything(app: Flask, school: School) -> None:
    files = demo_gpu.generate_school(3, start=MONDAY, days=5, substitutions_per_day=30)
    result = run(school, files)
    record = result.record
    assert record.source == "untis-gpu"
    assert record.counts["classes"] == 20 and record.counts["teachers"] == 40
    assert record.counts["substitutions"] == 150
    assert record.changes == {"new": 150, "changed": 0, "removed": 0}
    assert record.warnings == []
    assert len(record.covered_dates) == 5 and record.covered_dates[0] == MONDAY.isoformat()
    assert sorted(record.files) == sorted(files) and all(
        len(h) == 64 for h in record.files.values()
    )
    assert count(models.SchoolClass) == 20
    assert count(models.Teacher) == 40
    assert count(models.Lesson) == record.counts["lessons"] > 900
    assert count(models.Substitution) == 150
    assert count(models.SubstitutionChange, models.SubstitutionChange.change == "new") == 150
    assert count(models.Absence) == record.counts["absences"] > 0
    assert count(models.Course) > 0
    assert result.plan_changed and plan_version(school) == 1
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "timetable.import"))
    assert event.school_id == school.id and event.target_id == str(record.id)


def test_the_same_files_twice_change_nothing(app: Flask, school: School) -> None:
    files = demo_gpu.generate_school(3, start=MONDAY, days=2, substitutions_per_day=20)
    run(school, files)
    before = {key: (row.id, row.changed_at) for key, row in substitutions(school).items()}
    lessons = set(db.session.scalars(select(models.Lesson.id)))
    again = run(school, files)
    assert again.record.changes == {"new": 0, "changed": 0, "removed": 0}
    assert not again.plan_changed and plan_version(school) == 1
    assert {key: (row.id, row.changed_at) for key, row in substitutions(school).items()} == before
    assert set(db.session.scalars(select(models.Lesson.id))) == lessons
    assert count(models.SubstitutionChange) == 40
    assert count(models.TimetableImport) == 2


def test_a_changed_export_records_new_changed_and_removed_exactly(
    app: Flask, school: School
) -> None:
    run(school, base_files())
    unchanged_at = substitutions(school)["3"].changed_at
    second = gpu_files(
        substitution(1, MONDAY, 1, substitute="MUE", new_room="AULA"),
        substitution(3, TUESDAY, 1, classes="5b", subject="D", absent="SCH", substitute="MUE"),
        substitution(4, TUESDAY, 2, classes="5b", art=1 << 16, letter="R", new_room="AULA"),
    )
    result = run(school, second)
    assert result.record.changes == {"new": 1, "changed": 1, "removed": 1}
    assert result.plan_changed and plan_version(school) == 2
    changes = {
        row.change: row
        for row in db.session.scalars(
            select(models.SubstitutionChange).where(
                models.SubstitutionChange.import_id == result.record.id
            )
        )
    }
    assert changes["changed"].before["new_teachers"] == ["SCH"]
    assert changes["changed"].after["new_teachers"] == ["MUE"]
    assert changes["changed"].after["new_rooms"] == ["AULA"]
    assert changes["removed"].before["kind"] == "cancellation" and changes["removed"].after is None
    assert changes["new"].after["kind"] == "room_change" and changes["new"].before is None
    rows = substitutions(school)
    assert set(rows) == {"1", "3", "4"}
    assert rows["3"].changed_at == unchanged_at
    assert rows["1"].changed_at > unchanged_at


def test_only_the_covered_dates_are_replaced(app: Flask, school: School) -> None:
    run(school, base_files())
    monday = {key: row.id for key, row in substitutions(school).items() if row.date == MONDAY}
    only_tuesday = gpu_files(substitution(7, TUESDAY, 3, classes="5b"), master_data=False)
    result = run(school, only_tuesday)
    assert result.record.covered_dates == [TUESDAY.isoformat()]
    assert result.record.changes == {"new": 1, "changed": 0, "removed": 1}
    rows = substitutions(school)
    assert {key: row.id for key, row in rows.items() if row.date == MONDAY} == monday
    assert {key for key, row in rows.items() if row.date == TUESDAY} == {"7"}
    # Without GPU001/GPU003 the weekly plan and master data stay as they were.
    assert count(models.Lesson) == 3 and count(models.SchoolClass) == 2


@pytest.mark.parametrize(
    ("files", "file_format", "message"),
    [
        ({"GPU014.TXT": b"\x00\x01\x02garbage"}, None, "binary data"),
        ({"GPU014.TXT": b'1,"20261123",1\r\n2,"20261123"\r\n'}, None, "not a GPU014 export"),
        (base_files(), INDIWARE, "no file of indiware"),
        ({"notes.txt": b"hello"}, None, "no file of untis-gpu or untis-html or indiware"),
        (base_files(), "excel", "one of"),
    ],
)
def test_a_failed_import_changes_nothing(
    app: Flask, school: School, files: dict[str, bytes], file_format: str | None, message: str
) -> None:
    run(school, base_files())
    before = {key: row.content_hash for key, row in substitutions(school).items()}
    with pytest.raises(ValidationFailed) as failure:
        run(school, files, file_format)
    db.session.rollback()
    reasons = " ".join(r for values in failure.value.errors.values() for r in values)
    assert message in reasons
    assert {key: row.content_hash for key, row in substitutions(school).items()} == before
    assert count(models.TimetableImport) == 1 and plan_version(school) == 1


def test_truncated_lines_are_warnings_with_file_and_line(app: Flask, school: School) -> None:
    files = base_files()
    files["GPU014.TXT"] += b'9,"20261124",3,,1,"MUE"\r\n'
    result = run(school, files)
    assert result.record.warnings == [
        {
            "file": "GPU014.TXT",
            "line": 4,
            "message": "truncated line: 6 fields, GPU014 needs 20; skipped",
        }
    ]
    assert set(substitutions(school)) == {"1", "2", "3"}


def test_dates_outside_the_school_year_are_refused(app: Flask, school: School) -> None:
    db.session.add(
        models.SchoolYear(
            school_id=school.id,
            name="2026/27",
            starts_on=date(2026, 8, 1),
            ends_on=date(2027, 7, 31),
        )
    )
    db.session.commit()
    run(school, base_files())
    late = gpu_files(substitution(5, date(2027, 9, 6), 1), master_data=False)
    with pytest.raises(ValidationFailed) as failure:
        run(school, late)
    db.session.rollback()
    assert "2027-09-06" in failure.value.errors["dates"][0]
    assert "2026/27" in failure.value.errors["dates"][0]
    assert count(models.Substitution) == 3 and count(models.TimetableImport) == 1


def test_unknown_classes_and_teachers_are_warnings_and_still_imported(
    app: Flask, school: School
) -> None:
    run(school, base_files())
    odd = gpu_files(substitution(8, MONDAY, 4, classes="9z", absent="XYZ"), master_data=False)
    result = run(school, odd)
    messages = [(w["file"], w["message"]) for w in result.record.warnings]
    assert ("GPU014.TXT", "unknown class '9z' in 1 substitution(s); imported") in messages
    assert ("GPU014.TXT", "unknown teacher 'XYZ' in 1 substitution(s); imported") in messages
    assert substitutions(school)["8"].original_classes == ["9z"]


def test_teachers_are_linked_to_users_by_email_or_username(
    app: Flask, school: School, other_school: School, create_user: Callable[..., User]
) -> None:
    sabine = create_user("teacher", school, username="sabine", email="S.Mueller@schule.example")
    thomas = create_user("teacher", school, username="sch")
    create_user("teacher", other_school, username="mue")
    run(school, base_files())
    links = dict(
        db.session.execute(select(models.Teacher.abbreviation, models.Teacher.user_id)).all()
    )
    assert links == {"MUE": sabine.id, "SCH": thomas.id}


def test_indiware_plan_replaces_its_date_and_the_holidays(app: Flask, school: School) -> None:
    files = {"PlanKl20261123.xml": INDIWARE_PLAN.encode()}
    first = run(school, files)
    assert first.record.source == "indiware"
    assert first.record.changes == {"new": 1, "changed": 0, "removed": 0}
    dated = db.session.scalars(select(models.Lesson)).all()
    assert [(lesson.subject, lesson.valid_from) for lesson in dated] == [("Deu", MONDAY)]
    holidays = db.session.scalars(select(models.Holiday)).all()
    assert [(h.from_date, h.to_date) for h in holidays] == [
        (date(2026, 12, 21), date(2026, 12, 23))
    ]
    assert db.session.scalars(select(models.DayMessage.text)).all() == [
        "Heute Wandertag der 7. Klassen."
    ]
    assert count(models.TimeSlot) == 2
    again = run(school, files)
    assert not again.plan_changed and again.record.changes["new"] == 0


def test_absences_on_covered_dates_are_replaced(app: Flask, school: School) -> None:
    files = base_files() | {"GPU013.TXT": b'1,"L","MUE","20261123","20261123",1,6,"K"\r\n'}
    run(school, files)
    files["GPU013.TXT"] = b'2,"L","SCH","20261123","20261123",1,6,"FB"\r\n'
    result = run(school, files)
    assert result.plan_changed
    absences = db.session.scalars(select(models.Absence)).all()
    assert [(a.kind, a.name, a.reason) for a in absences] == [("teacher", "SCH", "FB")]


@pytest.mark.skipif(not (SAMPLES / "untis").is_dir(), reason="samples not present")
def test_real_untis_html_pages_import_idempotently(app: Flask, school: School) -> None:
    files = {path.name: path.read_bytes() for path in sorted((SAMPLES / "untis").glob("*.htm"))}
    first = run(school, files)
    assert first.record.source == "untis-html"
    assert first.record.changes["new"] == count(models.Substitution) > 0
    assert count(models.DayMessage) > 0
    again = run(school, files)
    assert again.record.changes == {"new": 0, "changed": 0, "removed": 0}
    assert not again.plan_changed
