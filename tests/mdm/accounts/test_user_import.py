"""CSV bulk import of teachers and students: per-row errors, all or nothing."""

from flask.testing import FlaskClient
from sqlalchemy import func, select

from mdm.accounts.models import School, User
from mdm.accounts.user_csv import parse_user_csv
from mdm.extensions import db
from mdm.platform.models import AuditEvent

GOOD = (
    "Benutzername;Vorname;Nachname;Rolle;Klasse;E-Mail\n"
    "lena.schmidt;Lena;Schmidt;Schüler;5a;\n"
    "k.becker;Klaus;Becker;Lehrer;;k.becker@schule.example\n"
)


def count_users() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def test_parse_german_semicolon_cp1252() -> None:
    rows, errors = parse_user_csv(GOOD.encode("cp1252"))
    assert errors == {}
    assert [(r.username, r.role, r.class_name) for r in rows] == [
        ("lena.schmidt", "student", "5a"),
        ("k.becker", "teacher", None),
    ]


def test_parse_reports_each_bad_row() -> None:
    content = (
        b"username,first_name,last_name,role\n"
        b"ok.user,A,B,student\n"
        b"bad name,A,B,student\n"
        b"ok.user,A,B,teacher\n"
        b"x.y,A,,pilot\n"
    )
    rows, errors = parse_user_csv(content)
    assert [r.username for r in rows] == ["ok.user"]
    assert set(errors) == {"line 3", "line 4", "line 5"}
    assert any("repeats line 2" in m for m in errors["line 4"])
    assert len(errors["line 5"]) == 2


def test_parse_missing_columns() -> None:
    _rows, errors = parse_user_csv(b"name;mail\nx;y\n")
    assert "missing column(s)" in errors["file"][0]


def test_import_creates_users_with_initial_passwords(
    client: FlaskClient, school_admin: User, school: School, headers
) -> None:
    response = client.post(
        f"/api/v1/schools/{school.id}/users/import",
        headers=headers(school_admin),
        data=GOOD.encode(),
        content_type="text/csv",
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["created"] == ["lena.schmidt", "k.becker"]
    assert set(body["initial_passwords"]) == {"lena.schmidt", "k.becker"}
    lena = db.session.scalar(select(User).where(User.username == "lena.schmidt"))
    assert lena.school_id == school.id and lena.class_name == "5a"
    login = client.post(
        "/api/v1/auth/login",
        json={"username": "lena.schmidt", "password": body["initial_passwords"]["lena.schmidt"]},
    )
    assert login.status_code == 200
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.import"))
    assert audit.details == {"created": 2, "updated": 0}


def test_import_again_updates_instead_of_duplicating(
    client: FlaskClient, school_admin: User, school: School, headers
) -> None:
    url = f"/api/v1/schools/{school.id}/users/import"
    client.post(url, headers=headers(school_admin), data=GOOD.encode(), content_type="text/csv")
    moved = GOOD.replace(";5a;", ";6a;")
    second = client.post(
        url, headers=headers(school_admin), data=moved.encode(), content_type="text/csv"
    ).get_json()
    assert second["created"] == [] and second["updated"] == ["lena.schmidt", "k.becker"]
    assert second["initial_passwords"] == {}
    assert count_users() == 3
    lena = db.session.scalar(select(User).where(User.username == "lena.schmidt"))
    assert lena.class_name == "6a"


def test_import_is_all_or_nothing(
    client: FlaskClient, school_admin: User, school: School, headers
) -> None:
    before = count_users()
    content = GOOD + "broken user;X;Y;student;5a;\n"
    response = client.post(
        f"/api/v1/schools/{school.id}/users/import",
        headers=headers(school_admin),
        data=content.encode(),
        content_type="text/csv",
    )
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert list(response.get_json()["errors"]) == ["line 4"]
    assert count_users() == before


def test_import_refuses_usernames_of_another_school(
    client: FlaskClient,
    school_admin: User,
    school: School,
    other_school: School,
    create_user,
    headers,
) -> None:
    create_user("student", other_school, username="lena.schmidt")
    response = client.post(
        f"/api/v1/schools/{school.id}/users/import",
        headers=headers(school_admin),
        data=GOOD.encode(),
        content_type="text/csv",
    )
    assert response.status_code == 400
    assert "another account" in response.get_json()["errors"]["line 2"][0]
    assert db.session.scalar(select(User).where(User.username == "k.becker")) is None


def test_import_as_multipart_upload(
    client: FlaskClient, school_admin: User, school: School, headers
) -> None:
    import io

    response = client.post(
        f"/api/v1/schools/{school.id}/users/import",
        headers=headers(school_admin),
        data={"file": (io.BytesIO(GOOD.encode()), "users.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert len(response.get_json()["created"]) == 2


def test_import_into_another_school_is_404(
    client: FlaskClient, school_admin: User, other_school: School, headers
) -> None:
    response = client.post(
        f"/api/v1/schools/{other_school.id}/users/import",
        headers=headers(school_admin),
        data=GOOD.encode(),
        content_type="text/csv",
    )
    assert response.status_code == 404
    assert count_users() == 1


def test_parse_refuses_oversized_fields() -> None:
    _rows, errors = parse_user_csv(
        ("username;first_name;last_name;role\nx.y;A;" + "a" * 200_000 + ";student\n").encode()
    )
    assert "not readable as CSV" in errors["file"][0]
    rows, errors = parse_user_csv(
        b"username;first_name;last_name;role;class\nx.y;A;Z;student;" + b"7" * 41 + b"\n"
    )
    assert rows == [] and errors["line 2"] == ["class_name is longer than 40 characters"]
