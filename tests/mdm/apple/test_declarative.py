"""Declarative device management: iPads on iPadOS 17 and later get their policy as
declarations (told by a DeclarativeManagement command, fetched through the check-in URL),
report their compliance and inventory by status reports; older ones keep the profile."""

import json
import plistlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from mdm.apple import ddm, service
from mdm.apple.declarations import STATUS_ITEMS
from mdm.apple.models import AppleDeclarativeState, AppleDevice
from mdm.devices import service as devices
from mdm.devices.models import Device
from mdm.extensions import db
from mdm.platform.types import utcnow
from mdm.policies.models import DevicePolicyState
from mdm.push.models import PushWakeup
from tests.mdm.apple.ipad import TOPIC, IPad, answer, nest

POLICY = {
    "passcode": {"required": True, "min_length": 6},
    "restrictions": {"allow_camera": False, "allow_app_store": False},
    "wifi": [{"ssid": "Schul-WLAN", "security": "wpa2", "password": "geheim123"}],
}


def _inventory(ipad: IPad, supervised: bool = False) -> dict[str, Any] | None:
    """Answer an inventory refresh; the command the device gets after it."""
    asked = answer(ipad.result("Idle"))
    assert asked is not None and asked["Command"]["RequestType"] == "DeviceInformation"
    responses = {"IsSupervised": supervised, "OSVersion": ipad.os_version, "UDID": ipad.udid}
    apps = answer(ipad.result("Acknowledged", asked["CommandUUID"], QueryResponses=responses))
    assert apps is not None and apps["Command"]["RequestType"] == "InstalledApplicationList"
    profiles = answer(ipad.result("Acknowledged", apps["CommandUUID"], InstalledApplicationList=[]))
    assert profiles is not None and profiles["Command"]["RequestType"] == "ProfileList"
    return answer(ipad.result("Acknowledged", profiles["CommandUUID"], ProfileList=[]))


@pytest.fixture
def enroll_ipad(new_ipad: Callable[..., IPad]) -> Callable[..., IPad]:
    """Factory: an iPad on an OS version, enrolled (Authenticate, TokenUpdate)."""

    def factory(os_version: str = "17.5", udid: str | None = None, **token: Any) -> IPad:
        ipad = new_ipad(udid, **token)
        ipad.os_version = os_version
        assert ipad.authenticate().status_code == 200
        assert ipad.token_update().status_code == 200
        return ipad

    return factory


def _state(ipad: IPad) -> DevicePolicyState:
    db.session.expire_all()
    state = db.session.get(DevicePolicyState, ipad.device_id)
    assert state is not None
    return state


def _declarative(ipad: IPad) -> AppleDeclarativeState:
    db.session.expire_all()
    state = db.session.get(AppleDeclarativeState, ipad.device_id)
    assert state is not None
    return state


def _by_type(ipad: IPad) -> dict[str, dict[str, Any]]:
    return {item["Type"]: item for item in ipad.declarations.values()}


def _tokens(ipad: IPad) -> dict[str, str]:
    return {identifier: item["ServerToken"] for identifier, item in ipad.declarations.items()}


def _declared(ipad: IPad) -> dict[str, Any]:
    """Enroll-to-compliant: the DeclarativeManagement command after the inventory, synced."""
    command = _inventory(ipad)
    assert command is not None and command["Command"]["RequestType"] == "DeclarativeManagement"
    ipad.sync(command)
    assert answer(ipad.result("Acknowledged", command["CommandUUID"])) is None
    return command


def test_an_ipad_on_17_gets_its_policy_as_declarations_and_reports_compliance(
    enroll_ipad: Callable[..., IPad],
    make_policy: Callable[..., dict[str, Any]],
    client: FlaskClient,
    admin_headers: dict[str, str],
) -> None:
    make_policy(POLICY, assign={"target": "school"})
    ipad = enroll_ipad("17.5")
    command = _inventory(ipad)
    assert command is not None and command["Command"]["RequestType"] == "DeclarativeManagement"
    state = _state(ipad)
    assert command["CommandUUID"] == f"policy-{state.desired_hash}"
    data = json.loads(command["Command"]["Data"])
    assert set(data["SyncTokens"]) == {"DeclarationsToken", "Timestamp"}
    assert data["SyncTokens"]["Timestamp"].endswith("Z")
    # Told, not yet applied: the command's acknowledgement alone applies nothing.
    assert answer(ipad.result("Acknowledged", command["CommandUUID"])) is None
    assert _state(ipad).applied_hash != _state(ipad).desired_hash

    report = ipad.sync(command)
    kinds = _by_type(ipad)
    assert kinds["com.apple.configuration.passcode.settings"]["Payload"] == {
        "RequirePasscode": True,
        "MinimumLength": 6,
    }
    activation = kinds["com.apple.activation.simple"]["Payload"]["StandardConfigurations"]
    assert set(activation) == {
        item["Identifier"]
        for item in ipad.declarations.values()
        if item["Type"].startswith("com.apple.configuration.")
    }
    subscribed = kinds["com.apple.configuration.management.status-subscriptions"]["Payload"]
    assert {item["Name"] for item in subscribed["StatusItems"]} == set(STATUS_ITEMS)
    (profile,) = ipad.legacy_profiles.values()
    payloads = {p["PayloadType"]: p for p in profile["PayloadContent"]}
    assert set(payloads) == {"com.apple.applicationaccess", "com.apple.wifi.managed"}
    assert payloads["com.apple.applicationaccess"]["allowCamera"] is False
    assert "allowUIAppInstallation" not in payloads["com.apple.applicationaccess"]
    assert payloads["com.apple.wifi.managed"]["Password"] == "geheim123"
    assert report["StatusItems"]["management"]["declarations"]["configurations"]

    # Compliance from the status report, without a polling command.
    state = _state(ipad)
    assert state.applied_hash == state.desired_hash and state.due_at is None
    assert state.failed_settings == [
        {"setting": "restrictions.allow_app_store", "reason": "needs a supervised device"}
    ]
    shown = client.get(
        f"/api/v1/devices/{ipad.device_id}/effective-policy", headers=admin_headers
    ).get_json()
    assert shown["state"]["compliance"] == "non_compliant"
    assert answer(ipad.result("Idle")) is None
    device = db.session.get(Device, ipad.device_id)
    assert device is not None
    assert device.inventory["OSVersion"] == "17.5"
    assert device.inventory["PasscodePresent"] is True
    assert device.inventory["model_name"] == "iPad Air (4th generation)"


def test_an_ipad_on_16_keeps_the_profile_and_has_no_declarations(
    enroll_ipad: Callable[..., IPad], make_policy: Callable[..., dict[str, Any]]
) -> None:
    make_policy(POLICY, assign={"target": "school"})
    ipad = enroll_ipad("16.7.10")
    sent = _inventory(ipad)
    assert sent is not None and sent["Command"]["RequestType"] == "InstallProfile"
    assert db.session.get(AppleDeclarativeState, ipad.device_id) is None
    refused = ipad.declarative("tokens")
    assert refused.status_code == 404
    assert refused.mimetype == "application/problem+json"


def test_moving_from_16_to_17_removes_the_profile_before_the_declarations(
    enroll_ipad: Callable[..., IPad],
    make_policy: Callable[..., dict[str, Any]],
    client: FlaskClient,
    admin_headers: dict[str, str],
) -> None:
    policy = make_policy(POLICY, assign={"target": "school"})
    ipad = enroll_ipad("16.7.10")
    installed = _inventory(ipad)
    assert installed is not None and installed["Command"]["RequestType"] == "InstallProfile"
    identifier = plistlib.loads(installed["Command"]["Payload"])["PayloadIdentifier"]
    assert answer(ipad.result("Acknowledged", installed["CommandUUID"])) is None

    # The update to 17 shows in the next inventory.
    ipad.os_version = "17.0.1"
    db.session.execute(
        update(AppleDevice)
        .where(AppleDevice.device_id == ipad.device_id)
        .values(inventory_due_at=utcnow())
    )
    db.session.commit()
    removal = _inventory(ipad)
    assert removal is not None and removal["Command"] == {
        "RequestType": "RemoveProfile",
        "Identifier": identifier,
    }
    # Until the removal is answered, no declarations (and no profile) go out.
    assert answer(ipad.result("Idle")) is None
    command = answer(ipad.result("Acknowledged", removal["CommandUUID"]))
    assert command is not None and command["Command"]["RequestType"] == "DeclarativeManagement"
    ipad.sync(command)
    (profile,) = ipad.legacy_profiles.values()
    assert profile["PayloadIdentifier"] != identifier
    state = _state(ipad)
    assert state.applied_hash == state.desired_hash

    # A policy change now goes out as declarations, never as a profile again.
    changed = client.patch(
        f"/api/v1/policies/{policy['id']}",
        json={"document": {**POLICY, "passcode": {"required": True, "min_length": 8}}},
        headers=admin_headers,
    )
    assert changed.status_code == 200, changed.get_json()
    again = answer(ipad.result("Idle"))
    assert again is not None and again["Command"]["RequestType"] == "DeclarativeManagement"


def test_a_not_now_removal_is_asked_again_later(
    enroll_ipad: Callable[..., IPad], make_policy: Callable[..., dict[str, Any]]
) -> None:
    make_policy(POLICY, assign={"target": "school"})
    ipad = enroll_ipad("16.7.10")
    installed = _inventory(ipad)
    assert installed is not None
    ipad.result("Acknowledged", installed["CommandUUID"])
    ipad.os_version = "18.1"
    assert ipad.authenticate().status_code == 200  # a re-authentication names the OS too
    removal = answer(ipad.result("Idle"))
    assert removal is not None and removal["Command"]["RequestType"] == "RemoveProfile"
    assert answer(ipad.result("NotNow", removal["CommandUUID"])) is None
    due = _declarative(ipad).remove_profile_due_at
    assert due is not None and due > utcnow() + timedelta(seconds=60)
    db.session.execute(
        update(AppleDeclarativeState)
        .where(AppleDeclarativeState.device_id == ipad.device_id)
        .values(remove_profile_due_at=utcnow())
    )
    db.session.commit()
    asked = answer(ipad.result("Idle"))
    assert asked is not None and asked["Command"]["RequestType"] == "RemoveProfile"
    # The profile was gone already: an error ends the removal too.
    command = answer(ipad.result("Error", asked["CommandUUID"]))
    assert command is not None and command["Command"]["RequestType"] == "DeclarativeManagement"


def _group(client: FlaskClient, headers: dict[str, str], name: str, ipads: list[IPad]) -> int:
    made = client.post("/api/v1/groups", json={"kind": "class", "name": name}, headers=headers)
    assert made.status_code == 201, made.get_json()
    added = client.post(
        f"/api/v1/groups/{made.get_json()['id']}/devices",
        json={"device_ids": [ipad.device_id for ipad in ipads]},
        headers=headers,
    )
    assert added.status_code in (200, 201, 204), added.get_json()
    return made.get_json()["id"]


def test_a_policy_change_changes_the_tokens_of_exactly_the_devices_it_reaches(
    enroll_ipad: Callable[..., IPad],
    make_policy: Callable[..., dict[str, Any]],
    client: FlaskClient,
    admin_headers: dict[str, str],
) -> None:
    a = enroll_ipad("17.5", "00008101-000A1111")
    b = enroll_ipad("18.2", "00008101-000B2222")
    c = enroll_ipad("17.4", "00008101-000C3333")
    for ipad in (a, b, c):
        _inventory(ipad)
    group_ab = _group(client, admin_headers, "7a", [a, b])
    group_c = _group(client, admin_headers, "7b", [c])
    passcode = make_policy(
        {"passcode": {"required": True, "min_length": 6}},
        assign={"target": "group", "group_id": group_ab},
    )
    make_policy(
        {"restrictions": {"allow_camera": False}}, assign={"target": "group", "group_id": group_c}
    )
    for ipad in (a, b, c):
        command = answer(ipad.result("Idle"))
        assert command is not None and command["Command"]["RequestType"] == "DeclarativeManagement"
        ipad.sync(command)
        ipad.result("Acknowledged", command["CommandUUID"])
    before = {ipad.device_id: (_declarative(ipad).token, _tokens(ipad)) for ipad in (a, b, c)}
    assert before[a.device_id][0] == before[b.device_id][0] != before[c.device_id][0]

    db.session.execute(PushWakeup.__table__.delete())
    db.session.commit()
    changed = client.patch(
        f"/api/v1/policies/{passcode['id']}",
        json={"document": {"passcode": {"required": True, "min_length": 8}}},
        headers=admin_headers,
    )
    assert changed.status_code == 200, changed.get_json()
    assert set(db.session.scalars(select(PushWakeup.device_id))) == {a.device_id, b.device_id}
    assert answer(c.result("Idle")) is None
    for ipad in (a, b):
        command = answer(ipad.result("Idle"))
        assert command is not None and command["Command"]["RequestType"] == "DeclarativeManagement"
        old_token, old_items = before[ipad.device_id]
        ipad.sync(command)
        ipad.result("Acknowledged", command["CommandUUID"])
        assert _declarative(ipad).token != old_token
        new_items = _tokens(ipad)
        assert set(new_items) == set(old_items)
        assert {key for key in new_items if new_items[key] != old_items[key]} == {
            next(i for i, d in ipad.declarations.items() if d["Type"].endswith("passcode.settings"))
        }
        assert _state(ipad).applied_hash == _state(ipad).desired_hash
    assert _declarative(c).token == before[c.device_id][0]

    # A change in what declarations do not carry (apps) changes no token and sends no
    # command: the last status settles the new policy, with the apps reported as not delivered.
    changed = client.patch(
        f"/api/v1/policies/{passcode['id']}",
        json={
            "document": {
                "passcode": {"required": True, "min_length": 8},
                "apps": {"required": ["de.schule.app"]},
            }
        },
        headers=admin_headers,
    )
    assert changed.status_code == 200, changed.get_json()
    token = _declarative(a).token
    assert answer(a.result("Idle")) is None
    assert _declarative(a).token == token
    state = _state(a)
    assert state.applied_hash == state.desired_hash
    assert [item["setting"] for item in state.failed_settings] == ["apps"]


def test_an_invalid_declaration_makes_the_device_non_compliant_with_the_reason(
    enroll_ipad: Callable[..., IPad], make_policy: Callable[..., dict[str, Any]]
) -> None:
    make_policy({"passcode": {"required": True, "min_length": 6}}, assign={"target": "school"})
    ipad = enroll_ipad("17.5")
    command = _inventory(ipad)
    assert command is not None
    ipad.sync(command)
    passcode = next(
        i for i, d in ipad.declarations.items() if d["Type"].endswith("passcode.settings")
    )
    ipad.invalid[passcode] = "the passcode does not meet the policy"
    response = ipad.declarative("status", json.dumps(ipad.status_report(full=False)).encode())
    assert response.status_code == 200
    state = _state(ipad)
    assert state.applied_hash == state.desired_hash
    assert state.failed_settings == [
        {
            "setting": "passcode",
            "reason": "Error.ConfigurationCannotBeApplied: the passcode does not meet the policy",
        }
    ]


def test_a_not_now_declarative_command_is_sent_again_after_the_retry(
    enroll_ipad: Callable[..., IPad], make_policy: Callable[..., dict[str, Any]]
) -> None:
    make_policy(POLICY, assign={"target": "school"})
    ipad = enroll_ipad("17.5")
    command = _inventory(ipad)
    assert command is not None
    assert answer(ipad.result("NotNow", command["CommandUUID"])) is None
    assert answer(ipad.result("Idle")) is None
    state = _state(ipad)
    assert state.due_at is not None and state.due_at > utcnow()
    db.session.execute(
        update(DevicePolicyState)
        .where(DevicePolicyState.device_id == ipad.device_id)
        .values(due_at=utcnow())
    )
    db.session.commit()
    again = answer(ipad.result("Idle"))
    assert again is not None and again["CommandUUID"] == command["CommandUUID"]
    assert again["Command"]["RequestType"] == "DeclarativeManagement"


@pytest.mark.parametrize("name", sorted(STATUS_ITEMS))
def test_each_status_item_lands_in_the_inventory(
    enroll_ipad: Callable[..., IPad], name: str
) -> None:
    ipad = enroll_ipad("17.5")
    _declared(ipad)
    value: Any = {
        "device.identifier.serial-number": "F9FXL2ABCDEF",
        "device.identifier.udid": ipad.udid,
        "device.model.family": "iPad",
        "device.model.identifier": "iPad14,2",
        "device.model.marketing-name": "iPad mini (6th generation)",
        "device.operating-system.build-version": "22D60",
        "device.operating-system.family": "iPadOS",
        "device.operating-system.version": "18.3",
        "passcode.is-compliant": False,
        "passcode.is-present": False,
    }[name]
    items: dict[str, Any] = {}
    nest(items, name, value)
    report = {"StatusItems": items, "Errors": []}
    response = ipad.declarative("status", json.dumps(report).encode())
    assert response.status_code == 200, response.get_json()
    db.session.expire_all()
    device = db.session.get(Device, ipad.device_id)
    assert device is not None and device.inventory[STATUS_ITEMS[name]] == value
    if name == "device.operating-system.version":
        assert device.os_version == "18.3"
    # An incremental report keeps what earlier reports said.
    kept = _declarative(ipad).status
    assert kept["management"]["declarations"]["configurations"]


def test_status_errors_are_kept_until_the_item_is_reported(
    enroll_ipad: Callable[..., IPad],
) -> None:
    ipad = enroll_ipad("17.5")
    _declared(ipad)
    failing = {
        "StatusItems": {},
        "Errors": [
            {
                "StatusItem": "passcode.is-compliant",
                "Reasons": [{"Code": "Error.NotAvailable", "Description": "locked"}],
            }
        ],
    }
    assert ipad.declarative("status", json.dumps(failing).encode()).status_code == 200
    assert _declarative(ipad).status_errors == [
        {
            "StatusItem": "passcode.is-compliant",
            "Reasons": [{"code": "Error.NotAvailable", "description": "locked"}],
        }
    ]
    cleared = {"StatusItems": {"passcode": {"is-compliant": True}}, "Errors": []}
    assert ipad.declarative("status", json.dumps(cleared).encode()).status_code == 200
    assert _declarative(ipad).status_errors == []


BAD_REPORT_DATA: list[tuple[str, Any]] = [
    ("not base64", "!!not base64!!"),
    ("not JSON", b"{not json"),
    ("a list", b"[]"),
    ("items not an object", json.dumps({"StatusItems": [], "Errors": []}).encode()),
    ("errors not a list", json.dumps({"StatusItems": {}, "Errors": {}}).encode()),
    ("error without item", json.dumps({"StatusItems": {}, "Errors": [{"x": 1}]}).encode()),
    ("full not a bool", json.dumps({"StatusItems": {}, "FullReport": "yes"}).encode()),
    (
        "declaration entry of the wrong type",
        json.dumps(
            {
                "StatusItems": {
                    "management": {
                        "declarations": {
                            "configurations": [
                                {"identifier": "x", "server-token": "t", "active": "yes"}
                            ]
                        }
                    }
                },
                "Errors": [],
            }
        ).encode(),
    ),
    ("too deep", json.dumps({"StatusItems": {"a": [[[[[[[[[[[[[[1]]]]]]]]]]]]]]}}).encode()),
    ("oversized", b'{"StatusItems": {"x": "' + b"a" * (ddm.MAX_STATUS_BYTES + 1) + b'"}}'),
    ("empty", b""),
]


@pytest.mark.parametrize(
    "fields",
    [
        {"Endpoint": "unknown"},
        {"Endpoint": "declaration/bogus/x"},
        {"Endpoint": "declaration/configuration/"},
        {"Endpoint": "x" * 301},
        {"Endpoint": 7},
        {},
        *({"Endpoint": "status", "Data": data} for _name, data in BAD_REPORT_DATA),
    ],
)
def test_malformed_declarative_requests_are_refused_and_change_nothing(
    enroll_ipad: Callable[..., IPad], fields: dict[str, Any]
) -> None:
    ipad = enroll_ipad("17.5")
    _declared(ipad)
    before = _declarative(ipad)
    kept = (before.status, before.status_errors, before.status_at, before.synced_token)
    device = db.session.get(Device, ipad.device_id)
    assert device is not None
    inventory = dict(device.inventory)
    message: dict[str, Any] = {"MessageType": "DeclarativeManagement", "UDID": ipad.udid, **fields}
    response = ipad.check_in(message)
    assert response.status_code == 400, response.get_data(as_text=True)
    problem = response.get_json()
    assert response.mimetype == "application/problem+json"
    assert problem["type"].endswith("apple-declarative-request-refused")
    assert set(problem["errors"]) <= {"Endpoint", "Data"} and problem["errors"]
    after = _declarative(ipad)
    assert (after.status, after.status_errors, after.status_at, after.synced_token) == kept
    device = db.session.get(Device, ipad.device_id)
    assert device is not None and device.inventory == inventory


def test_unknown_declarations_are_not_found_and_identity_is_checked(
    enroll_ipad: Callable[..., IPad],
) -> None:
    ipad = enroll_ipad("17.5")
    _declared(ipad)
    missing = ipad.declarative("declaration/configuration/com.example.unknown")
    assert missing.status_code == 404
    assert missing.mimetype == "application/problem+json"
    other_udid = ipad.declarative("tokens", UDID="someone-else")
    assert other_udid.status_code == 401
    unsigned = ipad.client.put(
        "/apple/mdm/checkin",
        data=plistlib.dumps({"MessageType": "DeclarativeManagement", "Endpoint": "tokens"}),
        headers={"Content-Type": "application/x-apple-aspen-mdm-checkin"},
    )
    assert unsigned.status_code == 401


def test_the_legacy_profile_url_serves_only_the_current_profile(
    enroll_ipad: Callable[..., IPad],
    make_policy: Callable[..., dict[str, Any]],
    client: FlaskClient,
    admin_headers: dict[str, str],
) -> None:
    policy = make_policy(POLICY, assign={"target": "school"})
    ipad = enroll_ipad("17.5")
    other = enroll_ipad("17.5", "00008101-000D4444")
    _declared(ipad)
    _declared(other)
    url = _by_type(ipad)["com.apple.configuration.legacy"]["Payload"]["ProfileURL"]
    assert client.get(url).status_code == 200
    prefix, device_id, token, mac = url.rsplit("/", 3)
    forged = f"{prefix}/{device_id}/{token}/{'0' * len(mac)}"
    assert client.get(forged).status_code == 404
    elsewhere = f"{prefix}/{other.device_id}/{token}/{mac}"
    assert client.get(elsewhere).status_code == 404
    changed = client.patch(
        f"/api/v1/policies/{policy['id']}",
        json={"document": {**POLICY, "restrictions": {"allow_camera": True}}},
        headers=admin_headers,
    )
    assert changed.status_code == 200, changed.get_json()
    stale = client.get(url)
    assert stale.status_code == 404 and stale.mimetype == "application/problem+json"
    command = answer(ipad.result("Idle"))
    assert command is not None
    ipad.sync(command)
    new_url = _by_type(ipad)["com.apple.configuration.legacy"]["Payload"]["ProfileURL"]
    assert new_url != url
    fresh = client.get(new_url)
    assert fresh.status_code == 200 and fresh.headers["Cache-Control"] == "no-store"
    assert b"allowCamera" in fresh.data


def test_a_personal_device_gets_only_what_user_enrollment_allows(
    app: Flask, school: Any, make_policy: Callable[..., dict[str, Any]]
) -> None:
    make_policy(POLICY, assign={"target": "school"})
    stored = devices.encode_inventory("byod", {})
    device = devices.create_device(
        db.session,
        school_id=school.id,
        ownership="byod",
        user_role="student",
        facts=devices.DeviceFacts(platform="ios", model="iPhone15,2", os_version="18.1"),
        inventory=stored,
        user_id=None,
        groups=[],
    )
    apple = AppleDevice(
        device_id=device.id, school_id=school.id, topic=TOPIC, authenticated_at=utcnow()
    )
    db.session.add(apple)
    db.session.flush()
    now = utcnow()
    with app.test_request_context("/apple/mdm/connect"):
        assert ddm.observe_os(db.session, device, apple, "18.1", now)
        command = ddm.next_command(db.session, device, apple, now, 300)
        assert command is not None
        assert command["Command"]["RequestType"] == "DeclarativeManagement"
        _hash, built = ddm.current(db.session, device, apple, now)
        kinds = {item.type: item for item in built.declarations}
        assert kinds["com.apple.configuration.passcode.settings"].payload == {
            "RequirePasscode": True
        }
        subscribed = {
            item["Name"]
            for item in kinds["com.apple.configuration.management.status-subscriptions"].payload[
                "StatusItems"
            ]
        }
        assert "device.identifier.serial-number" not in subscribed
        assert "device.identifier.udid" not in subscribed
        assert built.profile is not None
        assert {p["PayloadType"] for p in built.profile["PayloadContent"]} == {
            "com.apple.wifi.managed"
        }
        # A status report with hardware identifiers stores none of them.
        report: dict[str, Any] = {"StatusItems": {}, "Errors": []}
        nest(report["StatusItems"], "device.identifier.serial-number", "F9FXL2ABCDEF")
        nest(report["StatusItems"], "device.operating-system.version", "18.1")
        message = {
            "MessageType": "DeclarativeManagement",
            "Endpoint": "status",
            "Data": json.dumps(report).encode(),
        }
        reply = service.declarative_management(
            db.session, service.Identified(device, apple), message
        )
    assert reply.body is None
    assert device.inventory.get("OSVersion") == "18.1"
    assert "SerialNumber" not in device.inventory and device.serial_number is None


def test_an_unanswered_declarative_command_is_resent_and_a_status_without_it_settles(
    enroll_ipad: Callable[..., IPad], make_policy: Callable[..., dict[str, Any]]
) -> None:
    make_policy(POLICY, assign={"target": "school"})
    ipad = enroll_ipad("18.2")
    command = _inventory(ipad)
    assert command is not None
    # No answer: nothing before COMMAND_RESEND_SECONDS, then the same command again.
    assert answer(ipad.result("Idle")) is None
    db.session.execute(
        update(DevicePolicyState)
        .where(DevicePolicyState.device_id == ipad.device_id)
        .values(due_at=utcnow())
    )
    db.session.commit()
    again = answer(ipad.result("Idle"))
    assert again is not None and again["CommandUUID"] == command["CommandUUID"]
    # The device syncs and reports before it answers the command: the status settles it.
    ipad.sync(again)
    state = _state(ipad)
    assert state.applied_hash == state.desired_hash and state.due_at is None
    assert answer(ipad.result("Acknowledged", again["CommandUUID"])) is None
    assert _state(ipad).applied_hash == state.applied_hash
