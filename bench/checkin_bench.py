"""Check-in load: 10,000 enrolled devices checking in against gunicorn, beside the ceiling.

    python bench/checkin_bench.py [--database sqlite|postgresql+psycopg://...] [--devices 10000]

Enrolls the devices through the agent protocol (in-process), then runs wrk against the check-in
endpoint and against a trivial Flask endpoint on the same gunicorn configuration, alternating,
several rounds; prints medians and the ratio to the ceiling as a markdown table row.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import RATIO_HEADER, gunicorn, ratio_row, wrk  # noqa: E402
from bench.setup_db import database_url, environment, migrated_app, workdir  # noqa: E402

HERE = Path(__file__).resolve().parent


def enroll_devices(app, count: int, secrets_file: Path) -> None:
    """Create a school with an admin and a token, and enroll `count` devices through the API."""
    from mdm.accounts.demo import seed_demo
    from mdm.extensions import db

    with app.app_context():
        seed_demo(app, db.session)
        db.session.commit()
    client = app.test_client()
    login = client.post("/api/v1/auth/login", json={"username": "admin", "password": "demo1234"})
    admin = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
    token = client.post(
        "/api/v1/enrollment-tokens",
        headers=admin,
        json={"ownership": "school", "user_role": "shared", "max_uses": count},
    )
    secret = token.get_json()["secret"]
    platforms = ("android", "windows", "linux")
    with secrets_file.open("w") as out:
        for n in range(count):
            answer = client.post(
                "/api/agent/v1/enroll",
                json={
                    "token": secret,
                    "platform": platforms[n % 3],
                    "model": "Bench Tablet",
                    "os_version": "14",
                    "name": f"bench-{n:05d}",
                    "inventory": {"battery": 50},
                },
            )
            if answer.status_code != 201:
                raise RuntimeError(f"enroll {n} failed: {answer.status_code} {answer.get_json()}")
            out.write(answer.get_json()["credential"]["secret"] + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="sqlite")
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (one per core)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    folder = workdir()
    url = database_url(args.database, folder)
    app = migrated_app(url)
    secrets_file = folder / "device-secrets.txt"
    enroll_devices(app, args.devices, secrets_file)
    env = environment(url)

    checkins, ceilings = [], []
    # Both servers stay up; each round measures the ceiling, then the check-ins, back to back.
    with (
        gunicorn("bench.ceiling:create_app()", env, args.workers, args.threads) as ceiling_base,
        gunicorn("mdm:create_app()", env, args.workers, args.threads) as base,
    ):
        checkin = {"script": HERE / "checkin.lua", "script_args": [str(secrets_file)]}
        url = base + "/api/agent/v1/checkin"
        wrk(url, seconds=2, connections=args.connections, **checkin)  # warm-up, not counted
        for _ in range(args.rounds):
            ceilings.append(
                wrk(ceiling_base + "/ceiling", seconds=args.seconds, connections=args.connections)
            )
            checkins.append(wrk(url, seconds=args.seconds, connections=args.connections, **checkin))
    database = "SQLite" if args.database == "sqlite" else "PostgreSQL"
    print(RATIO_HEADER)
    print(ratio_row(f"{database}: check-ins of {args.devices} devices", checkins, ceilings))
    print(
        f"{args.rounds} rounds x {args.seconds}s, {args.connections} connections, gunicorn "
        f"{args.workers} workers x {args.threads} threads; check-ins per round: "
        + ", ".join(f"{r.requests_per_second:.0f}/s p99 {r.p99_ms:.0f}ms" for r in checkins)
    )


if __name__ == "__main__":
    main()
