"""The admin pages at a city's scale (issue 15): the city IT admin's dashboard of 90 schools and
30,000 devices, against the 200 ms ceiling.

    python bench/admin_bench.py [--database postgresql+psycopg://postgres@127.0.0.1:5432/mdm_bench]
        [--rounds 30]

The data: 90 schools, 30,000 enrolled and retired devices (school-owned and BYOD, a fifth not
seen for more than a week), a policy state for each (some non-compliant), 60,000 commands
(queued, sent, acknowledged, error), a timetable import per school and 40 substitutions today
each. The timing: the whole request of GET /admin as the logged-in city IT admin (the pages'
session check, the providers' queries, the template), in the process (Flask's test client),
after one warm-up request; median and 95th percentile over the rounds, and the ratio of the
median to the ceiling. The tables are ANALYZEd after the bulk insert.
"""

import argparse
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.setup_db import database_url, migrated_app, workdir  # noqa: E402

CEILING_MS = 200.0
SCHOOLS = 90
DEVICES = 30_000
PASSWORD = "bench-password-1"


def seed(app) -> None:  # type: ignore[no-untyped-def]
    """The city's data, inserted in bulk."""
    from sqlalchemy import insert, select, text

    from mdm.accounts.models import School, User
    from mdm.accounts.service import hash_password
    from mdm.commands.models import Command, CommandBatch
    from mdm.devices.models import Device
    from mdm.extensions import db
    from mdm.policies.models import DevicePolicyState
    from schedules.models import Substitution, TimetableImport

    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo("Europe/Berlin")).date()
    with app.app_context():
        db.session.execute(
            insert(School),
            [
                {"slug": f"schule-{n}", "name": f"Schule {n:02d}", "timezone": "Europe/Berlin"}
                for n in range(SCHOOLS)
            ],
        )
        school_ids = list(db.session.scalars(select(School.id).order_by(School.id)))
        db.session.add(
            User(username="city-it", role="it_admin", password_hash=hash_password(PASSWORD))
        )
        devices = []
        for n in range(DEVICES):
            silent = n % 5 == 0
            devices.append(
                {
                    "school_id": school_ids[n % SCHOOLS],
                    "ownership": "byod" if n % 4 == 0 else "school",
                    "platform": "android",
                    "name": f"Tablet {n}",
                    "user_role": "student",
                    "status": "retired" if n % 50 == 0 else "enrolled",
                    "enrolled_at": now - timedelta(days=60),
                    "last_seen_at": now - timedelta(days=10 if silent else 0, minutes=n % 90),
                    "inventory": {},
                    "inventory_hash": "",
                    "config_version": 1,
                }
            )
        db.session.execute(insert(Device), devices)
        rows = db.session.execute(select(Device.id, Device.school_id).order_by(Device.id)).all()
        db.session.execute(
            insert(DevicePolicyState),
            [
                {
                    "device_id": device_id,
                    "school_id": school_id,
                    "desired_hash": "a",
                    "sent_hash": "a",
                    "applied_hash": "a" if device_id % 7 else "b",
                    "failed_count": 1 if device_id % 11 == 0 else 0,
                    "failed_settings": [],
                }
                for device_id, school_id in rows
            ],
        )
        batches = {}
        for school_id in school_ids:
            batch = CommandBatch(
                school_id=school_id,
                type="lock",
                target="school",
                created_by="bench",
                expires_at=now + timedelta(days=7),
            )
            db.session.add(batch)
            batches[school_id] = batch
        db.session.flush()
        statuses = ("queued", "sent", "acknowledged", "error")
        db.session.execute(
            insert(Command),
            [
                {
                    "batch_id": batches[school_id].id,
                    "school_id": school_id,
                    "device_id": device_id,
                    "type": "lock",
                    "status": statuses[(device_id + k) % 4],
                    "expires_at": now + timedelta(days=7),
                    "finished_at": now - timedelta(days=k) if (device_id + k) % 4 >= 2 else None,
                    "result_detail": "",
                }
                for device_id, school_id in rows
                for k in (0, 3)
            ],
        )
        db.session.execute(
            insert(TimetableImport),
            [
                {"school_id": school_id, "source": "upload", "actor": "bench", "created_at": now}
                for school_id in school_ids
            ],
        )
        db.session.execute(
            insert(Substitution),
            [
                {
                    "school_id": school_id,
                    "key": f"{school_id}-{n}",
                    "date": today,
                    "period": 1 + n % 8,
                    "period_to": 1 + n % 8,
                    "kind": "cancellation",
                    "content_hash": "x",
                }
                for school_id in school_ids
                for n in range(40)
            ],
        )
        db.session.commit()
        # Fresh statistics, as autovacuum (PostgreSQL) would have them for tables of this size.
        db.session.execute(text("ANALYZE"))
        db.session.commit()


def main() -> None:
    """Seed, log in, time the dashboard, print the table row."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="sqlite")
    parser.add_argument("--rounds", type=int, default=30)
    options = parser.parse_args()
    url = database_url(options.database, workdir())
    app = migrated_app(url)
    started = time.perf_counter()
    seed(app)
    print(f"seeded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    answer = client.post(
        "/login", data={"username": "city-it", "password": PASSWORD, "csrf_token": token}
    )
    assert answer.status_code == 302, answer.status_code
    warm = client.get("/admin")
    assert warm.status_code == 200 and warm.get_data(as_text=True).count("<tr>") >= SCHOOLS
    timings = []
    for _ in range(options.rounds):
        begin = time.perf_counter()
        page = client.get("/admin")
        timings.append((time.perf_counter() - begin) * 1000)
        assert page.status_code == 200
    median = statistics.median(timings)
    p95 = sorted(timings)[int(len(timings) * 0.95) - 1]
    kind = "SQLite" if options.database == "sqlite" else "PostgreSQL"
    print("| database | page | bytes | median ms | p95 ms | min ms | median / 200 ms |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {kind} | city dashboard, {SCHOOLS} schools, {DEVICES} devices | "
        f"{len(page.data)} | {median:.1f} | {p95:.1f} | {min(timings):.1f} | "
        f"{median / CEILING_MS:.2f} |"
    )


if __name__ == "__main__":
    main()
