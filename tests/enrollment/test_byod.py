"""BYOD: the owner's login and consent, the privacy filter, and what the owner sees and does."""

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from enrollment.models import Consent
from mdm.accounts.models import School, User
from mdm.devices.models import Device, DeviceCredential
from mdm.extensions import db
from tests.fixtures.devices import device_auth

Headers = Callable[[User], dict[str, str]]
PERSONAL_INVENTORY = {
    "battery": 77,
    "serial_number": "F2LX1234",
    "IMEI": "356938035643809",
    "wifi_mac": "aa:bb:cc:dd:ee:ff",
    "phone_number": "+49 170 1234567",
    "location": {"lat": 52.5, "lng": 13.4},
    "installed_apps": ["whatsapp", "banking"],
    "network": {"ssid": "Schule", "mac_address": "aa:bb:cc:dd:ee:00"},
    "imei1": "356938035643810",
    "Serial Number": "F2LX1234",
    "hardware": {"serialNo": "F2LX1234", "ram_gb": 8},
    "identifiers": [{"type": "IMEI", "value": "356938035643811"}],
    "os_version": "14",
    "storage": {"total_gb": 128, "free_gb": 40, "volume_uuid": "abc"},
    "managed_apps": [{"bundle_id": "de.schule.app", "version": "2.1"}],
}
# Only the allow-list survives; the SSID could name the owner's home network, so it goes too.
KEPT = {
    "battery": 77,
    "os_version": "14",
    "storage": {"total_gb": 128, "free_gb": 40},
    "managed_apps": [{"bundle_id": "de.schule.app", "version": "2.1"}],
}


@pytest.fixture
def byod(
    make_token: Callable[..., Any],
    enroll: Callable[..., Any],
    headers: Headers,
    teacher: User,
    notice: dict[str, Any],
) -> dict[str, Any]:
    """A teacher's own phone, enrolled with the teacher's login and consent to notice v1."""
    secret = make_token(ownership="byod", user_role="teacher")["secret"]
    response = enroll(
        secret,
        headers=headers(teacher),
        privacy_notice_version=1,
        inventory=PERSONAL_INVENTORY,
        name="Tinas Handy",
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_byod_enrollment_records_consent_and_drops_personal_data(
    byod: dict[str, Any], teacher: User
) -> None:
    device = db.session.get(Device, byod["device_id"])
    assert device.ownership == "byod" and device.user_id == teacher.id
    assert device.inventory == KEPT
    consent = db.session.scalar(select(Consent))
    assert (consent.device_id, consent.user_id, consent.notice_version) == (
        device.id,
        teacher.id,
        1,
    )
    assert "serial_number" in byod["configuration"]["not_collected"]


def test_check_in_of_a_byod_device_drops_personal_data_again(
    client: FlaskClient, byod: dict[str, Any]
) -> None:
    inventory = {**PERSONAL_INVENTORY, "battery": 12, "latitude": 1.0}
    response = client.post(
        "/api/agent/v1/checkin", json={"inventory": inventory}, headers=device_auth(byod)
    )

    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(Device, byod["device_id"]).inventory == {**KEPT, "battery": 12}


def test_owner_sees_exactly_what_is_stored(
    client: FlaskClient, headers: Headers, teacher: User, student: User, byod: dict[str, Any]
) -> None:
    response = client.get("/api/v1/me/devices", headers=headers(teacher))

    assert response.status_code == 200
    [entry] = response.get_json()
    assert entry["device"]["id"] == byod["device_id"]
    assert entry["device"]["inventory"] == KEPT
    assert entry["device"]["name"] == "Tinas Handy" and entry["device"]["ownership"] == "byod"
    assert entry["consent"]["notice_version"] == 1
    assert entry["inventory_kept"]["rule"] == "byod_allow_list"
    assert not any(value for key, value in entry["inventory_kept"].items() if key != "rule")
    assert entry["inventory_kept"]["policy_role"] is None
    for identifier in ("356938035643809", "356938035643810", "356938035643811", "F2LX1234"):
        assert identifier not in response.get_data(as_text=True)
    assert client.get("/api/v1/me/devices", headers=headers(student)).get_json() == []


def test_owner_removes_management(
    client: FlaskClient, headers: Headers, teacher: User, byod: dict[str, Any]
) -> None:
    url = f"/api/v1/me/devices/{byod['device_id']}/remove-management"

    response = client.post(url, headers=headers(teacher))

    assert response.status_code == 204
    device = db.session.get(Device, byod["device_id"])
    assert device.status == "retired" and device.inventory == {}
    assert db.session.scalar(select(DeviceCredential.revoked_at)) is not None
    assert client.post(url, headers=headers(teacher)).status_code == 409


def test_after_remove_management_the_agent_learns_that_the_device_is_retired(
    client: FlaskClient, headers: Headers, teacher: User, byod: dict[str, Any]
) -> None:
    client.post(
        f"/api/v1/me/devices/{byod['device_id']}/remove-management", headers=headers(teacher)
    )

    for method, path in (("post", "checkin"), ("get", "configuration")):
        answer = getattr(client, method)(
            f"/api/agent/v1/{path}", json={}, headers=device_auth(byod)
        )
        assert answer.status_code == 410, path
        assert answer.get_json()["type"] == "/problems/device-retired"
    wrong = {"Authorization": "Bearer " + byod["credential"]["secret"][:-2] + "xx"}
    assert client.post("/api/agent/v1/checkin", json={}, headers=wrong).status_code == 401


def test_nobody_else_removes_management(
    client: FlaskClient,
    headers: Headers,
    student: User,
    school_admin: User,
    byod: dict[str, Any],
) -> None:
    url = f"/api/v1/me/devices/{byod['device_id']}/remove-management"
    assert client.post(url, headers=headers(student)).status_code == 404
    assert client.post(url, headers=headers(school_admin)).status_code == 404
    assert db.session.get(Device, byod["device_id"]).status == "enrolled"


def test_owner_cannot_remove_a_school_device(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    student: User,
    enrolled: dict[str, Any],
) -> None:
    client.patch(
        f"/api/v1/devices/{enrolled['device_id']}",
        json={"user_id": student.id},
        headers=headers(school_admin),
    )
    mine = client.get("/api/v1/me/devices", headers=headers(student)).get_json()
    assert [entry["device"]["id"] for entry in mine] == [enrolled["device_id"]]
    assert mine[0]["consent"] is None

    response = client.post(
        f"/api/v1/me/devices/{enrolled['device_id']}/remove-management", headers=headers(student)
    )
    assert response.status_code == 403


def test_byod_enrollment_needs_the_owners_login(
    enroll: Callable[..., Any], make_token: Callable[..., Any], notice: dict[str, Any]
) -> None:
    response = enroll(make_token(ownership="byod")["secret"], privacy_notice_version=1)
    assert response.status_code == 401 and "owner" in response.get_json()["detail"]
    assert db.session.scalar(select(Device.id)) is None


def test_byod_enrollment_needs_consent_to_the_current_notice(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    teacher: User,
    enroll: Callable[..., Any],
    make_token: Callable[..., Any],
    notice: dict[str, Any],
) -> None:
    secret = make_token(ownership="byod", user_role="teacher")["secret"]
    missing = enroll(secret, headers=headers(teacher))
    assert missing.status_code == 400 and "privacy_notice_version" in missing.get_json()["errors"]
    client.post(
        "/api/v1/privacy-notices", json={"text": "Version zwei"}, headers=headers(school_admin)
    )
    outdated = enroll(secret, headers=headers(teacher), privacy_notice_version=1)
    assert outdated.get_json()["errors"]["privacy_notice_version"] == ["consent to version 2"]
    assert enroll(secret, headers=headers(teacher), privacy_notice_version=2).status_code == 201
    assert db.session.scalar(select(Consent.notice_version)) == 2


def test_byod_enrollment_without_a_privacy_notice(
    enroll: Callable[..., Any], make_token: Callable[..., Any], headers: Headers, student: User
) -> None:
    response = enroll(make_token(ownership="byod")["secret"], headers=headers(student))
    assert response.status_code == 409 and "privacy notice" in response.get_json()["detail"]


def test_byod_token_for_students_refuses_a_teacher(
    enroll: Callable[..., Any],
    make_token: Callable[..., Any],
    headers: Headers,
    teacher: User,
    notice: dict[str, Any],
) -> None:
    response = enroll(
        make_token(ownership="byod", user_role="student")["secret"],
        headers=headers(teacher),
        privacy_notice_version=1,
    )
    assert response.status_code == 403
    assert db.session.scalar(select(Device.id)) is None


def test_privacy_notices_are_versioned_per_school(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    create_user: Callable[..., User],
    other_school: School,
    notice: dict[str, Any],
) -> None:
    other_admin = create_user("school_admin", other_school)
    other = client.post(
        "/api/v1/privacy-notices", json={"text": "Andere Schule"}, headers=headers(other_admin)
    )
    assert other.get_json()["version"] == 1
    listed = client.get("/api/v1/privacy-notices", headers=headers(school_admin)).get_json()
    assert [n["text"] for n in listed] == [notice["text"]]
