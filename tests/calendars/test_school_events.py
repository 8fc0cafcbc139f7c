"""School events: admins change them, everybody of the school reads them; recurring ones and
holidays in the feeds; DST weeks; the panel's subscribe section; the demo's links."""

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
from flask import Flask
from flask.testing import FlaskClient

from calendars import events as calendar_events
from calendars import ics
from calendars.models import SchoolEvent
from mdm.accounts.demo import seed_demo
from mdm.accounts.models import School, User
from mdm.extensions import db
from schedules import panel
from schedules.models import Teacher
from tests.calendars.plans import agreed_events, export, import_plan, next_monday, parse_all

Headers = Callable[[User], dict[str, str]]
BERLIN = ZoneInfo("Europe/Berlin")


def url(school: School, suffix: str = "") -> str:
    return f"/api/v1/schools/{school.id}/calendar/events{suffix}"


def test_admins_change_events_and_everybody_of_the_school_reads_them(
    client: FlaskClient,
    school: School,
    school_admin: User,
    student: User,
    headers: Headers,
    other_school: School,
    create_user: Callable[..., User],
) -> None:
    body = {
        "title": "Elternabend",
        "category": "parent_evening",
        "location": "Aula",
        "starts_at": "2027-01-14T19:00:00+01:00",
        "ends_at": "2027-01-14T20:30:00+01:00",
    }
    assert client.post(url(school), json=body, headers=headers(student)).status_code == 403
    created = client.post(url(school), json=body, headers=headers(school_admin))
    assert created.status_code == 201, created.get_json()
    event = created.get_json()
    assert datetime.fromisoformat(event["starts_at"]) == datetime(2027, 1, 14, 18, tzinfo=UTC)
    listed = client.get(url(school), headers=headers(student)).get_json()
    assert [e["title"] for e in listed["items"]] == ["Elternabend"] and listed["total"] == 1
    changed = client.patch(
        url(school, f"/{event['id']}"), json={"cancelled": True}, headers=headers(school_admin)
    )
    assert changed.status_code == 200 and changed.get_json()["cancelled"] is True
    stranger = create_user("school_admin", other_school)
    assert client.get(url(school), headers=headers(stranger)).status_code == 404
    assert (
        client.delete(url(school, f"/{event['id']}"), headers=headers(stranger)).status_code == 404
    )
    assert (
        client.delete(url(school, f"/{event['id']}"), headers=headers(school_admin)).status_code
        == 204
    )
    assert db.session.query(SchoolEvent).count() == 0


def test_bad_events_are_field_errors_and_change_nothing(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    cases = [
        ({"title": "x", "all_day": True}, "starts_on"),
        (
            {"title": "x", "all_day": True, "starts_on": "2027-01-02", "ends_on": "2027-01-01"},
            "ends_on",
        ),
        ({"title": "x", "starts_at": "2027-01-02T10:00:00Z"}, "ends_at"),
        (
            {"title": "x", "starts_at": "2027-01-02T10:00:00Z", "ends_at": "2027-01-02T09:00:00Z"},
            "ends_at",
        ),
        (
            {
                "title": "x",
                "all_day": True,
                "starts_on": "2027-01-02",
                "recurrence": "FREQ=SECONDLY",
            },
            "recurrence",
        ),
        (
            {"title": "x", "all_day": True, "starts_on": "2027-01-02", "recurrence": "nonsense"},
            "recurrence",
        ),
        (
            {"title": "x", "category": "party", "all_day": True, "starts_on": "2027-01-02"},
            "category",
        ),
        ({"title": "", "all_day": True, "starts_on": "2027-01-02"}, "title"),
    ]
    for body, field in cases:
        response = client.post(url(school), json=body, headers=headers(school_admin))
        assert response.status_code == 400, body
        assert field in response.get_json()["errors"], response.get_json()
    assert db.session.query(SchoolEvent).count() == 0


def test_a_holiday_event_keeps_its_days_free_of_lessons(
    client: FlaskClient, school: School, school_admin: User, teacher: User, headers: Headers
) -> None:
    monday = next_monday()
    import_plan(school.id, export())
    db.session.query(Teacher).filter_by(abbreviation="MUE").update({"user_id": teacher.id})
    db.session.commit()
    feed = client.post(
        "/api/v1/me/calendar-feeds", json={"kind": "personal"}, headers=headers(teacher)
    ).get_json()
    path = feed["url"].split("localhost", 1)[1]
    before = agreed_events(client.get(path).data, monday, monday + timedelta(days=1))
    assert len(before) == 3
    client.post(
        url(school),
        json={
            "title": "Brückentag",
            "category": "holiday",
            "all_day": True,
            "starts_on": str(monday),
        },
        headers=headers(school_admin),
    )
    after = agreed_events(client.get(path).data, monday, monday + timedelta(days=1))
    assert [row[2] for row in after] == ["Brückentag"]


def test_times_in_a_dst_change_week_keep_their_wall_clock() -> None:
    sunday = date(2027, 3, 28)  # clocks go forward in Berlin
    grid = [panel.GridSlot(None, 1, time(8, 0), time(8, 45))]
    lesson = panel.PlanLesson(1, 1, "M", ("5a",), ("MUE",), ("A101",), lesson_number=1)
    days = [
        panel.school_day(d, grid, [lesson], [], [], [])
        for d in (sunday - timedelta(days=6), sunday + timedelta(days=1))
    ]
    found = calendar_events.timetable_events(
        days,
        calendar_events.TimetableView(panel.Selection(class_name="5a")),
        zone=BERLIN,
        school_id=1,
        domain="schule.example",
        subject_names={},
        changed_at=datetime(2027, 1, 1, tzinfo=UTC),
    )
    state = ics.EventState(0, datetime(2027, 1, 1, tzinfo=UTC))
    body = ics.render(
        ics.FeedDocument(
            "5a",
            "",
            "Europe/Berlin",
            30,
            date(2027, 3, 1),
            date(2027, 4, 30),
            [(e, state) for e in found],
        )
    )
    rows = agreed_events(body, date(2027, 3, 1), date(2027, 4, 30))
    assert [row[1].hour for row in sorted(rows, key=lambda r: r[1])] == [7, 6]  # 08:00 CET, CEST
    assert (
        ics.render(
            ics.FeedDocument(
                "5a",
                "",
                "Europe/Berlin",
                30,
                date(2027, 3, 1),
                date(2027, 4, 30),
                [(e, state) for e in found],
            )
        )
        == body
    )
    assert "DTSTART;TZID=Europe/Berlin:20270329T080000" in body.decode()


def test_a_substitute_teacher_gets_the_lesson_and_the_replaced_one_sees_it_cancelled() -> None:
    grid = [panel.GridSlot(None, 1, time(8, 0), time(8, 45))]
    lesson = panel.PlanLesson(1, 1, "M", ("5a",), ("MUE",), ("A101",), lesson_number=1)
    day = date(2027, 1, 11)
    change = panel.PlanSubstitution(
        day,
        1,
        1,
        "substitution",
        datetime(2027, 1, 1, tzinfo=UTC),
        original_subject="M",
        original_teachers=("MUE",),
        original_classes=("5a",),
        new_teachers=("SCH",),
        lesson_number=1,
        key="1",
    )
    days = [panel.school_day(day, grid, [lesson], [change], [], [])]
    common = {
        "zone": BERLIN,
        "school_id": 1,
        "domain": "x",
        "subject_names": {},
        "changed_at": datetime(2027, 1, 1, tzinfo=UTC),
    }
    mine = calendar_events.timetable_events(
        days, calendar_events.TimetableView(panel.Selection(teacher="MUE")), **common
    )
    theirs = calendar_events.timetable_events(
        days, calendar_events.TimetableView(panel.Selection(teacher="SCH")), **common
    )
    assert [(e.summary, e.cancelled) for e in mine] == [("Vertreten: M 5a", True)]
    assert [(e.summary, e.cancelled) for e in theirs] == [("Vertretung: M 5a", False)]
    assert "Ursprünglich: M · MUE" in theirs[0].description
    assert (
        mine[0].significant
        == calendar_events.timetable_events(
            days, calendar_events.TimetableView(panel.Selection(class_name="5a")), **common
        )[0].significant
    )


def test_the_panel_page_has_the_subscribe_section(client: FlaskClient) -> None:
    page = client.get("/panel").data.decode()
    assert 'id="subscribe"' in page and "Im Kalender abonnieren" in page
    assert "panel:viewer" in page


def test_the_demo_prints_feed_links_once(app: Flask, client: FlaskClient) -> None:
    app.config["BASE_URL"] = "http://localhost:5000"  # outside a request, links need it
    first = seed_demo(app, db.session)
    db.session.commit()
    second = seed_demo(app, db.session)
    db.session.commit()
    links = [line for line in first.notes if "Calendar feed" in line]
    assert len(links) == 2 and all("webcal://localhost:5000/calendars/cal_" in x for x in links)
    assert [x for x in second.notes if "Calendar feed" in x] == links
    path = "/calendars/" + links[0].rsplit("/calendars/", 1)[1]
    response = client.get(path)
    assert response.status_code == 200
    calendar = icalendar.Calendar.from_ical(response.data)
    assert len(calendar.walk("VEVENT")) > 20


def test_everybody_lists_events_of_series_without_an_end(
    client: FlaskClient, school: School, school_admin: User, student: User, headers: Headers
) -> None:
    series = [
        {
            "title": "Projektwoche",
            "all_day": True,
            "starts_on": "2027-01-11",
            "ends_on": "2027-01-13",
            "recurrence": "FREQ=YEARLY",
        },
        {
            "title": "Morgenkreis",
            "starts_at": "2027-01-11T07:45:00+01:00",
            "ends_at": "2027-01-11T08:00:00+01:00",
            "recurrence": "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
        },
    ]
    for body in series:
        created = client.post(url(school), json=body, headers=headers(school_admin))
        assert created.status_code == 201, created.get_json()
    listed = client.get(url(school), headers=headers(student))
    assert listed.status_code == 200, listed.get_json()
    assert [e["title"] for e in listed.get_json()["items"]] == ["Projektwoche", "Morgenkreis"]
    later = client.get(url(school, "?from=2030-06-01"), headers=headers(student)).get_json()
    assert later["total"] == 2
    earlier = client.get(url(school, "?to=2026-12-31"), headers=headers(student)).get_json()
    assert earlier["total"] == 0


def test_a_series_with_an_end_date_is_in_the_feeds(
    client: FlaskClient, school: School, school_admin: User, student: User, headers: Headers
) -> None:
    monday = next_monday()
    until = monday + timedelta(weeks=2, days=1)
    for body in (
        {
            "title": "Chorprobe",
            "starts_at": f"{monday}T15:00:00+01:00",
            "ends_at": f"{monday}T16:00:00+01:00",
            "recurrence": f"FREQ=WEEKLY;UNTIL={until:%Y%m%d}",
        },
        {
            "title": "Projekttag",
            "all_day": True,
            "starts_on": str(monday + timedelta(days=1)),
            "recurrence": f"FREQ=WEEKLY;UNTIL={until:%Y%m%d}",
        },
    ):
        created = client.post(url(school), json=body, headers=headers(school_admin))
        assert created.status_code == 201, created.get_json()
    feed = client.post(
        "/api/v1/me/calendar-feeds", json={"kind": "events"}, headers=headers(student)
    ).get_json()
    response = client.get(feed["url"].split("localhost", 1)[1])
    assert response.status_code == 200, response.get_data(as_text=True)
    expected = sorted(
        [("Chorprobe", monday + timedelta(weeks=n)) for n in range(3)]
        + [("Projekttag", monday + timedelta(weeks=n, days=1)) for n in range(3)]
    )
    # Each parser's days (dateutil, under two of them, makes all-day occurrences midnights).
    for parser, rows in parse_all(response.data, monday, monday + timedelta(weeks=4)).items():
        days = sorted(
            (row[2], row[1].date() if isinstance(row[1], datetime) else row[1]) for row in rows
        )
        assert days == expected, parser


def test_a_series_must_advance(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    for rule in ("FREQ=WEEKLY;INTERVAL=0", "FREQ=DAILY;INTERVAL=-1"):
        body = {"title": "x", "all_day": True, "starts_on": "2027-01-11", "recurrence": rule}
        response = client.post(url(school), json=body, headers=headers(school_admin))
        assert response.status_code == 400, rule
        assert "recurrence" in response.get_json()["errors"], response.get_json()
    assert db.session.query(SchoolEvent).count() == 0
