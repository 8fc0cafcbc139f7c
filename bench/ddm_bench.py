"""A policy change reaching iPads: by a profile (iPadOS 16) and by declarations (17 and later),
side by side on one gunicorn.

    python bench/ddm_bench.py [--database sqlite|postgresql+psycopg://...] [--ipads 1000]

Sets up twice `--ipads` enrolled, supervised iPads (as bench/apple_bench.py does): the first
half on iPadOS 16 (the profile path), the second on 17 (declarative device management). Each
round changes the school's policy through the API (timed on its own) and then lets every iPad
of one half, then of the other, do what a real one does when woken (32 at a time, keep-alive
connections, each message signed with the iPad's identity):

- profile path: Idle, gets InstallProfile, Acknowledged;
- declarations: Idle, gets DeclarativeManagement, fetches the tokens, the declaration list, each
  declaration it does not hold yet and the legacy profile it names, sends its status report
  (every configuration valid and active), Acknowledged.

A wave ends when every iPad of the half has answered; then every one must count as compliant
(the policy's applied hash is its desired one). Printed: medians over the rounds of each
path's seconds and iPads per second, the ratio of the two, requests per iPad, and how much of
the wave the client spent signing (the client shares the machine with the server).
"""

import argparse
import base64
import http.client
import json
import plistlib
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.apple_bench import make_ipads  # noqa: E402
from bench.harness import gunicorn  # noqa: E402
from bench.setup_db import database_url, environment, migrated_app, workdir  # noqa: E402

CHECK_IN = ("/apple/mdm/checkin", "application/x-apple-aspen-mdm-checkin")
CONNECT = ("/apple/mdm/connect", "application/x-apple-aspen-mdm")


def policy_document(round_: int) -> dict[str, Any]:
    """The school's policy in a round: every round changes the passcode's length."""
    return {
        "passcode": {"required": True, "min_length": 6 + round_},
        "restrictions": {"allow_camera": True, "allow_app_store": False},
        "wifi": [{"ssid": "Schul-WLAN", "security": "wpa2", "password": "geheim123"}],
    }


class Client:
    """One thread's keep-alive connection and signing, with what it spent signing."""

    def __init__(self, host: str, key: Any) -> None:
        self.connection = http.client.HTTPConnection(host, timeout=60)
        self.key = key
        self.signing = 0.0
        self.requests = 0

    def _sign(self, body: bytes, cert: Any) -> str:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.serialization import pkcs7

        started = time.perf_counter()
        der = (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(body)
            .add_signer(cert, self.key, hashes.SHA256())
            .sign(
                serialization.Encoding.DER,
                [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
            )
        )
        self.signing += time.perf_counter() - started
        return base64.b64encode(der).decode()

    def request(self, method: str, path: str, body: bytes = b"", **headers: str) -> bytes:
        self.connection.request(method, path, body=body or None, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        self.requests += 1
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
        return data

    def send(self, endpoint: tuple[str, str], message: dict[str, Any], cert: Any) -> bytes:
        body = plistlib.dumps(message)
        signature = self._sign(body, cert)
        return self.request(
            "PUT", endpoint[0], body, **{"Mdm-Signature": signature, "Content-Type": endpoint[1]}
        )


def _command(data: bytes) -> dict[str, Any]:
    if not data:
        raise RuntimeError("the iPad got no command")
    return plistlib.loads(data)


def profile_ipad(client: Client, udid: str, cert: Any) -> None:
    """iPadOS 16: Idle, InstallProfile, Acknowledged."""
    command = _command(client.send(CONNECT, {"UDID": udid, "Status": "Idle"}, cert))
    if command["Command"]["RequestType"] != "InstallProfile":
        raise RuntimeError(f"expected InstallProfile, got {command['Command']['RequestType']}")
    done = {"UDID": udid, "Status": "Acknowledged", "CommandUUID": command["CommandUUID"]}
    if client.send(CONNECT, done, cert):
        raise RuntimeError("the iPad got a second command")


def declarative_ipad(client: Client, udid: str, cert: Any, held: dict[str, dict]) -> None:
    """iPadOS 17: Idle, DeclarativeManagement, the synchronization, status, Acknowledged."""
    command = _command(client.send(CONNECT, {"UDID": udid, "Status": "Idle"}, cert))
    if command["Command"]["RequestType"] != "DeclarativeManagement":
        raise RuntimeError(f"expected DeclarativeManagement, got {command['Command']}")

    def ask(endpoint: str) -> dict[str, Any]:
        message = {"UDID": udid, "MessageType": "DeclarativeManagement", "Endpoint": endpoint}
        return json.loads(client.send(CHECK_IN, message, cert))

    tokens = ask("tokens")["SyncTokens"]["DeclarationsToken"]
    items = ask("declaration-items")
    if items["DeclarationsToken"] != tokens:
        raise RuntimeError("the declaration list has another token")
    listed = {}
    for group, kind in (("Activations", "activation"), ("Configurations", "configuration")):
        for item in items["Declarations"][group]:
            listed[item["Identifier"]] = (kind, item["ServerToken"])
    for identifier in set(held) - set(listed):
        del held[identifier]
    for identifier, (kind, token) in listed.items():
        if held.get(identifier, {}).get("ServerToken") != token:
            held[identifier] = ask(f"declaration/{kind}/{identifier}")
            payload = held[identifier]["Payload"]
            if held[identifier]["Type"] == "com.apple.configuration.legacy":
                client.request("GET", urlsplit(payload["ProfileURL"]).path)
    configurations = [
        {
            "identifier": identifier,
            "server-token": declaration["ServerToken"],
            "active": True,
            "valid": "valid",
        }
        for identifier, declaration in sorted(held.items())
        if declaration["Type"].startswith("com.apple.configuration.")
    ]
    report = {
        "StatusItems": {
            "device": {"operating-system": {"version": "17.6.1", "family": "iPadOS"}},
            "passcode": {"is-compliant": True, "is-present": True},
            "management": {
                "declarations": {
                    "activations": [],
                    "configurations": configurations,
                    "assets": [],
                    "management": [],
                }
            },
        },
        "Errors": [],
        "FullReport": True,
    }
    status = {
        "UDID": udid,
        "MessageType": "DeclarativeManagement",
        "Endpoint": "status",
        "Data": json.dumps(report).encode(),
    }
    client.send(CHECK_IN, status, cert)
    done = {"UDID": udid, "Status": "Acknowledged", "CommandUUID": command["CommandUUID"]}
    if client.send(CONNECT, done, cert):
        raise RuntimeError("the iPad got a second command")


def wave(host: str, key: Any, ipads: list[tuple[str, Any]], work, concurrency: int) -> dict:
    """Every iPad of `ipads` does `work` once, `concurrency` at a time."""
    local = threading.local()
    clients: list[Client] = []
    lock = threading.Lock()

    def run(ipad: tuple[str, Any]) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = Client(host, key)
            with lock:
                clients.append(client)
        work(client, *ipad)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(run, ipads))
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "per_second": len(ipads) / seconds,
        "requests": sum(client.requests for client in clients) / len(ipads),
        "signing": sum(client.signing for client in clients),
    }


def compliant(app, device_ids: list[int]) -> int:
    from sqlalchemy import func, select

    from mdm.extensions import db
    from mdm.policies.models import DevicePolicyState

    with app.app_context():
        return db.session.scalar(
            select(func.count())
            .select_from(DevicePolicyState)
            .where(
                DevicePolicyState.device_id.in_(device_ids),
                DevicePolicyState.applied_hash == DevicePolicyState.desired_hash,
            )
        )


def declarative_states(app, device_ids: list[int]) -> None:
    """The second half gets its policy by declarations from now on (iPadOS 17)."""
    from sqlalchemy import insert, select

    from mdm.accounts.models import School
    from mdm.apple.models import AppleDeclarativeState
    from mdm.extensions import db

    now = datetime.now(UTC)
    with app.app_context():
        school_id = db.session.scalar(select(School.id).where(School.slug == "demo"))
        db.session.execute(
            insert(AppleDeclarativeState),
            [
                {
                    "device_id": device_id,
                    "school_id": school_id,
                    "created_at": now,
                    "token": "",
                    "token_at": now,
                    "status": {},
                    "status_errors": [],
                }
                for device_id in device_ids
            ],
        )
        db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="sqlite")
    parser.add_argument("--ipads", type=int, default=1000, help="iPads on each path")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (one per core)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    folder = workdir()
    url = database_url(args.database, folder)
    app = migrated_app(url)
    identities: dict[str, Any] = {}
    started = time.perf_counter()
    make_ipads(app, 2 * args.ipads, folder, identities)
    ipads = sorted(identities["ipads"].items(), key=lambda item: item[1][0])
    profile_half = [(udid, cert) for udid, (_, cert) in ipads[: args.ipads]]
    declarative_half = [(udid, cert) for udid, (_, cert) in ipads[args.ipads :]]
    profile_ids = [device_id for _, (device_id, _) in ipads[: args.ipads]]
    declarative_ids = [device_id for _, (device_id, _) in ipads[args.ipads :]]
    declarative_states(app, declarative_ids)
    print(f"set up {2 * args.ipads} iPads in {time.perf_counter() - started:.0f}s", flush=True)

    admin_client = app.test_client()
    login = admin_client.post(
        "/api/v1/auth/login", json={"username": "admin", "password": "demo1234"}
    )
    admin = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
    held: dict[str, dict[str, dict]] = {udid: {} for udid, _ in declarative_half}
    key = identities["key"]
    results: dict[str, list[dict]] = {"profile": [], "declarations": []}
    changes: list[float] = []
    policy_id = None
    with gunicorn("mdm:create_app()", environment(url), args.workers, args.threads) as base:
        host = base.removeprefix("http://")
        for round_ in range(args.rounds):
            started = time.perf_counter()
            if policy_id is None:
                made = admin_client.post(
                    "/api/v1/policies",
                    json={"name": "Bench", "document": policy_document(round_)},
                    headers=admin,
                )
                policy_id = made.get_json()["id"]
                changed = admin_client.post(
                    f"/api/v1/policies/{policy_id}/assignments",
                    json={"target": "school"},
                    headers=admin,
                )
            else:
                changed = admin_client.patch(
                    f"/api/v1/policies/{policy_id}",
                    json={"document": policy_document(round_)},
                    headers=admin,
                )
            changes.append(time.perf_counter() - started)
            if changed.status_code not in (200, 201):
                raise RuntimeError(f"the policy change failed: {changed.get_json()}")
            results["profile"].append(wave(host, key, profile_half, profile_ipad, args.connections))
            results["declarations"].append(
                wave(
                    host,
                    key,
                    declarative_half,
                    lambda client, udid, cert: declarative_ipad(client, udid, cert, held[udid]),
                    args.connections,
                )
            )
            for name, ids in (("profile", profile_ids), ("declarations", declarative_ids)):
                if compliant(app, ids) != len(ids):
                    raise RuntimeError(f"round {round_}: not every {name} iPad is compliant")
            print(f"round {round_ + 1} done", flush=True)

    database = "SQLite" if args.database == "sqlite" else "PostgreSQL"
    print(
        f"\n{database}, {args.ipads} iPads per path, {args.rounds} rounds, "
        f"{args.connections} at a time, gunicorn {args.workers} workers x {args.threads} threads"
    )
    print(
        f"policy change (API request, {2 * args.ipads} iPads due): median "
        f"{statistics.median(changes):.2f}s"
    )
    print("| path | wave s (median) | iPads/s (median) | requests per iPad | client signing s |")
    print("|---|---|---|---|---|")
    for name, runs in results.items():
        print(
            f"| {name} | {statistics.median(r['seconds'] for r in runs):.1f} | "
            f"{statistics.median(r['per_second'] for r in runs):.0f} | "
            f"{statistics.median(r['requests'] for r in runs):.1f} | "
            f"{statistics.median(r['signing'] for r in runs):.1f} |"
        )
    ratios = [
        d["per_second"] / p["per_second"]
        for p, d in zip(results["profile"], results["declarations"], strict=True)
    ]
    print(
        "declarations / profile, iPads per second: median "
        f"{statistics.median(ratios):.2f} (rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
    )


if __name__ == "__main__":
    main()
