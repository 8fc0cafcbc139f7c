"""Keys made once for the SCEP tests (RSA key generation is slow)."""

import base64
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from mdm.accounts.models import School
from mdm.devices.models import Device
from mdm.extensions import db
from tests.mdm.apple.scep import client as scep_client


@pytest.fixture(scope="session")
def device_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_device_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def weak_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


@pytest.fixture
def pending_device(app: Flask) -> Callable[[School], Device]:
    """Factory: a school-owned iPad waiting for its enrollment (as its profile was handed out)."""

    def factory(school: School, name: str = "iPad 5a") -> Device:
        device = Device(
            school_id=school.id,
            ownership="school",
            platform="ipados",
            name=name,
            user_role="student",
            status="pending",
        )
        db.session.add(device)
        db.session.commit()
        return device

    return factory


class Scep:
    """A SCEP client's view of one school's endpoint, through a Flask test client."""

    def __init__(self, client: FlaskClient, school_id: int) -> None:
        self.client = client
        self.url = f"/apple/scep/{school_id}"

    def get(self, operation: str, **args: str) -> TestResponse:
        return self.client.get(self.url, query_string={"operation": operation, **args})

    def responder(self) -> x509.Certificate:
        """The certificate to encrypt to, from GetCACert."""
        response = self.get("GetCACert")
        assert response.status_code == 200
        return scep_client.recipient(response.data)

    def pki_operation(self, data: bytes, method: str = "POST") -> TestResponse:
        if method == "GET":
            return self.get("PKIOperation", message=base64.b64encode(data).decode())
        return self.client.post(
            self.url,
            query_string={"operation": "PKIOperation"},
            data=data,
            content_type="application/x-pki-message",
        )

    def enroll(
        self, enrollment: scep_client.Enrollment, challenge: str | None, method: str = "POST", **kw
    ) -> scep_client.CertRep:
        """Send a PKCSReq and read the CertRep (its signature verified)."""
        responder = self.responder()
        response = self.pki_operation(enrollment.pkcs_req(responder, challenge, **kw), method)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "application/x-pki-message"
        return scep_client.read_cert_rep(response.data, responder, enrollment)


@pytest.fixture
def scep(client: FlaskClient) -> Callable[[School], Scep]:
    """Factory: the SCEP endpoint of a school."""
    return lambda school: Scep(client, school.id)
