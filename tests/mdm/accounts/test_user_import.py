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
    parsed = parse_user_csv(GOOD.encode("cp1252"))
    assert parsed.errors == {}
    assert [(r.username, r.role, r.class_name) for r in parsed.rows] == [
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
    parsed = parse_user_csv(content)
    rows, errors = parsed.rows, parsed.errors
    assert [r.username for r in rows] == ["ok.user"]
    assert set(errors) == {"line 3", "line 4", "line 5"}
    assert any("repeats line 2" in m for m in errors["line 4"])
    assert len(errors["line 5"]) == 2


def test_parse_without_a_header_of_names() -> None:
    errors = parse_user_csv(b"foo;mail\nx;y\n").errors
    assert "no header row with the users' names" in errors["file"][0]


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
    assert audit.details == {"created": 2, "updated": 0, "generated_usernames": 0}


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
    errors = parse_user_csv(
        ("username;first_name;last_name;role\nx.y;A;" + "a" * 200_000 + ";student\n").encode()
    ).errors
    assert "not readable as CSV" in errors["file"][0]
    parsed = parse_user_csv(
        b"username;first_name;last_name;role;class\nx.y;A;Z;student;" + b"7" * 41 + b"\n"
    )
    assert parsed.rows == [] and parsed.errors["line 2"] == [
        "class_name is longer than 40 characters"
    ]


OFFICE = "Vorname;Nachname;Klasse\nLena;Schmidt;5a\nJürgen;Müller;5b\nLena;Schmidt;7c\n"


def import_file(client: FlaskClient, school: School, admin: User, headers, content, **query):
    return client.post(
        f"/api/v1/schools/{school.id}/users/import",
        headers=headers(admin),
        query_string=query,
        data=content,
        content_type="text/csv",
    )


def test_an_office_export_without_the_role_is_refused_naming_role(
    client: FlaskClient, school_admin: User, school: School, headers
) -> None:
    response = import_file(client, school, school_admin, headers, OFFICE.encode("cp1252"))

    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert "role" in response.get_json()["errors"]
    assert count_users() == 1
    bad = import_file(client, school, school_admin, headers, OFFICE.encode(), role="pilot")
    assert bad.status_code == 400 and "role" in bad.get_json()["errors"]


def test_an_office_export_gets_usernames_unique_city_wide(
    client: FlaskClient,
    school_admin: User,
    school: School,
    other_school: School,
    create_user,
    headers,
) -> None:
    create_user("student", other_school, username="lena.schmidt")

    response = import_file(
        client, school, school_admin, headers, OFFICE.encode("cp1252"), role="student"
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["created"] == ["lena.schmidt2", "juergen.mueller", "lena.schmidt3"]
    assert set(body["initial_passwords"]) == set(body["created"])
    assert body["lines"][0] == {
        "line": 2,
        "username": "lena.schmidt2",
        "action": "created",
        "username_generated": True,
    }
    assert body["columns"] == {
        "first_name": "Vorname",
        "last_name": "Nachname",
        "class_name": "Klasse",
    }
    juergen = db.session.scalar(select(User).where(User.username == "juergen.mueller"))
    assert (juergen.first_name, juergen.last_name, juergen.role, juergen.school_id) == (
        "Jürgen",
        "Müller",
        "student",
        school.id,
    )
    login = client.post(
        "/api/v1/auth/login",
        json={"username": "lena.schmidt3", "password": body["initial_passwords"]["lena.schmidt3"]},
    )
    assert login.status_code == 200


def test_reimporting_the_office_export_makes_no_duplicates(
    client: FlaskClient, school_admin: User, school: School, headers
) -> None:
    office = "Vorname;Nachname;Klasse\nLena;Schmidt;5a\nJürgen;Müller;5b\n"
    first = import_file(client, school, school_admin, headers, office.encode(), role="student")
    assert first.status_code == 200
    before = count_users()
    next_year = office.replace(";5a", ";6a").replace(";5b", ";6b")

    again = import_file(client, school, school_admin, headers, next_year.encode(), role="student")

    assert again.status_code == 200, again.get_json()
    body = again.get_json()
    assert body["created"] == [] and body["initial_passwords"] == {}
    assert body["updated"] == ["lena.schmidt", "juergen.mueller"]
    assert count_users() == before
    classes = dict(db.session.execute(select(User.username, User.class_name)).all())
    assert (classes["lena.schmidt"], classes["juergen.mueller"]) == ("6a", "6b")


def test_namesakes_who_both_moved_class_are_reported_not_guessed(
    client: FlaskClient, school_admin: User, school: School, headers
) -> None:
    import_file(client, school, school_admin, headers, OFFICE.encode(), role="student")
    next_year = OFFICE.replace(";5a", ";6a").replace(";7c", ";8c")

    response = import_file(
        client, school, school_admin, headers, next_year.encode(), role="student"
    )

    assert response.status_code == 400
    assert set(response.get_json()["errors"]) == {"line 2", "line 4"}
    still = import_file(client, school, school_admin, headers, OFFICE.encode(), role="student")
    assert still.get_json()["updated"] == ["lena.schmidt", "juergen.mueller", "lena.schmidt2"]


def test_an_ambiguous_line_is_reported_and_nothing_changes(
    client: FlaskClient, school_admin: User, school: School, headers, create_user
) -> None:
    create_user(
        "student", school, username="l.s1", first_name="Lena", last_name="Schmidt", class_name="5a"
    )
    create_user(
        "student", school, username="l.s2", first_name="Lena", last_name="Schmidt", class_name="5b"
    )
    before = count_users()

    response = import_file(
        client,
        school,
        school_admin,
        headers,
        b"Vorname;Nachname;Klasse\nMax;Neu;6a\nLena;Schmidt;6a\n",
        role="student",
    )

    assert response.status_code == 400
    assert list(response.get_json()["errors"]) == ["line 3"]
    assert "l.s1 (5a), l.s2 (5b)" in response.get_json()["errors"]["line 3"][0]
    assert count_users() == before
    resolved = import_file(
        client,
        school,
        school_admin,
        headers,
        b"Benutzername;Vorname;Nachname;Klasse\n;Max;Neu;6a\nl.s2;Lena;Schmidt;6a\n",
        role="student",
    )
    assert resolved.status_code == 200, resolved.get_json()
    assert resolved.get_json()["created"] == ["max.neu"]
    assert db.session.scalar(select(User.class_name).where(User.username == "l.s2")) == "6a"


def test_the_office_softwares_id_follows_a_renamed_student(
    client: FlaskClient, school_admin: User, school: School, headers
) -> None:
    with_ids = "Schüler-ID;Vorname;Nachname;Klasse\n4711;Lena;Schmidt;5a\n"
    import_file(client, school, school_admin, headers, with_ids.encode(), role="student")

    renamed = with_ids.replace("Schmidt;5a", "Meier-Schmidt;6a")
    response = import_file(client, school, school_admin, headers, renamed.encode(), role="student")

    assert response.get_json()["updated"] == ["lena.schmidt"]
    lena = db.session.scalar(select(User).where(User.external_id == "4711"))
    assert (lena.username, lena.last_name, lena.class_name) == (
        "lena.schmidt",
        "Meier-Schmidt",
        "6a",
    )


def test_columns_the_file_lacks_are_left_alone(
    client: FlaskClient, school_admin: User, school: School, headers, create_user
) -> None:
    create_user(
        "teacher",
        school,
        username="s.mueller",
        first_name="Sabine",
        last_name="Müller",
        email="s.mueller@schule.example",
        class_name="5a",
    )

    response = import_file(
        client,
        school,
        school_admin,
        headers,
        "Nachname;Vorname\nMüller;Sabine\n".encode(),
        role="teacher",
    )

    assert response.get_json()["updated"] == ["s.mueller"]
    sabine = db.session.scalar(select(User).where(User.username == "s.mueller"))
    assert (sabine.email, sabine.class_name) == ("s.mueller@schule.example", "5a")


def test_a_role_column_needs_no_parameter(
    client: FlaskClient, school_admin: User, school: School, headers
) -> None:
    content = "Vorname;Nachname;Rolle\nLena;Schmidt;Schülerin\nKlaus;Becker;Lehrer\n".encode()
    response = import_file(client, school, school_admin, headers, content)
    assert response.status_code == 200, response.get_json()
    roles = dict(db.session.execute(select(User.username, User.role)).all())
    assert (roles["lena.schmidt"], roles["klaus.becker"]) == ("student", "teacher")


def test_the_import_reads_in_a_few_statements_however_many_rows(
    client: FlaskClient, school_admin: User, school: School, headers, count_queries
) -> None:
    # Few enough that hashing the initial passwords keeps the test quick, many more than reads.
    lines = [f"Vorname{n % 70};Nachname{n // 70};{5 + n % 8}{'abcd'[n % 4]}" for n in range(60)]
    content = ("Vorname;Nachname;Klasse\n" + "\n".join(lines) + "\n").encode()

    def reads(statements: list[str]) -> list[str]:
        # SQLite inserts row by row (PostgreSQL in batches); what must not grow are the reads.
        return [statement for statement in statements if statement.startswith("SELECT")]

    with count_queries() as statements:
        response = import_file(client, school, school_admin, headers, content, role="student")

    assert response.status_code == 200, response.get_json()
    assert len(response.get_json()["created"]) == 60
    assert len(reads(statements)) < 20, reads(statements)
    moved = content.replace(b"a\n", b"b\n")
    with count_queries() as statements:
        again = import_file(client, school, school_admin, headers, moved, role="student")
    assert len(again.get_json()["updated"]) == 60
    assert len(reads(statements)) < 20, reads(statements)
