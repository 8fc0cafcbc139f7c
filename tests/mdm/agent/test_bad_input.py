"""Bad enrollment input: each is a clear problem+json and leaves no half-enrolled device."""

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from enrollment.models import Consent, EnrollmentToken
from mdm.accounts.models import School, User
from mdm.devices.models import Device, DeviceCA, DeviceCredential, group_devices
from mdm.extensions import db
from mdm.platform.models import AuditEvent
from mdm.platform.types import utcnow
from tests.fixtures.devices import csr_pem

Headers = Callable[[User], dict[str, str]]


@pytest.fixture(scope="module")
def small_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


def rows(model: Any) -> int:
    """How many rows a table has."""
    return db.session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def nothing_enrolled() -> Iterator[None]:
    """After the test: no device, credential, consent, CA or enrollment audit event exists."""
    yield
    db.session.rollback()
    for model in (Device, DeviceCredential, Consent, DeviceCA, group_devices):
        assert rows(model) == 0, model
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "device.enroll")) is None
    assert all(uses == 0 for uses in db.session.scalars(select(EnrollmentToken.uses)))


def expect_problem(response: Any, status: int, type_: str, field: str | None = None) -> None:
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"] == f"/problems/{type_}" and body["detail"]
    if field:
        assert field in body["errors"], body


def test_unknown_token(enroll: Callable[..., Any], school: School, nothing_enrolled: None) -> None:
    expect_problem(enroll("et_" + "a" * 43), 404, "enrollment-token-unknown")
    expect_problem(enroll("not-even-a-token"), 404, "enrollment-token-unknown")


def test_expired_token(
    enroll: Callable[..., Any], make_token: Callable[..., Any], nothing_enrolled: None
) -> None:
    issued = make_token()
    db.session.execute(update(EnrollmentToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    expect_problem(enroll(issued["secret"]), 410, "enrollment-token-expired")


def test_revoked_token(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    enroll: Callable[..., Any],
    make_token: Callable[..., Any],
    nothing_enrolled: None,
) -> None:
    issued = make_token()
    client.post(
        f"/api/v1/enrollment-tokens/{issued['token']['id']}/revoke", headers=headers(school_admin)
    )
    expect_problem(enroll(issued["secret"]), 410, "enrollment-token-revoked")


def test_exhausted_token(enroll: Callable[..., Any], make_token: Callable[..., Any]) -> None:
    secret = make_token(max_uses=1)["secret"]
    assert enroll(secret).status_code == 201

    expect_problem(enroll(secret), 410, "enrollment-token-exhausted")
    assert rows(Device) == 1 and rows(DeviceCredential) == 1
    assert db.session.scalar(select(EnrollmentToken.uses)) == 1


def test_owner_of_another_school(
    enroll: Callable[..., Any],
    make_token: Callable[..., Any],
    create_user: Callable[..., User],
    headers: Headers,
    other_school: School,
    notice: dict[str, Any],
    nothing_enrolled: None,
) -> None:
    stranger = create_user("teacher", other_school)
    secret = make_token(ownership="byod", user_role="teacher")["secret"]
    response = enroll(secret, headers=headers(stranger), privacy_notice_version=1)
    expect_problem(response, 403, "forbidden")
    assert "another school" in response.get_json()["detail"]


def test_malformed_csr(
    enroll: Callable[..., Any], make_token: Callable[..., Any], nothing_enrolled: None
) -> None:
    response = enroll(make_token()["secret"], csr="-----BEGIN CERTIFICATE REQUEST-----\nAAAA")
    expect_problem(response, 400, "validation", "csr")
    assert "malformed" in response.get_json()["errors"]["csr"][0]


def test_csr_with_too_small_an_rsa_key(
    enroll: Callable[..., Any],
    make_token: Callable[..., Any],
    small_rsa_key: rsa.RSAPrivateKey,
    nothing_enrolled: None,
) -> None:
    response = enroll(make_token()["secret"], csr=csr_pem(small_rsa_key))
    expect_problem(response, 400, "validation", "csr")
    assert "key_size" in response.get_json()["errors"]["csr"][0]


@pytest.mark.parametrize(
    "make_key",
    [ed25519.Ed25519PrivateKey.generate, lambda: ec.generate_private_key(ec.SECP256K1())],
    ids=["ed25519", "secp256k1"],
)
def test_csr_with_a_wrong_key_type(
    enroll: Callable[..., Any],
    make_token: Callable[..., Any],
    make_key: Callable[[], Any],
    nothing_enrolled: None,
) -> None:
    key = make_key()
    response = enroll(make_token()["secret"], csr=csr_pem(key))
    expect_problem(response, 400, "validation", "csr")
    assert "key_type" in response.get_json()["errors"]["csr"][0]


def test_oversized_inventory(
    make_app: Callable[..., Flask], create_school: Callable[..., School], nothing_enrolled: None
) -> None:
    app = make_app(AGENT_MAX_INVENTORY_BYTES=100)
    with app.app_context():
        from enrollment import service
        from mdm.platform.actors import Actor

        school = create_school()
        issued = service.create_token(
            db.session,
            Actor.system("test"),
            school_id=school.id,
            ownership="school",
            user_role="shared",
        )
        db.session.commit()
        client = app.test_client()
        response = client.post(
            "/api/agent/v1/enroll",
            json={"token": issued.secret, "platform": "linux", "inventory": {"x": "y" * 200}},
        )
        expect_problem(response, 400, "validation", "inventory")


def test_oversized_inventory_at_check_in(
    client: FlaskClient, enrolled: dict[str, Any], app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "AGENT_MAX_INVENTORY_BYTES", 50)
    response = client.post(
        "/api/agent/v1/checkin",
        json={"inventory": {"x": "y" * 100}},
        headers={"Authorization": f"Bearer {enrolled['credential']['secret']}"},
    )
    expect_problem(response, 400, "validation", "inventory")
    assert db.session.get(Device, enrolled["device_id"]).inventory == {
        "serial_number": "SN1",
        "battery": 90,
    }


def nested(levels: int) -> dict[str, Any]:
    """An inventory whose objects nest `levels` deep."""
    inventory: dict[str, Any] = {}
    for _ in range(levels - 1):
        inventory = {"storage": inventory}
    return inventory


@pytest.mark.parametrize("ownership", ["school", "byod"])
def test_deeply_nested_inventory(
    enroll: Callable[..., Any],
    make_token: Callable[..., Any],
    headers: Headers,
    teacher: User,
    notice: dict[str, Any],
    ownership: str,
    nothing_enrolled: None,
) -> None:
    secret = make_token(ownership=ownership, user_role="teacher")["secret"]
    for levels in (9, 500):
        response = enroll(
            secret, headers=headers(teacher), privacy_notice_version=1, inventory=nested(levels)
        )
        expect_problem(response, 400, "validation", "inventory")
        assert "nest" in response.get_json()["errors"]["inventory"][0]


def test_inventory_nested_up_to_the_limit_is_accepted(
    enroll: Callable[..., Any], make_token: Callable[..., Any]
) -> None:
    response = enroll(make_token()["secret"], inventory=nested(8))
    assert response.status_code == 201, response.get_json()


def test_deeply_nested_inventory_at_check_in(client: FlaskClient, enrolled: dict[str, Any]) -> None:
    response = client.post(
        "/api/agent/v1/checkin",
        json={"inventory": {"apps": [nested(8)]}},
        headers={"Authorization": f"Bearer {enrolled['credential']['secret']}"},
    )
    expect_problem(response, 400, "validation", "inventory")
    assert db.session.get(Device, enrolled["device_id"]).inventory == {
        "serial_number": "SN1",
        "battery": 90,
    }


@pytest.mark.parametrize(("token_role", "login"), [("student", "teacher"), ("teacher", "student")])
def test_school_device_login_with_the_wrong_role(
    enroll: Callable[..., Any],
    make_token: Callable[..., Any],
    headers: Headers,
    teacher: User,
    student: User,
    token_role: str,
    login: str,
    nothing_enrolled: None,
) -> None:
    owner = teacher if login == "teacher" else student
    secret = make_token(ownership="school", user_role=token_role)["secret"]
    response = enroll(secret, headers=headers(owner))
    expect_problem(response, 409, "conflict", "owner")
    assert token_role in response.get_json()["detail"]


def test_unknown_platform(
    enroll: Callable[..., Any], make_token: Callable[..., Any], nothing_enrolled: None
) -> None:
    expect_problem(
        enroll(make_token()["secret"], platform="symbian"), 400, "validation", "platform"
    )


def test_platform_other_than_the_tokens(
    enroll: Callable[..., Any], make_token: Callable[..., Any], nothing_enrolled: None
) -> None:
    response = enroll(make_token(platform="ios")["secret"], platform="android")
    expect_problem(response, 400, "validation", "platform")


def test_guessing_tokens_is_rate_limited(
    make_app: Callable[..., Flask], create_school: Callable[..., School], nothing_enrolled: None
) -> None:
    app = make_app(ENROLLMENT_TOKEN_FAILURES_PER_ADDRESS=3)
    with app.app_context():
        from enrollment import service
        from mdm.platform.actors import Actor

        school = create_school()
        issued = service.create_token(
            db.session,
            Actor.system("test"),
            school_id=school.id,
            ownership="school",
            user_role="shared",
        )
        db.session.commit()
        client = app.test_client()
        for n in range(3):
            guess = client.post(
                "/api/agent/v1/enroll", json={"token": f"et_{n:043d}", "platform": "linux"}
            )
            assert guess.status_code == 404
        blocked = client.post(
            "/api/agent/v1/enroll", json={"token": issued.secret, "platform": "linux"}
        )
        expect_problem(blocked, 429, "rate-limited")
        assert int(blocked.headers["Retry-After"]) > 0
        assert client.get(f"/enroll/{issued.secret}").status_code == 429
