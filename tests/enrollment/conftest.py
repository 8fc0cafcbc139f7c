"""Enrollment test fixtures: keys made once, tokens, notices, enrolling through the API."""

from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from flask.testing import FlaskClient

from mdm.accounts.models import School, User


def csr_pem(key: Any, common_name: str = "agent") -> str:
    """A PEM CSR signed by the key."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    )
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm).public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def make_token(
    client: FlaskClient, headers: Callable[[User], dict[str, str]], school_admin: User
) -> Callable[..., dict[str, Any]]:
    """Factory: an enrollment token created through the API by the school admin."""

    def factory(admin: User | None = None, **fields: Any) -> dict[str, Any]:
        body = {"ownership": "school", "user_role": "student", "max_uses": 5, **fields}
        response = client.post(
            "/api/v1/enrollment-tokens", json=body, headers=headers(admin or school_admin)
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return factory


@pytest.fixture
def notice(
    client: FlaskClient, headers: Callable[[User], dict[str, str]], school_admin: User
) -> dict[str, Any]:
    """Version 1 of the school's privacy notice."""
    response = client.post(
        "/api/v1/privacy-notices",
        json={"text": "Die Schule sieht nur ihre eigenen Apps."},
        headers=headers(school_admin),
    )
    assert response.status_code == 201
    return response.get_json()


@pytest.fixture
def enroll(client: FlaskClient) -> Callable[..., Any]:
    """Enroll through the agent protocol; returns the response."""

    def call(secret: str, headers: dict[str, str] | None = None, **fields: Any) -> Any:
        body = {"token": secret, "platform": "android", "model": "Pixel 8", **fields}
        return client.post("/api/agent/v1/enroll", json=body, headers=headers or {})

    return call


@pytest.fixture
def enrolled(
    make_token: Callable[..., dict[str, Any]], enroll: Callable[..., Any], school: School
) -> dict[str, Any]:
    """A school-owned Android device enrolled without a CSR; its enroll answer."""
    token = make_token()
    response = enroll(token["secret"], inventory={"serial_number": "SN1", "battery": 90})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def device_auth(answer: dict[str, Any]) -> dict[str, str]:
    """The Authorization header of an enrolled device."""
    return {"Authorization": f"Bearer {answer['credential']['secret']}"}
