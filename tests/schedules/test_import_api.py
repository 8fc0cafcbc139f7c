"""The import API: uploads of files and zips, refusals as problem+json, history, scoping."""

import io
from collections.abc import Callable
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from mdm.accounts.models import School, User
from mdm.extensions import db
from schedules import models
from tests.conftest import SAMPLES
from tests.schedules.import_fixtures import (
    INDIWARE_PLAN,
    MONDAY,
    base_files,
    damaged_zip,
    gpu_files,
    history,
    plan_state,
    substitution,
    zipped,
    zipped_with_nameless_members,
)

Headers = Callable[[User], dict[str, str]]


def url(school: School, suffix: str = "") -> str:
    return f"/api/v1/schools/{school.id}/timetable/imports{suffix}"


def multipart(files: dict[str, bytes], **fields: str) -> dict[str, object]:
    return {"files": [(io.BytesIO(data), name) for name, data in files.items()], **fields}


def upload(
    client: FlaskClient, school: School, headers: dict[str, str], files: dict[str, bytes]
) -> object:
    return client.post(
        url(school), data=multipart(files), headers=headers, content_type="multipart/form-data"
    )


def substitution_count() -> int:
    return db.session.scalar(select(func.count()).select_from(models.Substitution)) or 0


def test_upload_files_returns_the_report(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    files = base_files()
    files["GPU014.TXT"] += b'9,"20261124",3\r\n'
    response = upload(client, school, headers(school_admin), files)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["source"] == "untis-gpu" and body["actor"] == "admin-a"
    assert body["counts"]["substitutions"] == 3 and body["counts"]["classes"] == 2
    assert body["changes"] == {"new": 3, "changed": 0, "removed": 0}
    assert body["plan_changed"] is True and body["plan_version"] == 1
    assert body["warnings"] == [
        {
            "file": "GPU014.TXT",
            "line": 4,
            "message": "truncated line: 3 fields, GPU014 needs 20; skipped",
        }
    ]
    assert body["covered_dates"] == ["2026-11-23", "2026-11-24"]
    again = upload(client, school, headers(school_admin), base_files()).get_json()
    assert again["plan_changed"] is False and again["plan_version"] == 1


def test_zip_upload_as_body_and_inside_the_form(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    archive = zipped(base_files(), folder="export/")
    response = client.post(
        url(school) + "?format=untis-gpu",
        data=archive,
        headers=headers(school_admin),
        content_type="application/zip",
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["changes"]["new"] == 3
    changed = gpu_files(substitution(1, MONDAY, 1, substitute="MUE"), master_data=False)
    response = upload(client, school, headers(school_admin), {"plan.zip": zipped(changed)})
    assert response.status_code == 201
    assert response.get_json()["changes"] == {"new": 0, "changed": 1, "removed": 1}


def test_zip_members_of_macos_and_folders_are_ignored(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    files = base_files() | {"__MACOSX/._GPU014.TXT": b"\x00\x05\x16", ".DS_Store": b"\x00"}
    response = upload(client, school, headers(school_admin), {"x.zip": zipped(files)})
    assert response.status_code == 201, response.get_json()
    assert sorted(response.get_json()["files"]) == sorted(base_files())


@pytest.mark.parametrize(
    ("archive", "reason"),
    [
        (zipped({"../GPU014.TXT": b"x"}), "unsafe path"),
        (zipped({"/etc/GPU014.TXT": b"x"}), "unsafe path"),
        (zipped({"a/GPU014.TXT": b"x", "b/GPU014.TXT": b"y"}), "second GPU014 file"),
        (b"PK\x03\x04 not really a zip", "not a readable zip"),
        (zipped({f"f{n}.txt": b"x" for n in range(5)}), "at most 3"),
        (zipped({"GPU014.TXT": b"1" * 5000}), "more than 4000 bytes"),
    ],
)
def test_unsafe_or_oversized_zips_are_refused(
    app: Flask,
    client: FlaskClient,
    school: School,
    school_admin: User,
    headers: Headers,
    monkeypatch: pytest.MonkeyPatch,
    archive: bytes,
    reason: str,
) -> None:
    monkeypatch.setitem(app.config, "TIMETABLE_IMPORT_MAX_FILES", 3)
    monkeypatch.setitem(app.config, "TIMETABLE_IMPORT_MAX_BYTES", 4000)
    before = plan_state()
    response = client.post(
        url(school), data=archive, headers=headers(school_admin), content_type="application/zip"
    )
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert reason in response.get_json()["errors"]["files"][0]
    assert plan_state() == before
    [(status, why)] = history()
    assert status == "refused" and reason in why


def test_zip_members_without_a_name_are_ignored(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    archive = zipped_with_nameless_members(base_files())
    response = client.post(
        url(school), data=archive, headers=headers(school_admin), content_type="application/zip"
    )
    assert response.status_code == 201, response.get_json()
    assert sorted(response.get_json()["files"]) == sorted(base_files())


@pytest.mark.parametrize("kind", ["deflate", "lzma", "bzip2", "truncated"])
def test_a_damaged_zip_is_a_clear_problem_and_changes_nothing(
    client: FlaskClient, school: School, school_admin: User, headers: Headers, kind: str
) -> None:
    assert upload(client, school, headers(school_admin), base_files()).status_code == 201
    for request in (
        {"data": damaged_zip(kind), "content_type": "application/zip"},
        {
            "data": multipart({"export.zip": damaged_zip(kind)}),
            "content_type": "multipart/form-data",
        },
    ):
        response = client.post(url(school), headers=headers(school_admin), **request)
        assert response.status_code == 400
        assert response.mimetype == "application/problem+json"
        reason = response.get_json()["errors"]["files"][0]
        assert reason.startswith("the zip file is damaged: member 'GPU014.TXT' cannot be unpacked")
    assert substitution_count() == 3
    assert [status for status, _reason in history()] == ["applied", "refused", "refused"]


UNTIS_PAGE = (
    '<html><body><div class="mon_title">{title}</div><table class="mon_list">'
    '<tr class="list"><th class="list">Klasse(n)</th><th class="list">Stunde</th></tr>'
    '<tr class="list"><td class="list">5a</td><td class="list">1</td></tr></table></body></html>'
)


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        (
            {"PlanKl.xml": INDIWARE_PLAN.replace("23. November 2026", "31. Februar 2024").encode()},
            "plan date (DatumPlan 'Montag, 31. Februar 2024') is not a valid date",
        ),
        (
            {"PlanKl.xml": INDIWARE_PLAN.replace("<ft>261221</ft>", "<ft>261399</ft>").encode()},
            "free day '261399' is not a valid date",
        ),
        (
            {"subst_001.htm": UNTIS_PAGE.format(title="32.13.2024 Montag").encode()},
            "subst_001.htm: day title '32.13.2024 Montag': '32.13.2024' is not a valid date",
        ),
    ],
)
def test_impossible_dates_in_plans_are_a_clear_problem_and_change_nothing(
    client: FlaskClient,
    school: School,
    school_admin: User,
    headers: Headers,
    files: dict[str, bytes],
    reason: str,
) -> None:
    assert upload(client, school, headers(school_admin), base_files()).status_code == 201
    before = plan_state()
    response = upload(client, school, headers(school_admin), files)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert reason in response.get_json()["errors"]["files"][0]
    assert plan_state() == before
    assert [status for status, _reason in history()] == ["applied", "refused"]


@pytest.mark.parametrize(
    ("files", "form", "field", "reason"),
    [
        ({"GPU014.TXT": b"\x00garbage\x00"}, {}, "files", "binary data"),
        ({"GPU014.TXT": b"no,real\r\nlines,here\r\n"}, {}, "files", "not a GPU014 export"),
        (base_files(), {"format": "indiware"}, "files", "no file of indiware"),
        (base_files(), {"format": "word"}, "format", "one of"),
        ({}, {}, "files", "attach"),
    ],
)
def test_bad_input_is_a_clear_problem_and_changes_nothing(
    client: FlaskClient,
    school: School,
    school_admin: User,
    headers: Headers,
    files: dict[str, bytes],
    form: dict[str, str],
    field: str,
    reason: str,
) -> None:
    assert upload(client, school, headers(school_admin), base_files()).status_code == 201
    response = client.post(
        url(school),
        data=multipart(files, **form),
        headers=headers(school_admin),
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    body = response.get_json()
    assert (
        response.mimetype == "application/problem+json" and body["type"] == "/problems/validation"
    )
    assert reason in body["errors"][field][0]
    assert substitution_count() == 3
    # Files that are no export are refused and recorded; a bad form is just a bad request.
    refused = [] if field != "files" or reason == "attach" else ["refused"]
    assert [status for status, _reason in history()] == ["applied", *refused]


def test_date_outside_the_school_year_is_a_problem(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    db.session.add(
        models.SchoolYear(
            school_id=school.id,
            name="2026/27",
            starts_on=date(2026, 8, 1),
            ends_on=date(2027, 7, 31),
        )
    )
    db.session.commit()
    old = gpu_files(substitution(1, date(2025, 3, 3), 1))
    response = upload(client, school, headers(school_admin), old)
    assert response.status_code == 400
    assert "2025-03-03" in response.get_json()["detail"]
    assert substitution_count() == 0
    assert db.session.scalar(select(func.count()).select_from(models.Teacher)) == 0


def test_other_formats_need_the_right_body_type(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    response = client.post(url(school), json={"files": []}, headers=headers(school_admin))
    assert response.status_code == 415


def test_history_lists_imports_and_shows_their_changes(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    upload(client, school, headers(school_admin), base_files())
    changed = gpu_files(substitution(1, MONDAY, 1, substitute="MUE"), master_data=False)
    second = upload(client, school, headers(school_admin), changed).get_json()
    listing = client.get(url(school), headers=headers(school_admin)).get_json()
    assert listing["total"] == 2
    assert [item["id"] for item in listing["items"]] == [second["id"], second["id"] - 1]
    detail = client.get(url(school, f"/{second['id']}"), headers=headers(school_admin))
    assert detail.status_code == 200
    changes = {c["change"]: c for c in detail.get_json()["substitution_changes"]}
    assert set(changes) == {"changed", "removed"}
    assert changes["changed"]["date"] == "2026-11-23"
    assert changes["changed"]["before"]["new_teachers"] == ["SCH"]
    assert changes["changed"]["after"]["new_teachers"] == ["MUE"]


def test_imports_are_school_scoped_and_admin_only(
    client: FlaskClient,
    school: School,
    other_school: School,
    school_admin: User,
    student: User,
    teacher: User,
    it_admin: User,
    create_user: Callable[..., User],
    headers: Headers,
) -> None:
    other_admin = create_user("school_admin", other_school, username="admin-b")
    first = upload(client, school, headers(school_admin), base_files()).get_json()
    assert upload(client, school, headers(other_admin), base_files()).status_code == 404
    assert client.get(url(school), headers=headers(other_admin)).status_code == 404
    assert (
        client.get(url(school, f"/{first['id']}"), headers=headers(other_admin)).status_code == 404
    )
    assert (
        client.get(url(other_school, f"/{first['id']}"), headers=headers(other_admin)).status_code
        == 404
    )
    assert upload(client, school, headers(student), base_files()).status_code == 403
    assert upload(client, school, headers(teacher), base_files()).status_code == 403
    assert client.get(url(school), headers=headers(student)).status_code == 403
    assert client.get(url(school)).status_code == 401
    assert client.get(url(school), headers=headers(it_admin)).get_json()["total"] == 1
    assert substitution_count() == 3


SAMPLE_EXPORTS = [
    ("untis", ["GPU014-schulit.TXT", "GPU002-schulit.TXT"], "untis-gpu"),
    ("untis", ["subst-2019-schulit.htm"], "untis-html"),
    ("untis", ["subst_001-monitor-2018.htm"], "untis-html"),
    ("indiware", ["PlanKl20170621.xml"], "indiware"),
]


@pytest.mark.parametrize(("folder", "names", "source"), SAMPLE_EXPORTS)
def test_real_samples_import_through_the_api(
    client: FlaskClient,
    school: School,
    school_admin: User,
    headers: Headers,
    folder: str,
    names: list[str],
    source: str,
) -> None:
    paths = [SAMPLES / folder / name for name in names]
    if not all(path.is_file() for path in paths):
        pytest.skip("samples not present")
    files = {path.name: path.read_bytes() for path in paths}
    response = upload(client, school, headers(school_admin), files)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["source"] == source
    assert body["changes"]["new"] == substitution_count() > 0
    assert body["plan_changed"] is True
    again = upload(client, school, headers(school_admin), files).get_json()
    assert again["changes"] == {"new": 0, "changed": 0, "removed": 0}
    assert again["plan_changed"] is False
