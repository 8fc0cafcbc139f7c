"""The panel feed over HTTP: scoping, selections, ETag/304, caching, settings, the panel link."""

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_jwt_extended import create_access_token
from sqlalchemy import select

from mdm.accounts.demo import seed_demo
from mdm.accounts.models import School, User
from mdm.extensions import db
from mdm.platform.models import AuditEvent
from schedules.models import DayMessage, PanelSettings, Substitution
from tests.conftest import PASSWORD
from tests.schedules.panel_factories import (
    add_holiday,
    bump_plan,
    school_days_from_today,
    seed_plan,
)

Headers = Callable[[User], dict[str, str]]


@pytest.fixture
def plan(school: School) -> tuple[Any, Any]:
    return seed_plan(school.id)


def url(school: School, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/api/v1/schools/{school.id}/panel" + (f"?{query}" if query else "")


def kinds(day: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(c["kind"], c["original"]["classes"]) for c in day["changes"]]


# Who sees what


def test_a_student_sees_their_own_class_by_default(
    client: FlaskClient, school: School, student: User, headers: Headers, plan: Any
) -> None:
    response = client.get(url(school), headers=headers(student))
    assert response.status_code == 200
    body = response.get_json()
    assert body["selection"] == {
        "kind": "class",
        "class": "7a",
        "courses": [],
        "teacher": None,
        "room": None,
    }
    assert [d["date"] for d in body["days"]] == [plan[0].isoformat(), plan[1].isoformat()]
    assert kinds(body["days"][0]) == [("cancellation", ["7a"])]
    assert kinds(body["days"][1]) == [("room_change", ["7a"])]
    assert body["days"][0]["messages"] == ["Heute Schulkonzert in der Aula"]
    assert body["days"][0]["lessons"][0]["text"] == "Mathe fällt aus"
    assert body["days"][0]["lessons"][0]["starts"] == "08:00"
    assert body["subjects"]["M"] == "Mathematik"


def test_a_class_can_be_chosen(
    client: FlaskClient, school: School, student: User, headers: Headers, plan: Any
) -> None:
    body = client.get(url(school, **{"class": "5b"}), headers=headers(student)).get_json()
    assert kinds(body["days"][0]) == [("substitution", ["5b"])]
    assert body["days"][0]["changes"][0]["teachers"] == ["SCH"]


def test_courses_narrow_the_class(
    client: FlaskClient, school: School, student: User, headers: Headers, plan: Any
) -> None:
    params = {"class": "5b", "course": "REL-5"}
    body = client.get(url(school, **params), headers=headers(student)).get_json()
    subjects = [x["subject"] for x in body["days"][0]["lessons"]]
    assert "REL" in subjects and "ETH" not in subjects
    assert body["selection"]["courses"] == ["REL-5"]


def test_everything_for_an_admin_by_default(
    client: FlaskClient, school: School, school_admin: User, headers: Headers, plan: Any
) -> None:
    body = client.get(url(school), headers=headers(school_admin)).get_json()
    assert body["selection"]["kind"] == "all"
    assert len(body["days"][0]["changes"]) == 2


def test_a_teacher_sees_their_own_plan_by_default_own_substitutions_first(
    client: FlaskClient, school: School, teacher: User, headers: Headers
) -> None:
    first, _second = seed_plan(school.id, teacher_user_id=teacher.id)
    body = client.get(url(school), headers=headers(teacher)).get_json()
    assert body["selection"]["kind"] == "teacher"
    assert body["selection"]["teacher"] == "SCH"
    day = body["days"][0]
    assert day["date"] == first.isoformat()
    assert [(c["kind"], c["teachers"]) for c in day["changes"]] == [("substitution", ["SCH"])]
    assert [(x["period"], x["classes"]) for x in day["lessons"]] == [(2, ["7a"]), (2, ["5b"])]


def test_a_room_can_be_chosen(
    client: FlaskClient, school: School, teacher: User, headers: Headers, plan: Any
) -> None:
    body = client.get(url(school, room="R999"), headers=headers(teacher)).get_json()
    assert kinds(body["days"][1]) == [("room_change", ["7a"])]


def test_login_is_required(client: FlaskClient, school: School, plan: Any) -> None:
    response = client.get(url(school))
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("role", ["student", "teacher", "school_admin"])
def test_users_of_another_school_get_404(
    client: FlaskClient,
    school: School,
    other_school: School,
    create_user: Callable[..., User],
    headers: Headers,
    role: str,
) -> None:
    seed_plan(other_school.id)
    user = create_user(role, school)
    assert client.get(url(other_school), headers=headers(user)).status_code == 404
    assert client.get(f"{url(other_school)}/options", headers=headers(user)).status_code == 404


def test_the_city_admin_sees_any_school(
    client: FlaskClient, other_school: School, it_admin: User, headers: Headers
) -> None:
    seed_plan(other_school.id)
    response = client.get(url(other_school, **{"class": "5b"}), headers=headers(it_admin))
    assert response.status_code == 200
    assert kinds(response.get_json()["days"][0]) == [("substitution", ["5b"])]


def test_an_unknown_school_is_404(client: FlaskClient, it_admin: User, headers: Headers) -> None:
    assert client.get("/api/v1/schools/999/panel", headers=headers(it_admin)).status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"class": "7a", "teacher": "MUE"},
        {"room": "R1", "teacher": "MUE"},
        {"course": "REL-5", "room": "R1"},
        {"days": "0"},
        {"days": "6"},
        {"since": "gestern"},
    ],
)
def test_bad_query_is_400(
    client: FlaskClient,
    school: School,
    school_admin: User,
    headers: Headers,
    plan: Any,
    params: dict[str, str],
) -> None:
    response = client.get(url(school, **params), headers=headers(school_admin))
    assert response.status_code == 400
    assert response.get_json()["type"] == "/problems/validation"
    assert set(response.get_json()["errors"]) <= {
        "class",
        "teacher",
        "room",
        "course",
        "days",
        "since",
    }


def test_more_days_skip_weekends_and_holidays(
    client: FlaskClient, school: School, school_admin: User, headers: Headers, plan: Any
) -> None:
    add_holiday(school.id, plan[1])
    bump_plan(school.id)
    body = client.get(url(school, days="3"), headers=headers(school_admin)).get_json()
    dates = [d["date"] for d in body["days"]]
    assert len(dates) == 3
    assert plan[1].isoformat() not in dates
    assert all(panel_weekday(d) <= 5 for d in dates)


def panel_weekday(iso: str) -> int:
    from datetime import date

    return date.fromisoformat(iso).isoweekday()


def test_since_marks_what_changed_after_it(
    client: FlaskClient, school: School, school_admin: User, headers: Headers, plan: Any
) -> None:
    row = db.session.scalars(select(Substitution).where(Substitution.key == "c2")).one()
    row.changed_at = row.changed_at.replace(year=2030)
    db.session.commit()
    bump_plan(school.id)
    response = client.get(url(school, since="2025-01-01T00:00:00Z"), headers=headers(school_admin))
    changes = response.get_json()["days"][0]["changes"]
    assert {c["kind"]: c["changed"] for c in changes} == {
        "cancellation": False,
        "substitution": True,
    }


def test_since_values_marking_the_same_changes_share_the_etag(
    client: FlaskClient, school: School, school_admin: User, headers: Headers, plan: Any
) -> None:
    auth = headers(school_admin)
    first = client.get(url(school, since="2024-01-01T00:00:00Z"), headers=auth)
    second = client.get(url(school, since="2025-06-01T08:00:00Z"), headers=auth)
    before_all = client.get(url(school, since="2019-01-01T00:00:00Z"), headers=auth)
    assert first.headers["ETag"] == second.headers["ETag"] != before_all.headers["ETag"]
    assert any(c["changed"] for c in before_all.get_json()["days"][0]["changes"])


# Hiding teacher names


def test_hidden_teachers_are_hidden_from_students_only(
    client: FlaskClient,
    school: School,
    student: User,
    teacher: User,
    headers: Headers,
    plan: Any,
) -> None:
    db.session.get(PanelSettings, school.id).hide_teachers_from_students = True
    db.session.commit()
    as_student = client.get(url(school, **{"class": "5b"}), headers=headers(student)).get_json()
    assert as_student["hide_teachers"] is True
    change = as_student["days"][0]["changes"][0]
    assert change["teachers"] is None and change["original"]["teachers"] is None
    assert as_student["days"][0]["absences"] == []
    as_teacher = client.get(url(school, **{"class": "5b"}), headers=headers(teacher)).get_json()
    assert as_teacher["days"][0]["changes"][0]["teachers"] == ["SCH"]
    refused = client.get(url(school, teacher="MUE"), headers=headers(student))
    assert refused.status_code == 400
    options = client.get(url(school) + "/options", headers=headers(student)).get_json()
    assert options["teachers"] == []


def test_options_for_the_picker(
    client: FlaskClient, school: School, student: User, headers: Headers, plan: Any
) -> None:
    body = client.get(url(school) + "/options", headers=headers(student)).get_json()
    assert body["classes"] == ["5b", "7a"]
    assert [c["name"] for c in body["courses"]] == ["ETH-5", "REL-5"]
    assert body["courses"][0]["classes"] == ["5b"]
    assert {"abbreviation": "MUE", "name": "Müller"} in body["teachers"]
    assert "R999" in body["rooms"]


# ETag, 304 and the cache


def test_etag_and_304(
    client: FlaskClient, school: School, student: User, headers: Headers, plan: Any
) -> None:
    first = client.get(url(school), headers=headers(student))
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert "Last-Modified" in first.headers
    again = client.get(url(school), headers={**headers(student), "If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag


def test_the_etag_depends_on_query_and_viewer(
    client: FlaskClient,
    school: School,
    student: User,
    school_admin: User,
    headers: Headers,
    plan: Any,
) -> None:
    own = client.get(url(school), headers=headers(student)).headers["ETag"]
    other = client.get(url(school, **{"class": "5b"}), headers=headers(student)).headers["ETag"]
    staff = client.get(url(school, **{"class": "7a"}), headers=headers(school_admin))
    assert len({own, other, staff.headers["ETag"]}) == 3


def test_a_new_plan_version_is_served_at_once(
    client: FlaskClient, school: School, student: User, headers: Headers, plan: Any
) -> None:
    first = client.get(url(school), headers=headers(student))
    row = db.session.scalars(select(Substitution).where(Substitution.key == "c1")).one()
    row.text = "Mathe in der Aula"
    db.session.commit()
    bump_plan(school.id)
    second = client.get(
        url(school), headers={**headers(student), "If-None-Match": first.headers["ETag"]}
    )
    assert second.status_code == 200
    assert second.get_json()["days"][0]["changes"][0]["text"] == "Mathe in der Aula"


def test_a_remembered_plan_and_login_cost_no_query(
    client: FlaskClient,
    school: School,
    student: User,
    headers: Headers,
    plan: Any,
    count_queries: Callable[..., Any],
) -> None:
    auth = headers(student)
    feed_url = url(school, **{"class": "7a"})
    client.get(feed_url, headers=auth)
    with count_queries() as statements:
        response = client.get(feed_url, headers=auth)
    assert response.status_code == 200
    assert statements == []


def test_without_remembering_a_cached_plan_costs_the_login_and_one_query(
    make_app: Any,
    school: School,
    student: User,
    plan: Any,
    count_queries: Callable[..., Any],
) -> None:
    app = make_app(CACHE_CHECK_SECONDS=0)
    client = app.test_client()
    with app.test_request_context():
        auth = {"Authorization": f"Bearer {create_access_token(identity=str(student.id))}"}
    feed_url = url(school, **{"class": "7a"})
    client.get(feed_url, headers=auth)
    with count_queries() as statements:
        response = client.get(feed_url, headers=auth)
    assert response.status_code == 200
    plan_queries = [s for s in statements if "panel_settings" in s or "lessons" in s]
    assert len(plan_queries) == 1
    assert len(statements) == 2  # the user with the revocation check, the panel state


# Settings and the read-only link


def test_school_admin_toggles_hide_teachers_and_it_is_audited(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    settings_url = url(school) + "/settings"
    assert client.get(settings_url, headers=headers(school_admin)).get_json() == {
        "hide_teachers_from_students": False,
        "screen_language": "de",
        "public_link_enabled": False,
        "public_link_lookup": None,
        "plan_version": 0,
        "plan_updated_at": None,
    }
    response = client.patch(
        settings_url, json={"hide_teachers_from_students": True}, headers=headers(school_admin)
    )
    assert response.status_code == 200
    assert response.get_json()["hide_teachers_from_students"] is True
    assert db.session.get(PanelSettings, school.id).hide_teachers_from_students is True
    actions = db.session.scalars(select(AuditEvent.action)).all()
    assert "panel.settings.update" in actions


def test_settings_are_for_admins_of_the_school(
    client: FlaskClient,
    school: School,
    other_school: School,
    student: User,
    create_user: Callable[..., User],
    headers: Headers,
) -> None:
    body = {"hide_teachers_from_students": True}
    settings_url = url(school) + "/settings"
    assert client.patch(settings_url, json=body, headers=headers(student)).status_code == 403
    other_admin = create_user("school_admin", other_school)
    assert client.patch(settings_url, json=body, headers=headers(other_admin)).status_code == 404
    assert client.post(url(school) + "/link", headers=headers(other_admin)).status_code == 404


def test_the_panel_link_is_created_shown_once_rotated_and_revoked(
    client: FlaskClient, school: School, school_admin: User, headers: Headers, plan: Any
) -> None:
    created = client.post(url(school) + "/link", headers=headers(school_admin))
    assert created.status_code == 201
    secret = created.get_json()["secret"]
    assert created.get_json()["url"].endswith(f"/panel/{secret}")
    stored = db.session.get(PanelSettings, school.id)
    assert stored.public_link_hash != secret and secret not in stored.public_link_lookup + "x"
    feed = client.get(f"/api/v1/panel/{secret}")
    assert feed.status_code == 200
    assert feed.get_json()["selection"]["kind"] == "all"
    assert feed.headers["Referrer-Policy"] == "no-referrer"
    assert client.get(f"/api/v1/panel/{secret}?class=7a").get_json()["days"][0]["changes"]

    rotated = client.post(url(school) + "/link", headers=headers(school_admin)).get_json()
    assert client.get(f"/api/v1/panel/{secret}").status_code == 404
    assert client.get(f"/api/v1/panel/{rotated['secret']}").status_code == 200

    assert client.delete(url(school) + "/link", headers=headers(school_admin)).status_code == 204
    assert client.get(f"/api/v1/panel/{rotated['secret']}").status_code == 404
    assert client.delete(url(school) + "/link", headers=headers(school_admin)).status_code == 404
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.startswith("panel.link"))
    ).all()
    assert sorted(actions) == ["panel.link.create", "panel.link.revoke", "panel.link.rotate"]


def test_the_panel_link_hides_teachers_when_the_school_does(
    client: FlaskClient, school: School, school_admin: User, headers: Headers, plan: Any
) -> None:
    secret = client.post(url(school) + "/link", headers=headers(school_admin)).get_json()["secret"]
    client.patch(
        url(school) + "/settings",
        json={"hide_teachers_from_students": True},
        headers=headers(school_admin),
    )
    body = client.get(f"/api/v1/panel/{secret}").get_json()
    assert all(c["teachers"] is None for c in body["days"][0]["changes"])


def test_messages_for_a_teacher_or_a_class_stay_off_the_panel_link_and_other_plans(
    client: FlaskClient, school: School, school_admin: User, teacher: User, headers: Headers
) -> None:
    first, _second = seed_plan(school.id, teacher_user_id=teacher.id)
    db.session.add_all(
        [
            DayMessage(
                school_id=school.id, date=first, text="SCH zur Schulleitung", audience="SCH"
            ),
            DayMessage(school_id=school.id, date=first, text="5b Wandertag", audience="5b"),
        ]
    )
    db.session.commit()
    bump_plan(school.id)
    concert = "Heute Schulkonzert in der Aula"
    secret = client.post(url(school) + "/link", headers=headers(school_admin)).get_json()["secret"]

    def messages(body: dict[str, Any]) -> list[str]:
        return body["days"][0]["messages"]

    assert messages(client.get(f"/api/v1/panel/{secret}").get_json()) == [concert]
    assert messages(client.get(url(school), headers=headers(school_admin)).get_json()) == [concert]
    student_view = client.get(url(school, **{"class": "7a"}), headers=headers(school_admin))
    assert messages(student_view.get_json()) == [concert]
    assert messages(client.get(f"/api/v1/panel/{secret}?class=5b").get_json()) == [
        concert,
        "5b Wandertag",
    ]
    own = client.get(url(school), headers=headers(teacher)).get_json()
    assert messages(own) == [concert, "SCH zur Schulleitung"]


@pytest.mark.parametrize("secret", ["nope", "pl_" + "A" * 43, "pl_"])
def test_unknown_panel_links_are_404(client: FlaskClient, secret: str) -> None:
    assert client.get(f"/api/v1/panel/{secret}").status_code == 404
    assert client.get(f"/panel/{secret}").status_code == 404


# The page


def test_the_page_is_german_by_default_with_no_external_assets(client: FlaskClient) -> None:
    response = client.get("/panel")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="de">' in html and "Vertretungsplan" in html
    assert "http://" not in html and "https://" not in html
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_the_page_speaks_english_when_asked(client: FlaskClient) -> None:
    assert "Substitution plan" in client.get("/panel?lang=en").get_data(as_text=True)
    by_browser = client.get("/panel", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in by_browser.get_data(as_text=True)


def test_the_link_page_and_its_screen_mode(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    secret = client.post(url(school) + "/link", headers=headers(school_admin)).get_json()["secret"]
    page = client.get(f"/panel/{secret}?screen=1")
    assert page.status_code == 200
    assert 'class="screen"' in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"


def test_the_feed_is_in_the_openapi_document(client: FlaskClient) -> None:
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert "/api/v1/schools/{school_id}/panel" in paths
    assert "/api/v1/panel/{secret}" in paths
    assert "/api/v1/schools/{school_id}/panel/link" in paths


def test_a_student_logs_in_and_fetches_the_feed(
    client: FlaskClient, school: School, student: User, plan: Any
) -> None:
    tokens = client.post(
        "/api/v1/auth/login", json={"username": student.username, "password": PASSWORD}
    ).get_json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get(url(school), headers=auth).status_code == 200


# What a worker remembers of the plan (mdm.freshness)


def test_a_new_plan_reaches_the_other_workers_within_the_check_interval(
    app: Flask,
    make_app: Callable[..., Flask],
    client: FlaskClient,
    school: School,
    student: User,
    headers: Headers,
    plan: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    app.extensions["mdm_cache"].clock = lambda: clock[0]
    first = client.get(url(school), headers=headers(student)).get_json()["plan_version"]
    other_worker = make_app()
    other_worker.extensions["mdm_cache"].clock = lambda: clock[0]

    with other_worker.app_context():
        bump_plan(school.id)  # an import in the other worker

    assert client.get(url(school), headers=headers(student)).get_json()["plan_version"] == first
    clock[0] += app.config["CACHE_CHECK_SECONDS"] + 0.1
    assert client.get(url(school), headers=headers(student)).get_json()["plan_version"] == first + 1


def test_the_worker_that_imports_serves_the_new_plan_at_once(
    client: FlaskClient,
    school: School,
    student: User,
    headers: Headers,
    plan: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client.application.extensions["mdm_cache"].clock = lambda: 1000.0
    first = client.get(url(school), headers=headers(student)).get_json()["plan_version"]

    bump_plan(school.id)

    assert client.get(url(school), headers=headers(student)).get_json()["plan_version"] == first + 1


def test_a_changed_setting_is_served_at_once_by_the_worker_that_changed_it(
    client: FlaskClient,
    school: School,
    student: User,
    school_admin: User,
    headers: Headers,
    plan: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client.application.extensions["mdm_cache"].clock = lambda: 1000.0
    assert client.get(url(school), headers=headers(student)).get_json()["hide_teachers"] is False

    changed = client.patch(
        f"/api/v1/schools/{school.id}/panel/settings",
        headers=headers(school_admin),
        json={"hide_teachers_from_students": True},
    )

    assert changed.status_code == 200
    assert client.get(url(school), headers=headers(student)).get_json()["hide_teachers"] is True


# Parallel lessons, end to end


def test_coupled_lines_of_a_real_gpu001_are_changed_one_by_one(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    today = school_days_from_today(1)[0]
    weekday = today.isoweekday()
    # One row per class x teacher x room, as Untis writes a coupling: sport for 5a and 5b in two
    # groups (KLE in TH1, BRA in TH2), and religion for 5a in two parallel groups.
    timetable = (
        f'7,"5a","KLE","SP","TH1",{weekday},3\r\n'
        f'7,"5b","KLE","SP","TH1",{weekday},3\r\n'
        f'7,"5a","BRA","SP","TH2",{weekday},3\r\n'
        f'7,"5b","BRA","SP","TH2",{weekday},3\r\n'
        f'8,"5a","FRA","REV","A101",{weekday},4\r\n'
        f'8,"5a","ENG","IRU","GR3",{weekday},4\r\n'
    )
    substitutions = (
        f'1,"{today:%Y%m%d}",3,,7,"BRA","WEB","SP",,,,"TH2",,,"5a~5b",,"",0,,"",202611201530,\r\n'
        f'2,"{today:%Y%m%d}",4,,8,"ENG",,"IRU",,,,"GR3",,,"5a",,"",1,,"C",202611201530,\r\n'
    )
    files = {"GPU001.TXT": timetable.encode(), "GPU014.TXT": substitutions.encode()}
    response = client.post(
        f"/api/v1/schools/{school.id}/timetable/imports",
        data={"files": [(io.BytesIO(data), name) for name, data in files.items()]},
        headers=headers(school_admin),
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()

    for name in ("5a", "5b"):
        body = client.get(url(school, **{"class": name}), headers=headers(school_admin)).get_json()
        shown = sorted(
            (e["period"], e["subject"] or e["original"]["subject"], e["teachers"][:1], e["kind"])
            for e in body["days"][0]["lessons"]
        )
        expected = [(3, "SP", ["KLE"], None), (3, "SP", ["WEB"], "substitution")]
        if name == "5a":
            expected += [(4, "IRU", [], "cancellation"), (4, "REV", ["FRA"], None)]
        assert shown == expected


def test_the_demo_shows_every_parallel_lesson_of_5a_and_no_entry_twice(
    app: Flask, client: FlaskClient, headers: Headers
) -> None:
    seed_demo(app, db.session)
    db.session.commit()
    lena = db.session.scalar(select(User).where(User.username == "lena.schmidt"))
    body = client.get(f"/api/v1/schools/{lena.school_id}/panel?days=5", headers=headers(lena))
    groups = {"REV", "RKA", "ETH", "IRU"}
    days = body.get_json()["days"]
    assert len(days) == 5
    for day in days:
        for section in ("changes", "lessons"):
            entries = [json.dumps(e, sort_keys=True) for e in day[section]]
            assert len(entries) == len(set(entries)), (day["date"], section)
        by_period: dict[int, set[str]] = {}
        for entry in day["lessons"]:
            subject = entry["subject"] or (entry["original"] or {}).get("subject", "")
            by_period.setdefault(entry["period"], set()).add(subject)
        for subjects in by_period.values():
            assert not subjects & groups or groups <= subjects, (day["date"], subjects)
