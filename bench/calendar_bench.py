"""A teacher's calendar feed of 2,000 events, beside Radicale and the same bytes from Flask.

    python bench/calendar_bench.py [--database sqlite|postgresql+psycopg://...]

Makes a school whose teacher has ten lessons every school day, with a feed window that holds
exactly 2,000 of them, and the teacher's feed link. Measures the feed's first render (a fresh
app, in this process), then serves the feed with gunicorn (config/gunicorn.conf.py), the same
bytes from a trivial Flask endpoint on the same configuration (bench/calendar_ceiling.py), and
the same 2,000 events from Radicale 3.9 (one calendar collection on 127.0.0.1, uploaded with one
PUT), all three up side by side; each round runs wrk against the three back to back. Prints the
medians and the per-round ratios as a markdown table.
"""

import argparse
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import date, timedelta
from datetime import time as clock
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import free_port, gunicorn, median_result, wrk  # noqa: E402
from bench.setup_db import database_url, environment, migrated_app, workdir  # noqa: E402

EVENTS = 2000
LESSONS_PER_DAY = 10


def days_ahead(back: int) -> int:
    """How many days ahead the window must reach for EVENTS lessons on school days."""
    today = date.today()
    start = today - timedelta(days=back)
    count, day = 0, start
    while count < EVENTS:
        if day.isoweekday() <= 5:
            count += LESSONS_PER_DAY
        day += timedelta(days=1)
    return (day - timedelta(days=1) - today).days


def seed(app) -> str:
    """The school, its teacher with ten lessons a day, and the teacher's feed; its URL path."""
    from calendars import feed_service
    from mdm.accounts.auth import actor_of
    from mdm.accounts.models import School, User
    from mdm.extensions import db
    from mdm.platform.types import utcnow
    from schedules.models import Lesson, PanelSettings, Teacher, TimeSlot

    with app.app_context():
        school = School(slug="bench", name="Bench-Gymnasium", timezone="Europe/Berlin")
        db.session.add(school)
        db.session.flush()
        user = User(school_id=school.id, username="bench.teacher", role="teacher")
        db.session.add(user)
        db.session.flush()
        db.session.add(Teacher(school_id=school.id, abbreviation="BEN", user_id=user.id))
        for period in range(1, LESSONS_PER_DAY + 1):
            starts = clock(7 + period, 0)
            db.session.add(
                TimeSlot(
                    school_id=school.id, period=period, starts=starts, ends=clock(7 + period, 45)
                )
            )
            for weekday in range(1, 6):
                db.session.add(
                    Lesson(
                        school_id=school.id,
                        lesson_number=weekday * 100 + period,
                        weekday=weekday,
                        period=period,
                        subject=f"F{period}",
                        classes=[f"{period}a"],
                        teachers=["BEN"],
                        rooms=[f"R{period}"],
                    )
                )
        db.session.add(PanelSettings(school_id=school.id, plan_version=1, plan_updated_at=utcnow()))
        feed = feed_service.create_feed(db.session, actor_of(user, None), kind="teacher")
        db.session.commit()
        return "/calendars/" + feed.token.decode() + ".ics"


def first_render(app, path: str) -> tuple[float, bytes]:
    """The first request of a fresh app: loads the plan, renders 2,000 events, writes states."""
    client = app.test_client()
    started = time.perf_counter()
    response = client.get(path)
    seconds = time.perf_counter() - started
    assert response.status_code == 200, response.data[:500]
    return seconds, response.data


def radicale(folder: Path, body: bytes) -> tuple[subprocess.Popen, str]:
    """Radicale on a free loopback port with one calendar collection holding the feed's events."""
    port = free_port()
    config = folder / "radicale.ini"
    config.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = none\n[rights]\ntype = authenticated\n"
        f"[storage]\nfilesystem_folder = {folder / 'radicale'}\n[logging]\nlevel = warning\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}/bench/calendar/"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/.web/", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    parent = urllib.request.Request(f"http://127.0.0.1:{port}/bench/", method="MKCOL")
    urllib.request.urlopen(parent, timeout=60)
    request = urllib.request.Request(
        base, data=body, method="PUT", headers={"Content-Type": "text/calendar"}
    )
    urllib.request.urlopen(request, timeout=300)
    with urllib.request.urlopen(base, timeout=300) as answer:
        served = answer.read()
    assert served.count(b"BEGIN:VEVENT") == EVENTS, served.count(b"BEGIN:VEVENT")
    return process, base


def row(name: str, results: list, ours: list) -> str:
    result = median_result(results)
    ratios = [
        o.requests_per_second / r.requests_per_second for o, r in zip(ours, results, strict=True)
    ]
    return (
        f"| {name} | {result.requests_per_second:.1f} | {result.p50_ms:.1f} | "
        f"{result.p99_ms:.1f} | {result.errors} | "
        f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="sqlite")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--radicale-connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    folder = workdir()
    url = database_url(args.database, folder)
    back = 7
    ahead = days_ahead(back)
    window = {"CALENDAR_WINDOW_DAYS_BACK": back, "CALENDAR_WINDOW_DAYS_AHEAD": ahead}
    app = migrated_app(url)
    app.config.update(window)
    path = seed(app)
    render_seconds, body = first_render(app, path)
    assert body.count(b"BEGIN:VEVENT") == EVENTS, body.count(b"BEGIN:VEVENT")
    feed_file = folder / "feed.ics"
    feed_file.write_bytes(body)
    env = environment(url) | {f"MDM_{k}": str(v) for k, v in window.items()}
    env["MDM_BENCH_FEED_FILE"] = str(feed_file)

    ours, ceilings, radicales = [], [], []
    process, radicale_url = radicale(folder, body)
    try:
        with (
            gunicorn(
                "bench.calendar_ceiling:create_app()", env, args.workers, args.threads
            ) as ceiling_base,
            gunicorn("mdm:create_app()", env, args.workers, args.threads) as base,
        ):
            wrk(base + path, seconds=10, connections=args.connections)  # every worker renders once
            for _ in range(args.rounds):
                ceilings.append(
                    wrk(
                        ceiling_base + "/ceiling.ics",
                        seconds=args.seconds,
                        connections=args.connections,
                    )
                )
                ours.append(wrk(base + path, seconds=args.seconds, connections=args.connections))
                radicales.append(
                    wrk(radicale_url, seconds=args.seconds, connections=args.radicale_connections)
                )
    finally:
        process.terminate()
        process.wait(timeout=30)
    database = "SQLite" if args.database == "sqlite" else "PostgreSQL"
    print("| what | req/s | p50 ms | p99 ms | errors | our feed per it (range) |")
    print("|---|---|---|---|---|---|")
    print(row(f"{database}: our teacher feed, {EVENTS} events ({len(body)} bytes)", ours, ours))
    print(row("the same bytes from a trivial Flask endpoint", ceilings, ours))
    print(row(f"Radicale 3.9, one collection of the same {EVENTS} events", radicales, ours))
    print(
        f"first render of the {EVENTS}-event feed (fresh app, plan loaded, states written): "
        f"{render_seconds * 1000:.0f} ms"
    )
    print(
        f"{args.rounds} rounds x {args.seconds}s, {args.connections} connections "
        f"(Radicale {args.radicale_connections}), "
        f"gunicorn {args.workers} workers x {args.threads} threads"
    )


if __name__ == "__main__":
    main()
