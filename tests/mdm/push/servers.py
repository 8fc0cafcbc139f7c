"""Servers the push tests start on loopback: an HTTP/2 server over TLS that answers as APNs
does (hypercorn in a thread, client certificates required), a plain HTTP server for webhooks,
and the certificates they need."""

import asyncio
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypercorn.asyncio import serve
from hypercorn.config import Config

TOPIC = "com.apple.mgmt.External.5c6d2a1e-0000-4000-8000-000000000001"


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificate(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    days: int = 30,
    san: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class Certificates:
    """A test CA, the server's certificate for 127.0.0.1, and an MDM push certificate."""

    folder: Path
    ca_file: str = ""
    server_cert: str = ""
    server_key: str = ""
    push_certificate: str = ""
    push_key: str = ""

    @classmethod
    def make(cls, folder: Path, push_topic: str = TOPIC, push_days: int = 30) -> "Certificates":
        """Write the CA and server files into the folder; keep the push certificate as PEM."""
        folder.mkdir(parents=True, exist_ok=True)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
        ca = _certificate(ca_name, ca_key, ca_name, ca_key, ca=True)
        server_key = ec.generate_private_key(ec.SECP256R1())
        server = _certificate(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]),
            server_key,
            ca_name,
            ca_key,
            san=[x509.IPAddress(IPv4Address("127.0.0.1")), x509.DNSName("localhost")],
        )
        push_key = ec.generate_private_key(ec.SECP256R1())
        push = _certificate(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.USER_ID, push_topic),
                    x509.NameAttribute(NameOID.COMMON_NAME, "APSP:test"),
                ]
            ),
            push_key,
            ca_name,
            ca_key,
            days=push_days,
        )
        made = cls(folder)
        for name, content in (
            ("ca.pem", ca.public_bytes(serialization.Encoding.PEM)),
            ("server.pem", server.public_bytes(serialization.Encoding.PEM)),
            ("server.key", _pem(server_key)),
        ):
            (folder / name).write_bytes(content)
        made.ca_file = str(folder / "ca.pem")
        made.server_cert = str(folder / "server.pem")
        made.server_key = str(folder / "server.key")
        made.push_certificate = push.public_bytes(serialization.Encoding.PEM).decode()
        made.push_key = _pem(push_key).decode()
        return made


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port}")


@dataclass
class ApnsServer:
    """What the fake APNs saw: one dict per request."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """An ASGI app answering as Apple documents APNs: by the device token."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        token = scope["path"].rsplit("/", 1)[-1]
        self.requests.append(
            {
                "http_version": scope["http_version"],
                "method": scope["method"],
                "path": scope["path"],
                "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
                "body": json.loads(body or b"null"),
            }
        )
        status, reason = 200, None
        if token.startswith("gone"):
            status, reason = 410, "Unregistered"
        elif token.startswith("busy"):
            status, reason = 429, "TooManyRequests"
        elif token.startswith("bad"):
            status, reason = 400, "BadDeviceToken"
        elif token.startswith("down"):
            status, reason = 503, "ServiceUnavailable"
        payload = {"reason": reason} if reason else None
        if status == 410:
            payload = {"reason": reason, "timestamp": int(time.time() * 1000)}
        content = json.dumps(payload).encode() if payload else b""
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"apns-id", b"3f1c0d0e-0000-4000-8000-000000000000")]
                + ([(b"content-type", b"application/json")] if content else []),
            }
        )
        await send({"type": "http.response.body", "body": content})


@contextmanager
def apns_server(certificates: Certificates) -> Iterator[ApnsServer]:
    """Run the fake APNs on loopback: HTTP/2 over TLS, a client certificate of the test CA
    required."""
    server = ApnsServer()
    port = free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.certfile = certificates.server_cert
    config.keyfile = certificates.server_key
    config.ca_certs = certificates.ca_file
    config.verify_mode = ssl.CERT_REQUIRED
    config.accesslog = None
    config.errorlog = None
    stop: dict[str, Any] = {}

    async def main() -> None:
        stop["event"] = asyncio.Event()
        stop["loop"] = asyncio.get_running_loop()
        await serve(server.app, config, shutdown_trigger=stop["event"].wait)  # type: ignore[arg-type]

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    _wait_for(port)
    server.url = f"https://127.0.0.1:{port}"
    try:
        yield server
    finally:
        stop["loop"].call_soon_threadsafe(stop["event"].set)
        thread.join(timeout=10)


@dataclass
class WebhookServer:
    """What the webhook receiver got; it answers with `status`."""

    status: int = 204
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


@contextmanager
def webhook_server() -> Iterator[WebhookServer]:
    """A plain HTTP server on loopback that records POSTs."""
    received = WebhookServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
            length = int(self.headers["Content-Length"])
            received.requests.append(
                {"path": self.path, "headers": dict(self.headers), "body": self.rfile.read(length)}
            )
            self.send_response(received.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    received.url = f"http://127.0.0.1:{httpd.server_address[1]}/wake"
    try:
        yield received
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
