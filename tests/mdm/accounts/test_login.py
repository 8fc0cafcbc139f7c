"""Login, refresh, logout, token expiry and revocation, rate limits, /me."""

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy import select

from mdm import extensions
from mdm.accounts.models import RevokedToken, School, User
from mdm.extensions import db
from mdm.platform.models import AuditEvent
from mdm.platform.types import utcnow
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


@pytest.fixture
def teacher(teacher: User) -> User:
    """The teacher, whose account is an hour old (logins issued a moment ago are younger)."""
    db.session.get(User, teacher.id).created_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    return teacher


def issued(user: User, seconds_ago: int, lifetime: int = 900, **claims: Any) -> str:
    """An access token of the user issued `seconds_ago` (the tests' clock for login tokens)."""
    at = int(time.time()) - seconds_ago
    overrides = {"iat": at, "nbf": at, "exp": at + lifetime, **claims}
    return create_access_token(identity=str(user.id), additional_claims=overrides)


def test_expired_token_is_refused(client: FlaskClient, teacher: User) -> None:
    token = issued(teacher, seconds_ago=120, lifetime=60)
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
    client: FlaskClient, teacher: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = issued(teacher, seconds_ago=0, lifetime=60)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    later = time.time() + 120
    monkeypatch.setattr(extensions, "time", SimpleNamespace(time=lambda: later))
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


def test_a_password_change_ends_earlier_logins(client: FlaskClient, teacher: User) -> None:
    earlier = issued(teacher, seconds_ago=5)
    refresh = create_refresh_token(
        identity=str(teacher.id), additional_claims={"iat": int(time.time()) - 5}
    )
    changed = client.post(
        "/api/v1/me/password",
        headers=bearer(earlier),
        json={"current_password": PASSWORD, "new_password": "another-pass-1"},
    )
    assert changed.status_code == 204
    assert client.get("/api/v1/me", headers=bearer(earlier)).status_code == 401
    assert client.post("/api/v1/auth/refresh", headers=bearer(refresh)).status_code == 401
    again = login(client, "teacher-a", "another-pass-1").get_json()
    assert client.get("/api/v1/me", headers=bearer(again["access_token"])).status_code == 200


def test_a_password_reset_by_an_admin_ends_earlier_logins(
    client: FlaskClient, teacher: User, school_admin: User, headers: Callable[[User], Any]
) -> None:
    earlier = issued(teacher, seconds_ago=5)
    assert client.get("/api/v1/me", headers=bearer(earlier)).status_code == 200
    reset = client.patch(
        f"/api/v1/users/{teacher.id}",
        headers=headers(school_admin),
        json={"password": "set-by-admin-1"},
    )
    assert reset.status_code == 200
    assert client.get("/api/v1/me", headers=bearer(earlier)).status_code == 401


def test_a_password_change_ends_a_login_of_the_same_second(
    client: FlaskClient, teacher: User
) -> None:
    tokens = login(client, "teacher-a").get_json()
    changed = client.post(
        "/api/v1/me/password",
        headers=bearer(tokens["access_token"]),
        json={"current_password": PASSWORD, "new_password": "another-pass-1"},
    )
    assert changed.status_code == 204
    assert client.get("/api/v1/me", headers=bearer(tokens["access_token"])).status_code == 401
    refreshed = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert refreshed.status_code == 401


def test_an_admin_reset_ends_the_refresh_token_of_a_login_just_before(
    client: FlaskClient, teacher: User, school_admin: User, headers: Callable[[User], Any]
) -> None:
    tokens = login(client, "teacher-a").get_json()
    reset = client.patch(
        f"/api/v1/users/{teacher.id}", headers=headers(school_admin), json={"password": "pw-new-12"}
    )
    assert reset.status_code == 200
    refreshed = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert refreshed.status_code == 401
    # A login after the reset works, and its refresh token too.
    fresh = login(client, "teacher-a", "pw-new-12").get_json()
    again = client.post("/api/v1/auth/refresh", headers=bearer(fresh["refresh_token"]))
    access = again.get_json()["access_token"]
    assert client.get("/api/v1/me", headers=bearer(access)).status_code == 200


def parallel_wrong_logins(app: Flask, username: str, count: int) -> list[int]:
    """`count` wrong logins for one account at once, from threads that start together."""
    barrier = threading.Barrier(count)
    statuses: list[int] = []

    def attempt(n: int) -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(login(client, username, "wrong", address=f"10.7.{n}.1").status_code)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def redis_url() -> str:
    import redis

    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_timeout=1).flushdb()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    return url


@pytest.mark.committing
@pytest.mark.concurrency
@pytest.mark.parametrize("store", ["memory", "redis"])
def test_parallel_wrong_logins_get_exactly_the_limit(
    make_app: Callable[..., Flask], create_user: Callable[..., User], store: str
) -> None:
    storage = "memory://" if store == "memory" else redis_url()
    app = make_app(RATELIMIT_STORAGE_URL=storage, LOGIN_FAILURES_PER_ACCOUNT=5)
    with app.app_context():
        create_user("teacher", None, username="guessed")
    statuses = parallel_wrong_logins(app, "guessed", 40)
    assert sorted(statuses) == [401] * 5 + [429] * 35


def test_a_success_gives_its_attempt_back() -> None:
    from mdm.platform.ratelimit import MemoryCounter, take_all

    counter = MemoryCounter(window=60)
    assert counter.take("a", 2) is None
    counter.give_back("a")  # a success
    assert counter.take("a", 2) is None
    assert counter.take("a", 2) is None
    assert counter.take("a", 2) is not None
    # All keys or none: one at its limit leaves the others as they were.
    assert take_all(counter, [("b", 5), ("a", 2)]) is not None
    assert take_all(counter, [("b", 1)]) is None


@pytest.fixture
def scrypt_work(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int]]:
    """The scrypt hashes computed (their n, r, p), in order."""
    import hashlib

    done: list[tuple[int, int, int]] = []
    real = hashlib.scrypt

    def counting(password: bytes, **kwargs: Any) -> bytes:
        done.append((kwargs["n"], kwargs["r"], kwargs["p"]))
        return real(password, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    return done


def test_every_login_attempt_does_the_same_work(
    client: FlaskClient,
    school: School,
    create_user: Callable[..., User],
    scrypt_work: list[tuple[int, int, int]],
) -> None:
    from mdm.accounts.service import initial_password_hash

    chosen = create_user("teacher", school, username="chosen")
    initial = create_user("student", school, username="initial")
    initial.password_hash = initial_password_hash("Xy7-initial-pw")
    disabled = create_user("teacher", school, username="disabled")
    disabled.active = False
    db.session.commit()
    for username in (chosen.username, initial.username, disabled.username):  # warm dummies
        login(client, username, "wrong-password")
    work = {}
    for username, password in [
        ("chosen", "wrong-password"),
        ("initial", "wrong-password"),
        ("disabled", "wrong-password"),
        ("nobody-of-that-name", "wrong-password"),
        ("chosen", PASSWORD),
        ("initial", "Xy7-initial-pw"),
    ]:
        scrypt_work.clear()
        response = login(client, username, password, address=f"10.8.{len(work)}.1")
        assert response.status_code in (200, 401)
        work[(username, password)] = sorted(scrypt_work)
    assert len({tuple(done) for done in work.values()}) == 1, work
    # One hash at the configured cost and one at the initial passwords' cost.
    assert sorted(n for n, _r, _p in work[("chosen", PASSWORD)]) == [256, 1024]
