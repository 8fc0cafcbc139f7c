"""Users and classes pages: lists with search, the CSV import with its preview, printable
initial passwords, password resets; the audit log's filters; the city's schools."""

import io
import re
from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import func, select

from mdm.accounts.models import School, User
from mdm.extensions import db
from mdm.platform.models import AuditEvent
from tests.conftest import PASSWORD
from tests.fixtures.pages import csrf_of, log_in

CLASS_LIST = "Vorname;Nachname;Klasse\nLena;Schmidt;7a\nJonas;Weiß;7a\nTom;Berg;7b\n".encode()


def users_of(school: School) -> int:
    return db.session.scalar(select(func.count()).where(User.school_id == school.id)) or 0


def upload(client: FlaskClient, content: bytes, **fields: str):
    token = csrf_of(client, "/admin/users/import")
    data = {"csrf_token": token, "role": "student", **fields}
    data["file"] = (io.BytesIO(content), "klasse.csv")
    return client.post("/admin/users/import", data=data, content_type="multipart/form-data")


def test_the_import_shows_a_preview_then_applies_and_prints_the_passwords(
    page_client: Callable[..., FlaskClient], school_admin: User, school: School
) -> None:
    admin = page_client(school_admin)
    before = users_of(school)
    preview = upload(admin, CLASS_LIST)
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "Vorschau des Imports" in html and "3 Konten neu, 0 geändert." in html
    assert "lena.schmidt" in html and "jonas.weiss" in html
    assert users_of(school) == before  # a preview changes nothing
    content = re.search(r'name="content" value="([^"]+)"', html).group(1)
    applied = admin.post(
        "/admin/users/import",
        data={
            "csrf_token": csrf_of(admin, "/admin/users/import"),
            "content": content,
            "school_id": str(school.id),
            "role": "student",
            "step": "apply",
        },
    )
    page = applied.get_data(as_text=True)
    assert applied.status_code == 200 and "Neue Passwörter" in page
    assert users_of(school) == before + 3
    passwords = dict(re.findall(r"<td>([a-z.]+)</td><td><code>([^<]+)</code>", page))
    assert set(passwords) == {"lena.schmidt", "jonas.weiss", "tom.berg"}
    slips = re.search(r'name="slips" value="([^"]+)"', page).group(1)
    pdf = admin.post(
        "/admin/users/password-slips.pdf",
        data={"csrf_token": csrf_of(admin, "/admin/users"), "slips": slips},
    )
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    assert pdf.headers["Content-Disposition"] == 'attachment; filename="passwoerter.pdf"'


def test_an_initial_password_from_the_import_logs_in(
    app, client: FlaskClient, page_client: Callable[..., FlaskClient], school_admin: User
) -> None:
    admin = page_client(school_admin)
    html = upload(admin, CLASS_LIST).get_data(as_text=True)
    content = re.search(r'name="content" value="([^"]+)"', html).group(1)
    page = admin.post(
        "/admin/users/import",
        data={
            "csrf_token": csrf_of(admin, "/admin/users/import"),
            "content": content,
            "school_id": str(school_admin.school_id),
            "role": "student",
            "step": "apply",
        },
    ).get_data(as_text=True)
    password = re.search(r"<td>lena.schmidt</td><td><code>([^<]+)</code>", page).group(1)
    token = csrf_of(client)
    answer = client.post(
        "/login", data={"username": "lena.schmidt", "password": password, "csrf_token": token}
    )
    assert "mdm.panel.tokens" in answer.get_data(as_text=True)


def test_a_file_with_errors_shows_each_lines_error_and_imports_nothing(
    page_client: Callable[..., FlaskClient], school_admin: User, school: School
) -> None:
    admin = page_client(school_admin)
    before = users_of(school)
    answer = upload(admin, b"Vorname;Nachname;Klasse\nLena;Schmidt;7a\n;;7a\n")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "Fehler in der Datei: nichts wurde importiert" in html
    assert "line 3" in html
    assert users_of(school) == before


def test_the_import_is_refused_for_another_school(
    page_client: Callable[..., FlaskClient], school_admin: User, other_school: School
) -> None:
    answer = upload(page_client(school_admin), CLASS_LIST, school_id=str(other_school.id))
    assert answer.status_code == 404
    assert users_of(other_school) == 0


def test_users_are_searched_and_scoped_to_the_school(
    page_client: Callable[..., FlaskClient],
    create_user: Callable[..., User],
    school_admin: User,
    school: School,
    other_school: School,
) -> None:
    create_user("student", school, username="lena.schmidt", first_name="Lena", class_name="7a")
    create_user("student", school, username="tom.berg", first_name="Tom", class_name="7b")
    stranger = create_user("student", other_school, username="lena.fremd", class_name="7a")
    admin = page_client(school_admin)
    html = admin.get("/admin/users?q=lena").get_data(as_text=True)
    assert "lena.schmidt" in html and "tom.berg" not in html and "lena.fremd" not in html
    assert "tom.berg" in admin.get("/admin/users?class_name=7b").get_data(as_text=True)
    assert admin.get(f"/admin/users/{stranger.id}").status_code == 404
    classes = admin.get("/admin/classes").get_data(as_text=True)
    assert ">7a</a>" in classes and ">7b</a>" in classes


def test_a_password_reset_asks_first_then_shows_the_new_password_once(
    page_client: Callable[..., FlaskClient],
    client: FlaskClient,
    create_user: Callable[..., User],
    school_admin: User,
    school: School,
) -> None:
    student = create_user("student", school, username="lena.schmidt", class_name="7a")
    admin = page_client(school_admin)
    path = f"/admin/users/{student.id}/reset-password"
    asked = admin.post(path, data={"csrf_token": csrf_of(admin, f"/admin/users/{student.id}")})
    assert "Bitte bestätigen" in asked.get_data(as_text=True)
    assert "Neue Passwörter" not in asked.get_data(as_text=True)
    done = admin.post(
        path,
        data={"csrf_token": csrf_of(admin, f"/admin/users/{student.id}"), "confirmed": "yes"},
    )
    new = re.search(r"<code>([^<]+)</code>", done.get_data(as_text=True)).group(1)
    fresh = client.application.test_client()
    assert "Benutzername oder Passwort ist falsch." in fresh.post(
        "/login",
        data={"username": "lena.schmidt", "password": PASSWORD, "csrf_token": csrf_of(fresh)},
    ).get_data(as_text=True)
    answer = fresh.post(
        "/login",
        data={"username": "lena.schmidt", "password": new, "csrf_token": csrf_of(fresh)},
    )
    assert "mdm.panel.tokens" in answer.get_data(as_text=True)
    events = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.target_id == str(student.id))
    ).all()
    assert "user.password_reset" in events


def test_a_class_gets_new_passwords_at_once(
    page_client: Callable[..., FlaskClient],
    create_user: Callable[..., User],
    school_admin: User,
    school: School,
) -> None:
    for n in range(3):
        create_user("student", school, username=f"s{n}", class_name="5c")
    admin = page_client(school_admin)
    data = {"school_id": str(school.id), "class_name": "5c", "confirmed": "yes"}
    done = admin.post(
        "/admin/classes/reset-passwords",
        data={**data, "csrf_token": csrf_of(admin, "/admin/classes")},
    )
    assert done.get_data(as_text=True).count("<code>") == 3


def test_the_audit_log_filters_by_who_what_when_and_object(
    page_client: Callable[..., FlaskClient],
    create_user: Callable[..., User],
    school_admin: User,
    school: School,
    other_school: School,
) -> None:
    student = create_user("student", school, username="lena.schmidt", class_name="7a")
    admin = page_client(school_admin)
    admin.post(
        f"/admin/users/{student.id}/reset-password",
        data={"csrf_token": csrf_of(admin, "/admin/users"), "confirmed": "yes"},
    )
    html = admin.get(
        f"/admin/audit?who=admin-a&what=user.&target_type=user&target_id={student.id}"
    ).get_data(as_text=True)
    assert "user.password_reset" in html and f'href="/admin/users/{student.id}"' in html
    assert "auth.login" not in html
    assert "user.password_reset" not in admin.get("/admin/audit?since=2999-01-01").get_data(
        as_text=True
    )
    assert admin.get("/admin/audit?since=gestern").status_code == 400
    # Another school's events stay out of sight.
    db.session.add(
        AuditEvent(
            actor="x", action="school.secret", target_type="school", school_id=other_school.id
        )
    )
    db.session.commit()
    assert "school.secret" not in admin.get("/admin/audit").get_data(as_text=True)


def test_the_city_creates_a_school_its_admin_and_its_privacy_notice(
    page_client: Callable[..., FlaskClient], it_admin: User, client: FlaskClient
) -> None:
    city = page_client(it_admin)
    made = city.post(
        "/admin/schools",
        data={
            "csrf_token": csrf_of(city, "/admin/schools"),
            "name": "Gesamtschule Süd",
            "slug": "gesamtschule-sued",
            "timezone": "Europe/Berlin",
        },
    )
    assert made.status_code == 302
    school_path = made.headers["Location"]
    page = city.post(
        school_path,
        data={
            "csrf_token": csrf_of(city, school_path),
            "username": "admin.sued",
            "first_name": "Sabine",
            "last_name": "Süd",
        },
    ).get_data(as_text=True)
    password = re.search(r"<code>([^<]+)</code>", page).group(1)
    assert log_in(client, "admin.sued", password) == "/admin"
    notices = f"{school_path}/privacy-notices"
    city.post(notices, data={"csrf_token": csrf_of(city, notices), "text": "Wir speichern ..."})
    assert "Fassung 1 vom" in city.get(notices).get_data(as_text=True)
    duplicate = city.post(
        "/admin/schools",
        data={
            "csrf_token": csrf_of(city, "/admin/schools"),
            "name": "X",
            "slug": "gesamtschule-sued",
        },
    )
    assert duplicate.status_code == 400


def test_school_admins_may_not_manage_schools(
    page_client: Callable[..., FlaskClient], school_admin: User, other_school: School
) -> None:
    admin = page_client(school_admin)
    assert admin.get("/admin/schools").status_code == 403
    assert admin.get(f"/admin/schools/{other_school.id}/privacy-notices").status_code == 404


def test_every_admin_page_is_403_for_students_and_teachers(
    page_client: Callable[..., FlaskClient], student: User, teacher: User, school: School
) -> None:
    paths = [
        "/admin",
        "/admin/users",
        "/admin/users/1",
        "/admin/users/import",
        "/admin/classes",
        "/admin/audit",
        "/admin/schools",
        f"/admin/schools/{school.id}",
        f"/admin/schools/{school.id}/privacy-notices",
    ]
    for user in (student, teacher):
        client = page_client(user)
        assert {path: client.get(path).status_code for path in paths} == dict.fromkeys(paths, 403)
