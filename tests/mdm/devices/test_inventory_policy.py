"""The inventory policy of school-owned devices: nothing personal of students' devices by
default, set by the school admin, applied at enrollment and check-in and at once to what is
stored, shown to the device's user."""

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from mdm.accounts.models import School, User
from mdm.devices.inventory_rules import (
    filter_school_inventory,
    policy_errors,
    policy_role,
    what_is_kept,
)
from mdm.devices.models import Device
from mdm.extensions import db
from mdm.platform.models import AuditEvent
from tests.fixtures.devices import device_auth

Headers = Callable[[User], dict[str, str]]
TABLET_INVENTORY = {
    "battery": 64,
    "serial_number": "DMPX0001",
    "location": {"lat": 52.5, "lng": 13.4},
    "PhoneNumber": "+49 170 1234567",
    "ServiceSubscriptions": [{"IMEI": "356938035643809", "PhoneNumber": "+49 170 7654321"}],
    "installed_apps": ["de.schule.app", "com.instagram.android"],
    "network": {"SSID": "FRITZ!Box Familie Schmidt", "ip_address": "192.168.178.20"},
    "managed_apps": [{"bundle_id": "de.schule.app"}],
}
NOTHING_PERSONAL = {
    "battery": 64,
    "serial_number": "DMPX0001",
    "ServiceSubscriptions": [{"IMEI": "356938035643809"}],
    "network": {},
    "managed_apps": [{"bundle_id": "de.schule.app"}],
}


def test_filter_drops_the_categories_not_kept_at_any_depth() -> None:
    kept, dropped = filter_school_inventory(TABLET_INVENTORY, frozenset())
    assert kept == NOTHING_PERSONAL
    assert sorted(dropped) == [
        "PhoneNumber",
        "ServiceSubscriptions[0].PhoneNumber",
        "installed_apps",
        "location",
        "network.SSID",
        "network.ip_address",
    ]
    everything, dropped = filter_school_inventory(
        TABLET_INVENTORY, frozenset({"location", "phone_number", "installed_apps", "network"})
    )
    assert everything == TABLET_INVENTORY and dropped == []
    apps, _ = filter_school_inventory({"Installed-Apps": ["x"], "gps": [1, 2]}, frozenset())
    assert apps == {}


def test_which_rule_a_device_goes_by() -> None:
    assert policy_role("student", None) == "student"
    assert policy_role("shared", "student") == "student"
    assert policy_role("teacher", "student") == "student"
    assert policy_role("teacher", None) == "teacher"
    assert policy_role("shared", "teacher") == "teacher"
    assert policy_role("shared", "school_admin") == "teacher"
    assert policy_role("shared", None) == "shared"
    assert what_is_kept("byod", frozenset({"location"}))["location"] is False


def test_policy_errors_name_the_field() -> None:
    assert policy_errors({"student": [], "teacher": [], "shared": []}) == {}
    errors = policy_errors({"student": ["gps", "location"], "teacher": [], "pupils": []})
    assert set(errors) == {"student", "shared", "pupils"}
    assert "unknown category 'gps'" in errors["student"][0]


@pytest.fixture
def student_tablet(
    make_token: Callable[..., Any],
    enroll: Callable[..., Any],
    headers: Headers,
    student: User,
) -> dict[str, Any]:
    """A school-owned tablet of a student, enrolled with the student's login."""
    secret = make_token(user_role="student")["secret"]
    answer = enroll(secret, headers=headers(student), inventory=TABLET_INVENTORY)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def stored(answer: dict[str, Any]) -> dict[str, Any]:
    device = db.session.get(Device, answer["device_id"])
    db.session.refresh(device)
    return device.inventory


def test_a_students_tablet_keeps_nothing_personal_by_default(
    client: FlaskClient, student_tablet: dict[str, Any]
) -> None:
    assert stored(student_tablet) == NOTHING_PERSONAL

    sent = {**TABLET_INVENTORY, "battery": 12}
    answer = client.post(
        "/api/agent/v1/checkin", json={"inventory": sent}, headers=device_auth(student_tablet)
    )
    assert answer.status_code == 200
    assert stored(student_tablet) == {**NOTHING_PERSONAL, "battery": 12}


def test_teacher_and_shared_devices_keep_their_apps_and_phone_number_by_default(
    make_token: Callable[..., Any], enroll: Callable[..., Any], headers: Headers, teacher: User
) -> None:
    teachers = enroll(
        make_token(user_role="teacher")["secret"],
        headers=headers(teacher),
        inventory=TABLET_INVENTORY,
    ).get_json()
    shared = enroll(make_token(user_role="shared")["secret"], inventory=TABLET_INVENTORY).get_json()
    for answer in (teachers, shared):
        kept = stored(answer)
        assert kept["installed_apps"] and kept["PhoneNumber"]
        assert "location" not in kept and kept["network"] == {}


def test_a_shared_device_given_to_a_student_goes_by_the_students_rule(
    client: FlaskClient,
    make_token: Callable[..., Any],
    enroll: Callable[..., Any],
    headers: Headers,
    school_admin: User,
    student: User,
) -> None:
    shared = enroll(make_token(user_role="shared")["secret"], inventory=TABLET_INVENTORY)
    shared = shared.get_json()
    assert "installed_apps" in stored(shared)
    client.patch(
        f"/api/v1/devices/{shared['device_id']}",
        json={"user_id": student.id},
        headers=headers(school_admin),
    )

    client.post(
        "/api/agent/v1/checkin", json={"inventory": TABLET_INVENTORY}, headers=device_auth(shared)
    )

    assert stored(shared) == NOTHING_PERSONAL


def test_the_school_admin_sets_the_policy(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    school: School,
    student_tablet: dict[str, Any],
) -> None:
    url = f"/api/v1/schools/{school.id}/inventory-policy"
    auth = headers(school_admin)
    default = client.get(url, headers=auth).get_json()
    assert default["is_default"] is True and default["student"] == []
    assert default["teacher"] == ["phone_number", "installed_apps"]
    assert set(default["categories"]) == {"location", "phone_number", "installed_apps", "network"}

    response = client.put(
        url,
        json={"student": ["installed_apps"], "teacher": [], "shared": ["location"]},
        headers=auth,
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["student"], body["teacher"], body["shared"]) == (
        ["installed_apps"],
        [],
        ["location"],
    )
    assert body["is_default"] is False and client.get(url, headers=auth).get_json() == body
    client.post(
        "/api/agent/v1/checkin",
        json={"inventory": TABLET_INVENTORY},
        headers=device_auth(student_tablet),
    )
    assert stored(student_tablet)["installed_apps"] == TABLET_INVENTORY["installed_apps"]
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "inventory_policy.update")
    )
    assert event.details["after"]["student"] == ["installed_apps"]


def test_what_is_no_longer_kept_is_removed_at_once(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    school: School,
    make_token: Callable[..., Any],
    enroll: Callable[..., Any],
    teacher: User,
) -> None:
    answer = enroll(
        make_token(user_role="teacher")["secret"],
        headers=headers(teacher),
        inventory=TABLET_INVENTORY,
    ).get_json()
    assert "installed_apps" in stored(answer)

    client.put(
        f"/api/v1/schools/{school.id}/inventory-policy",
        json={"student": [], "teacher": [], "shared": []},
        headers=headers(school_admin),
    )

    assert stored(answer) == NOTHING_PERSONAL
    # The next check-in of the same inventory is no change.
    device = db.session.get(Device, answer["device_id"])
    before = device.inventory_hash
    client.post(
        "/api/agent/v1/checkin", json={"inventory": TABLET_INVENTORY}, headers=device_auth(answer)
    )
    db.session.refresh(device)
    assert device.inventory_hash == before


@pytest.mark.parametrize(
    "body, field",
    [
        ({"student": ["gps"], "teacher": [], "shared": []}, "student"),
        ({"student": [], "teacher": []}, "shared"),
        ({"student": [], "teacher": [], "shared": [], "pupils": []}, "pupils"),
        ({"student": "location", "teacher": [], "shared": []}, "student"),
    ],
)
def test_a_bad_policy_is_a_400_naming_the_field_and_changes_nothing(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    school: School,
    body: dict[str, Any],
    field: str,
) -> None:
    url = f"/api/v1/schools/{school.id}/inventory-policy"

    response = client.put(url, json=body, headers=headers(school_admin))

    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"]
    assert client.get(url, headers=headers(school_admin)).get_json()["is_default"] is True


def test_only_the_schools_admins_see_and_set_it(
    client: FlaskClient,
    headers: Headers,
    school: School,
    teacher: User,
    it_admin: User,
    create_user: Callable[..., User],
    other_school: School,
) -> None:
    url = f"/api/v1/schools/{school.id}/inventory-policy"
    body = {"student": ["location"], "teacher": [], "shared": []}
    other_admin = create_user("school_admin", other_school)
    assert client.get(url, headers=headers(other_admin)).status_code == 404
    assert client.put(url, json=body, headers=headers(other_admin)).status_code == 404
    assert client.put(url, json=body, headers=headers(teacher)).status_code == 403
    assert client.put(url, json=body, headers=headers(it_admin)).status_code == 200


def test_the_owner_sees_what_the_school_keeps(
    client: FlaskClient,
    headers: Headers,
    student: User,
    student_tablet: dict[str, Any],
) -> None:
    [entry] = client.get("/api/v1/me/devices", headers=headers(student)).get_json()

    assert entry["device"]["inventory"] == NOTHING_PERSONAL
    assert entry["device"]["serial_number"] == "DMPX0001"
    assert entry["inventory_kept"] == {
        "rule": "school_inventory_policy",
        "policy_role": "student",
        "serial_number_and_imei": True,
        "location": False,
        "phone_number": False,
        "installed_apps": False,
        "network": False,
    }


def test_every_stored_inventory_is_cleaned_chunk_by_chunk(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    school: School,
    make_token: Callable[..., Any],
    enroll: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mdm.devices import inventory_policy

    monkeypatch.setattr(inventory_policy, "CHUNK", 2)
    secret = make_token(user_role="shared", max_uses=5)["secret"]
    answers = [enroll(secret, inventory=TABLET_INVENTORY).get_json() for _ in range(5)]

    client.put(
        f"/api/v1/schools/{school.id}/inventory-policy",
        json={"student": [], "teacher": [], "shared": []},
        headers=headers(school_admin),
    )

    assert all(stored(answer) == NOTHING_PERSONAL for answer in answers)
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "inventory_policy.update")
    )
    assert event.details["inventories_cleaned"] == 5
