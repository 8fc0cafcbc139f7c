"""Apple MDM load: simulated iPads sending signed messages to gunicorn, beside the ceiling.

    python bench/apple_bench.py [--database sqlite|postgresql+psycopg://...] [--ipads 10000]

Sets up the iPads in bulk (enrolled, each with its own identity certificate of the school's
device CA, as an enrollment leaves it; one RSA key shared by all, to spare 10,000 key
generations), signs each iPad's messages once (the signature is over a fixed body), then:

- rounds of wrk, back to back: the framework ceiling (a trivial Flask endpoint on the same
  gunicorn configuration), the command endpoint (`Idle`, nothing due: the answer is an empty
  200), and the check-in endpoint (`TokenUpdate`); medians, p99 and the ratio to the ceiling;
- the time to deliver one queued command to all: a `lock` is queued for the whole school (its
  API request, timed on its own), then every iPad sends `Idle` once (32 at a time, keep-alive
  connections) and must be answered with its DeviceLock; the time from queueing until the last
  iPad has its command.
"""

import argparse
import base64
import http.client
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import RATIO_HEADER, gunicorn, ratio_row, wrk  # noqa: E402
from bench.setup_db import database_url, environment, migrated_app, workdir  # noqa: E402

HERE = Path(__file__).resolve().parent
TOPIC = "com.apple.mgmt.External.bench"
PLIST = '<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict>{}</dict></plist>'


def _plist(**values: str) -> bytes:
    """A one-line XML plist of string values (the wrk script sends one line per message)."""
    items = "".join(f"<key>{k}</key><string>{v}</string>" for k, v in values.items())
    return PLIST.format(items).encode()


def _token_update(udid: str) -> bytes:
    token = base64.b64encode(udid.encode().ljust(32, b"0")[:32]).decode()
    items = (
        "<key>MessageType</key><string>TokenUpdate</string>"
        f"<key>PushMagic</key><string>magic-{udid}</string>"
        f"<key>Token</key><data>{token}</data>"
        f"<key>Topic</key><string>{TOPIC}</string><key>UDID</key><string>{udid}</string>"
    )
    return PLIST.format(items).encode()


def make_ipads(
    app, count: int, folder: Path, identities: dict | None = None
) -> list[tuple[str, str]]:
    """`count` enrolled iPads of the demo school with identities; writes the signed Idle and
    TokenUpdate messages for wrk, returns each iPad's (Mdm-Signature, Idle body). With
    `identities`, it gets the shared key ("key") and each iPad's (device id, certificate) by
    UDID ("ipads"), for a client that signs messages of its own."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs7
    from cryptography.x509.oid import NameOID
    from sqlalchemy import insert, select, text

    from mdm.accounts.demo import seed_demo
    from mdm.accounts.models import School
    from mdm.apple.models import AppleDevice
    from mdm.devices import credentials, identity
    from mdm.devices.models import Device, DeviceCredential
    from mdm.extensions import db
    from mdm.policies.merge import EMPTY_HASH
    from mdm.policies.models import DevicePolicyState
    from mdm.push.models import PushSettings

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench")]))
        .sign(key, hashes.SHA256())
    )
    idle_lines, update_lines, idles = [], [], []
    if identities is not None:
        identities["key"], identities["ipads"] = key, {}
    with app.app_context():
        seed_demo(app, db.session)
        school = db.session.scalar(select(School).where(School.slug == "demo"))
        db.session.add(PushSettings(school_id=school.id, apns_topic=TOPIC))
        ca = credentials.school_ca(db.session, school)
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
                    "platform": "ipados",
                    "model": "iPad13,1",
                    "name": f"iPad-{device_id}",
                    "user_role": "shared",
                    "status": "enrolled",
                    "enrolled_at": now,
                    "inventory": {"IsSupervised": True},
                    "inventory_hash": "",
                    "config_version": 1,
                }
                for device_id in ids
            ],
        )
        rows, apple_rows = [], []
        for device_id in ids:
            cert = identity.issue_device_certificate(ca, csr, str(device_id), school.slug)
            udid = f"BENCH-{device_id:08d}"
            if identities is not None:
                identities["ipads"][udid] = (device_id, cert)
            rows.append(
                {
                    "school_id": school.id,
                    "device_id": device_id,
                    "lookup_key": f"apple{device_id:011d}",
                    "secret_hash": "",
                    "certificate_serial": format(cert.serial_number, "x"),
                    "certificate_fingerprint": identity.certificate_fingerprint(cert),
                    "not_after": cert.not_valid_after_utc,
                }
            )
            apple_rows.append(
                {
                    "device_id": device_id,
                    "school_id": school.id,
                    "udid": udid,
                    "topic": TOPIC,
                    "created_at": now,
                    "authenticated_at": now,
                    "token_updated_at": now,
                    "supervised": True,
                    "policy_left_out": [],
                }
            )
            for body, lines in (
                (_plist(Status="Idle", UDID=udid), idle_lines),
                (_token_update(udid), update_lines),
            ):
                der = (
                    pkcs7.PKCS7SignatureBuilder()
                    .set_data(body)
                    .add_signer(cert, key, hashes.SHA256())
                    .sign(
                        serialization.Encoding.DER,
                        [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
                    )
                )
                signature = base64.b64encode(der).decode()
                lines.append(f"{signature}\t{body.decode()}")
                if lines is idle_lines:
                    idles.append((signature, body.decode()))
        db.session.execute(insert(DeviceCredential), rows)
        db.session.execute(insert(AppleDevice), apple_rows)
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
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE"))
            db.session.commit()
    (folder / "idle.txt").write_text("\n".join(idle_lines) + "\n")
    (folder / "token-update.txt").write_text("\n".join(update_lines) + "\n")
    return idles


def deliver_to_all(base: str, idles: list[tuple[str, str]], app, concurrency: int) -> tuple:
    """Queue a lock for the school, then let every iPad ask once; (queue s, total s)."""
    client = app.test_client()
    login = client.post("/api/v1/auth/login", json={"username": "admin", "password": "demo1234"})
    admin = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
    with app.app_context():
        from sqlalchemy import select

        from mdm.accounts.models import School
        from mdm.extensions import db

        school_id = db.session.scalar(select(School.id).where(School.slug == "demo"))
    host = base.removeprefix("http://")
    local = threading.local()
    failures: list[str] = []

    def ask(message: tuple[str, str]) -> None:
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection(host, timeout=30)
        signature, body = message
        connection.request(
            "PUT",
            "/apple/mdm/connect",
            body=body.encode(),
            headers={"Mdm-Signature": signature, "Content-Type": "application/x-apple-aspen-mdm"},
        )
        response = connection.getresponse()
        data = response.read()
        if response.status != 200 or b"DeviceLock" not in data:
            failures.append(f"{response.status} {data[:200]!r}")

    started = time.perf_counter()
    queued = client.post(
        "/api/v1/commands",
        json={"type": "lock", "school_id": school_id, "parameters": {"message": "Bench"}},
        headers=admin,
    )
    queue_seconds = time.perf_counter() - started
    if queued.status_code != 201:
        raise RuntimeError(f"queueing failed: {queued.status_code} {queued.get_json()}")
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(ask, idles))
    total = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} iPads did not get the lock, e.g. {failures[0]}")
    return queue_seconds, total, queued.get_json()["queued"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="sqlite")
    parser.add_argument("--ipads", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (one per core)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    folder = workdir()
    url = database_url(args.database, folder)
    app = migrated_app(url)
    started = time.perf_counter()
    idles = make_ipads(app, args.ipads, folder)
    print(f"set up {args.ipads} iPads in {time.perf_counter() - started:.0f}s", flush=True)
    env = environment(url)
    idle = {
        "script": HERE / "apple.lua",
        "script_args": [
            str(folder / "idle.txt"),
            "/apple/mdm/connect",
            "application/x-apple-aspen-mdm",
        ],
    }
    update = {
        "script": HERE / "apple.lua",
        "script_args": [
            str(folder / "token-update.txt"),
            "/apple/mdm/checkin",
            "application/x-apple-aspen-mdm-checkin",
        ],
    }
    ceilings, connects, check_ins = [], [], []
    with (
        gunicorn("bench.ceiling:create_app()", env, args.workers, args.threads) as ceiling_base,
        gunicorn("mdm:create_app()", env, args.workers, args.threads) as base,
    ):
        wrk(base + "/apple/mdm/connect", seconds=2, connections=args.connections, **idle)
        for _ in range(args.rounds):
            ceilings.append(
                wrk(ceiling_base + "/ceiling", seconds=args.seconds, connections=args.connections)
            )
            connects.append(
                wrk(
                    base + "/apple/mdm/connect",
                    seconds=args.seconds,
                    connections=args.connections,
                    **idle,
                )
            )
            check_ins.append(
                wrk(
                    base + "/apple/mdm/checkin",
                    seconds=args.seconds,
                    connections=args.connections,
                    **update,
                )
            )
        queue_seconds, total, queued = deliver_to_all(base, idles, app, args.connections)
    database = "SQLite" if args.database == "sqlite" else "PostgreSQL"
    print(RATIO_HEADER)
    print(ratio_row(f"{database}: command endpoint (Idle), {args.ipads} iPads", connects, ceilings))
    print(ratio_row(f"{database}: check-in (TokenUpdate), {args.ipads} iPads", check_ins, ceilings))
    print(
        f"{args.rounds} rounds x {args.seconds}s, {args.connections} connections, gunicorn "
        f"{args.workers} workers x {args.threads} threads"
    )
    print(
        f"one lock to the school's {queued} devices: queued in {queue_seconds:.2f}s (the API "
        f"request), each of the {len(idles)} iPads had its DeviceLock after {total:.1f}s "
        f"({len(idles) / total:.0f} deliveries/s, {args.connections} iPads asking at a time)"
    )
    print(
        "command endpoint per round: "
        + ", ".join(f"{r.requests_per_second:.0f}/s p99 {r.p99_ms:.0f}ms" for r in connects)
    )


if __name__ == "__main__":
    main()
