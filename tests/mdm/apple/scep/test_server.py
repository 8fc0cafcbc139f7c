"""SCEP through the real server `mdm run` starts (gunicorn with the production limits): a GET
PKIOperation carries the whole pkiMessage in its query string, several KB long."""

import base64
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask

from mdm.accounts.models import School
from mdm.apple.scep import service
from mdm.devices import identity
from mdm.devices.models import Device
from mdm.extensions import db
from mdm.settings import HTTP_SERVER_LIMITS
from tests.mdm.apple.scep import client

pytestmark = pytest.mark.committing
ROOT = Path(__file__).resolve().parents[4]
# gunicorn with the settings of `mdm run`, on the test's database.
SERVE = """
import sys
from gunicorn.app.base import BaseApplication
from mdm import create_app
from mdm.cli import embedded_server_settings
from tests.conftest import test_config

app = create_app(test_config(sys.argv[1]))


class Server(BaseApplication):
    def load_config(self):
        for name, value in embedded_server_settings("127.0.0.1", int(sys.argv[2]), 2).items():
            self.cfg.set(name, value)

    def load(self):
        return app


Server().run()
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def gunicorn(session_app: Flask) -> Iterator[str]:
    """The app served by gunicorn on a loopback port, in its own process (for the module)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, session_app.config["DATABASE_URL"], str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
        process.wait(timeout=30)


def test_a_get_pki_operation_of_several_kb_is_served_by_the_real_server(
    app: Flask, gunicorn: str, school: School, pending_device: Callable[..., Device]
) -> None:
    device = pending_device(school)
    challenge = service.issue_challenge(db.session, device)
    db.session.commit()
    url = f"{gunicorn}/apple/scep/{school.id}"
    answer = httpx.get(url, params={"operation": "GetCACert"})
    assert answer.headers["content-type"] == "application/x-x509-ca-ra-cert"
    responder = client.recipient(answer.content)
    # A 4096-bit key and a long transaction id: the largest request an iPad sends.
    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    enrollment = client.Enrollment(key, transaction_id="A" * 64)
    pki_message = enrollment.pkcs_req(responder, challenge, cipher="aes256_cbc")
    params = {"operation": "PKIOperation", "message": base64.b64encode(pki_message).decode()}
    request = httpx.Request("GET", url, params=params)
    assert len(str(request.url)) > 5000

    response = httpx.Client().send(request)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-pki-message"
    reply = client.read_cert_rep(response.content, responder, enrollment)
    assert reply.status == "0"
    assert reply.certificate is not None
    assert identity.device_id_from_certificate(reply.certificate) == str(device.id)


def test_a_request_line_over_the_limit_is_refused_by_the_server(app: Flask, gunicorn: str) -> None:
    limit = HTTP_SERVER_LIMITS["limit_request_line"]
    response = httpx.get(f"{gunicorn}/apple/scep/1", params={"message": "A" * limit})
    assert response.status_code == 414
