"""The device list of the admin pages at a school's scale (issue 15): a school with 2,000
devices in a city of 30,000, against the 200 ms ceiling.

    python bench/admin_devices_bench.py [--database postgresql+psycopg://postgres@127.0.0.1:5432/mdm_bench]
        [--rounds 30]

The data: 90 schools; the measured one has 2,000 devices (school-owned and BYOD, each with its
student, a class group of 25 and an inventory with a serial number), the other 89 share 28,000
more. The timing: the whole request as the school's logged-in admin (the pages' session check,
the service's count and page of 50 rows with users and groups, the template), in the process
(Flask's test client), after one warm-up request, for the list, a search by serial number, the
list of one class, and one device's page; median and 95th percentile over the rounds, and the
ratio of the median to the ceiling.
"""

import argparse
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.setup_db import database_url, migrated_app, workdir  # noqa: E402

CEILING_MS = 200.0
SCHOOLS = 90
SCHOOL_DEVICES = 2_000
CITY_DEVICES = 30_000
CLASS_SIZE = 25
PASSWORD = "bench-password-1"


def seed(app) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """The city's devices, inserted in bulk; (a class group's id, a device's id) of the school."""
    from sqlalchemy import insert, select

    from mdm.accounts.models import School, User
    from mdm.accounts.service import hash_password
    from mdm.devices.models import Device, Group, group_devices
    from mdm.extensions import db

    now = datetime.now(UTC)
    with app.app_context():
        db.session.execute(
            insert(School),
            [
                {"slug": f"schule-{n}", "name": f"Schule {n:02d}", "timezone": "Europe/Berlin"}
                for n in range(SCHOOLS)
            ],
        )
        school_ids = list(db.session.scalars(select(School.id).order_by(School.id)))
        school = school_ids[0]
        db.session.add(
            User(
                username="admin-a",
                role="school_admin",
                school_id=school,
                password_hash=hash_password(PASSWORD),
            )
        )
        students = [
            {
                "username": f"schueler.{n}",
                "role": "student",
                "school_id": school,
                "first_name": f"Vorname{n}",
                "last_name": f"Nachname{n}",
                "class_name": f"{5 + n // (CLASS_SIZE * 8)}{'abcdefgh'[n // CLASS_SIZE % 8]}",
                "password_hash": "x",
            }
            for n in range(SCHOOL_DEVICES)
        ]
        db.session.execute(insert(User), students)
        user_ids = list(
            db.session.scalars(select(User.id).where(User.role == "student").order_by(User.id))
        )
        devices = []
        for n in range(CITY_DEVICES):
            mine = n < SCHOOL_DEVICES
            byod = n % 6 == 0
            devices.append(
                {
                    "school_id": school if mine else school_ids[1 + n % (SCHOOLS - 1)],
                    "ownership": "byod" if byod else "school",
                    "platform": ("android", "ipados", "windows")[n % 3],
                    "model": "Tablet",
                    "name": f"Tablet {n}",
                    "user_role": "student",
                    "user_id": user_ids[n] if mine else None,
                    "status": "retired" if n % 50 == 0 else "enrolled",
                    "enrolled_at": now - timedelta(days=60),
                    "last_seen_at": now - timedelta(minutes=n % 900),
                    "serial_number": None if byod else f"SN{n:08d}",
                    "inventory": {
                        "battery": n % 100,
                        "os": {"name": "Android", "version": "14"},
                        "storage": {"total_gb": 64, "free_gb": n % 64},
                    },
                    "inventory_hash": "",
                    "config_version": 1,
                }
            )
        db.session.execute(insert(Device), devices)
        mine = list(
            db.session.scalars(
                select(Device.id).where(Device.school_id == school).order_by(Device.id)
            )
        )
        classes = sorted({student["class_name"] for student in students})
        db.session.execute(
            insert(Group),
            [
                {"school_id": school, "kind": "class", "name": name, "class_key": name.lower()}
                for name in classes
            ],
        )
        groups = dict(
            db.session.execute(select(Group.name, Group.id).where(Group.school_id == school)).all()
        )
        db.session.execute(
            insert(group_devices),
            [
                {"group_id": groups[students[n]["class_name"]], "device_id": device_id}
                for n, device_id in enumerate(mine)
            ],
        )
        db.session.commit()
        return groups[classes[3]], mine[1234]


def timed(client, path: str, rounds: int) -> tuple[list[float], int]:  # type: ignore[no-untyped-def]
    """Milliseconds of each request of `path` after a warm-up, and the page's size."""
    warm = client.get(path)
    assert warm.status_code == 200, (path, warm.status_code)
    timings = []
    for _ in range(rounds):
        begin = time.perf_counter()
        page = client.get(path)
        timings.append((time.perf_counter() - begin) * 1000)
        assert page.status_code == 200
    return timings, len(page.data)


def main() -> None:
    """Seed, log in, time the pages, print the table rows."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="sqlite")
    parser.add_argument("--rounds", type=int, default=30)
    options = parser.parse_args()
    url = database_url(options.database, workdir())
    app = migrated_app(url)
    started = time.perf_counter()
    group_id, device_id = seed(app)
    print(f"seeded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    answer = client.post(
        "/login", data={"username": "admin-a", "password": PASSWORD, "csrf_token": token}
    )
    assert answer.status_code == 302, answer.status_code
    listed = client.get("/admin/devices").get_data(as_text=True)
    assert f"({SCHOOL_DEVICES} Einträge)" in listed, "the list counts the school's devices"
    pages = (
        (f"device list, page 1 of {SCHOOL_DEVICES} devices", "/admin/devices"),
        ("device list, page 40", "/admin/devices?page=40"),
        ("search by serial number", "/admin/devices?q=SN00001234"),
        (f"one class ({CLASS_SIZE} devices)", f"/admin/devices?group={group_id}"),
        ("one device's page", f"/admin/devices/{device_id}"),
    )
    kind = "SQLite" if options.database == "sqlite" else "PostgreSQL"
    print("| database | page | bytes | median ms | p95 ms | min ms | median / 200 ms |")
    print("|---|---|---|---|---|---|---|")
    for label, path in pages:
        timings, size = timed(client, path, options.rounds)
        median = statistics.median(timings)
        p95 = sorted(timings)[int(len(timings) * 0.95) - 1]
        print(
            f"| {kind} | {label} | {size} | {median:.1f} | {p95:.1f} | {min(timings):.1f} | "
            f"{median / CEILING_MS:.2f} |"
        )


if __name__ == "__main__":
    main()
