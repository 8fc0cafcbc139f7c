"""The security headers, set in one place for every answer: pages, images, JSON, errors."""

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from mdm.accounts.models import School, User
from mdm.extensions import db

Headers = Callable[[User], dict[str, str]]


def assert_page_headers(response: TestResponse) -> None:
    """An HTML page: nobody frames it, nothing sniffs it, no Referer leaves it."""
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def assert_other_headers(response: TestResponse) -> None:
    """JSON, images, files: nothing runs in them, nothing frames or sniffs them."""
    assert (
        response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.fixture
def pages(
    client: FlaskClient,
    school: School,
    school_admin: User,
    headers: Headers,
    make_token: Callable[..., dict[str, Any]],
) -> dict[str, str]:
    """A path of every kind of page the service serves."""
    token = make_token()
    panel_link = client.post(
        f"/api/v1/schools/{school.id}/panel/link", headers=headers(school_admin)
    ).get_json()["secret"]
    return {
        "start page": "/",
        "API docs": "/api/docs",
        "agent protocol": "/docs/agent-protocol",
        "panel": "/panel",
        "panel link": f"/panel/{panel_link}",
        "entrance-hall screen": f"/panel/{panel_link}?screen=1",
        "unknown panel link": "/panel/pl_nope",
        "enrollment page": f"/enroll/{token['secret']}",
        "unknown enrollment token": "/enroll/et_nope",
    }


def test_every_page_has_the_page_headers(client: FlaskClient, pages: dict[str, str]) -> None:
    for name, path in pages.items():
        response = client.get(path)
        assert response.mimetype == "text/html", name
        assert_page_headers(response)


def test_the_panels_inline_script_is_allowed_by_this_answers_nonce_only(
    client: FlaskClient,
) -> None:
    first, second = client.get("/panel"), client.get("/panel")
    nonces = []
    for response in (first, second):
        policy = response.headers["Content-Security-Policy"]
        nonce = policy.split("'nonce-", 1)[1].split("'", 1)[0]
        assert f'<script nonce="{nonce}">' in response.get_data(as_text=True)
        nonces.append(nonce)
    assert nonces[0] != nonces[1]
    assert "nonce-" not in client.get("/api/docs").headers["Content-Security-Policy"]


def test_images_files_json_and_problems_have_theirs(
    client: FlaskClient, school_admin: User, headers: Headers, make_token: Callable[..., Any]
) -> None:
    token = make_token()
    answers = {
        "QR code (SVG)": client.get(f"/enroll/{token['secret']}/qr.svg"),
        "QR code (PNG)": client.get(f"/enroll/{token['secret']}/qr.png"),
        "favicon": client.get("/favicon.ico"),
        "script": client.get("/static/api-docs.js"),
        "JSON": client.get("/api/v1/me", headers=headers(school_admin)),
        "OpenAPI": client.get("/api/openapi.json"),
        "health": client.get("/healthz"),
        "401": client.get("/api/v1/me"),
        "404": client.get("/api/v1/nothing-here"),
        "405": client.put("/api/v1/auth/login"),
        "415": client.post("/api/v1/auth/login", data="x", content_type="text/plain"),
    }
    for name, response in answers.items():
        assert response.mimetype != "text/html", name
        assert_other_headers(response)
    assert answers["QR code (SVG)"].status_code == 200
    assert answers["401"].status_code == 401


def test_a_problem_made_at_commit_time_has_them_too(make_app: Callable[..., Flask]) -> None:
    other = make_app()

    @other.route("/api/test/two-schools-of-one-slug", methods=["POST"])
    def two_schools() -> dict[str, str]:
        db.session.add_all([School(slug="same", name="A"), School(slug="same", name="B")])
        return {"status": "saved?"}

    response = other.test_client().post("/api/test/two-schools-of-one-slug")
    assert response.status_code == 409 and response.mimetype == "application/problem+json"
    assert_other_headers(response)
