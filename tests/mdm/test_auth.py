"""Login, refresh, logout, token expiry and revocation, rate limits, /me."""

import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from marshmallow import Schema, fields, post_load
from sqlalchemy import select
from webargs.fields import DelimitedList
from werkzeug.exceptions import HTTPException

from mdm.accounts.models import RevokedToken, User
from mdm.extensions import db
from mdm.platform.http import Blueprint
from mdm.platform.models import AuditEvent
from tests.conftest import PASSWORD


def login(client: FlaskClient, username: str, password: str = PASSWORD, address: str = "10.0.0.1"):
    return client.post(
        "/api/v1/auth/login",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_login_returns_tokens_that_open_me(client: FlaskClient, teacher: User) -> None:
    response = login(client, "Teacher-A")
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    me = client.get("/api/v1/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.get_json()["username"] == "teacher-a"
    assert me.get_json()["role"] == "teacher"
    assert "password" not in me.get_json() and "password_hash" not in me.get_json()
    events = db.session.scalars(select(AuditEvent.action)).all()
    assert events == ["auth.login"]


def test_wrong_password_is_a_401_problem(client: FlaskClient, teacher: User) -> None:
    response = login(client, "teacher-a", "wrong-password")
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == "/problems/unauthorized"
    assert "access_token" not in response.get_json()


def test_unknown_user_is_the_same_401(client: FlaskClient) -> None:
    response = login(client, "nobody", "whatever-123")
    assert response.status_code == 401
    assert response.get_json()["detail"] == "wrong username or password"


def test_disabled_account_cannot_log_in(client: FlaskClient, teacher: User) -> None:
    teacher.active = False
    db.session.commit()
    assert login(client, "teacher-a").status_code == 401


def test_repeated_failures_from_one_address_get_429(client: FlaskClient, teacher: User) -> None:
    for _ in range(5):
        assert login(client, "teacher-a", "bad", address="10.0.1.1").status_code == 401
    blocked = login(client, "teacher-a", PASSWORD, address="10.0.1.1")
    assert blocked.status_code == 429
    assert blocked.mimetype == "application/problem+json"
    assert int(blocked.headers["Retry-After"]) > 0
    # The owner, elsewhere, is not locked out by someone guessing.
    assert login(client, "teacher-a", PASSWORD, address="10.0.2.1").status_code == 200


def test_guessing_one_account_from_many_addresses_gets_429(
    make_app: Callable[..., Flask], create_user: Callable[..., User]
) -> None:
    app = make_app(LOGIN_FAILURES_PER_ACCOUNT=8)
    client = app.test_client()
    with app.app_context():
        create_user("teacher", None, username="target")
    for n in range(8):
        assert login(client, "target", "bad", address=f"10.0.3.{n}").status_code == 401
    assert login(client, "target", PASSWORD, address="10.0.4.1").status_code == 429


def test_repeated_failures_per_address_get_429(
    make_app: Callable[..., Flask], create_user: Callable[..., User]
) -> None:
    app = make_app(LOGIN_FAILURES_PER_ADDRESS=3)
    client = app.test_client()
    with app.app_context():
        create_user("teacher", None, username="victim")
    for n in range(3):
        assert login(client, f"guess-{n}", "bad", address="192.0.2.7").status_code == 401
    assert login(client, "victim", address="192.0.2.7").status_code == 429
    assert login(client, "victim", address="192.0.2.8").status_code == 200


def test_success_clears_account_failures(client: FlaskClient, teacher: User) -> None:
    for _ in range(4):
        login(client, "teacher-a", "bad")
    assert login(client, "teacher-a").status_code == 200
    for _ in range(4):
        assert login(client, "teacher-a", "bad").status_code == 401
    assert login(client, "teacher-a").status_code == 200


def test_refresh_gives_a_new_access_token(client: FlaskClient, teacher: User) -> None:
    tokens = login(client, "teacher-a").get_json()
    refreshed = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert refreshed.status_code == 200
    access = refreshed.get_json()["access_token"]
    assert client.get("/api/v1/me", headers=bearer(access)).status_code == 200
    # An access token is not a refresh token.
    wrong = client.post("/api/v1/auth/refresh", headers=bearer(tokens["access_token"]))
    assert wrong.status_code == 401


def test_logout_revokes_access_and_refresh_token(client: FlaskClient, teacher: User) -> None:
    tokens = login(client, "teacher-a").get_json()
    assert (
        client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"])).status_code
        == 204
    )
    assert db.session.scalar(select(RevokedToken).limit(1)) is not None
    refused = client.get("/api/v1/me", headers=bearer(tokens["access_token"]))
    assert refused.status_code == 401
    assert refused.get_json()["detail"] == "the token was revoked"
    again = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert again.status_code == 401


def test_expired_token_is_refused(
    make_app: Callable[..., Flask], create_user: Callable[..., User]
) -> None:
    app = make_app(ACCESS_TOKEN_SECONDS=1)
    client = app.test_client()
    with app.app_context():
        create_user("teacher", None, username="short")
    token = login(client, "short").get_json()["access_token"]
    time.sleep(2.1)
    response = client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.get_json()["detail"] == "the token has expired"


def test_forged_or_missing_token_is_401(client: FlaskClient) -> None:
    assert client.get("/api/v1/me").status_code == 401
    forged = client.get("/api/v1/me", headers=bearer("eyJhbGciOiJIUzI1NiJ9.e30.abc"))
    assert forged.status_code == 401
    assert forged.mimetype == "application/problem+json"


def test_change_own_password(client: FlaskClient, student: User, headers) -> None:
    wrong = client.post(
        "/api/v1/me/password",
        headers=headers(student),
        json={"current_password": "nope", "new_password": "brand-new-pass"},
    )
    assert wrong.status_code == 400
    assert "current_password" in wrong.get_json()["errors"]
    ok = client.post(
        "/api/v1/me/password",
        headers=headers(student),
        json={"current_password": PASSWORD, "new_password": "brand-new-pass"},
    )
    assert ok.status_code == 204
    assert login(client, "student-a", "brand-new-pass").status_code == 200


def test_redis_counter_shares_failures(
    make_app: Callable[..., Flask], create_user: Callable[..., User]
) -> None:
    import pytest
    import redis

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/15", socket_timeout=1).flushdb()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    limits = {"RATELIMIT_STORAGE_URL": "redis://127.0.0.1:6379/15", "LOGIN_FAILURES_PER_ACCOUNT": 5}
    first = make_app(**limits).test_client()
    second = make_app(**limits).test_client()
    with first.application.app_context():
        create_user("teacher", None, username="shared")
    for n in range(5):
        client = first if n % 2 else second
        assert login(client, "shared", "bad", address=f"10.9.0.{n}").status_code == 401
    assert login(first, "shared").status_code == 429
    assert login(second, "shared").status_code == 429


def test_a_token_used_before_is_still_refused_once_expired(
    make_app: Callable[..., Flask], create_user: Callable[..., User]
) -> None:
    app = make_app(ACCESS_TOKEN_SECONDS=2)
    client = app.test_client()
    with app.app_context():
        create_user("teacher", None, username="repeat")
    token = login(client, "repeat").get_json()["access_token"]
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    time.sleep(2.5)
    response = client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.get_json()["detail"] == "the token has expired"


def test_a_tampered_copy_of_a_verified_token_is_refused(client: FlaskClient, teacher: User) -> None:
    token = login(client, "teacher-a").get_json()["access_token"]
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    header, payload, signature = token.split(".")
    forged = ".".join(
        [header, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")]
    )
    assert client.get("/api/v1/me", headers=bearer(forged)).status_code == 401


def test_a_password_change_ends_earlier_logins(
    client: FlaskClient, teacher: User, school_admin: User, headers
) -> None:
    first = login(client, "teacher-a").get_json()
    time.sleep(1.1)  # tokens carry their issue time in whole seconds
    changed = client.post(
        "/api/v1/me/password",
        headers=bearer(first["access_token"]),
        json={"current_password": PASSWORD, "new_password": "another-pass-1"},
    )
    assert changed.status_code == 204
    assert client.get("/api/v1/me", headers=bearer(first["access_token"])).status_code == 401
    refused = client.post("/api/v1/auth/refresh", headers=bearer(first["refresh_token"]))
    assert refused.status_code == 401
    second = login(client, "teacher-a", "another-pass-1").get_json()
    assert client.get("/api/v1/me", headers=bearer(second["access_token"])).status_code == 200
    time.sleep(1.1)
    reset = client.patch(
        f"/api/v1/users/{teacher.id}",
        headers=headers(school_admin),
        json={"password": "set-by-admin-1"},
    )
    assert reset.status_code == 200
    assert client.get("/api/v1/me", headers=bearer(second["access_token"])).status_code == 401


def test_query_strings_are_parsed_once_and_each_request_gets_its_own_copy(app: Flask) -> None:
    class Args(Schema):
        REMEMBER_PARSED = True
        names = DelimitedList(fields.String())
        n = fields.Integer()

    args = Args()
    parser = Blueprint.ARGUMENTS_PARSER
    with app.test_request_context("/?names=a,b&n=3"):
        first = parser.parse(args, location="query")
        first["names"].append("x")
        second = parser.parse(args, location="query")
    assert second == {"names": ["a", "b"], "n": 3}
    for _ in range(2):  # an invalid query string is refused every time, never remembered
        with app.test_request_context("/?n=three"), pytest.raises(HTTPException) as refused:
            parser.parse(args, location="query")
        assert refused.value.code == 400


def test_only_short_query_strings_of_schemas_that_ask_are_parsed_once(app: Flask) -> None:
    parsed: list[str] = []

    class Counted(Schema):
        n = fields.Integer()

        @post_load
        def count(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
            parsed.append(type(self).__name__)
            return data

    class Plain(Counted):
        pass

    class Remembered(Counted):
        REMEMBER_PARSED = True

    parser = Blueprint.ARGUMENTS_PARSER
    for query in ("/?n=1", "/?n=1", "/?n=2&" + "x=y&" * 100, "/?n=2&" + "x=y&" * 100):
        for schema in (Plain, Remembered):
            with app.test_request_context(query):
                assert parser.parse(schema, location="query")["n"] in (1, 2)
    # the short query string once for the schema that asks, the long one every time
    assert parsed.count("Remembered") == 3
    assert parsed.count("Plain") == 4
