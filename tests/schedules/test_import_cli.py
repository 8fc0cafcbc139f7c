"""The other ways in: `mdm import`, the folder job, and the demo school's timetable."""

import logging
import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from mdm.accounts.demo import TEACHERS, seed_demo
from mdm.accounts.models import School, User
from mdm.extensions import db
from mdm.platform.jobs import registered_jobs, run_claimed
from schedules import models
from schedules.demo import first_school_day
from schedules.import_folder import JOB_ID
from tests.conftest import SAMPLES
from tests.schedules.import_fixtures import (
    INDIWARE_PLAN,
    MONDAY,
    base_files,
    damaged_zip,
    gpu_files,
    history,
    substitution,
    zipped,
)


def write(folder: Path, files: dict[str, bytes], age_seconds: int = 60) -> None:
    """Write an export into a folder, its files older than the job's settle time."""
    folder.mkdir(parents=True, exist_ok=True)
    past = time.time() - age_seconds
    for name, data in files.items():
        (folder / name).write_bytes(data)
        os.utime(folder / name, (past, past))


def count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def test_import_untis_folder_prints_the_report(
    runner: FlaskCliRunner, school: School, tmp_path: Path
) -> None:
    write(tmp_path, base_files())
    result = runner.invoke(args=["import", "untis", str(tmp_path), "--school", school.slug])
    assert result.exit_code == 0, result.output
    assert "(untis-gpu, 6 files)" in result.output
    assert "Substitutions: 3 new, 0 changed, 0 removed" in result.output
    assert count(models.Substitution) == 3
    again = runner.invoke(args=["import", "untis", str(tmp_path), "--school", school.slug])
    assert again.exit_code == 0
    assert "unchanged: the export held nothing new" in again.output


def test_import_a_zip_and_a_single_indiware_file(
    runner: FlaskCliRunner, school: School, tmp_path: Path
) -> None:
    (tmp_path / "export.zip").write_bytes(zipped(base_files()))
    result = runner.invoke(
        args=["import", "untis", str(tmp_path / "export.zip"), "--school", school.slug]
    )
    assert result.exit_code == 0, result.output
    (tmp_path / "PlanKl20261123.xml").write_text(INDIWARE_PLAN, encoding="utf-8")
    result = runner.invoke(
        args=["import", "indiware", str(tmp_path / "PlanKl20261123.xml"), "--school", school.slug]
    )
    assert result.exit_code == 0, result.output
    assert "(indiware, 1 files)" in result.output


@pytest.mark.skipif(not (SAMPLES / "indiware").is_dir(), reason="samples not present")
def test_import_the_real_indiware_sample(runner: FlaskCliRunner, school: School) -> None:
    path = SAMPLES / "indiware" / "PlanKl20170621.xml"
    result = runner.invoke(args=["import", "indiware", str(path), "--school", school.slug])
    assert result.exit_code == 0, result.output
    assert count(models.Substitution) > 0


def test_failures_exit_1_with_a_clear_message_and_change_nothing(
    runner: FlaskCliRunner, school: School, tmp_path: Path
) -> None:
    write(tmp_path / "good", base_files())
    assert (
        runner.invoke(
            args=["import", "untis", str(tmp_path / "good"), "--school", school.slug]
        ).exit_code
        == 0
    )
    write(tmp_path / "bad", {"GPU014.TXT": b"\x00\x00garbage"})
    bad = runner.invoke(args=["import", "untis", str(tmp_path / "bad"), "--school", school.slug])
    assert bad.exit_code == 1
    assert "refused, nothing changed" in bad.output and "binary data" in bad.output
    xml = runner.invoke(args=["import", "untis", str(tmp_path / "x.xml"), "--school", school.slug])
    assert xml.exit_code == 2
    (tmp_path / "x.xml").write_text(INDIWARE_PLAN, encoding="utf-8")
    xml = runner.invoke(args=["import", "untis", str(tmp_path / "x.xml"), "--school", school.slug])
    assert xml.exit_code == 1 and "no file of untis-gpu or untis-html" in xml.output
    nobody = runner.invoke(args=["import", "untis", str(tmp_path / "good"), "--school", "nope"])
    assert nobody.exit_code == 1 and "no school with the slug 'nope'" in nobody.output
    assert count(models.Substitution) == 3
    assert [status for status, _reason in history()] == ["applied", "refused", "refused"]


def test_damaged_zips_and_impossible_dates_exit_1_without_a_traceback(
    runner: FlaskCliRunner, school: School, tmp_path: Path
) -> None:
    (tmp_path / "export.zip").write_bytes(damaged_zip("deflate"))
    result = runner.invoke(
        args=["import", "untis", str(tmp_path / "export.zip"), "--school", school.slug]
    )
    assert result.exit_code == 1 and result.exception is not None
    assert isinstance(result.exception, SystemExit)
    assert "refused, nothing changed: the zip file is damaged" in result.output
    plan = INDIWARE_PLAN.replace("23. November 2026", "31. Februar 2024")
    (tmp_path / "PlanKl.xml").write_text(plan, encoding="utf-8")
    result = runner.invoke(
        args=["import", "indiware", str(tmp_path / "PlanKl.xml"), "--school", school.slug]
    )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "is not a valid date" in result.output
    reasons = [reason for _status, reason in history()]
    assert "the zip file is damaged" in reasons[0] and "is not a valid date" in reasons[1]


def test_folder_job_imports_a_new_export_once(
    make_app: Callable[..., Flask],
    school: School,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder_app = make_app(TIMETABLE_IMPORT_FOLDER=str(tmp_path))
    spec = next(spec for spec in registered_jobs(folder_app) if spec.id == JOB_ID)
    assert spec.seconds == 300
    write(tmp_path / school.slug, base_files())
    write(tmp_path / "unknown-school", base_files())

    assert run_claimed(folder_app, spec, "2026-11-23T07:00:00Z")
    db.session.expire_all()
    assert count(models.TimetableImport) == 1 and count(models.Substitution) == 3
    assert "unknown-school: no school with this slug" in caplog.text

    assert run_claimed(folder_app, spec, "2026-11-23T07:05:00Z")
    db.session.expire_all()
    assert count(models.TimetableImport) == 1

    changed = gpu_files(substitution(1, MONDAY, 1, substitute="MUE"), master_data=False)
    for name in list(base_files()):
        (tmp_path / school.slug / name).unlink()
    write(tmp_path / school.slug, changed, age_seconds=0)
    assert run_claimed(folder_app, spec, "2026-11-23T07:10:00Z")
    db.session.expire_all()
    assert count(models.TimetableImport) == 1, "a file still being written waits"

    write(tmp_path / school.slug, changed)
    assert run_claimed(folder_app, spec, "2026-11-23T07:15:00Z")
    db.session.expire_all()
    assert count(models.TimetableImport) == 2
    assert count(models.Substitution) == 2


def test_folder_job_logs_a_failed_export_and_keeps_the_plan(
    make_app: Callable[..., Flask],
    school: School,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder_app = make_app(TIMETABLE_IMPORT_FOLDER=str(tmp_path))
    spec = next(spec for spec in registered_jobs(folder_app) if spec.id == JOB_ID)
    write(tmp_path / school.slug, base_files())
    run_claimed(folder_app, spec, "2026-11-23T07:00:00Z")
    write(tmp_path / school.slug, {"GPU014.TXT": b"\x00broken"})
    with caplog.at_level(logging.ERROR, logger="schedules.import_folder"):
        run_claimed(folder_app, spec, "2026-11-23T07:05:00Z")
    assert f"timetable import from {tmp_path / school.slug} refused" in caplog.text
    assert "binary data" in caplog.text
    db.session.expire_all()
    assert count(models.Substitution) == 3
    [applied, refused] = history()
    assert applied == ("applied", None) and "binary data" in refused[1]
    run_claimed(folder_app, spec, "2026-11-23T07:10:00Z")
    assert len(history()) == 2, "the same refused export is not tried again"


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({"export.zip": damaged_zip("lzma")}, "the zip file is damaged"),
        (
            {"PlanKl.xml": INDIWARE_PLAN.replace("23. November 2026", "31. Februar 2024").encode()},
            "is not a valid date",
        ),
    ],
)
def test_folder_job_logs_damaged_files_without_a_traceback(
    make_app: Callable[..., Flask],
    school: School,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    files: dict[str, bytes],
    reason: str,
) -> None:
    folder_app = make_app(TIMETABLE_IMPORT_FOLDER=str(tmp_path))
    spec = next(spec for spec in registered_jobs(folder_app) if spec.id == JOB_ID)
    write(tmp_path / school.slug, files)
    with caplog.at_level(logging.ERROR, logger="schedules.import_folder"):
        run_claimed(folder_app, spec, "2026-11-23T07:00:00Z")
    failures = [r for r in caplog.records if r.name == "schedules.import_folder"]
    assert len(failures) == 1 and failures[0].exc_info is None
    assert "refused, nothing changed" in failures[0].getMessage()
    assert reason in failures[0].getMessage()
    db.session.expire_all()
    [(status, why)] = history()
    assert status == "refused" and reason in why


def test_no_folder_no_job(app: Flask) -> None:
    assert JOB_ID not in {spec.id for spec in registered_jobs(app)}


def test_demo_imports_a_plan_for_today_and_the_next_school_day_once(app: Flask) -> None:
    first = seed_demo(app, db.session)
    db.session.commit()
    assert any(line.startswith("Timetable: ") for line in first.notes)
    school = first.school
    today = first_school_day(datetime.now(ZoneInfo(school.timezone)).date())
    next_day = first_school_day(today + timedelta(days=1))
    dates = set(db.session.scalars(select(models.Substitution.date)))
    assert {today, next_day} <= dates
    classes = set(db.session.scalars(select(models.SchoolClass.name)))
    assert {"5a", "5b", "7a", "10c"} <= classes
    linked = dict(
        db.session.execute(
            select(User.username, models.Teacher.abbreviation).join(
                models.Teacher, models.Teacher.user_id == User.id
            )
        ).all()
    )
    assert set(linked) == {username for username, _, _ in TEACHERS}
    assert linked["s.mueller"] == "MülS"
    assert count(models.DayMessage) > 0 and count(models.TimeSlot) == 10
    version = db.session.get(models.PanelSettings, school.id).plan_version

    again = seed_demo(app, db.session)
    db.session.commit()
    assert any("already imported" in line for line in again.notes)
    assert count(models.TimetableImport) == 1
    assert db.session.get(models.PanelSettings, school.id).plan_version == version
    assert db.session.scalar(select(func.count()).select_from(School)) == 1
