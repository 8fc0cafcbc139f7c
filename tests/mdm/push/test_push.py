"""Push: wake-ups queued one per device, sent through APNs (a real HTTP/2 TLS server on
loopback answering as Apple does), a school's signed webhook (a real HTTP server) or the log;
retried with back-off; a failed push never loses work."""

import hashlib
import hmac
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from mdm.accounts.models import School
from mdm.devices.models import Device
from mdm.extensions import db
from mdm.platform.models import AuditEvent
from mdm.platform.types import utcnow
from mdm.push import jobs, service
from mdm.push.gateway import classify_apns, pinned_target, public_address
from mdm.push.models import PushAddress, PushSettings, PushWakeup
from tests.mdm.push.servers import (
    TOPIC,
    ApnsServer,
    Certificates,
    WebhookServer,
    apns_server,
    webhook_server,
)

Headers = dict[str, str]


def wakeups() -> dict[int, PushWakeup]:
    db.session.expire_all()
    return {row.device_id: row for row in db.session.scalars(select(PushWakeup))}


def lock(client: FlaskClient, headers: Headers, devices: list[dict[str, Any]]) -> None:
    body = {"type": "refresh_inventory", "device_ids": [d["device_id"] for d in devices]}
    assert client.post("/api/v1/commands", json=body, headers=headers).status_code == 201


def due_now() -> None:
    """Let the back-off pass: every waiting wake-up is due."""
    for row in wakeups().values():
        row.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()


def test_apns_answers_are_mapped_as_apple_documents_them() -> None:
    assert classify_apns(200, "") == ("sent", None, None)
    assert classify_apns(410, "Unregistered")[0] == "invalid"
    assert classify_apns(400, "BadDeviceToken")[0] == "invalid"
    assert classify_apns(400, "DeviceTokenNotForTopic")[0] == "invalid"
    assert classify_apns(429, "TooManyRequests") == ("retry", "APNs 429 TooManyRequests", None)
    assert classify_apns(503, "ServiceUnavailable")[0] == "retry"
    result, _, settings = classify_apns(403, "BadCertificate")
    assert result == "retry" and settings == "APNs 403 BadCertificate"


def test_back_off_doubles_up_to_the_maximum() -> None:
    steps = [service.backoff(n, 30, 3600).total_seconds() for n in range(1, 10)]
    assert steps == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_one_wake_up_per_device_and_the_log_by_default(
    app: Flask,
    client: FlaskClient,
    admin_headers: Headers,
    make_devices: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    devices = make_devices(2)
    lock(client, admin_headers, devices)
    lock(client, admin_headers, devices)
    assert sorted(wakeups()) == [d["device_id"] for d in devices]

    with caplog.at_level("INFO", logger="mdm.push.gateway"):
        assert jobs.send_wakeups() == {"sent": 2, "retry": 0, "invalid": 0, "failed": 0}
    assert wakeups() == {}
    assert f"wake-up of device {devices[0]['device_id']}" in caplog.text


@pytest.fixture
def webhook(
    app: Flask, client: FlaskClient, admin_headers: Headers, school: School
) -> Iterator[tuple[WebhookServer, str]]:
    app.config["PUSH_WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = True
    with webhook_server() as server:
        response = client.put(
            f"/api/v1/schools/{school.id}/push/webhook",
            json={"url": server.url},
            headers=admin_headers,
        )
        assert response.status_code == 200, response.get_json()
        secret = response.get_json()["webhook_secret"]
        yield server, secret


def test_the_webhook_gets_a_signed_wake_up_naming_the_devices(
    client: FlaskClient,
    admin_headers: Headers,
    school: School,
    make_devices: Callable[..., Any],
    webhook: tuple[WebhookServer, str],
) -> None:
    server, secret = webhook
    devices = make_devices(2)
    lock(client, admin_headers, devices)

    assert jobs.send_wakeups()["sent"] == 2

    [request] = server.requests
    signature = dict(
        part.split("=", 1) for part in request["headers"]["X-MDM-Signature"].split(",")
    )
    expected = hmac.new(
        secret.encode(), signature["t"].encode() + b"." + request["body"], hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(signature["v1"], expected)
    body = json.loads(request["body"])
    assert body["type"] == "wake-up" and body["school"] == school.slug
    assert [d["id"] for d in body["devices"]] == [d["device_id"] for d in devices]
    assert body["devices"][0] == {
        "id": devices[0]["device_id"],
        "platform": "android",
        "reason": "command",
    }
    settings = client.get(f"/api/v1/schools/{school.id}/push", headers=admin_headers).get_json()
    assert settings["webhook_secret_set"] and "webhook_secret" not in settings
    again = client.put(
        f"/api/v1/schools/{school.id}/push/webhook", json={"url": server.url}, headers=admin_headers
    ).get_json()
    assert "webhook_secret" not in again  # kept, not shown again
    audit = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.startswith("push."))
    )
    assert list(audit) == ["push.webhook.set", "push.webhook.set"]


def test_a_failing_webhook_is_retried_with_back_off_given_up_and_loses_nothing(
    app: Flask,
    client: FlaskClient,
    admin_headers: Headers,
    school: School,
    enrolled: dict[str, Any],
    webhook: tuple[WebhookServer, str],
    check_in: Callable[..., Any],
) -> None:
    server, _ = webhook
    server.status = 503
    app.config["PUSH_MAX_ATTEMPTS"] = 3
    lock(client, admin_headers, [enrolled])

    assert jobs.send_wakeups()["retry"] == 1
    row = wakeups()[enrolled["device_id"]]
    assert row.attempts == 1 and row.last_error == "webhook answered 503"
    assert 25 <= (row.next_attempt_at - utcnow()).total_seconds() <= 30
    assert jobs.send_wakeups() == {}  # not due yet
    due_now()
    jobs.send_wakeups()
    due_now()
    assert jobs.send_wakeups()["failed"] == 1
    assert wakeups()[enrolled["device_id"]].status == "failed"
    assert len(server.requests) == 3
    settings = client.get(f"/api/v1/schools/{school.id}/push", headers=admin_headers).get_json()
    assert settings["wakeups"] == {"pending": 0, "failed": 1}
    assert settings["last_error"] == "webhook answered 503"
    # The device gets its command at its next check-in all the same.
    assert [w["kind"] for w in check_in(enrolled)["work"]] == ["command"]


def test_webhooks_to_private_addresses_are_refused_unless_allowed(
    app: Flask,
    client: FlaskClient,
    admin_headers: Headers,
    school: School,
    enrolled: dict[str, Any],
    webhook: tuple[WebhookServer, str],
) -> None:
    server, _ = webhook
    app.config["PUSH_WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = False
    lock(client, admin_headers, [enrolled])
    jobs.send_wakeups()
    assert server.requests == []
    assert "non-public address 127.0.0.1" in wakeups()[enrolled["device_id"]].last_error
    plain = client.put(
        f"/api/v1/schools/{school.id}/push/webhook",
        json={"url": "http://bridge.example.org/wake"},
        headers=admin_headers,
    )
    assert plain.status_code == 400 and "url" in plain.get_json()["errors"]


def test_a_webhook_goes_to_the_address_that_was_checked(
    app: Flask,
    client: FlaskClient,
    admin_headers: Headers,
    school: School,
    enrolled: dict[str, Any],
    webhook: tuple[WebhookServer, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The bridge's name answers a public address when it is checked and loopback right after
    # (DNS rebinding): the wake-up must go to the public one or nowhere, never inside.
    server, _ = webhook
    port = urlsplit(server.url).port
    wake_url = f"http://bridge.example.org:{port}{urlsplit(server.url).path}"
    assert (
        client.put(
            f"/api/v1/schools/{school.id}/push/webhook",
            json={"url": wake_url},
            headers=admin_headers,
        ).status_code
        == 200
    )
    app.config["PUSH_WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = False
    answers = iter(["93.184.216.34"])
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.create_connection

    def getaddrinfo(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        if host != "bridge.example.org":
            return real_getaddrinfo(host, *args, **kwargs)
        address = next(answers, "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 80))]

    attempts: list[str] = []

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        resolved = getaddrinfo(address[0], address[1])[0][4][0]
        attempts.append(resolved)
        if resolved != "127.0.0.1":  # nothing leaves the machine in tests
            raise ConnectionRefusedError(f"{resolved} is not reached from tests")
        return real_connect((resolved, address[1]), *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    lock(client, admin_headers, [enrolled])
    sent = jobs.send_wakeups()
    assert server.requests == []
    assert attempts == ["93.184.216.34"] and sent["retry"] == 1 and sent["sent"] == 0


@pytest.mark.parametrize("address", ["64:ff9b::a9fe:a9fe", "64:ff9b::a00:1", "2002:7f00:1::1"])
def test_a_webhook_host_whose_ipv6_address_reaches_inside_is_refused(
    address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses carry the IPv4 address they reach.
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, *args, **kwargs: [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, 0))],
    )
    found, refused = public_address("https://bridge.example.org/wake")
    assert found is None and refused is not None and address in refused


def test_a_webhook_pinned_to_its_address_still_verifies_the_host_s_certificate(
    tmp_path: Path,
) -> None:
    certificates = Certificates.make(tmp_path)
    received: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
            received.append(self.headers["Host"])
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(certificates.server_cert, certificates.server_key)
    httpd.socket = server_context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    port = httpd.server_address[1]
    trust = ssl.create_default_context(cafile=certificates.ca_file)
    try:
        with httpx.Client(verify=trust) as client:
            target = pinned_target(f"https://localhost:{port}/wake", "127.0.0.1")
            assert target.url == f"https://127.0.0.1:{port}/wake"
            response = client.post(
                target.url, content=b"{}", headers=target.headers, extensions=target.extensions
            )
            assert response.status_code == 204 and received == [f"localhost:{port}"]
            other = pinned_target(f"https://bridge.example.org:{port}/wake", "127.0.0.1")
            with pytest.raises(httpx.ConnectError, match="certificate"):
                client.post(
                    other.url, content=b"{}", headers=other.headers, extensions=other.extensions
                )
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    return Certificates.make(tmp_path)


@pytest.fixture
def apns(
    app: Flask,
    client: FlaskClient,
    admin_headers: Headers,
    school: School,
    certificates: Certificates,
) -> Iterator[ApnsServer]:
    with apns_server(certificates) as server:
        app.config["PUSH_APNS_URL"] = server.url
        app.config["PUSH_APNS_CA_FILE"] = certificates.ca_file
        response = client.put(
            f"/api/v1/schools/{school.id}/push/apns",
            json={
                "certificate": certificates.push_certificate,
                "private_key": certificates.push_key,
            },
            headers=admin_headers,
        )
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["apns_topic"] == TOPIC
        yield server


def test_apns_over_http2_with_the_schools_certificate(
    client: FlaskClient,
    admin_headers: Headers,
    make_devices: Callable[..., Any],
    apns: ApnsServer,
    certificates: Certificates,
    check_in: Callable[..., Any],
) -> None:
    devices = make_devices(5, platform="ipados")
    tokens = ["a1b2c3", "gone01", "busy01", "bad001", "down01"]
    for device, token in zip(devices, tokens, strict=True):
        service.register_apns_address(
            db.session, device["device_id"], token, f"magic-{token}", TOPIC
        )
    db.session.commit()
    lock(client, admin_headers, devices)

    counts = jobs.send_wakeups()

    assert counts == {"sent": 1, "retry": 2, "invalid": 2, "failed": 0}
    by_token = {r["path"].rsplit("/", 1)[-1]: r for r in apns.requests}
    assert set(by_token) == set(tokens)
    sent = by_token["a1b2c3"]
    assert sent["http_version"] == "2" and sent["method"] == "POST"
    assert sent["path"] == "/3/device/a1b2c3" and sent["body"] == {"mdm": "magic-a1b2c3"}
    assert sent["headers"]["apns-topic"] == TOPIC and sent["headers"]["apns-push-type"] == "mdm"
    rows = wakeups()
    ids = {token: device["device_id"] for device, token in zip(devices, tokens, strict=True)}
    assert ids["a1b2c3"] not in rows
    assert (
        rows[ids["gone01"]].status == "failed"
        and "410 Unregistered" in rows[ids["gone01"]].last_error
    )
    assert rows[ids["busy01"]].status == "pending" and rows[ids["busy01"]].attempts == 1
    assert "429 TooManyRequests" in rows[ids["busy01"]].last_error
    gone = db.session.get(PushAddress, ids["gone01"])
    assert gone.invalid_at is not None and "Unregistered" in gone.invalid_reason
    assert db.session.get(PushAddress, ids["bad001"]).invalid_at is not None
    # An unregistered token is not pushed to again; the device still gets its work.
    lock(client, admin_headers, [devices[1]])
    before = len(apns.requests)
    jobs.send_wakeups()
    assert len(apns.requests) == before
    assert [w["kind"] for w in check_in(devices[1])["work"]] == ["command", "command"]
    # A new token from the device makes it reachable again.
    service.register_apns_address(db.session, ids["gone01"], "a1b2c4", "magic", TOPIC)
    lock(client, admin_headers, [devices[1]])
    assert jobs.send_wakeups()["sent"] == 1


def test_apns_refuses_a_client_without_the_push_certificate(
    apns: ApnsServer, certificates: Certificates
) -> None:
    with pytest.raises(httpx.HTTPError):
        context = ssl.create_default_context(cafile=certificates.ca_file)
        httpx.post(f"{apns.url}/3/device/a1b2c3", verify=context, json={"mdm": "x"})
    assert apns.requests == []


def test_a_push_certificate_is_checked_before_it_is_kept(
    client: FlaskClient, admin_headers: Headers, school: School, tmp_path: Path
) -> None:
    good = Certificates.make(tmp_path / "good")
    other = Certificates.make(tmp_path / "other")
    not_mdm = Certificates.make(tmp_path / "app", push_topic="com.example.app")
    url = f"/api/v1/schools/{school.id}/push/apns"
    cases = [
        ({"certificate": "nonsense", "private_key": good.push_key}, "certificate"),
        ({"certificate": good.push_certificate, "private_key": "nonsense"}, "private_key"),
        ({"certificate": good.push_certificate, "private_key": other.push_key}, "private_key"),
        ({"certificate": not_mdm.push_certificate, "private_key": not_mdm.push_key}, "certificate"),
    ]
    for body, field in cases:
        response = client.put(url, json=body, headers=admin_headers)
        assert response.status_code == 400 and field in response.get_json()["errors"], body
    assert db.session.get(PushSettings, school.id) is None
    ok = client.put(
        url,
        json={"certificate": good.push_certificate, "private_key": good.push_key},
        headers=admin_headers,
    )
    assert ok.status_code == 200 and "PRIVATE KEY" not in json.dumps(ok.get_json())
    raw = db.session.execute(text("SELECT apns_key_pem FROM push_settings")).scalar()
    assert b"PRIVATE KEY" not in bytes(raw)
    assert client.delete(url, headers=admin_headers).status_code == 204
    assert (
        client.get(f"/api/v1/schools/{school.id}/push", headers=admin_headers).get_json()[
            "apns_topic"
        ]
        is None
    )


def test_a_device_that_checks_in_needs_no_wake_up(
    client: FlaskClient,
    admin_headers: Headers,
    enrolled: dict[str, Any],
    check_in: Callable[..., Any],
) -> None:
    lock(client, admin_headers, [enrolled])
    check_in(enrolled)
    assert wakeups() == {}
    assert db.session.get(Device, enrolled["device_id"]) is not None
