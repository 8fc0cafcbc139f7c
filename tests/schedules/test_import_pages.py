"""The timetable pages: upload an export, its preview, applying it, the history with its
reports, and undoing the last import; roles, schools and CSRF."""

import io
import re
from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import func, select

from mdm.accounts.models import School, User
from mdm.extensions import db
from schedules import models
from tests.fixtures.pages import csrf_of
from tests.schedules.import_fixtures import MONDAY, base_files, gpu_files, substitution, zipped

PageClient = Callable[[User], FlaskClient]
APPLY = re.compile(r'action="/admin/timetable/uploads/(\d+)/apply"')


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(models.Substitution)) or 0


def _preview(client: FlaskClient, files: dict[str, bytes], token: str | None = None):
    data = {
        "files": [(io.BytesIO(content), name) for name, content in files.items()],
        "csrf_token": token or csrf_of(client, "/admin/timetable"),
    }
    return client.post("/admin/timetable/preview", data=data, content_type="multipart/form-data")


def test_an_export_is_previewed_then_applied_and_shows_in_the_history(
    page_client: PageClient, school_admin: User, school: School
) -> None:
    client = page_client(school_admin)

    previewed = _preview(client, base_files())
    html = previewed.get_data(as_text=True)
    assert previewed.status_code == 200 and "Noch ist nichts geändert" in html
    assert "substitutions" in html and "2026-11-23" in html
    assert _count() == 0
    upload_id = APPLY.search(html).group(1)

    applied = client.post(
        f"/admin/timetable/uploads/{upload_id}/apply",
        data={"csrf_token": csrf_of(client, "/admin/timetable")},
    )
    assert applied.status_code == 302 and _count() == 3
    page = client.get("/admin/timetable").get_data(as_text=True)
    assert "Der Import ist übernommen (Planversion 1)" in page and "untis-gpu" in page
    record = db.session.scalar(select(models.TimetableImport))
    report = client.get(f"/admin/timetable/imports/{record.id}").get_data(as_text=True)
    assert "admin-a" in report and "GPU014.TXT" in report and "2026-11-23" in report
    # An upload is applied once.
    again = client.post(
        f"/admin/timetable/uploads/{upload_id}/apply",
        data={"csrf_token": csrf_of(client, "/admin/timetable")},
    )
    assert again.status_code == 404


def test_a_zip_is_read_as_the_api_reads_it(page_client: PageClient, school_admin: User) -> None:
    client = page_client(school_admin)
    html = _preview(client, {"export.zip": zipped(base_files(), folder="x/")}).get_data(
        as_text=True
    )
    assert APPLY.search(html) is not None and "x/GPU014.TXT" in html


def test_an_unreadable_export_is_refused_and_nothing_is_kept(
    page_client: PageClient, school_admin: User
) -> None:
    client = page_client(school_admin)
    answer = _preview(client, {"plan.zip": b"PK\x03\x04 not really a zip"})
    assert answer.status_code == 302
    shown = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Der Import wurde abgelehnt" in shown
    assert db.session.scalar(select(func.count()).select_from(models.TimetableUpload)) == 0


def test_the_last_import_is_undone_after_a_confirmation(
    page_client: PageClient, school_admin: User
) -> None:
    client = page_client(school_admin)
    for files in (
        base_files(),
        gpu_files(substitution(1, MONDAY, 1, substitute="MUE"), master_data=False),
    ):
        html = _preview(client, files).get_data(as_text=True)
        client.post(
            APPLY.search(html).group(0).split('"')[1],
            data={"csrf_token": csrf_of(client, "/admin/timetable")},
        )
    assert _count() == 2  # Monday's two became one; Tuesday's is kept
    token = csrf_of(client, "/admin/timetable")
    asked = client.post("/admin/timetable/restore", data={"csrf_token": token})
    assert "Bitte bestätigen" in asked.get_data(as_text=True) and _count() == 2
    client.post("/admin/timetable/restore", data={"csrf_token": token, "confirmed": "yes"})
    assert _count() == 3


def test_roles_schools_and_csrf(
    page_client: PageClient,
    school_admin: User,
    student: User,
    create_user: Callable[..., User],
    other_school: School,
) -> None:
    assert page_client(student).get("/admin/timetable").status_code == 403
    client = page_client(school_admin)
    html = _preview(client, base_files()).get_data(as_text=True)
    upload_id = APPLY.search(html).group(1)
    stranger = page_client(create_user("school_admin", other_school))
    answer = stranger.post(
        f"/admin/timetable/uploads/{upload_id}/apply",
        data={"csrf_token": csrf_of(stranger, "/admin/timetable")},
    )
    assert answer.status_code == 404 and _count() == 0
    without = client.post(f"/admin/timetable/uploads/{upload_id}/apply", data={})
    assert without.status_code == 400 and _count() == 0


def test_the_city_it_admin_chooses_the_school_and_imports_for_it(
    page_client: PageClient, it_admin: User, school: School
) -> None:
    client = page_client(it_admin)
    chooser = client.get("/admin/timetable").get_data(as_text=True)
    assert 'name="school_id"' in chooser and "Gymnasium A" in chooser
    page = f"/admin/timetable?school_id={school.id}"
    token = csrf_of(client, page)
    data = {
        "files": [(io.BytesIO(content), name) for name, content in base_files().items()],
        "csrf_token": token,
        "school_id": str(school.id),
    }
    html = client.post(
        "/admin/timetable/preview", data=data, content_type="multipart/form-data"
    ).get_data(as_text=True)
    upload_id = APPLY.search(html).group(1)
    client.post(
        f"/admin/timetable/uploads/{upload_id}/apply",
        data={"csrf_token": token, "school_id": str(school.id)},
    )
    assert _count() == 3
    assert db.session.scalar(select(models.TimetableImport.school_id)) == school.id
