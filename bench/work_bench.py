"""Policies, commands and push at a city's scale (issue 11).

    python bench/work_bench.py --part timings [--database postgresql+psycopg://...]
    python bench/work_bench.py --part growth [--database ...]
    python bench/work_bench.py --part checkins [--database ...] [--baseline /tmp/mdm-base]

timings: queueing one command for the 10,000 devices of a group, and of a school, through the
API (the request with its commit; wake-ups included); a policy change on a group of 10,000
devices (a new version: marking the devices whose effective policy changed and queueing their
wake-ups). Medians of several runs.

growth: 30 simulated days of a daily command to 10,000 devices (95% answer the same day, the
others never, so their commands expire), with the expiry and retention jobs run each day; the
row counts and sizes of the queue tables.

checkins: wrk against gunicorn, each round measuring side by side the framework ceiling, plain
check-ins (nothing due), and check-ins of devices that have a command and a new policy due (both
are queued for all of them before each round, outside the timing); with --baseline, also the
plain check-ins of the code before this issue (a folder with that commit's files, e.g.
`git archive bc6166c | tar -x -C /tmp/mdm-base`) on the same database.
"""

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import RATIO_HEADER, gunicorn, ratio_row, wrk  # noqa: E402
from bench.setup_db import database_url, environment, migrated_app, workdir  # noqa: E402

HERE = Path(__file__).resolve().parent
CAMERA = [{"restrictions": {"allow_camera": False}}, {"restrictions": {"allow_camera": True}}]


def make_devices(app, count: int, group_name: str, secrets_file: Path | None = None) -> int:
    """`count` enrolled Android devices of the demo school in a new group, with credentials,
    inserted in bulk (enrolling them one by one is the enrollment benchmark's business); the
    group's id."""
    from sqlalchemy import insert, select, text

    from mdm.accounts.demo import seed_demo
    from mdm.accounts.models import School
    from mdm.devices import identity
    from mdm.devices.models import Device, DeviceCredential, Group, group_devices
    from mdm.extensions import db
    from mdm.policies.merge import EMPTY_HASH
    from mdm.policies.models import DevicePolicyState

    with app.app_context():
        seed_demo(app, db.session)
        school = db.session.scalar(select(School).where(School.slug == "demo"))
        group = Group(school_id=school.id, kind="custom", name=group_name)
        db.session.add(group)
        db.session.flush()
        now = datetime.now(UTC)
        first = (db.session.scalar(select(Device.id).order_by(Device.id.desc())) or 0) + 1
        ids = list(range(first, first + count))
        db.session.execute(
            insert(Device),
            [
                {
                    "id": device_id,
                    "school_id": school.id,
                    "ownership": "school",
                    "platform": "android",
                    "name": f"{group_name}-{device_id}",
                    "user_role": "shared",
                    "status": "enrolled",
                    "enrolled_at": now,
                    "inventory": {"battery": 50},
                    "inventory_hash": "",
                    "config_version": 1,
                }
                for device_id in ids
            ],
        )
        secrets = [identity.new_device_secret() for _ in ids]
        db.session.execute(
            insert(DeviceCredential),
            [
                {
                    "school_id": school.id,
                    "device_id": device_id,
                    "lookup_key": identity.device_lookup_key(secret),
                    "secret_hash": identity.hash_secret(secret),
                }
                for device_id, secret in zip(ids, secrets, strict=True)
            ],
        )
        db.session.execute(
            insert(DevicePolicyState),
            [
                {
                    "device_id": device_id,
                    "school_id": school.id,
                    "desired_hash": EMPTY_HASH,
                    "desired_at": now,
                    "sent_hash": EMPTY_HASH,
                    "applied_hash": EMPTY_HASH,
                    "failed_settings": [],
                    "failed_count": 0,
                }
                for device_id in ids
            ],
        )
        db.session.execute(
            insert(group_devices), [{"group_id": group.id, "device_id": i} for i in ids]
        )
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE"))  # as a database in use has its statistics
            db.session.commit()
        if secrets_file is not None:
            secrets_file.write_text("\n".join(secrets) + "\n")
        return group.id


def admin_headers(client) -> dict[str, str]:
    login = client.post("/api/v1/auth/login", json={"username": "admin", "password": "demo1234"})
    return {"Authorization": f"Bearer {login.get_json()['access_token']}"}


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def timings(app, database: str, runs: int) -> None:
    group_id = make_devices(app, 10_000, "Jahrgang")
    client = app.test_client()
    headers = admin_headers(client)

    def send(**target) -> None:
        response = client.post(
            "/api/v1/commands", json={"type": "refresh_inventory", **target}, headers=headers
        )
        assert response.status_code == 201, response.get_json()
        queued.append(response.get_json()["queued"])

    queued: list[int] = []
    send(group_id=group_id)  # warm-up, not counted
    to_group = [timed(lambda: send(group_id=group_id)) for _ in range(runs)]
    to_school = [timed(lambda: send(school_id=1)) for _ in range(runs)]
    policy = client.post(
        "/api/v1/policies", json={"name": "Kamera", "document": CAMERA[0]}, headers=headers
    ).get_json()
    url = f"/api/v1/policies/{policy['id']}"
    assignment = timed(
        lambda: client.post(
            f"{url}/assignments", json={"target": "group", "group_id": group_id}, headers=headers
        )
    )

    def change(n: int) -> None:
        response = client.patch(url, json={"document": CAMERA[(n + 1) % 2]}, headers=headers)
        assert response.status_code == 200

    changes = [timed(lambda n=n: change(n)) for n in range(runs)]
    print(
        f"| {database} | {_ms(to_group)} | {_ms(to_school)} | {_ms(changes)} | "
        f"{assignment * 1000:.0f} ms |"
    )
    print(f"commands queued per request: {sorted(set(queued))}")


def _ms(values: list[float]) -> str:
    low, high = min(values) * 1000, max(values) * 1000
    return f"{statistics.median(values) * 1000:.0f} ms ({low:.0f}-{high:.0f})"


def growth(app, database: str, days: int) -> None:
    from sqlalchemy import func, insert, literal, select, text, update

    from mdm.commands import service
    from mdm.commands.models import Command, CommandEvent
    from mdm.extensions import db
    from mdm.platform.actors import Actor

    make_devices(app, 10_000, "Jahrgang")
    start = datetime(2027, 1, 4, 7, 0, tzinfo=UTC)
    tables = ("commands", "command_events", "command_batches", "push_wakeups")
    rows: list[str] = []
    with app.app_context():
        postgres = db.engine.dialect.name == "postgresql"
        for day in range(1, days + 1):
            now = start + timedelta(days=day)
            batch = service.queue(
                db.session,
                Actor.system("bench"),
                type="refresh_inventory",
                target=service.Target(school_id=1),
                now=now,
            )
            # 95% of the devices check in and answer within the hour; the rest stay offline.
            answered = (Command.batch_id == batch.id) & (Command.device_id % 20 != 0)
            done = now + timedelta(minutes=30)
            for status, at in (("sent", now + timedelta(minutes=5)), ("acknowledged", done)):
                db.session.execute(
                    insert(CommandEvent).from_select(
                        ["command_id", "school_id", "at", "status", "detail"],
                        select(
                            Command.id,
                            Command.school_id,
                            literal(at, CommandEvent.at.type),
                            literal(status),
                            literal(""),
                        ).where(answered),
                    )
                )
            db.session.execute(
                update(Command)
                .where(answered)
                .values(
                    status="acknowledged", sent_at=now, finished_at=done, due_at=None, attempts=1
                )
            )
            db.session.execute(text("DELETE FROM push_wakeups"))  # the push job sent them
            evening = now + timedelta(hours=12)
            service.expire(db.session, evening)
            service.prune(db.session, evening)
            db.session.commit()
            if postgres:  # what autovacuum does in the course of a day
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                    c.exec_driver_sql(f"VACUUM {', '.join(tables)}")
            if day in (days // 2, days):
                rows.extend(_table_rows(db.session, database, day, tables, postgres))
        statuses = dict(
            db.session.execute(select(Command.status, func.count()).group_by(Command.status)).all()
        )
    print("| database | day | table | rows | size |\n|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"commands by status on day {days}: {statuses}")


def _table_rows(
    session, database: str, day: int, tables: tuple[str, ...], postgres: bool
) -> list[str]:
    from sqlalchemy import text

    if postgres:
        sizes = {t: session.scalar(text(f"SELECT pg_total_relation_size('{t}')")) for t in tables}
    else:
        sizes = dict(
            session.execute(
                text(
                    "SELECT tbl_name, sum(pgsize) FROM dbstat JOIN sqlite_master "
                    "ON dbstat.name = sqlite_master.name GROUP BY tbl_name"
                )
            ).all()
        )
    return [
        f"| {database} | {day} | {table} | "
        f"{session.scalar(text(f'SELECT count(*) FROM {table}'))} | "
        f"{(sizes.get(table) or 0) / 1024 / 1024:.1f} MB |"
        for table in tables
    ]


def checkins(app, url: str, args: argparse.Namespace) -> None:
    folder = Path(url.removeprefix("sqlite:///")).parent if url.startswith("sqlite") else workdir()
    plain_file, work_file = folder / "plain-secrets.txt", folder / "work-secrets.txt"
    make_devices(app, args.devices, "Ruhig", plain_file)
    work_group = make_devices(app, args.devices, "Arbeit", work_file)
    client = app.test_client()
    headers = admin_headers(client)
    policy = client.post(
        "/api/v1/policies", json={"name": "Kamera", "document": CAMERA[0]}, headers=headers
    ).get_json()
    client.post(
        f"/api/v1/policies/{policy['id']}/assignments",
        json={"target": "group", "group_id": work_group},
        headers=headers,
    )
    env = environment(url)
    series: dict[str, list] = {"ceiling": [], "plain": [], "work": [], "baseline": []}
    servers = [
        gunicorn("bench.ceiling:create_app()", env, args.workers, args.threads),
        gunicorn("mdm:create_app()", env, args.workers, args.threads),
    ]
    if args.baseline:
        servers.append(_baseline_server(args.baseline, env, args.workers, args.threads))
    with servers[0] as ceiling_base, servers[1] as base:
        baseline_base = servers[2].__enter__() if args.baseline else None
        try:
            options = {"seconds": args.seconds, "connections": args.connections}
            plain = {"script": HERE / "checkin.lua", "script_args": [str(plain_file)]}
            work = {"script": HERE / "checkin.lua", "script_args": [str(work_file)]}
            endpoint = "/api/agent/v1/checkin"
            wrk(base + endpoint, seconds=2, connections=args.connections, **plain)  # warm-up
            for n in range(args.rounds):
                # Everything in the work group is due: a new policy version and a command.
                client.patch(
                    f"/api/v1/policies/{policy['id']}",
                    json={"document": CAMERA[(n + 1) % 2]},
                    headers=headers,
                )
                client.post(
                    "/api/v1/commands",
                    json={"type": "refresh_inventory", "group_id": work_group},
                    headers=headers,
                )
                settle(app)
                series["ceiling"].append(wrk(ceiling_base + "/ceiling", **options))
                # Plain check-ins of this code and of the code before, in turns first.
                pair = [("plain", base)] + ([("baseline", baseline_base)] if baseline_base else [])
                for name, server in pair if n % 2 == 0 else reversed(pair):
                    series[name].append(wrk(server + endpoint, **options, **plain))
                series["work"].append(wrk(base + endpoint, **options, **work))
        finally:
            if args.baseline:
                servers[2].__exit__(None, None, None)
    database = "SQLite" if args.database == "sqlite" else "PostgreSQL"
    print(RATIO_HEADER)
    if series["baseline"]:
        print(
            ratio_row(
                f"{database}: plain check-ins, before issue 11",
                series["baseline"],
                series["ceiling"],
            )
        )
    print(
        ratio_row(f"{database}: plain check-ins (nothing due)", series["plain"], series["ceiling"])
    )
    print(
        ratio_row(
            f"{database}: check-ins with a new policy and a command due",
            series["work"],
            series["ceiling"],
        )
    )
    print(
        f"{args.rounds} rounds x {args.seconds}s, {args.connections} connections, gunicorn "
        f"{args.workers} workers x {args.threads} threads, {args.devices} devices per kind"
    )


def settle(app) -> None:
    """Let the database write out what marking 10,000 devices left behind (as it would in the
    minutes between such changes), so that it does not land on the next measurement."""
    from mdm.extensions import db

    with app.app_context(), db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql(
                "VACUUM ANALYZE device_policies, commands, command_events, push_wakeups"
            )
            connection.exec_driver_sql("CHECKPOINT")
        else:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _baseline_server(folder: str, env: dict[str, str], workers: int, threads: int):
    """gunicorn serving the code in `folder` (its mdm package first on the path)."""
    import bench.harness as harness

    class Baseline:
        def __enter__(self) -> str:
            self._root = harness.ROOT
            harness.ROOT = Path(folder)
            self._context = gunicorn(
                "mdm:create_app()", env | {"PYTHONPATH": folder}, workers, threads
            )
            try:
                return self._context.__enter__()
            finally:
                harness.ROOT = self._root

        def __exit__(self, *exc) -> None:
            self._context.__exit__(*exc)

    return Baseline()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=("timings", "growth", "checkins"), required=True)
    parser.add_argument("--database", default="sqlite")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--baseline", help="a folder with the code before issue 11")
    args = parser.parse_args()
    folder = workdir()
    url = database_url(args.database, folder)
    app = migrated_app(url)
    database = "SQLite" if args.database == "sqlite" else "PostgreSQL"
    if args.part == "timings":
        timings(app, database, args.runs)
    elif args.part == "growth":
        growth(app, database, args.days)
    else:
        checkins(app, url, args)


if __name__ == "__main__":
    main()
