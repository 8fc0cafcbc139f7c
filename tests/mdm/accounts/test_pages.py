"""The pages' login: a cookie session for pages only, under the API's login rules; CSRF on every
form; the admin pages' roles; the dashboard of a school and of the city."""

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from mdm.accounts.models import School, User
from mdm.devices.models import Device
from mdm.extensions import db
from tests.conftest import PASSWORD
from tests.fixtures.pages import csrf_of, log_in, post_form


def test_an_admin_logs_in_and_lands_on_the_dashboard(
    client: FlaskClient, school_admin: User
) -> None:
    assert log_in(client, "admin-a", PASSWORD) == "/admin"
    page = client.get("/admin")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Übersicht: Gymnasium A" in html
    assert page.headers["Cache-Control"] == "no-store"
    cookie = client.get_cookie("mdm_session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


def test_a_login_goes_back_to_the_page_asked_for(client: FlaskClient, it_admin: User) -> None:
    asked = client.get("/account")
    assert asked.status_code == 302 and asked.headers["Location"].startswith("/login?next=")
    token = csrf_of(client, asked.headers["Location"])
    answer = client.post(
        "/login",
        data={"username": "city-it", "password": PASSWORD, "csrf_token": token, "next": "/account"},
    )
    assert answer.headers["Location"] == "/account"
    outside = client.post(
        "/login",
        data={
            "username": "city-it",
            "password": PASSWORD,
            "csrf_token": csrf_of(client, "/account"),
            "next": "//evil.example/",
        },
    )
    assert outside.headers["Location"] == "/admin"


def test_teachers_and_students_land_on_their_panel_with_the_same_login(
    client: FlaskClient, teacher: User
) -> None:
    token = csrf_of(client)
    answer = client.post(
        "/login", data={"username": "teacher-a", "password": PASSWORD, "csrf_token": token}
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert 'href="/panel"' in html and "mdm.panel.tokens" in html and "refresh_token" in html
    # The panel's tokens are of this login: they work on the API.
    access = html.split('"access_token": "')[1].split('"')[0]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {access}"})
    assert me.json["username"] == "teacher-a"
    assert client.get("/admin").status_code == 403


def test_a_wrong_password_is_refused_and_counted_as_the_api_counts_it(
    app: Flask, client: FlaskClient, school_admin: User
) -> None:
    app.config["LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS"] = 3
    for _ in range(3):
        refused = client.post(
            "/login",
            data={"username": "admin-a", "password": "wrong", "csrf_token": csrf_of(client)},
        )
        assert refused.status_code == 401
        assert "Benutzername oder Passwort ist falsch." in refused.get_data(as_text=True)
    # The API and the pages share the limit: the right password is now refused too.
    api = client.post("/api/v1/auth/login", json={"username": "admin-a", "password": PASSWORD})
    assert api.status_code == 429
    page = client.post(
        "/login",
        data={"username": "admin-a", "password": PASSWORD, "csrf_token": csrf_of(client)},
    )
    assert page.status_code == 429 and "Retry-After" in page.headers
    assert "Zu viele Versuche" in page.get_data(as_text=True)


def test_the_api_never_takes_the_pages_cookie(client: FlaskClient, school_admin: User) -> None:
    log_in(client, "admin-a", PASSWORD)
    assert client.get("/admin").status_code == 200
    answer = client.get("/api/v1/me")
    assert answer.status_code == 401
    assert "Set-Cookie" not in answer.headers
    assert "Set-Cookie" not in client.get("/api/v1/schools").headers


def test_a_logout_ends_the_session_and_the_panels_tokens(
    client: FlaskClient, school_admin: User
) -> None:
    log_in(client, "admin-a", PASSWORD)
    stolen = client.get_cookie("mdm_session").value
    answer = post_form(client, "/logout", {}, page="/admin")
    assert answer.headers["Location"] == "/login"
    assert client.get("/admin").status_code == 302
    # The old cookie, kept by someone, no longer logs in: its login was revoked.
    client.set_cookie("mdm_session", stolen)
    assert client.get("/admin").status_code == 302


def test_a_password_change_ends_every_page_session(
    app: Flask, page_client: Callable[..., FlaskClient], school_admin: User, headers
) -> None:
    first = page_client(school_admin)
    second = page_client(school_admin)
    changed = post_form(
        first,
        "/account",
        {"form": "password", "current_password": PASSWORD, "new_password": "a-new-secret-1"},
    )
    assert changed.headers["Location"] == "/login"
    assert first.get("/admin").status_code == 302
    assert second.get("/admin").status_code == 302


def test_a_disabled_account_is_logged_out_of_the_pages(
    page_client: Callable[..., FlaskClient], school_admin: User
) -> None:
    admin = page_client(school_admin)
    assert admin.get("/admin").status_code == 200
    school_admin.active = False
    db.session.commit()
    assert admin.get("/admin").status_code == 302


def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(
    page_client: Callable[..., FlaskClient], school_admin: User
) -> None:
    admin = page_client(school_admin)
    for data in ({}, {"csrf_token": "guessed"}):
        refused = admin.post("/account", data={"form": "language", "language": "en", **data})
        assert refused.status_code == 400
        assert "Formular abgelaufen" in refused.get_data(as_text=True)
    db.session.refresh(school_admin)
    assert school_admin.language is None
    refused = admin.post("/logout")
    assert refused.status_code == 400
    assert admin.get("/admin").status_code == 200


def test_the_login_form_needs_the_token_too(client: FlaskClient, school_admin: User) -> None:
    refused = client.post("/login", data={"username": "admin-a", "password": PASSWORD})
    assert refused.status_code == 400
    assert client.get("/admin").status_code == 302


def test_the_language_follows_the_browser_or_the_users_setting(
    page_client: Callable[..., FlaskClient], school_admin: User
) -> None:
    admin = page_client(school_admin)
    english = admin.get("/admin", headers={"Accept-Language": "en-GB,en"})
    assert "Overview" in english.get_data(as_text=True)
    assert english.headers["Content-Language"] == "en"
    post_form(admin, "/account", {"form": "language", "language": "en"})
    german_browser = admin.get("/admin", headers={"Accept-Language": "de-DE"})
    assert german_browser.headers["Content-Language"] == "en"
    assert admin.get("/admin?lang=de").headers["Content-Language"] == "de"


def test_students_and_teachers_get_403_on_admin_pages(
    page_client: Callable[..., FlaskClient], student: User, teacher: User
) -> None:
    for user in (student, teacher):
        answer = page_client(user).get("/admin")
        assert answer.status_code == 403
        assert "Kein Zugriff" in answer.get_data(as_text=True)


def test_a_school_admin_sees_only_their_school(
    page_client: Callable[..., FlaskClient],
    school_admin: User,
    other_school: School,
) -> None:
    admin = page_client(school_admin)
    assert admin.get(f"/admin?school_id={other_school.id}").status_code == 404
    assert "Realschule B" not in admin.get("/admin").get_data(as_text=True)


def test_the_city_sees_every_school_and_their_sum(
    page_client: Callable[..., FlaskClient],
    it_admin: User,
    school: School,
    other_school: School,
) -> None:
    for owner, ownership in ((school, "school"), (school, "school"), (other_school, "byod")):
        db.session.add(
            Device(
                school_id=owner.id,
                ownership=ownership,
                platform="android",
                name="Tablet",
                user_role="student",
            )
        )
    db.session.commit()
    html = page_client(it_admin).get("/admin").get_data(as_text=True)
    assert "Alle Schulen zusammen" in html
    assert "Gymnasium A" in html and "Realschule B" in html
    total = html.split('<span class="value">')[1].split("<")[0]
    assert total == "3"


def test_admin_pages_run_no_script_without_this_requests_nonce(
    client: FlaskClient, page_client: Callable[..., FlaskClient], it_admin: User, teacher: User
) -> None:
    city = page_client(it_admin)
    pages = [city.get(path) for path in ("/admin", "/admin/users", "/admin/audit", "/account")]
    token = csrf_of(client)
    pages.append(
        client.post(
            "/login", data={"username": "teacher-a", "password": PASSWORD, "csrf_token": token}
        )
    )
    for page in pages:
        policy = page.headers["Content-Security-Policy"]
        html = page.get_data(as_text=True)
        nonce = re.search(r"script-src 'self' 'nonce-([^']+)'", policy).group(1)
        scripts = re.findall(r"<script([^>]*)>", html)
        assert all(f'nonce="{nonce}"' in attributes for attributes in scripts)
        assert " style=" not in html and " onclick=" not in html
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert re.findall(r"<script([^>]*)>", pages[-1].get_data(as_text=True))


def test_a_logout_on_the_panel_ends_the_pages_login_too(client: FlaskClient, teacher: User) -> None:
    token = csrf_of(client)
    html = client.post(
        "/login", data={"username": "teacher-a", "password": PASSWORD, "csrf_token": token}
    ).get_data(as_text=True)
    assert client.get("/account").status_code == 200
    access = html.split('"access_token": "')[1].split('"')[0]
    assert (
        client.post(
            "/api/v1/auth/logout", headers={"Authorization": f"Bearer {access}"}
        ).status_code
        == 204
    )
    assert client.get("/account").status_code == 302
