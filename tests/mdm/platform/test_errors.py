"""Every API error is application/problem+json, and a bad request changes nothing."""

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from mdm.accounts.models import School, User
from mdm.extensions import db


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["type"].startswith("/problems/")
    assert "Traceback" not in response.get_data(as_text=True)
    return body


def user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def test_malformed_json_is_400_and_changes_nothing(
    client: FlaskClient, school_admin: User, headers
) -> None:
    before = user_count()
    response = client.post(
        "/api/v1/users",
        headers=headers(school_admin),
        data='{"username": "x", ',
        content_type="application/json",
    )
    assert_problem(response, 400)
    assert user_count() == before


def test_validation_error_names_the_fields(
    client: FlaskClient, school_admin: User, headers
) -> None:
    response = client.post(
        "/api/v1/users",
        headers=headers(school_admin),
        json={"username": "ok-name", "role": "pilot", "color": "red"},
    )
    body = assert_problem(response, 400)
    assert set(body["errors"]) == {"role", "color"}
    assert body["type"] == "/problems/validation"


def test_oversized_body_is_413_and_changes_nothing(
    make_app: Callable[..., Flask], create_user
) -> None:
    app = make_app(MAX_CONTENT_LENGTH=1024)
    client = app.test_client()
    with app.app_context():
        from flask_jwt_extended import create_access_token

        from mdm.accounts.models import School

        school = School(slug="s", name="S", timezone="Europe/Berlin")
        db.session.add(school)
        db.session.commit()
        admin = create_user("school_admin", school, username="big-admin")
        token = create_access_token(identity=str(admin.id))
        before = user_count()
        response = client.post(
            "/api/v1/users",
            headers={"Authorization": f"Bearer {token}"},
            json={"username": "big", "role": "student", "last_name": "x" * 5000},
        )
        assert_problem(response, 413)
        assert user_count() == before


def test_wrong_content_type_is_415(client: FlaskClient, school_admin: User, headers) -> None:
    response = client.post(
        "/api/v1/users",
        headers=headers(school_admin),
        data="username=x",
        content_type="application/x-www-form-urlencoded",
    )
    assert_problem(response, 415)


def test_unknown_path_is_404_problem(client: FlaskClient) -> None:
    assert_problem(client.get("/api/v1/nothing-here"), 404)


def test_wrong_method_is_405_problem(client: FlaskClient) -> None:
    body = assert_problem(client.delete("/api/v1/auth/login"), 405)
    assert body["title"] == "Method Not Allowed"


def test_forbidden_is_403_problem(client: FlaskClient, student: User, headers) -> None:
    assert_problem(client.get("/api/v1/users", headers=headers(student)), 403)


def test_unexpected_error_is_500_problem_without_trace(make_app: Callable[..., Flask]) -> None:
    app = make_app()

    @app.route("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    response = app.test_client().get("/api/v1/boom")
    body = assert_problem(response, 500)
    assert "secret internals" not in response.get_data(as_text=True)
    assert body["type"] == "/problems/internal-error"


def test_duplicate_is_409(client: FlaskClient, it_admin: User, school: School, headers) -> None:
    response = client.post(
        "/api/v1/schools", headers=headers(it_admin), json={"slug": school.slug, "name": "Again"}
    )
    assert_problem(response, 409)


def test_healthz_and_readyz(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["database"] == "ok"


@pytest.mark.committing
def test_readyz_is_503_when_the_database_is_gone(make_app: Callable[..., Flask], tmp_path) -> None:
    app = make_app(DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none")
    response = app.test_client().get("/readyz")
    assert_problem(response, 503)


def test_numbers_beyond_the_database_are_400(
    client: FlaskClient, school_admin: User, it_admin: User, headers
) -> None:
    huge = "99999999999999999999"
    for url in (
        f"/api/v1/users/{huge}",
        f"/api/v1/users?school_id={huge}",
        f"/api/v1/users?page={huge}",
    ):
        assert_problem(client.get(url, headers=headers(school_admin)), 400)
    assert_problem(client.get(f"/api/v1/schools/{huge}", headers=headers(it_admin)), 400)
    # A school admin is told that another school does not exist, whatever its number.
    assert_problem(client.get(f"/api/v1/schools/{huge}", headers=headers(school_admin)), 404)


def test_deeply_nested_json_is_400(client: FlaskClient) -> None:
    body = "[" * 100_000 + "]" * 100_000
    response = client.post("/api/v1/auth/login", data=body, content_type="application/json")
    assert_problem(response, 400)


def test_an_unknown_query_parameter_is_400_not_ignored(
    client: FlaskClient, school_admin: User, headers
) -> None:
    body = assert_problem(
        client.get("/api/v1/users?search=lena", headers=headers(school_admin)), 400
    )
    assert list(body["errors"]) == ["search"]
    # Also where the operation takes no query parameters at all.
    body = assert_problem(client.get("/api/v1/me?debug=1", headers=headers(school_admin)), 400)
    assert list(body["errors"]) == ["debug"]
    assert client.get("/api/v1/users?q=lena", headers=headers(school_admin)).status_code == 200


def test_a_patch_without_a_body_is_400(
    client: FlaskClient, school_admin: User, student: User, headers
) -> None:
    response = client.patch(f"/api/v1/users/{student.id}", headers=headers(school_admin))
    assert list(assert_problem(response, 400)["errors"]) == ["_body"]
    empty = client.patch(
        f"/api/v1/users/{student.id}",
        headers=headers(school_admin),
        data=b"",
        content_type="application/json",
    )
    assert_problem(empty, 400)


def test_a_check_in_may_leave_its_body_out(client: FlaskClient, enrolled) -> None:
    from tests.fixtures.devices import device_auth

    response = client.post("/api/agent/v1/checkin", headers=device_auth(enrolled))
    assert response.status_code == 200, response.get_json()
