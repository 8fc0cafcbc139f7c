"""Enrollment tokens through the admin API, their QR codes and the enrollment page."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from enrollment.models import EnrollmentToken
from enrollment.tokens import hash_token, is_token_secret
from mdm.accounts.models import School, User
from mdm.devices.models import Group
from mdm.extensions import db
from mdm.platform.models import AuditEvent
from mdm.platform.types import utcnow

Headers = Callable[[User], dict[str, str]]


def test_create_token_shows_the_secret_once_and_stores_its_hash(
    client: FlaskClient, headers: Headers, school_admin: User, school: School
) -> None:
    group = Group(school_id=school.id, kind="class", name="7a")
    db.session.add(group)
    db.session.commit()
    response = client.post(
        "/api/v1/enrollment-tokens",
        json={
            "ownership": "school",
            "user_role": "student",
            "platform": "ipados",
            "max_uses": 30,
            "group_ids": [group.id],
            "label": "iPads 7a",
        },
        headers=headers(school_admin),
    )

    assert response.status_code == 201
    body = response.get_json()
    secret = body["secret"]
    assert is_token_secret(secret)
    assert body["enrollment_url"] == f"http://localhost/enroll/{secret}"  # the request's Host
    assert body["qr_svg_url"] == body["enrollment_url"] + "/qr.svg"
    assert body["qr_png_url"] == body["enrollment_url"] + "/qr.png"
    token = body["token"]
    assert token["state"] == "active" and token["uses"] == 0 and token["max_uses"] == 30
    assert token["groups"] == [{"id": group.id, "kind": "class", "name": "7a"}]
    row = db.session.get(EnrollmentToken, token["id"])
    assert row.token_hash == hash_token(secret) and secret not in row.token_hash
    assert row.school_id == school.id and row.created_by == school_admin.id
    assert row.expires_at - utcnow() > timedelta(days=13)
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "enrollment_token.create")
    )
    assert event.target_id == str(row.id) and event.school_id == school.id

    listed = client.get("/api/v1/enrollment-tokens", headers=headers(school_admin)).get_json()
    assert [t["id"] for t in listed] == [row.id]
    assert secret not in str(listed)


def test_revoke_token(
    client: FlaskClient, headers: Headers, school_admin: User, make_token: Callable[..., Any]
) -> None:
    token = make_token()["token"]
    url = f"/api/v1/enrollment-tokens/{token['id']}/revoke"

    response = client.post(url, headers=headers(school_admin))

    assert response.status_code == 200 and response.get_json()["state"] == "revoked"
    again = client.post(url, headers=headers(school_admin))
    assert again.status_code == 200 and again.get_json() == response.get_json()
    events = db.session.scalars(
        select(AuditEvent.id).where(AuditEvent.action == "enrollment_token.revoke")
    ).all()
    assert len(events) == 1


def test_tokens_of_another_school_are_invisible(
    client: FlaskClient,
    headers: Headers,
    create_user: Callable[..., User],
    other_school: School,
    make_token: Callable[..., Any],
) -> None:
    token = make_token()["token"]
    other_admin = create_user("school_admin", other_school)

    assert client.get("/api/v1/enrollment-tokens", headers=headers(other_admin)).get_json() == []
    for method, url in (
        ("get", f"/api/v1/enrollment-tokens/{token['id']}"),
        ("post", f"/api/v1/enrollment-tokens/{token['id']}/revoke"),
    ):
        assert getattr(client, method)(url, headers=headers(other_admin)).status_code == 404
    create = client.post(
        "/api/v1/enrollment-tokens",
        json={"ownership": "school", "user_role": "student", "school_id": token["school_id"]},
        headers=headers(other_admin),
    )
    assert create.status_code == 404


def test_teachers_cannot_manage_tokens(
    client: FlaskClient, headers: Headers, teacher: User
) -> None:
    response = client.post(
        "/api/v1/enrollment-tokens",
        json={"ownership": "school", "user_role": "student"},
        headers=headers(teacher),
    )
    assert response.status_code == 403


def test_invalid_token_requests(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    other_school: School,
) -> None:
    foreign = Group(school_id=other_school.id, kind="class", name="5b")
    db.session.add(foreign)
    db.session.commit()
    cases = [
        ({"ownership": "byod", "user_role": "shared"}, "user_role"),
        ({"ownership": "rented", "user_role": "student"}, "ownership"),
        ({"ownership": "school", "user_role": "student", "platform": "symbian"}, "platform"),
        ({"ownership": "school", "user_role": "student", "max_uses": 0}, "max_uses"),
        (
            {"ownership": "school", "user_role": "student", "expires_at": "2020-01-01T00:00:00Z"},
            "expires_at",
        ),
        ({"ownership": "school", "user_role": "student", "group_ids": [foreign.id]}, "group_ids"),
    ]
    for body, field in cases:
        response = client.post(
            "/api/v1/enrollment-tokens", json=body, headers=headers(school_admin)
        )
        assert response.status_code == 400, body
        assert field in response.get_json()["errors"], response.get_json()
    assert db.session.scalar(select(EnrollmentToken.id)) is None


def test_qr_codes_of_the_enrollment_url(
    client: FlaskClient, make_token: Callable[..., Any]
) -> None:
    secret = make_token()["secret"]

    svg = client.get(f"/enroll/{secret}/qr.svg")
    png = client.get(f"/enroll/{secret}/qr.png")

    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert svg.data.startswith(b"<?xml") and b"href" not in svg.data
    assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
    assert svg.headers["Cache-Control"] == "no-store"
    unknown = client.get("/enroll/et_" + "x" * 43 + "/qr.svg")
    assert unknown.status_code == 404


def test_enrollment_page_explains_school_and_byod_enrollment(
    client: FlaskClient, make_token: Callable[..., Any], notice: dict[str, Any]
) -> None:
    english = {"Accept-Language": "en"}
    school_page = client.get(f"/enroll/{make_token()['secret']}", headers=english)
    byod_page = client.get(f"/enroll/{make_token(ownership='byod')['secret']}", headers=english)

    assert school_page.status_code == 200 and school_page.mimetype == "text/html"
    text = school_page.get_data(as_text=True)
    assert "school-owned device" in text and "Gymnasium A" in text and "Privacy notice" not in text
    assert school_page.headers["Referrer-Policy"] == "no-referrer"
    byod = byod_page.get_data(as_text=True)
    assert "your own device" in byod and "Privacy notice (version 1)" in byod
    assert notice["text"] in byod
    assert "https://" not in byod and "<script" not in byod


def test_enrollment_page_of_a_revoked_token(
    client: FlaskClient, headers: Headers, school_admin: User, make_token: Callable[..., Any]
) -> None:
    issued = make_token()
    client.post(
        f"/api/v1/enrollment-tokens/{issued['token']['id']}/revoke", headers=headers(school_admin)
    )

    page = client.get(f"/enroll/{issued['secret']}", headers={"Accept-Language": "en"})

    assert page.status_code == 410 and "revoked" in page.get_data(as_text=True)
