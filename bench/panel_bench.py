"""A city morning: students open the panel of a large school, beside the framework ceiling.

    python bench/panel_bench.py [--database sqlite|postgresql+psycopg://...]

Imports the large school (60 classes, 120 teachers, ~3,000 GPU001 rows, 400 substitutions a day)
with substitutions for today and the next school days, logs in 1,000 students of its classes,
then runs wrk (32 connections) against the panel JSON (each request a student with their own
login and class), the panel page, and a trivial Flask endpoint on the same gunicorn
configuration, alternating, several rounds; prints medians and the ratios to the ceiling as a
markdown table, and the time of a fresh worker's first request (it loads the plan).
"""

import argparse
import sys
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import RATIO_HEADER, gunicorn, ratio_row, wrk  # noqa: E402
from bench.setup_db import database_url, environment, migrated_app, workdir  # noqa: E402

HERE = Path(__file__).resolve().parent


def seed_large_school(app, students: int, students_file: Path) -> tuple[int, list[str]]:
    """Import the large school from this week on, log in `students` students of its classes.

    Writes "<access token> <class>" lines to students_file; returns the school id and classes.
    """
    from werkzeug.security import generate_password_hash

    from mdm.accounts.models import School, User
    from mdm.extensions import db
    from mdm.platform.actors import Actor
    from schedules import demo_gpu, import_service
    from schedules.models import SchoolClass

    monday = date.today() - timedelta(days=date.today().weekday())
    files = demo_gpu.generate_school(
        11, classes=60, teachers=120, start=monday, days=10, substitutions_per_day=400
    )
    # One cheap hash shared by the benchmark's students: logging them in is set-up, not measured.
    password_hash = generate_password_hash("bench-password", method="scrypt:1024:8:1")
    with app.app_context():
        school = School(slug="bench-gymnasium", name="Bench-Gymnasium", timezone="Europe/Berlin")
        db.session.add(school)
        db.session.flush()
        import_service.import_files(
            db.session, Actor.system("bench"), school.id, files, "untis-gpu"
        )
        classes = sorted(
            db.session.scalars(
                db.select(SchoolClass.name).where(SchoolClass.school_id == school.id)
            )
        )
        for n in range(students):
            db.session.add(
                User(
                    username=f"bench.student{n}",
                    role="student",
                    school_id=school.id,
                    last_name=f"Student {n}",
                    class_name=classes[n % len(classes)],
                    password_hash=password_hash,
                )
            )
        db.session.commit()
        school_id = school.id
    client = app.test_client()
    with students_file.open("w") as out:
        for n in range(students):
            login = client.post(
                "/api/v1/auth/login",
                json={"username": f"bench.student{n}", "password": "bench-password"},
                environ_base={"REMOTE_ADDR": f"10.{n // 250}.{n % 250}.1"},
            )
            out.write(f"{login.get_json()['access_token']} {classes[n % len(classes)]}\n")
    return school_id, classes


def cold_load_seconds(base: str, token: str, school_id: int, class_name: str) -> float:
    """Seconds of the first panel request a fresh server answers (it loads the plan)."""
    request = urllib.request.Request(
        f"{base}/api/v1/schools/{school_id}/panel?class={class_name}&days=2",
        headers={"Authorization": f"Bearer {token}"},
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="sqlite")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (one per core)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--students", type=int, default=1000, help="students with own logins")
    args = parser.parse_args()

    folder = workdir()
    url = database_url(args.database, folder)
    app = migrated_app(url)
    # Access tokens of the benchmark must outlive the run.
    app.config["JWT_ACCESS_TOKEN_EXPIRES"] = 3600
    students_file = folder / "students.txt"
    school_id, classes = seed_large_school(app, args.students, students_file)
    first_token = students_file.read_text().split()[0]
    env = environment(url)

    feeds, pages, ceilings = [], [], []
    # Both servers stay up; each round measures the ceiling, the feed and the page back to back.
    with (
        gunicorn("bench.ceiling:create_app()", env, args.workers, args.threads) as ceiling_base,
        gunicorn("mdm:create_app()", env, args.workers, args.threads) as base,
    ):
        feed = {"script": HERE / "panel.lua", "script_args": [str(school_id), str(students_file)]}
        # The first request of a worker loads the plan (as after every import), measured alone;
        # then a warm-up, not counted, lets every worker load it.
        cold_load = cold_load_seconds(base, first_token, school_id, classes[0])
        wrk(base + "/", seconds=2, connections=args.connections, **feed)
        for _ in range(args.rounds):
            ceilings.append(
                wrk(ceiling_base + "/ceiling", seconds=args.seconds, connections=args.connections)
            )
            feeds.append(
                wrk(base + "/", seconds=args.seconds, connections=args.connections, **feed)
            )
            pages.append(wrk(base + "/panel", seconds=args.seconds, connections=args.connections))
    database = "SQLite" if args.database == "sqlite" else "PostgreSQL"
    print(RATIO_HEADER)
    print(ratio_row(f"{database}: panel JSON, students of 60 classes", feeds, ceilings))
    print(ratio_row(f"{database}: panel page", pages, ceilings))
    print(f"first panel request of a fresh worker (it loads the plan): {cold_load * 1000:.0f} ms")
    print(
        f"{args.students} students with their own logins; {args.rounds} rounds x {args.seconds}s, "
        f"{args.connections} connections, gunicorn {args.workers} workers x {args.threads} threads"
    )


if __name__ == "__main__":
    main()
