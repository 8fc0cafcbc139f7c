"""What an import replaces, as an admin uses it: each kind only from a file that carries it,
incomplete exports refused or only added, too much removed needs force, previews, the undo of
the last import, refusals in the history, mixed exports, limits, summarised warnings."""

import io
import logging
import os
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from mdm.accounts.models import School, User
from mdm.extensions import db
from mdm.platform.jobs import registered_jobs, run_claimed
from mdm.platform.models import AuditEvent
from schedules import models
from schedules.import_folder import JOB_ID
from tests.schedules.import_fixtures import (
    MONDAY,
    ROOMS,
    SUBJECTS,
    TEACHERS,
    TUESDAY,
    base_files,
    encoded,
    frameset,
    gpu_files,
    history,
    monday,
    monitor_page,
    plan_state,
    substitution,
    substitution_row,
    tuesday,
)

Headers = Callable[[User], dict[str, str]]
ABSENCES = '1,"L","MUE","20261123","20261123",1,2,"K","krank"\r\n'


def url(school: School, suffix: str = "") -> str:
    return f"/api/v1/schools/{school.id}/timetable{suffix}"


def upload(
    client: FlaskClient,
    school: School,
    headers: dict[str, str],
    files: dict[str, bytes],
    query: str = "",
) -> Any:
    data = {"files": [(io.BytesIO(content), name) for name, content in files.items()]}
    return client.post(
        url(school, "/imports" + query),
        data=data,
        headers=headers,
        content_type="multipart/form-data",
    )


def count(model: type[Any]) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def timetable(lessons: int) -> bytes:
    """A GPU001 of `lessons` weekly lessons of 5a (one a period, Monday to Friday)."""
    rows = [f'{n + 1},"5a","MUE","M","A101",{n % 5 + 1},{n // 5 + 1}\r\n' for n in range(lessons)]
    return "".join(rows).encode("cp1252")


def write(folder: Path, files: dict[str, bytes]) -> None:
    """An export in a folder (subfolders too), older than the folder job's settle time."""
    past = time.time() - 60
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (past, past))


# Each kind only from a file that carries it


def test_a_substitution_file_alone_keeps_the_absences_and_day_messages(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    files = base_files() | {"GPU013.TXT": ABSENCES.encode()}
    assert upload(client, school, headers(school_admin), files).status_code == 201
    db.session.add(models.DayMessage(school_id=school.id, date=MONDAY, text="Wandertag"))
    db.session.commit()
    assert count(models.Absence) == 1

    only_substitutions = gpu_files(substitution(1, MONDAY, 1, substitute="MUE"), master_data=False)
    response = upload(client, school, headers(school_admin), only_substitutions)

    assert response.status_code == 201, response.get_json()
    assert count(models.Absence) == 1 and count(models.DayMessage) == 1
    assert response.get_json()["covered_dates"] == [MONDAY.isoformat()]


def test_absences_are_replaced_on_the_days_of_a_file_that_carries_them(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    files = base_files() | {"GPU013.TXT": ABSENCES.encode()}
    assert upload(client, school, headers(school_admin), files).status_code == 201
    healthy = base_files() | {"GPU013.TXT": b'2,"L","SCH","20261124","20261124",,,"FB",""\r\n'}
    assert upload(client, school, headers(school_admin), healthy).status_code == 201
    names = sorted(db.session.scalars(select(models.Absence.name)))
    assert names == ["SCH"]


def test_a_chain_page_without_the_others_adds_its_entries_and_removes_nothing(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    chain = {
        "subst_001.htm": monitor_page(
            (monday(1, 2), substitution_row("5a", "1")), refresh="subst_002.htm"
        ),
        "subst_002.htm": monitor_page(
            (monday(2, 2), substitution_row("5b", "2")), refresh="subst_001.htm"
        ),
    }
    first = upload(client, school, headers(school_admin), encoded(chain))
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["covered_dates"] == [MONDAY.isoformat()]

    page_one = {
        "subst_001.htm": monitor_page(
            (monday(1, 2), substitution_row("5a", "1") + substitution_row("5c", "3")),
            refresh="subst_002.htm",
        )
    }
    response = upload(client, school, headers(school_admin), encoded(page_one))

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["covered_dates"] == [] and body["partial_dates"] == [MONDAY.isoformat()]
    assert body["missing_pages"] == ["subst_002.htm"]
    assert body["kinds"]["substitutions"] == {"new": 1, "changed": 0, "removed": 0}
    classes = sorted(
        c for row in db.session.scalars(select(models.Substitution)) for c in row.new_classes
    )
    assert classes == ["5a", "5b", "5c"]


def _frameset_export() -> dict[str, bytes]:
    return encoded(
        {
            "subst.htm": frameset("f1/subst_001.htm", "f2/subst_001.htm"),
            "f1/subst_001.htm": monitor_page(
                (monday(1, 1), substitution_row("5a", "1")), refresh="subst_001.htm"
            ),
            "f2/subst_001.htm": monitor_page(
                (tuesday(1, 1), substitution_row("5b", "2")), refresh="subst_001.htm"
            ),
        }
    )


def test_the_2025_frameset_export_imports_in_one_go_as_a_zip(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in _frameset_export().items():
            archive.writestr(f"vertretung/{name}", data)
    response = client.post(
        url(school, "/imports"),
        data=buffer.getvalue(),
        headers=headers(school_admin),
        content_type="application/zip",
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["covered_dates"] == [MONDAY.isoformat(), TUESDAY.isoformat()]
    assert count(models.Substitution) == 2


def test_the_2025_frameset_export_imports_in_one_go_as_a_folder(
    runner: FlaskCliRunner, school: School, tmp_path: Path
) -> None:
    write(tmp_path, _frameset_export())
    result = runner.invoke(args=["import", "untis", str(tmp_path), "--school", school.slug])
    assert result.exit_code == 0, result.output
    assert count(models.Substitution) == 2


def test_one_upload_reads_gpu_files_and_html_pages_together(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    master = {name: data for name, data in base_files().items() if name != "GPU014.TXT"}
    page = {"subst_001.htm": monitor_page((monday(), substitution_row("5a", "1")))}
    response = upload(client, school, headers(school_admin), master | encoded(page))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["source"] == "untis-gpu+untis-html"
    assert body["counts"]["lessons"] == 3 and body["counts"]["substitutions"] == 1
    assert count(models.SchoolClass) == 2


@pytest.mark.parametrize("name", ["2026-11-23_Export_GPU014.TXT", "vertretungen.txt"])
def test_a_substitution_file_is_known_by_its_name_or_content(
    client: FlaskClient, school: School, school_admin: User, headers: Headers, name: str
) -> None:
    files = {name: (substitution(1, MONDAY, 1) + substitution(2, TUESDAY, 1)).encode()}
    response = upload(client, school, headers(school_admin), files)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["counts"]["substitutions"] == 2
    assert count(models.Substitution) == 2


# Incomplete exports are refused, and the refusal is in the history


def test_a_cut_off_timetable_is_refused_recorded_and_changes_nothing(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    assert upload(client, school, headers(school_admin), base_files()).status_code == 201
    before = plan_state()
    cut = gpu_files(substitution(1, MONDAY, 1)) | {"GPU001.TXT": timetable(20)[:-9]}

    response = upload(client, school, headers(school_admin), cut)

    assert response.status_code == 400
    reason = response.get_json()["errors"]["files"][0]
    assert "cut off" in reason and "GPU001.TXT" in reason
    assert plan_state() == before
    assert [status for status, _ in history()] == ["applied", "refused"]
    refused = client.get(url(school, "/imports"), headers=headers(school_admin)).get_json()
    assert refused["items"][0]["status"] == "refused" and "cut off" in refused["items"][0]["reason"]


def test_an_indiware_plan_without_classes_is_refused_and_changes_nothing(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    from tests.schedules.import_fixtures import INDIWARE_PLAN

    assert (
        upload(
            client, school, headers(school_admin), {"PlanKl.xml": INDIWARE_PLAN.encode()}
        ).status_code
        == 201
    )
    before = plan_state()
    start, end = INDIWARE_PLAN.index("<Klassen>"), INDIWARE_PLAN.index("</Klassen>")
    empty = INDIWARE_PLAN[:start] + "<Klassen>" + INDIWARE_PLAN[end:]
    response = upload(client, school, headers(school_admin), {"PlanKl.xml": empty.encode()})
    assert response.status_code == 400
    assert "lists no classes" in response.get_json()["errors"]["files"][0]
    assert plan_state() == before


# Too much removed needs force


def test_removing_more_than_half_of_the_weekly_lessons_needs_force(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    assert (
        upload(client, school, headers(school_admin), {"GPU001.TXT": timetable(20)}).status_code
        == 201
    )
    before = plan_state()
    shorter = {"GPU001.TXT": timetable(8)}

    refused = upload(client, school, headers(school_admin), shorter)
    assert refused.status_code == 400
    reason = refused.get_json()["errors"]["force"][0]
    assert "12 of 20 lessons" in reason
    assert plan_state() == before
    assert history()[-1] == ("refused", refused.get_json()["detail"])

    forced = upload(client, school, headers(school_admin), shorter, "?force=1")
    assert forced.status_code == 201
    assert forced.get_json()["kinds"]["lessons"]["removed"] == 12
    assert count(models.Lesson) == 8


def test_the_command_line_forces_too(
    runner: FlaskCliRunner, school: School, tmp_path: Path
) -> None:
    write(tmp_path / "full", {"GPU001.TXT": timetable(20)})
    write(tmp_path / "short", {"GPU001.TXT": timetable(8)})
    args = ["import", "untis", "--school", school.slug]
    assert runner.invoke(args=[*args, str(tmp_path / "full")]).exit_code == 0
    refused = runner.invoke(args=[*args, str(tmp_path / "short")])
    assert refused.exit_code == 1 and "12 of 20 lessons" in refused.output
    forced = runner.invoke(args=[*args, "--force", str(tmp_path / "short")])
    assert forced.exit_code == 0 and "Lessons: 0 new, 0 changed, 12 removed" in forced.output
    assert count(models.Lesson) == 8


def test_the_folder_job_never_forces_and_records_why(
    make_app: Callable[..., Flask],
    school: School,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder_app = make_app(TIMETABLE_IMPORT_FOLDER=str(tmp_path))
    spec = next(spec for spec in registered_jobs(folder_app) if spec.id == JOB_ID)
    write(tmp_path / school.slug, {"GPU001.TXT": timetable(20)})
    run_claimed(folder_app, spec, "2026-11-23T07:00:00Z")
    write(tmp_path / school.slug, {"GPU001.TXT": timetable(4)})
    with caplog.at_level(logging.ERROR, logger="schedules.import_folder"):
        run_claimed(folder_app, spec, "2026-11-23T07:05:00Z")
    db.session.expire_all()
    assert count(models.Lesson) == 20
    status, reason = history()[-1]
    assert status == "refused" and "16 of 20 lessons" in reason


# Preview and undo


def test_a_dry_run_says_what_would_change_and_changes_nothing(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    assert upload(client, school, headers(school_admin), base_files()).status_code == 201
    before, imports = plan_state(), history()
    changed = gpu_files(
        substitution(1, MONDAY, 1, substitute="MUE"),
        substitution(4, MONDAY, 3, classes="5b"),
        master_data=False,
    )

    response = upload(client, school, headers(school_admin), changed, "?dry_run=1")

    assert response.status_code == 200, response.get_json()
    preview = response.get_json()
    assert preview["dry_run"] is True and preview["plan_changed"] is True
    substitutions = preview["kinds"]["substitutions"]
    assert (substitutions["new"], substitutions["changed"], substitutions["removed"]) == (1, 1, 1)
    assert any("5b" in example for example in substitutions["examples"])
    assert plan_state() == before and history() == imports


def test_a_dry_run_on_the_command_line(
    runner: FlaskCliRunner, school: School, tmp_path: Path
) -> None:
    write(tmp_path, base_files())
    result = runner.invoke(
        args=["import", "untis", str(tmp_path), "--school", school.slug, "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "Dry run" in result.output and "Substitutions: 3 new" in result.output
    assert count(models.Substitution) == 0 and history() == []


def _plan_content() -> dict[str, list[Any]]:
    """The plan as the panel shows it (not when or by which import it changed)."""
    return {
        "substitutions": sorted(
            db.session.execute(select(models.Substitution.key, models.Substitution.content_hash))
        ),
        "lessons": sorted(
            db.session.execute(
                select(models.Lesson.weekday, models.Lesson.period, models.Lesson.subject)
            )
        ),
        "classes": sorted(db.session.scalars(select(models.SchoolClass.name))),
        "absences": sorted(db.session.scalars(select(models.Absence.name))),
    }


def test_the_last_import_can_be_undone_once(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    first = base_files() | {"GPU013.TXT": ABSENCES.encode()}
    assert upload(client, school, headers(school_admin), first).status_code == 201
    before = _plan_content()
    second = gpu_files(
        substitution(1, MONDAY, 1, substitute="MUE"),
        substitution(3, TUESDAY, 2, classes="5b"),
        master_data=False,
    ) | {"GPU003.TXT": b'"5a","Klasse 5a"\r\n"6c","Klasse 6c"\r\n', "GPU013.TXT": b""}
    second.pop("GPU013.TXT")
    applied = upload(client, school, headers(school_admin), second)
    assert applied.status_code == 201, applied.get_json()
    assert _plan_content() != before
    version = applied.get_json()["plan_version"]

    restored = client.post(url(school, "/restore"), headers=headers(school_admin))

    assert restored.status_code == 201, restored.get_json()
    body = restored.get_json()
    assert body["source"] == "restore" and body["plan_version"] == version + 1
    assert f"before import {applied.get_json()['id']}" in body["reason"]
    assert _plan_content() == before
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "timetable.restore"))
    again = client.post(url(school, "/restore"), headers=headers(school_admin))
    assert again.status_code == 409


def test_undo_on_the_command_line(runner: FlaskCliRunner, school: School, tmp_path: Path) -> None:
    write(tmp_path / "a", base_files())
    write(
        tmp_path / "b", gpu_files(substitution(1, MONDAY, 1, substitute="MUE"), master_data=False)
    )
    args = ["import", "untis", "--school", school.slug]
    assert runner.invoke(args=[*args, str(tmp_path / "a")]).exit_code == 0
    before = _plan_content()
    assert runner.invoke(args=[*args, str(tmp_path / "b")]).exit_code == 0
    result = runner.invoke(args=["import", "restore", "--school", school.slug])
    assert result.exit_code == 0, result.output
    assert _plan_content() == before
    nothing = runner.invoke(args=["import", "restore", "--school", school.slug])
    assert nothing.exit_code == 1 and "no import to undo" in nothing.output


def test_only_admins_undo(
    client: FlaskClient, school: School, teacher: User, headers: Headers
) -> None:
    assert client.post(url(school, "/restore"), headers=headers(teacher)).status_code == 403


# Limits, paging, warnings


def test_a_file_beyond_the_row_limit_is_refused_before_it_is_read(
    app: Flask,
    client: FlaskClient,
    school: School,
    school_admin: User,
    headers: Headers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, "TIMETABLE_IMPORT_MAX_ROWS", 5)
    response = upload(client, school, headers(school_admin), {"GPU001.TXT": timetable(20)})
    assert response.status_code == 400
    assert "at most 5" in response.get_json()["errors"]["files"][0]
    assert count(models.Lesson) == 0


def test_the_import_detail_pages_its_substitution_changes(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    many = gpu_files(*(substitution(n, MONDAY, n % 8 + 1, classes=f"5{n}") for n in range(1, 26)))
    imported = upload(client, school, headers(school_admin), many).get_json()
    detail = client.get(
        url(school, f"/imports/{imported['id']}?per_page=10&page=3"),
        headers=headers(school_admin),
    ).get_json()
    assert detail["substitution_changes_total"] == 25
    assert len(detail["substitution_changes"]) == 5 and detail["page"] == 3


def test_warnings_are_summarised_one_line_per_kind(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    assert upload(client, school, headers(school_admin), base_files()).status_code == 201
    odd = gpu_files(
        *(substitution(n, MONDAY, n, classes=f"9{letter}") for n, letter in enumerate("xyz", 1)),
        master_data=False,
    )
    body = upload(client, school, headers(school_admin), odd).get_json()
    [line] = [w for w in body["warning_summary"] if "unknown class" in w["warning"]]
    assert line["count"] == 3 and len(line["examples"]) == 3
    assert line["warning"] == "unknown class … in # substitution(s); imported"
    assert "9x" in line["examples"][0]


def test_the_master_data_stays_when_only_substitutions_come(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    files = base_files() | {
        "GPU004.TXT": TEACHERS.encode("cp1252"),
        "GPU005.TXT": ROOMS.encode(),
        "GPU006.TXT": SUBJECTS.encode(),
    }
    assert upload(client, school, headers(school_admin), files).status_code == 201
    classes = count(models.SchoolClass)
    upload(
        client,
        school,
        headers(school_admin),
        gpu_files(substitution(9, MONDAY, 4), master_data=False),
    )
    assert count(models.SchoolClass) == classes and count(models.Lesson) == 3
