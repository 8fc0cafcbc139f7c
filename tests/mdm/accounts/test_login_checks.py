"""The login checks a worker remembers, and how they stay fresh: two apps on one database stand
for two gunicorn workers; the clock is the test's."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_jwt_extended import decode_token
from sqlalchemy import select
from sqlalchemy.orm.exc import DetachedInstanceError

from mdm.accounts.auth import LOGIN_CHECKS
from mdm.accounts.models import School, User
from mdm.extensions import db
from mdm.platform.types import utcnow
from tests.conftest import PASSWORD, Clock

Headers = Callable[[User], dict[str, str]]


@pytest.fixture
def other_worker(make_app: Callable[..., Flask]) -> FlaskClient:
    """A second app on the same database and clock, as another gunicorn worker."""
    return make_app().test_client()


def login(client: FlaskClient, username: str) -> dict[str, str]:
    answer = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200
    return {"Authorization": f"Bearer {answer.get_json()['access_token']}"}


def auth_version(school: School) -> int:
    return db.session.scalar(select(School.auth_version).where(School.id == school.id))


def test_a_logout_reaches_the_other_workers_within_the_check_interval(
    app: Flask, client: FlaskClient, other_worker: FlaskClient, student: User, clock: Clock
) -> None:
    token = login(client, "student-a")
    assert client.get("/api/v1/me", headers=token).status_code == 200

    assert other_worker.post("/api/v1/auth/logout", headers=token).status_code == 204

    # Within the interval this worker still trusts what it remembers for reading...
    assert client.get("/api/v1/me", headers=token).status_code == 200
    # ...and after it, looks again.
    clock.advance(app.config["CACHE_CHECK_SECONDS"] + 0.1)
    assert client.get("/api/v1/me", headers=token).status_code == 401


def test_the_worker_that_logs_out_refuses_the_token_at_once(
    client: FlaskClient, student: User, clock: Clock
) -> None:
    token = login(client, "student-a")
    assert client.get("/api/v1/me", headers=token).status_code == 200

    assert client.post("/api/v1/auth/logout", headers=token).status_code == 204

    assert client.get("/api/v1/me", headers=token).status_code == 401


def test_a_change_never_uses_a_remembered_login(
    client: FlaskClient, other_worker: FlaskClient, student: User, clock: Clock
) -> None:
    token = login(client, "student-a")
    assert client.get("/api/v1/me", headers=token).status_code == 200
    assert other_worker.post("/api/v1/auth/logout", headers=token).status_code == 204

    change = client.post(
        "/api/v1/me/password",
        headers=token,
        json={"current_password": PASSWORD, "new_password": "another-password-7"},
    )

    assert change.status_code == 401


def test_a_disabled_account_is_refused_by_every_worker_after_the_interval(
    app: Flask,
    client: FlaskClient,
    other_worker: FlaskClient,
    student: User,
    school_admin: User,
    clock: Clock,
) -> None:
    token = login(client, "student-a")
    assert client.get("/api/v1/me", headers=token).status_code == 200
    admin = login(other_worker, "admin-a")

    disable = other_worker.patch(
        f"/api/v1/users/{student.id}", headers=admin, json={"active": False}
    )

    assert disable.status_code == 200
    clock.advance(app.config["CACHE_CHECK_SECONDS"] + 0.1)
    assert client.get("/api/v1/me", headers=token).status_code == 401


def test_a_changed_account_is_read_again(
    app: Flask,
    client: FlaskClient,
    other_worker: FlaskClient,
    student: User,
    school_admin: User,
    clock: Clock,
) -> None:
    token = login(client, "student-a")
    assert client.get("/api/v1/me", headers=token).get_json()["class_name"] == "7a"
    admin = login(other_worker, "admin-a")

    other_worker.patch(f"/api/v1/users/{student.id}", headers=admin, json={"class_name": "8b"})

    clock.advance(app.config["CACHE_CHECK_SECONDS"] + 0.1)
    assert client.get("/api/v1/me", headers=token).get_json()["class_name"] == "8b"


def test_logins_do_not_make_workers_forget_but_logouts_and_changes_do(
    client: FlaskClient, student: User, school: School, clock: Clock
) -> None:
    before = auth_version(school)
    token = login(client, "student-a")
    login(client, "student-a")
    assert auth_version(school) == before

    client.post("/api/v1/auth/logout", headers=token)
    after_logout = auth_version(school)
    assert after_logout > before

    db.session.get(User, student.id).first_name = "Mia"
    db.session.commit()
    assert auth_version(school) > after_logout


def test_a_user_moved_to_another_school_raises_both_schools(
    student: User, school: School, other_school: School
) -> None:
    before = (auth_version(school), auth_version(other_school))

    db.session.get(User, student.id).school_id = other_school.id
    db.session.commit()

    assert (auth_version(school), auth_version(other_school)) == (before[0] + 1, before[1] + 1)


def test_a_deleted_account_raises_its_school(student: User, school: School) -> None:
    before = auth_version(school)

    db.session.delete(db.session.get(User, student.id))
    db.session.commit()

    assert auth_version(school) == before + 1


def test_logins_of_city_it_admins_are_always_checked_in_the_database(
    client: FlaskClient, other_worker: FlaskClient, it_admin: User, clock: Clock
) -> None:
    token = login(client, "city-it")
    assert client.get("/api/v1/me", headers=token).status_code == 200

    assert other_worker.post("/api/v1/auth/logout", headers=token).status_code == 204

    assert client.get("/api/v1/me", headers=token).status_code == 401


def test_remembered_logins_keep_no_password_hash(
    app: Flask, client: FlaskClient, student: User, clock: Clock
) -> None:
    token = login(client, "student-a")
    client.get("/api/v1/me", headers=token)
    jti = decode_token(token["Authorization"].removeprefix("Bearer "))["jti"]
    check = app.extensions["mdm_cache"].facts("login-checks", LOGIN_CHECKS).get(jti)
    assert check.user.username == "student-a"
    assert "password_hash" not in check.user.__dict__
    with pytest.raises(DetachedInstanceError):
        check.user.password_hash  # noqa: B018


def test_without_remembering_every_request_checks_the_database(
    make_app: Callable[..., Flask], other_worker: FlaskClient, student: User, clock: Clock
) -> None:
    client = make_app(CACHE_CHECK_SECONDS=0).test_client()
    token = login(client, "student-a")
    assert client.get("/api/v1/me", headers=token).status_code == 200

    assert other_worker.post("/api/v1/auth/logout", headers=token).status_code == 204

    assert client.get("/api/v1/me", headers=token).status_code == 401


def test_after_a_failed_change_nothing_is_forgotten_wrongly(
    client: FlaskClient, student: User, school: School, clock: Clock
) -> None:
    before = auth_version(school)
    db.session.get(User, student.id).first_name = "Mia"
    db.session.flush()
    db.session.rollback()

    assert auth_version(school) == before
    token = login(client, "student-a")
    assert client.get("/api/v1/me", headers=token).get_json()["first_name"] != "Mia"


def test_a_token_of_a_deleted_account_never_works_for_a_new_one(
    client: FlaskClient,
    school: School,
    school_admin: User,
    create_user: Callable[..., User],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    leaving = create_user("student", school, username="leaving")
    token = login(client, "leaving")
    db.session.delete(db.session.get(User, leaving.id))
    db.session.commit()
    # SQLite may give the next account the same id (no AUTOINCREMENT on users.id).
    newcomer = User(
        id=leaving.id,
        username="newcomer",
        role="student",
        school_id=school.id,
        created_at=utcnow() + timedelta(seconds=2),
    )
    db.session.add(newcomer)
    db.session.commit()

    assert client.get("/api/v1/me", headers=token).status_code == 401


def test_a_user_moved_through_the_relationship_raises_both_schools(
    student: User, school: School, other_school: School
) -> None:
    before = (auth_version(school), auth_version(other_school))

    db.session.get(User, student.id).school = db.session.get(School, other_school.id)
    db.session.commit()

    assert (auth_version(school), auth_version(other_school)) == (before[0] + 1, before[1] + 1)
