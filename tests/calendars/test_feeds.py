"""Feeds over HTTP: secret links, what each feed holds, SEQUENCE across imports and undos,
304/gzip, and four parsers agreeing on every feed type."""

import gzip
from collections.abc import Callable
from datetime import timedelta

import icalendar
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text, update

from calendars import feed_service
from calendars.models import CalendarEventState, CalendarFeed
from mdm.accounts.models import School, User
from mdm.extensions import db
from mdm.platform.actors import Actor
from mdm.platform.types import utcnow
from schedules import import_service
from schedules.models import Lesson, Teacher
from tests.calendars.plans import (
    agreed_events,
    cancelled_maths,
    export,
    import_plan,
    next_monday,
    room_change,
)
from tests.schedules.panel_factories import bump_plan

Headers = Callable[[User], dict[str, str]]


def create(client: FlaskClient, headers: dict[str, str], **body: object) -> dict:
    response = client.post("/api/v1/me/calendar-feeds", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def path(feed: dict) -> str:
    return feed["url"].split("localhost", 1)[1]


def events(client: FlaskClient, feed: dict) -> dict[str, icalendar.Event]:
    response = client.get(path(feed))
    assert response.status_code == 200, response.data[:300]
    calendar = icalendar.Calendar.from_ical(response.data)
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


@pytest.fixture
def linked_teacher(teacher: User, school: School) -> User:
    """The teacher fixture, linked to the timetable's MUE."""
    import_plan(school.id, export(cancelled_maths(next_monday())))
    row = db.session.scalar(select(Teacher).where(Teacher.abbreviation == "MUE"))
    row.user_id = teacher.id
    db.session.commit()
    return teacher


def test_a_teacher_subscribes_to_their_timetable_with_cancellations(
    client: FlaskClient, linked_teacher: User, headers: Headers
) -> None:
    feed = create(client, headers(linked_teacher), kind="teacher")
    assert feed["webcal_url"].startswith("webcal://localhost/calendars/cal_")
    assert feed["url"].startswith("http://localhost/calendars/cal_")
    response = client.get(path(feed))
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    body = response.data.decode()
    for line in (
        "NAME:Stundenplan MUE",
        "X-WR-CALNAME:Stundenplan MUE",
        "BEGIN:VTIMEZONE",
        "TZID:Europe/Berlin",
        "REFRESH-INTERVAL;VALUE=DURATION:PT30M",
        "X-PUBLISHED-TTL:PT30M",
    ):
        assert line in body
    monday = next_monday()
    found = events(client, feed)
    cancelled = [e for e in found.values() if e.get("STATUS") == "CANCELLED"]
    assert [str(e["SUMMARY"]) for e in cancelled] == ["Entfall: Mathematik 5a"]
    assert cancelled[0]["DTSTART"].dt.date() == monday
    assert cancelled[0]["DTSTART"].params["TZID"] == "Europe/Berlin"
    # Mondays in the window: maths periods 1 and 2 and religion period 3, every week.
    assert all(e["DTSTART"].dt.weekday() == 0 for e in found.values())
    assert "DTSTART:" not in body.split("END:VTIMEZONE")[1]  # never floating, never UTC-only


def test_parallel_lessons_under_one_number_have_their_own_uids(
    client: FlaskClient, linked_teacher: User, school: School, student: User, headers: Headers
) -> None:
    feed = create(client, headers(student), kind="class", **{"class": "5a"})
    third = [
        e
        for e in events(client, feed).values()
        if e["DTSTART"].dt.hour == 9 and e["DTSTART"].dt.date() == next_monday()
    ]
    assert sorted(str(e["SUMMARY"]) for e in third) == ["ETH", "REV"]
    assert len({str(e["UID"]) for e in third}) == 2
    assert all("-3-3-" in str(e["UID"]) for e in third)  # period 3, Untis number 3


def test_uids_stay_and_bytes_stay_across_a_reimport(
    client: FlaskClient, app: Flask, linked_teacher: User, school: School, headers: Headers
) -> None:
    feed = create(client, headers(linked_teacher), kind="teacher")
    first = client.get(path(feed)).data
    result = import_plan(school.id, export(cancelled_maths(next_monday())))
    assert result.plan_changed is False
    app.extensions["mdm_cache"].clear()  # another worker, or after a restart
    assert client.get(path(feed)).data == first


def test_sequence_rises_on_a_room_change_and_again_on_undo(
    client: FlaskClient, app: Flask, linked_teacher: User, school: School, headers: Headers
) -> None:
    monday = next_monday()
    feed = create(client, headers(linked_teacher), kind="teacher")
    before = events(client, feed)
    uid = next(
        u
        for u, e in before.items()
        if e["DTSTART"].dt.date() == monday
        and e["DTSTART"].dt.hour == 8
        and e["DTSTART"].dt.minute == 50
    )
    assert before[uid]["SEQUENCE"] == 0 and before[uid]["LOCATION"] == "A101"
    stamp = before[uid]["LAST-MODIFIED"].dt
    # The first import was an hour ago.
    db.session.execute(update(CalendarEventState).values(modified_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    app.extensions["mdm_cache"].clear()
    before = events(client, feed)
    stamp = before[uid]["LAST-MODIFIED"].dt

    import_plan(school.id, export(cancelled_maths(monday), room_change(monday, "AULA")))
    app.extensions["mdm_cache"].clear()
    after = events(client, feed)
    assert set(after) == set(before)  # same UIDs
    assert after[uid]["SEQUENCE"] == 1
    assert str(after[uid]["LOCATION"]) == "AULA"
    assert str(after[uid]["SUMMARY"]) == "Raumänderung: Mathematik 5a"
    assert after[uid]["LAST-MODIFIED"].dt > stamp
    assert after[uid]["DTSTAMP"].dt == after[uid]["LAST-MODIFIED"].dt
    untouched = next(u for u in before if u != uid and before[u].get("STATUS") != "CANCELLED")
    assert after[untouched]["SEQUENCE"] == 0
    assert after[untouched]["LAST-MODIFIED"].dt == before[untouched]["LAST-MODIFIED"].dt

    actor = Actor(name="admin", role="school_admin", school_id=school.id)
    import_service.restore_before_last_import(db.session, actor, school.id)
    db.session.commit()
    undone = events(client, feed)
    assert undone[uid]["SEQUENCE"] == 2 and str(undone[uid]["LOCATION"]) == "A101"


def test_an_unchanged_feed_is_304_and_gzip_when_asked(
    client: FlaskClient, linked_teacher: User, headers: Headers
) -> None:
    feed = create(client, headers(linked_teacher), kind="teacher")
    first = client.get(path(feed))
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert client.get(path(feed), headers={"If-None-Match": etag}).status_code == 304
    assert client.get(path(feed), headers={"If-Modified-Since": modified}).status_code == 304
    zipped = client.get(path(feed), headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(zipped.data) == first.data
    again = client.get(path(feed), headers={"If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304


def test_cancelled_lessons_can_be_left_out(
    client: FlaskClient, linked_teacher: User, headers: Headers
) -> None:
    feed = create(client, headers(linked_teacher), kind="teacher", include_cancelled=False)
    assert "CANCELLED" not in client.get(path(feed)).data.decode()
    response = client.patch(
        f"/api/v1/me/calendar-feeds/{feed['id']}",
        json={"include_cancelled": True},
        headers=headers(linked_teacher),
    )
    assert response.status_code == 200
    assert "STATUS:CANCELLED" in client.get(path(feed)).data.decode()


def test_a_revoked_or_rotated_link_stops_at_once(
    client: FlaskClient, linked_teacher: User, headers: Headers
) -> None:
    feed = create(client, headers(linked_teacher), kind="teacher")
    assert client.get(path(feed)).status_code == 200
    rotated = client.post(
        f"/api/v1/me/calendar-feeds/{feed['id']}/rotate", headers=headers(linked_teacher)
    ).get_json()
    assert rotated["url"] != feed["url"]
    gone = client.get(path(feed))
    assert gone.status_code == 404 and gone.mimetype == "application/problem+json"
    assert client.get(path(rotated)).status_code == 200
    deleted = client.delete(
        f"/api/v1/me/calendar-feeds/{feed['id']}", headers=headers(linked_teacher)
    )
    assert deleted.status_code == 204
    assert client.get(path(rotated)).status_code == 404
    assert client.get("/calendars/cal_unknown.ics").status_code == 404


def test_the_secret_is_hashed_and_encrypted_and_only_its_owner_sees_it(
    client: FlaskClient, linked_teacher: User, school_admin: User, headers: Headers
) -> None:
    feed = create(client, headers(linked_teacher), kind="teacher")
    token = feed["url"].rsplit("/", 1)[1].removesuffix(".ics")
    assert len(token) >= 4 + 43  # 256 random bits
    raw = db.session.execute(text("SELECT token, token_hash FROM calendar_feeds")).one()
    assert token.encode() not in bytes(raw[0])
    assert raw[1] == feed_service.token_hash(token)
    mine = client.get(f"/api/v1/me/calendar-feeds/{feed['id']}", headers=headers(linked_teacher))
    assert mine.get_json()["url"] == feed["url"]
    other = client.get(f"/api/v1/me/calendar-feeds/{feed['id']}", headers=headers(school_admin))
    assert other.status_code == 404
    assert client.get("/api/v1/me/calendar-feeds", headers=headers(school_admin)).get_json() == []


def test_a_disabled_owner_s_feed_stops(
    client: FlaskClient, app: Flask, linked_teacher: User, headers: Headers
) -> None:
    feed = create(client, headers(linked_teacher), kind="teacher")
    linked_teacher.active = False
    db.session.commit()
    app.extensions["mdm_cache"].clear()
    assert client.get(path(feed)).status_code == 404


def test_bad_feed_requests_are_field_errors(
    client: FlaskClient, linked_teacher: User, student: User, headers: Headers
) -> None:
    cases = [
        (student, {"kind": "teacher"}, "kind"),
        (student, {"kind": "personal", "teacher": "MUE"}, "teacher"),
        (linked_teacher, {"kind": "class"}, "class"),
        (linked_teacher, {"kind": "courses"}, "courses"),
        (linked_teacher, {"kind": "teacher", "teacher": "XYZ"}, "teacher"),
        (linked_teacher, {"kind": "nonsense"}, "kind"),
    ]
    for user, body, field in cases:
        response = client.post("/api/v1/me/calendar-feeds", json=body, headers=headers(user))
        assert response.status_code == 400, body
        assert field in response.get_json()["errors"], response.get_json()
    assert db.session.scalar(select(CalendarFeed.id)) is None


def test_students_do_not_see_teachers_a_school_hides(
    client: FlaskClient,
    linked_teacher: User,
    school: School,
    student: User,
    headers: Headers,
    school_admin: User,
) -> None:
    client.patch(
        f"/api/v1/schools/{school.id}/panel/settings",
        json={"hide_teachers_from_students": True},
        headers=headers(school_admin),
    )
    feed = create(client, headers(student), kind="class", **{"class": "5a"})
    body = client.get(path(feed)).data.decode()
    assert "Lehrkraft" not in body and "MUE" not in body


def test_every_feed_type_reads_the_same_in_four_parsers(
    client: FlaskClient,
    linked_teacher: User,
    school: School,
    school_admin: User,
    student: User,
    headers: Headers,
) -> None:
    client.post(
        f"/api/v1/schools/{school.id}/calendar/events",
        json={
            "title": "Konferenz",
            "starts_at": f"{next_monday()}T14:00:00+01:00",
            "ends_at": f"{next_monday()}T15:30:00+01:00",
            "recurrence": "FREQ=WEEKLY;COUNT=20",
            "excluded_dates": [str(next_monday() + timedelta(weeks=1))],
        },
        headers=headers(school_admin),
    )
    db.session.add(
        Lesson(
            school_id=school.id,
            lesson_number=5,
            weekday=2,
            period=1,
            subject="REV",
            classes=["5a"],
            teachers=["MUE"],
            rooms=["A101"],
            course="REV-5",
        )
    )
    bump_plan(school.id)
    db.session.commit()
    feeds = [
        create(client, headers(linked_teacher), kind="teacher"),
        create(client, headers(student), kind="class", **{"class": "5a"}),
        create(client, headers(student), kind="courses", courses=["REV-5"]),
        create(client, headers(student), kind="events"),
        create(client, headers(linked_teacher), kind="personal"),
    ]
    start, end = next_monday(-1), next_monday(12)
    counts = []
    for feed in feeds:
        counts.append(len(agreed_events(client.get(path(feed)).data, start, end)))
    assert all(counts), counts
    personal = agreed_events(client.get(path(feeds[4])).data, start, end)
    meetings = [row for row in personal if row[2] == "Konferenz"]
    assert len(meetings) >= 10 and str(next_monday() + timedelta(weeks=1)) not in str(meetings)
