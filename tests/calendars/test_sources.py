"""Calendar sources: the fetcher against a real server on loopback (good, changed, HTML, cut
off, huge, redirects to blocked addresses), the refresh job keeping the last good copy, uploads,
and personal events reaching only their owner's feed."""

import io
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from calendars import fetcher, source_service, sources
from calendars.models import CalendarSource
from config import defaults
from mdm.accounts.models import User
from mdm.extensions import db
from tests.calendars.plans import agreed_events, next_monday

Headers = Callable[[User], dict[str, str]]
LOOPBACK_ONLY = ["127.0.0.1/32"]
BLOCKED = defaults.CALENDAR_FETCH_BLOCKED_NETWORKS


def calendar(*summaries: str, zone_line: str = "", floating: bool = False) -> bytes:
    """A calendar with one weekly event per summary, next Monday at 16:00 (UTC, or floating)."""
    day = next_monday().strftime("%Y%m%d")
    stamp = "" if floating else "Z"
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:ev-{n}@example\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{day}T160000{stamp}\r\nDTEND:{day}T170000{stamp}\r\n"
        f"RRULE:FREQ=WEEKLY;COUNT=3\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\n"
        for n, summary in enumerate(summaries)
    )
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//\r\n{zone_line}{events}END:VCALENDAR\r\n"
    ).encode()


@dataclass
class Server:
    """A loopback HTTP server whose answers a test sets per path; it records the requests."""

    url: str
    port: int
    answers: dict[str, Callable[[Request], Response]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server("", 0)

    def app(environ: dict, start_response: Callable) -> object:
        request = Request(environ)
        state.requests.append(request)
        answer = state.answers.get(request.path)
        response = answer(request) if answer else Response("missing", status=404)
        return response(environ, start_response)

    http = make_server("127.0.0.1", 0, app, threaded=True)
    state.port = http.server_port
    state.url = f"http://127.0.0.1:{http.server_port}"
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield state
    http.shutdown()
    thread.join()


def policy(**limits: float) -> fetcher.FetchPolicy:
    return fetcher.FetchPolicy.from_settings(BLOCKED, LOOPBACK_ONLY, **limits)


def ics(body: bytes, **headers: str) -> Callable[[Request], Response]:
    return lambda request: Response(body, content_type="text/calendar", headers=headers)


def test_the_fetcher_reads_a_calendar_and_asks_conditionally(server: Server) -> None:
    server.answers["/cal.ics"] = lambda request: (
        Response(status=304)
        if request.headers.get("If-None-Match") == '"v1"'
        else Response(calendar("Chor"), content_type="text/calendar", headers={"ETag": '"v1"'})
    )
    first = fetcher.fetch(server.url + "/cal.ics", policy())
    assert first.status == 200 and b"SUMMARY:Chor" in first.body and first.etag == '"v1"'
    again = fetcher.fetch(server.url + "/cal.ics", policy(), etag=first.etag)
    assert again.status == 304


def test_the_default_policy_refuses_loopback(server: Server) -> None:
    server.answers["/cal.ics"] = ics(calendar("Chor"))
    strict = fetcher.FetchPolicy.from_settings(BLOCKED)
    with pytest.raises(fetcher.BlockedAddress, match="127.0.0.1"):
        fetcher.fetch(server.url + "/cal.ics", strict)
    assert server.requests == []


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.2:{port}/cal.ics",  # loopback, not the allowed test server
        "http://[::1]:{port}/cal.ics",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/cal.ics",
        "http://[::ffff:127.0.0.1]:{port}/cal.ics",
        "http://100.64.0.1/cal.ics",
        "file:///etc/passwd",
    ],
)
def test_a_redirect_to_a_blocked_address_is_refused(server: Server, target: str) -> None:
    server.answers["/cal.ics"] = lambda request: Response(
        status=302, headers={"Location": target.format(port=server.port)}
    )
    with pytest.raises(fetcher.FetchError):
        fetcher.fetch(server.url + "/cal.ics", policy())
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254 (cloud metadata)
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    ],
)
def test_an_ipv6_address_that_carries_a_blocked_ipv4_address_is_blocked(address: str) -> None:
    strict = fetcher.FetchPolicy.from_settings(BLOCKED)
    assert not strict.permits(ipaddress.ip_address(address))
    assert strict.permits(ipaddress.ip_address("64:ff9b::5db8:d822"))  # NAT64 of a public one


def test_redirects_are_followed_at_most_three_times(server: Server) -> None:
    for n in range(5):
        server.answers[f"/r{n}"] = lambda request, n=n: Response(
            status=301, headers={"Location": f"/r{n + 1}"}
        )
    server.answers["/r3"] = ics(calendar("Chor"))
    assert fetcher.fetch(server.url + "/r0", policy()).status == 200
    server.answers["/r4"] = ics(calendar("Chor"))
    server.answers["/r3"] = lambda request: Response(status=301, headers={"Location": "/r4"})
    with pytest.raises(fetcher.FetchError, match="more than 3 redirects"):
        fetcher.fetch(server.url + "/r0", policy())


def test_a_huge_calendar_is_refused_by_its_size(server: Server) -> None:
    huge = calendar("x" * 2000) * 100
    server.answers["/huge.ics"] = ics(huge)
    server.answers["/chunked.ics"] = lambda request: Response(
        iter([huge[i : i + 1000] for i in range(0, len(huge), 1000)]), content_type="text/calendar"
    )
    for name in ("/huge.ics", "/chunked.ics"):
        with pytest.raises(fetcher.FetchError, match="larger than"):
            fetcher.fetch(server.url + name, policy(max_bytes=100_000))


@pytest.fixture
def trickling_server() -> Iterator[tuple[str, threading.Event]]:
    """A loopback server that answers a byte every 0.2 s, within its headers or its body."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            connection, _ = listener.accept()
            with connection:
                request = connection.recv(4096)
                in_headers = b"GET /headers" in request
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\n")
                if not in_headers:
                    connection.sendall(b"Connection: close\r\n\r\nBEGIN:VCALENDAR\r\n")
                for _ in range(50):  # ten seconds at most
                    if stop.wait(0.2):
                        break
                    try:
                        connection.sendall(b"X" if in_headers else b"\r\n")
                    except OSError:
                        break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", stop
    stop.set()
    with socket.create_connection(listener.getsockname()):
        pass
    thread.join()
    listener.close()


@pytest.mark.parametrize("path", ["/headers", "/body"])
def test_a_server_that_trickles_its_answer_is_given_up_at_the_deadline(
    trickling_server: tuple[str, threading.Event], path: str
) -> None:
    url, _ = trickling_server
    started = time.monotonic()
    with pytest.raises(fetcher.FetchError, match="longer than 1 seconds"):
        fetcher.fetch(url + path, policy(read_timeout=2, total_seconds=1))
    assert time.monotonic() - started < 4  # the answer would have taken ten seconds


def test_urls_are_checked_when_added() -> None:
    assert fetcher.normalize_url("webcal://example.org/cal.ics") == "https://example.org/cal.ics"
    for bad in ("ftp://example.org/x", "file:///etc/passwd", "https://", "javascript:alert(1)"):
        with pytest.raises(ValueError):
            fetcher.normalize_url(bad)


@pytest.fixture
def allow_loopback(app: Flask) -> None:
    app.config["CALENDAR_FETCH_ALLOWED_NETWORKS"] = LOOPBACK_ONLY


def add_source(client: FlaskClient, headers: dict[str, str], url: str) -> dict:
    response = client.post(
        "/api/v1/me/calendar-sources", json={"name": "Verein", "url": url}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def source_state(client: FlaskClient, headers: dict[str, str], source: dict) -> dict:
    return client.get(f"/api/v1/me/calendar-sources/{source['id']}", headers=headers).get_json()


def due_now(source_id: int) -> None:
    db.session.get(CalendarSource, source_id).next_fetch_at = None
    db.session.commit()


def personal_feed(client: FlaskClient, headers: dict[str, str]) -> bytes:
    feed = client.post(
        "/api/v1/me/calendar-feeds", json={"kind": "personal"}, headers=headers
    ).get_json()
    return client.get(feed["url"].split("localhost", 1)[1]).data


def test_the_job_keeps_the_last_good_copy_through_bad_answers(
    client: FlaskClient,
    app: Flask,
    server: Server,
    teacher: User,
    headers: Headers,
    allow_loopback: None,
) -> None:
    source = add_source(client, headers(teacher), server.url + "/cal.ics")
    assert source["status"] == "pending" and source["url"].endswith("/cal.ics")
    server.answers["/cal.ics"] = ics(calendar("Chor", "Sport"))
    assert source_service.refresh_due_sources() == 1
    good = source_state(client, headers(teacher), source)
    assert good["status"] == "ok" and good["event_count"] == 2
    assert b"SUMMARY:Chor" in personal_feed(client, headers(teacher))

    cut_off = calendar("Chor", "Sport")[:-40]
    bad_answers = {
        "an HTML page": lambda r: Response(
            "<html><body>Login</body></html>", content_type="text/html"
        ),
        "cut off": ics(cut_off),
        "no events": ics(calendar()),
        "HTTP 500": lambda r: Response("oops", status=500),
        "larger than": ics(calendar("x" * 5000) * 50),
    }
    app.config["CALENDAR_SOURCE_MAX_BYTES"] = 100_000
    for reason, answer in bad_answers.items():
        server.answers["/cal.ics"] = answer
        due_now(source["id"])
        source_service.refresh_due_sources()
        state = source_state(client, headers(teacher), source)
        assert state["status"] == "error", reason
        assert reason.split()[-1].lower() in state["last_error"].lower(), (reason, state)
        assert state["event_count"] == 2 and state["last_success_at"] == good["last_success_at"]
        app.extensions["mdm_cache"].clear()
        assert b"SUMMARY:Chor" in personal_feed(client, headers(teacher)), reason

    server.answers["/cal.ics"] = ics(calendar("Orchester"))
    due_now(source["id"])
    source_service.refresh_due_sources()
    changed = source_state(client, headers(teacher), source)
    assert changed["status"] == "ok" and changed["event_count"] == 1
    body = personal_feed(client, headers(teacher))
    assert b"SUMMARY:Orchester" in body and b"SUMMARY:Chor" not in body


def test_a_source_url_is_encrypted_and_personal_events_are_the_owner_s(
    client: FlaskClient,
    server: Server,
    teacher: User,
    student: User,
    headers: Headers,
    allow_loopback: None,
) -> None:
    source = add_source(client, headers(teacher), server.url + "/secret-token/cal.ics")
    server.answers["/secret-token/cal.ics"] = ics(calendar("Arzttermin"))
    source_service.refresh_due_sources()
    raw = db.session.execute(text("SELECT url FROM calendar_sources")).scalar_one()
    assert b"secret-token" not in bytes(raw)
    assert (
        client.get(
            f"/api/v1/me/calendar-sources/{source['id']}", headers=headers(student)
        ).status_code
        == 404
    )
    assert client.get("/api/v1/me/calendar-sources", headers=headers(student)).get_json() == []
    assert b"Arzttermin" not in personal_feed(client, headers(student))
    mine = personal_feed(client, headers(teacher))
    assert b"SUMMARY:Arzttermin" in mine and b"CLASS:PRIVATE" in mine


def test_recurrences_expand_in_the_calendar_s_zone_even_from_x_wr_timezone(
    client: FlaskClient,
    teacher: User,
    headers: Headers,
) -> None:
    body = calendar("Chor", zone_line="X-WR-TIMEZONE:America/New_York\r\n", floating=True)
    response = client.post(
        "/api/v1/me/calendar-sources/upload",
        data={"name": "USA", "file": (io.BytesIO(body), "usa.ics")},
        headers=headers(teacher),
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    feed = personal_feed(client, headers(teacher))
    start, end = next_monday(-1), next_monday(8)
    rows = sorted(
        (row for row in agreed_events(feed, start, end) if row[2] == "Chor"), key=lambda r: r[1]
    )
    assert len(rows) == 3  # COUNT=3, weekly
    assert [row[1].hour for row in rows] == [21, 21, 21]  # 16:00 in New York, winter: UTC-5
    assert rows[1][1] - rows[0][1] == timedelta(weeks=1)


def test_a_bad_upload_is_refused_with_its_reason(
    client: FlaskClient, teacher: User, headers: Headers
) -> None:
    for body, reason in (
        (b"<!doctype html><html></html>", "HTML"),
        (calendar("Chor")[:-30], "cut off"),
        (b"", "empty"),
        (
            b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:nope\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "read",
        ),
        (
            b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE,:20270101\r\n"
            b"END:VEVENT\r\nEND:VCALENDAR\r\n",
            "read",
        ),
    ):
        response = client.post(
            "/api/v1/me/calendar-sources/upload",
            data={"file": (io.BytesIO(body), "x.ics")},
            headers=headers(teacher),
            content_type="multipart/form-data",
        )
        assert response.status_code == 400, reason
        assert reason in response.get_json()["errors"]["file"][0], response.get_json()
    assert db.session.query(CalendarSource).count() == 0


def test_a_source_url_must_be_http(client: FlaskClient, teacher: User, headers: Headers) -> None:
    response = client.post(
        "/api/v1/me/calendar-sources",
        json={"name": "x", "url": "file:///etc/passwd"},
        headers=headers(teacher),
    )
    assert response.status_code == 400 and "url" in response.get_json()["errors"]


def test_a_series_that_repeats_too_densely_is_left_out_of_the_feed(
    client: FlaskClient, app: Flask, teacher: User, headers: Headers
) -> None:
    app.config["CALENDAR_SOURCE_MAX_EVENTS"] = 20
    # Every minute since a month ago: expanding it walks 40,000 steps before the window
    # (every second since years ago would keep the feed's worker busy for hours).
    start = (next_monday() - timedelta(days=30)).strftime("%Y%m%d")
    dense = (
        f"BEGIN:VEVENT\r\nUID:spam@example\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{start}T000000Z\r\nDTEND:{start}T000030Z\r\nRRULE:FREQ=MINUTELY\r\n"
        "SUMMARY:Spam\r\nEND:VEVENT\r\n"
    ).encode()
    body = calendar("Chor").replace(b"END:VCALENDAR", dense + b"END:VCALENDAR")
    response = client.post(
        "/api/v1/me/calendar-sources/upload",
        data={"name": "Verein", "file": (io.BytesIO(body), "verein.ics")},
        headers=headers(teacher),
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    feed = personal_feed(client, headers(teacher))
    assert feed.count(b"SUMMARY:Chor") == 3
    assert b"SUMMARY:Spam" not in feed


def test_a_series_that_never_advances_is_left_out() -> None:
    # INTERVAL=0 (RFC 5545 wants a positive one) would be expanded forever.
    start = next_monday().strftime("%Y%m%d")
    stuck = (
        f"BEGIN:VEVENT\r\nUID:stuck@example\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{start}T100000Z\r\nRRULE:FREQ=DAILY;INTERVAL=0\r\nSUMMARY:Stuck\r\n"
        "END:VEVENT\r\n"
    ).encode()
    body = calendar("Chor").replace(b"END:VCALENDAR", stuck + b"END:VCALENDAR")
    found: list[str] = []

    def expand() -> None:
        events = sources.personal_events(
            body,
            source_id=1,
            first=next_monday(-1),
            last=next_monday(8),
            zone=ZoneInfo("Europe/Berlin"),
            domain="localhost",
            changed_at=datetime(2026, 1, 1, tzinfo=UTC),
            limit=100,
        )
        found.extend(event.summary for event in events)

    worker = threading.Thread(target=expand, daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "the expansion never ended"
    assert found == ["Chor"] * 3


@pytest.mark.parametrize(
    ("zone", "meant"),
    [
        ("W. Europe Standard Time", "Europe/Berlin"),
        ("Eastern Standard Time", "America/New_York"),
        ("Nowhere/Land", "Europe/Berlin"),  # unknown: the times float, taken as the school's
    ],
)
def test_a_calendar_naming_its_zone_as_outlook_does_reaches_the_feed(
    client: FlaskClient, teacher: User, headers: Headers, zone: str, meant: str
) -> None:
    # Outlook writes Windows zone names into X-WR-TIMEZONE.
    body = calendar("Chor", zone_line=f"X-WR-TIMEZONE:{zone}\r\n", floating=True)
    response = client.post(
        "/api/v1/me/calendar-sources/upload",
        data={"name": "Outlook", "file": (io.BytesIO(body), "outlook.ics")},
        headers=headers(teacher),
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    feed = client.post(
        "/api/v1/me/calendar-feeds", json={"kind": "personal"}, headers=headers(teacher)
    ).get_json()
    answer = client.get(feed["url"].split("localhost", 1)[1])
    assert answer.status_code == 200
    rows = agreed_events(answer.data, next_monday(-1), next_monday(8))
    chor = [row[1] for row in rows if row[2] == "Chor"]
    monday = next_monday()
    starts = datetime(monday.year, monday.month, monday.day, 16, tzinfo=ZoneInfo(meant))
    assert len(chor) == 3 and min(chor) == starts.astimezone(UTC)


def test_a_calendar_whose_events_repeat_a_property_is_taken(
    client: FlaskClient, teacher: User, headers: Headers, server: Server, allow_loopback: None
) -> None:
    # Two CATEGORIES lines in one event (as some calendar apps write them) are valid RFC 5545.
    body = calendar("Chor", "Sport").replace(
        b"SUMMARY:Chor\r\n", b"SUMMARY:Chor\r\nCATEGORIES:Musik\r\nCATEGORIES:AG\r\n"
    )
    response = client.post(
        "/api/v1/me/calendar-sources/upload",
        data={"name": "Verein", "file": (io.BytesIO(body), "verein.ics")},
        headers=headers(teacher),
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["event_count"] == 2
    assert personal_feed(client, headers(teacher)).count(b"SUMMARY:Chor") == 3
    # Fetched by the job, it is kept, and the job goes on with the other sources.
    server.answers["/verein.ics"] = ics(body)
    server.answers["/chor.ics"] = ics(calendar("Orchester"))
    fetched = [
        add_source(client, headers(teacher), server.url + p) for p in ("/verein.ics", "/chor.ics")
    ]
    assert source_service.refresh_due_sources() == 2
    states = [source_state(client, headers(teacher), source) for source in fetched]
    assert [(s["status"], s["event_count"]) for s in states] == [("ok", 2), ("ok", 1)]


def test_a_series_without_end_beside_an_event_of_several_days_is_expanded() -> None:
    # An endless daily series and a week-long all-day event: the library's "after" walks the
    # all-day week in quarter hours, re-expanding the series each time (minutes per feed).
    monday = next_monday()
    day = monday.strftime("%Y%m%d")
    body = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//\r\n"
        f"BEGIN:VEVENT\r\nUID:daily@example\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{day}T070000Z\r\nDTEND:{day}T071500Z\r\nRRULE:FREQ=DAILY\r\n"
        "SUMMARY:Morgenkreis\r\nEND:VEVENT\r\n"
        f"BEGIN:VEVENT\r\nUID:week@example\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART;VALUE=DATE:{(monday + timedelta(days=7)):%Y%m%d}\r\n"
        f"DTEND;VALUE=DATE:{(monday + timedelta(days=12)):%Y%m%d}\r\n"
        "SUMMARY:Klausurwoche\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()
    found: list[str] = []

    def expand() -> None:
        events = sources.personal_events(
            body,
            source_id=1,
            first=next_monday(-1),
            last=monday + timedelta(days=20),
            zone=ZoneInfo("Europe/Berlin"),
            domain="localhost",
            changed_at=datetime(2026, 1, 1, tzinfo=UTC),
            limit=100,
        )
        found.extend(event.summary for event in events)

    worker = threading.Thread(target=expand, daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "the expansion took longer than 20 seconds"
    assert sorted(found) == ["Klausurwoche"] + ["Morgenkreis"] * 21


def test_a_copy_that_cannot_be_expanded_leaves_the_rest_of_the_feed_alone(
    client: FlaskClient, teacher: User, headers: Headers
) -> None:
    # Readable, so kept; but its events cannot be placed in time (not a Gregorian calendar).
    body = calendar("Chor").replace(
        b"PRODID:-//test//\r\n", b"PRODID:-//test//\r\nCALSCALE:HEBREW\r\n"
    )
    response = client.post(
        "/api/v1/me/calendar-sources/upload",
        data={"name": "Anders", "file": (io.BytesIO(body), "anders.ics")},
        headers=headers(teacher),
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    feed = client.post(
        "/api/v1/me/calendar-feeds", json={"kind": "personal"}, headers=headers(teacher)
    ).get_json()
    answer = client.get(feed["url"].split("localhost", 1)[1])
    assert answer.status_code == 200 and b"BEGIN:VCALENDAR" in answer.data
