"""Bodies however they are sent, and the client address behind trusted proxies."""

import io
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from mdm.accounts.models import School, User
from mdm.extensions import db
from mdm.platform.http import SERVED_URL, BaseUrlMissing, base_url
from mdm.platform.models import AuditEvent
from tests.conftest import PASSWORD
from tests.mdm.platform.test_errors import assert_problem

CSV_HEADER = b"Benutzername;Vorname;Nachname;Rolle;Klasse\n"


def chunked(client: FlaskClient, url: str, body: bytes, **kwargs) -> object:
    """POST a body the way gunicorn hands over a chunked upload: no length, a terminated input."""
    return client.post(
        url,
        input_stream=io.BytesIO(body),
        headers={"Transfer-Encoding": "chunked", **kwargs.pop("headers", {})},
        environ_overrides={"wsgi.input_terminated": True},
        **kwargs,
    )


def students_csv(count: int) -> bytes:
    rows = b"".join(b"s%05d;Vor;Nach%05d;student;5a\n" % (n, n) for n in range(count))
    return CSV_HEADER + rows


def user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def test_a_chunked_body_over_the_limit_is_413_and_changes_nothing(
    make_app: Callable[..., Flask], create_school, create_user
) -> None:
    from flask_jwt_extended import create_access_token

    body = students_csv(200)
    app = make_app(MAX_CONTENT_LENGTH=len(body) - 10)
    with app.app_context():
        school = create_school()
        admin = create_user("school_admin", school, username="chunk-admin")
        token = create_access_token(identity=str(admin.id))
        before = user_count()
        response = chunked(
            app.test_client(),
            f"/api/v1/schools/{school.id}/users/import",
            body,
            content_type="text/csv",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert_problem(response, 413)
        assert user_count() == before


def test_a_chunked_body_within_the_limit_arrives_whole(
    make_app: Callable[..., Flask], create_school, create_user
) -> None:
    from flask_jwt_extended import create_access_token

    body = students_csv(30)
    app = make_app(MAX_CONTENT_LENGTH=len(body))
    with app.app_context():
        school = create_school()
        admin = create_user("school_admin", school, username="chunk-admin")
        token = create_access_token(identity=str(admin.id))
        response = chunked(
            app.test_client(),
            f"/api/v1/schools/{school.id}/users/import",
            body,
            content_type="text/csv",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.get_json()
        assert db.session.scalar(select(User).where(User.username == "s00029")) is not None


def test_a_method_the_path_does_not_have_is_405_whatever_the_body(
    client: FlaskClient, school_admin: User, school: School, headers
) -> None:
    response = client.put(
        f"/api/v1/schools/{school.id}/timetable/imports",
        headers=headers(school_admin),
        data="x",
        content_type="text/plain",
    )
    assert_problem(response, 405)


def login_from(client: FlaskClient, username: str, password: str, forwarded: str, peer: str):
    return client.post(
        "/api/v1/auth/login",
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": forwarded},
        environ_base={"REMOTE_ADDR": peer},
    )


def test_without_trusted_proxies_the_forwarded_address_is_ignored(
    client: FlaskClient, teacher: User
) -> None:
    assert login_from(client, "teacher-a", PASSWORD, "203.0.113.7", "10.0.0.2").status_code == 200
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.login"))
    assert event.address == "10.0.0.2"


def test_behind_a_trusted_proxy_limits_and_audit_use_the_client_address(
    make_app: Callable[..., Flask], create_school, create_user
) -> None:
    app = make_app(TRUSTED_PROXY_HOPS=1, LOGIN_FAILURES_PER_ADDRESS=3)
    client = app.test_client()
    with app.app_context():
        school = create_school()
        create_user("teacher", school, username="behind-proxy")
        # One pupil guessing locks out that pupil's address, not the whole school behind the
        # load balancer (10.0.0.2).
        for _ in range(3):
            login_from(client, "nobody", "wrong", "203.0.113.7", "10.0.0.2")
        assert login_from(client, "x", "wrong", "203.0.113.7", "10.0.0.2").status_code == 429
        ok = login_from(client, "behind-proxy", PASSWORD, "198.51.100.9", "10.0.0.2")
        assert ok.status_code == 200
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.login"))
        assert event.address == "198.51.100.9"
        # Only the hops trusted count: an address the client wrote itself in front is ignored.
        spoofed = login_from(client, "behind-proxy", PASSWORD, "1.2.3.4, 198.51.100.10", "10.0.0.2")
        assert spoofed.status_code == 200
        last = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "auth.login").order_by(AuditEvent.id)
        ).all()[-1]
        assert last.address == "198.51.100.10"


def test_links_outside_a_request_need_base_url_and_say_so(app: Flask) -> None:
    with pytest.raises(BaseUrlMissing, match="MDM_BASE_URL"):
        base_url()
    app.extensions[SERVED_URL] = "http://127.0.0.1:5001"  # as `mdm run` does
    try:
        assert base_url() == "http://127.0.0.1:5001"
        app.config["BASE_URL"] = "https://mdm.schulen.example.org/"
        assert base_url() == "https://mdm.schulen.example.org"
    finally:
        del app.extensions[SERVED_URL]
    with app.test_request_context("/", base_url="http://192.168.1.20:5000"):
        assert base_url() == "https://mdm.schulen.example.org"
        app.config["BASE_URL"] = ""
        assert base_url() == "http://192.168.1.20:5000"


def test_behind_a_trusted_proxy_links_follow_the_forwarded_address(
    make_app: Callable[..., Flask],
) -> None:
    other = make_app(TRUSTED_PROXY_HOPS=1)

    @other.route("/test/base-url")
    def show() -> dict[str, str]:
        return {"base_url": base_url()}

    answer = other.test_client().get(
        "/test/base-url",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "mdm.schulen.example.org"},
    )
    assert answer.get_json() == {"base_url": "https://mdm.schulen.example.org"}


def test_the_pages_cookie_session_is_never_opened_for_the_api_devices_or_feeds() -> None:
    from mdm.platform.http import opens_page_session

    for path in ("/api/v1/devices", "/apple/mdm/connect", "/apple/scep/1", "/calendars/x.ics"):
        assert not opens_page_session(path), path
    for path in ("/login", "/admin", "/panel", "/enroll/x"):
        assert opens_page_session(path), path
