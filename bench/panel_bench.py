"""A city morning: students open the panel of a large school, beside the framework ceiling.

    python bench/panel_bench.py [--database sqlite|postgresql+psycopg://...]

Imports the large school (60 classes, 120 teachers, ~3,000 GPU001 rows, 400 substitutions a day)
with substitutions for today and the next school days, logs a student in, then runs wrk (32
connections) against the panel JSON (cycling through all classes), the panel page, and a trivial
Flask endpoint on the same gunicorn configuration, alternating, several rounds; prints medians
and the ratios to the ceiling as a markdown table.
"""

import argparse
import sys
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import gunicorn, median_result, wrk  # noqa: E402
from bench.setup_db import database_url, environment, migrated_app, workdir  # noqa: E402

HERE = Path(__file__).resolve().parent


def seed_large_school(app) -> tuple[int, list[str], str]:
    """Import the large school starting this week; return its id, class names, a student token."""
    from mdm.actors import Actor
    from mdm.extensions import db
    from mdm.models import School, User
    from mdm.users import hash_password
    from schedules import demo_gpu, importer
    from schedules.models import SchoolClass

    monday = date.today() - timedelta(days=date.today().weekday())
    files = demo_gpu.generate_school(
        11, classes=60, teachers=120, start=monday, days=10, substitutions_per_day=400
    )
    with app.app_context():
        school = School(slug="bench-gymnasium", name="Bench-Gymnasium", timezone="Europe/Berlin")
        db.session.add(school)
        db.session.flush()
        importer.import_files(db.session, Actor.system("bench"), school.id, files, "untis-gpu")
        classes = sorted(
            db.session.scalars(
                db.select(SchoolClass.name).where(SchoolClass.school_id == school.id)
            )
        )
        db.session.add(
            User(
                username="bench.student",
                role="student",
                school_id=school.id,
                last_name="Student",
                class_name=classes[0],
                password_hash=hash_password("bench-password"),
            )
        )
        db.session.commit()
        school_id = school.id
    login = app.test_client().post(
        "/api/v1/auth/login", json={"username": "bench.student", "password": "bench-password"}
    )
    return school_id, classes, login.get_json()["access_token"]


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
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--workers", type=int, help="gunicorn workers (default: 2 on SQLite, 4 on PostgreSQL)"
    )
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    # SQLite has one writer at a time: two processes (one per core) contend least; PostgreSQL
    # answers over a socket, so more processes keep the cores busy while others wait on it.
    args.workers = args.workers or (2 if args.database == "sqlite" else 4)

    url = database_url(args.database, workdir())
    # Access tokens of the benchmark must outlive the run.
    app = migrated_app(url)
    app.config["JWT_ACCESS_TOKEN_EXPIRES"] = 3600
    school_id, classes, token = seed_large_school(app)
    env = environment(url)

    feeds, pages, ceilings, cold_loads = [], [], [], []
    for _ in range(args.rounds):
        with gunicorn("bench.ceiling:create_app()", env, args.workers, args.threads) as base:
            ceilings.append(
                wrk(base + "/ceiling", seconds=args.seconds, connections=args.connections)
            )
        with gunicorn("mdm:create_app()", env, args.workers, args.threads) as base:
            feed = {"script": HERE / "panel.lua", "script_args": [token, str(school_id), *classes]}
            # Warm-up, not counted: each worker loads the plan once (its first request after an
            # import), then serves it from memory; the cold load is measured on its own below.
            cold_loads.append(cold_load_seconds(base, token, school_id, classes[0]))
            wrk(base + "/", seconds=2, connections=args.connections, **feed)
            feeds.append(
                wrk(base + "/", seconds=args.seconds, connections=args.connections, **feed)
            )
            pages.append(wrk(base + "/panel", seconds=args.seconds, connections=args.connections))
    ceiling = median_result(ceilings)
    database = "SQLite" if args.database == "sqlite" else "PostgreSQL"
    print("| database | what | req/s | p50 ms | p99 ms | errors | ceiling req/s | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for name, results in (("panel JSON (60 classes)", feeds), ("panel page", pages)):
        result = median_result(results)
        print(
            f"| {database} | {name} | {result.requests_per_second:.0f} | {result.p50_ms:.1f} | "
            f"{result.p99_ms:.1f} | {result.errors} | {ceiling.requests_per_second:.0f} | "
            f"{result.requests_per_second / ceiling.requests_per_second:.0%} |"
        )
    print(
        f"rounds: {args.rounds} x {args.seconds}s, {args.connections} connections, gunicorn "
        f"{args.workers} workers x {args.threads} threads"
    )


if __name__ == "__main__":
    main()
