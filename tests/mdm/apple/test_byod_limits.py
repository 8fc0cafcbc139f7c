"""A personal (BYOD) iPhone or iPad gets only what Apple's User Enrollment allows, whatever the
caller asks: no erase, lock, restart, lost mode or passcode reset, no identifiers asked or
stored, only the school's apps and profiles; ending management deletes what was stored about it.
School-owned iPads are unchanged."""

import base64
import plistlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, insert, select

from enrollment.models import Consent
from mdm.accounts.models import School, User
from mdm.apple import payloads
from mdm.apple.models import AppleDevice
from mdm.commands.models import Command, CommandBatch
from mdm.devices import credentials
from mdm.devices import service as devices
from mdm.devices.models import Device, DeviceCredential
from mdm.extensions import db
from mdm.platform.models import AuditEvent
from mdm.platform.types import utcnow
from mdm.policies.models import DevicePolicyState
from mdm.push.models import PushAddress, PushWakeup
from tests.mdm.apple.ipad import TOPIC, IPad, PersonalIPhone, answer

# The commands a personal device never gets (docs/commands.md), and the RequestType of each.
NEVER = {
    "erase": "EraseDevice",
    "lock": "DeviceLock",
    "clear_passcode": "ClearPasscode",
    "restart": "RestartDevice",
    "enable_lost_mode": "EnableLostMode",
    "disable_lost_mode": "DisableLostMode",
}
PARAMETERS = {"lock": {"message": "x"}, "enable_lost_mode": {"message": "Verloren"}}
# What a device would answer if it answered every query, its identifiers among them.
IDENTIFIERS = {
    "UDID": "00008110-000A1B2C3D4E5F60",
    "SerialNumber": "F2LX1234ABCD",
    "IMEI": "35 693803 564380 9",
    "MEID": "35693803564380",
    "ICCID": "8949 0000 0000 0000 0000",
    "WiFiMAC": "aa:bb:cc:dd:ee:ff",
    "BluetoothMAC": "aa:bb:cc:dd:ee:00",
    "EthernetMACs": ["aa:bb:cc:dd:ee:01"],
    "PhoneNumber": "+491701234567",
    "DeviceName": "Lenas iPhone",
    "ServiceSubscriptions": [{"IMEI": "356938035643809", "PhoneNumber": "+491701234567"}],
    "IsActivationLockEnabled": True,
}
ALLOWED_ANSWERS = {
    "OSVersion": "16.7.10",
    "BuildVersion": "22C152",
    "ModelName": "iPhone",
    "ProductName": "iPhone15,2",
    "BatteryLevel": 0.7,
    "DeviceCapacity": 128.0,
}


@pytest.fixture(scope="module")
def phone_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _personal_device(
    client: FlaskClient,
    school: School,
    owner: User,
    notice: dict[str, Any],
    key: Any,
    authenticate: bool = True,
) -> IPad:
    """A personal iPhone enrolled for `owner`, made through the services: the device (pending,
    BYOD), its Apple state and its identity certificate of the school's CA, the owner's consent;
    then it authenticates and sends its push token. (How the device enrolls, by account-driven
    User Enrollment, is not what these tests are about; the messages carry the identifier the
    endpoints bind the device with.)"""
    device = devices.create_device(
        db.session,
        school_id=school.id,
        ownership="byod",
        user_role=owner.role,
        facts=devices.DeviceFacts(platform="ios", name="iPhone"),
        inventory=devices.encode_inventory("byod", {}),
        user_id=owner.id,
        groups=[],
        pending=True,
    )
    db.session.add(
        AppleDevice(device_id=device.id, school_id=school.id, topic=TOPIC, user_enrollment=True)
    )
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"device-{device.id}")]))
        .sign(key, hashes.SHA256())
    )
    issued = credentials.issue_credential(db.session, device, csr)
    assert issued.certificate_pem is not None
    db.session.add(
        Consent(
            school_id=school.id,
            device_id=device.id,
            user_id=owner.id,
            notice_id=notice["id"],
            notice_version=notice["version"],
        )
    )
    db.session.commit()
    cert = x509.load_pem_x509_certificate(issued.certificate_pem.encode())
    # iOS 16: its policy comes as a profile (declarations: test_user_enrollment.py).
    phone = PersonalIPhone(client, key, cert, {}, os_version="16.7.10", topic=TOPIC)
    if not authenticate:
        return phone
    authenticated = phone.check_in(
        {
            "MessageType": "Authenticate",
            "EnrollmentID": phone.enrollment_id,
            "Topic": TOPIC,
            "ProductName": "iPhone15,2",
            "OSVersion": phone.os_version,
            "SerialNumber": "F2LX1234ABCD",
            "IMEI": "35 693803 564380 9",
            "DeviceName": "Lenas iPhone",
        }
    )
    assert authenticated.status_code == 200, authenticated.get_json()
    # An UnlockToken, though User Enrollment sends none: a personal device's is never kept.
    assert phone.token_update(b"unlock-secret").status_code == 200
    assert db.session.get(AppleDevice, device.id).unlock_token is None  # type: ignore[union-attr]
    return phone


@pytest.fixture
def phone(
    client: FlaskClient,
    school: School,
    teacher: User,
    notice: dict[str, Any],
    push_topic: str,
    phone_key: Any,
) -> IPad:
    """A teacher's own iPhone, enrolled, its first inventory refresh not answered yet."""
    return _personal_device(client, school, teacher, notice, phone_key)


def _answer_inventory(device: IPad, responses: dict[str, Any] | None = None) -> dict[str, Any]:
    """Answer the inventory refresh the device is asked for; the three requests it got."""
    asked = answer(device.result("Idle"))
    assert asked is not None and asked["Command"]["RequestType"] == "DeviceInformation"
    apps = answer(
        device.result(
            "Acknowledged",
            asked["CommandUUID"],
            QueryResponses=responses if responses is not None else ALLOWED_ANSWERS,
        )
    )
    assert apps is not None and apps["Command"]["RequestType"] == "InstalledApplicationList"
    profiles = answer(
        device.result(
            "Acknowledged",
            apps["CommandUUID"],
            InstalledApplicationList=[
                {"Identifier": "de.schule.lernapp", "Name": "Lernapp", "Version": "3.2"}
            ],
        )
    )
    assert profiles is not None and profiles["Command"]["RequestType"] == "ProfileList"
    assert answer(device.result("Acknowledged", profiles["CommandUUID"], ProfileList=[])) is None
    return {"information": asked, "apps": apps, "profiles": profiles}


def _device(device: IPad) -> Device:
    db.session.expire_all()
    found = db.session.get(Device, device.device_id)
    assert found is not None
    return found


def _queue(client: FlaskClient, headers: dict[str, str], type_: str, **target: Any) -> Any:
    parameters = target.pop("parameters", PARAMETERS.get(type_, {}))
    return client.post(
        "/api/v1/commands",
        json={"type": type_, "parameters": parameters, **target},
        headers=headers,
    )


def _profile(*payloads_: dict[str, Any], **top: Any) -> str:
    profile = {
        "PayloadType": "Configuration",
        "PayloadIdentifier": "de.schule.profil",
        "PayloadUUID": "6D1E1C46-6C4A-4F1B-9D6E-2E1F3A4B5C6D",
        "PayloadVersion": 1,
        "PayloadContent": list(payloads_),
        **top,
    }
    return base64.b64encode(plistlib.dumps(profile)).decode()


WIFI = {
    "PayloadType": "com.apple.wifi.managed",
    "PayloadIdentifier": "de.schule.profil.wifi",
    "PayloadUUID": "7D1E1C46-6C4A-4F1B-9D6E-2E1F3A4B5C6D",
    "PayloadVersion": 1,
    "SSID_STR": "Schule",
    "EncryptionType": "WPA2",
}
CAMERA = {
    "PayloadType": "com.apple.applicationaccess",
    "PayloadIdentifier": "de.schule.profil.restrictions",
    "PayloadUUID": "8D1E1C46-6C4A-4F1B-9D6E-2E1F3A4B5C6D",
    "PayloadVersion": 1,
    "allowCamera": False,
}


# --- commands ------------------------------------------------------------------------------------


@pytest.mark.parametrize("type_", sorted(NEVER))
def test_a_forbidden_command_to_a_personal_device_is_refused_and_nothing_queued(
    phone: IPad, client: FlaskClient, admin_headers: dict[str, str], type_: str
) -> None:
    refused = _queue(client, admin_headers, type_, device_ids=[phone.device_id])

    assert refused.status_code == 409
    assert refused.headers["Content-Type"] == "application/problem+json"
    body = refused.get_json()
    assert body["type"].endswith("command-not-allowed")
    assert body["errors"]["device_ids"] == [
        f"device {phone.device_id}: not allowed on a personal (BYOD) device"
    ]
    assert db.session.scalar(select(func.count()).select_from(Command)) == 0


@pytest.mark.parametrize("target", ["school", "group"])
@pytest.mark.parametrize("type_", ["erase", "lock", "clear_passcode"])
def test_a_school_or_group_command_skips_the_personal_device(
    phone: IPad,
    ipad: IPad,
    client: FlaskClient,
    admin_headers: dict[str, str],
    school: School,
    type_: str,
    target: str,
) -> None:
    if target == "group":
        group = client.post(
            "/api/v1/groups", json={"kind": "custom", "name": "Gemischt"}, headers=admin_headers
        ).get_json()
        added = client.post(
            f"/api/v1/groups/{group['id']}/devices",
            json={"device_ids": [phone.device_id, ipad.device_id]},
            headers=admin_headers,
        )
        assert added.status_code < 300, added.get_json()
        batch = _queue(client, admin_headers, type_, group_id=group["id"])
    else:
        batch = _queue(client, admin_headers, type_, school_id=school.id)

    assert batch.status_code == 201, batch.get_json()
    assert batch.get_json()["queued"] == 1
    assert batch.get_json()["skipped"] == {"personal_device": 1}
    targets = db.session.scalars(select(Command.device_id)).all()
    assert targets == [ipad.device_id]
    # Of the personal device alone: nothing may go.
    alone = _queue(client, admin_headers, type_, device_ids=[phone.device_id, ipad.device_id])
    assert alone.status_code == 409


def test_a_forbidden_command_queued_behind_the_rules_is_never_sent(
    phone: IPad, school: School
) -> None:
    _answer_inventory(phone)
    now = utcnow()
    batch = CommandBatch(
        school_id=school.id,
        type="erase",
        parameters={},
        target="devices",
        created_by="someone",
        created_at=now,
        expires_at=now + timedelta(days=1),
        skipped={},
    )
    db.session.add(batch)
    db.session.flush()
    for type_ in [*sorted(NEVER), "install_profile"]:
        parameters = PARAMETERS.get(type_, {})
        if type_ == "install_profile":
            parameters = {"profile": _profile(WIFI, CAMERA)}
        one = CommandBatch(
            school_id=school.id,
            type=type_,
            parameters=parameters,
            target="devices",
            created_by="someone",
            created_at=now,
            expires_at=now + timedelta(days=1),
            skipped={},
        )
        db.session.add(one)
        db.session.flush()
        db.session.execute(
            insert(Command).values(
                batch_id=one.id,
                school_id=school.id,
                device_id=phone.device_id,
                type=type_,
                status="queued",
                created_at=now,
                expires_at=now + timedelta(days=1),
                due_at=now,
                attempts=0,
                not_now_count=0,
                result_detail="",
            )
        )
    db.session.commit()

    assert answer(phone.result("Idle")) is None

    db.session.expire_all()
    sent = db.session.scalars(select(Command).where(Command.device_id == phone.device_id)).all()
    assert len(sent) == len(NEVER) + 1
    for command in sent:
        assert command.status == "error", command.type
        assert "personal (BYOD) device" in command.result_detail
    profile = next(command for command in sent if command.type == "install_profile")
    assert "allowCamera" in profile.result_detail


# --- what is asked and stored -------------------------------------------------------------------


def test_a_personal_device_is_asked_no_identifier_and_none_is_stored(phone: IPad) -> None:
    asked = _answer_inventory(phone, {**ALLOWED_ANSWERS, **IDENTIFIERS})

    queries = asked["information"]["Command"]["Queries"]
    assert queries == [
        "OSVersion",
        "BuildVersion",
        "ModelName",
        "Model",
        "ProductName",
        "DeviceCapacity",
        "AvailableDeviceCapacity",
        "BatteryLevel",
    ]
    for forbidden in IDENTIFIERS:
        assert forbidden not in queries
    device = _device(phone)
    assert device.inventory == {
        **ALLOWED_ANSWERS,
        "ManagedApplicationList": [
            {"Identifier": "de.schule.lernapp", "Name": "Lernapp", "Version": "3.2"}
        ],
        "ProfileList": [],
    }
    # Neither from Authenticate nor from DeviceInformation.
    assert device.serial_number is None and device.imei is None and device.imei2 is None
    assert device.name == "iPhone"  # never "Lenas iPhone", the name its owner gave it


def test_a_personal_device_lists_only_managed_apps_and_the_schools_profiles(phone: IPad) -> None:
    asked = answer(phone.result("Idle"))
    assert asked is not None
    apps = answer(phone.result("Acknowledged", asked["CommandUUID"], QueryResponses={}))
    assert apps is not None
    assert apps["Command"] == {"RequestType": "InstalledApplicationList", "ManagedAppsOnly": True}
    profiles = answer(
        phone.result(
            "Acknowledged",
            apps["CommandUUID"],
            InstalledApplicationList=[
                {"Identifier": "de.schule.lernapp", "Name": "Lernapp", "DynamicSize": 1000}
            ],
        )
    )
    assert profiles is not None
    assert profiles["Command"] == {"RequestType": "ProfileList", "ManagedOnly": True}
    phone.result(
        "Acknowledged",
        profiles["CommandUUID"],
        ProfileList=[
            {
                "PayloadIdentifier": "de.schule.wlan",
                "PayloadDisplayName": "Schul-WLAN",
                "PayloadUUID": "A",
                "IsManaged": True,
                "PayloadContent": [{"PayloadType": "com.apple.wifi.managed"}],
            },
            {"PayloadIdentifier": "com.example.private-vpn", "PayloadUUID": "B"},
            {"PayloadIdentifier": "de.carrier.profile", "IsManaged": False},
        ],
    )

    inventory = _device(phone).inventory
    assert inventory["ManagedApplicationList"] == [
        {"Identifier": "de.schule.lernapp", "Name": "Lernapp"}
    ]
    assert "InstalledApplicationList" not in inventory
    assert inventory["ProfileList"] == [
        {
            "PayloadIdentifier": "de.schule.wlan",
            "PayloadDisplayName": "Schul-WLAN",
            "PayloadUUID": "A",
            "IsManaged": True,
        }
    ]


def test_a_school_ipad_is_still_asked_everything(ipad: IPad) -> None:
    asked = answer(ipad.result("Idle"))

    assert asked is not None
    assert asked["Command"]["Queries"] == list(payloads.DEVICE_QUERIES)
    assert {"UDID", "SerialNumber", "IMEI", "WiFiMAC"} <= set(asked["Command"]["Queries"])
    apps = answer(ipad.result("Acknowledged", asked["CommandUUID"], QueryResponses={}))
    assert apps is not None and apps["Command"]["ManagedAppsOnly"] is False
    profiles = answer(ipad.result("Acknowledged", apps["CommandUUID"], InstalledApplicationList=[]))
    assert profiles is not None and profiles["Command"] == {"RequestType": "ProfileList"}


def test_what_the_owner_reads_is_what_is_stored(
    phone: IPad, client: FlaskClient, headers: Callable[[User], dict[str, str]], teacher: User
) -> None:
    _answer_inventory(phone, {**ALLOWED_ANSWERS, **IDENTIFIERS})

    mine = client.get("/api/v1/me/devices", headers=headers(teacher)).get_json()

    (device,) = mine
    assert device["device"]["id"] == phone.device_id
    assert device["device"]["ownership"] == "byod"
    assert device["device"]["serial_number"] is None and device["device"]["imei"] is None
    assert "SerialNumber" not in device["device"]["inventory"]


# --- profiles ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "reason"),
    [
        (_profile(WIFI, CAMERA), "allowCamera"),
        (
            _profile({**WIFI, "PayloadType": "com.apple.domains", "EmailDomains": ["x.de"]}),
            "com.apple.domains",
        ),
        (_profile({**WIFI, "ProxyType": "Manual"}), "ProxyType"),
        (_profile({**WIFI, "PayloadType": "com.apple.webcontent-filter"}), "webcontent-filter"),
        (
            base64.b64encode(
                plistlib.dumps(
                    {
                        "PayloadType": "Configuration",
                        "PayloadIdentifier": "de.schule.verschluesselt",
                        "EncryptedPayloadContent": b"\x00" * 32,
                    }
                )
            ).decode(),
            "cannot be read",
        ),
    ],
)
def test_a_profile_user_enrollment_forbids_is_refused_for_a_personal_device(
    phone: IPad,
    ipad: IPad,
    client: FlaskClient,
    admin_headers: dict[str, str],
    school: School,
    profile: str,
    reason: str,
) -> None:
    refused = _queue(
        client,
        admin_headers,
        "install_profile",
        device_ids=[phone.device_id],
        parameters={"profile": profile},
    )
    assert refused.status_code == 409
    (why,) = refused.get_json()["errors"]["device_ids"]
    assert why.startswith(f"device {phone.device_id}: the profile holds what a personal")
    assert reason in why
    # To the whole school: the iPad gets it, the personal device is skipped, and says why.
    batch = _queue(
        client,
        admin_headers,
        "install_profile",
        school_id=school.id,
        parameters={"profile": profile},
    )
    assert batch.status_code == 201
    assert batch.get_json()["skipped"] == {"personal_profile": 1}
    assert db.session.scalars(select(Command.device_id)).all() == [ipad.device_id]


def test_a_profile_user_enrollment_allows_reaches_the_personal_device(
    phone: IPad, client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    _answer_inventory(phone)
    restrictions = {**CAMERA, "allowOpenFromManagedToUnmanaged": False}
    del restrictions["allowCamera"]
    profile = _profile(WIFI, restrictions)
    queued = _queue(
        client,
        admin_headers,
        "install_profile",
        device_ids=[phone.device_id],
        parameters={"profile": profile},
    )
    assert queued.status_code == 201, queued.get_json()

    sent = answer(phone.result("Idle"))

    assert sent is not None and sent["Command"]["RequestType"] == "InstallProfile"
    assert sent["Command"]["Payload"] == base64.b64decode(profile)


# --- the end of management -----------------------------------------------------------------------


def _stored(device_id: int) -> dict[str, Any]:
    """What is stored about a device in each table."""
    db.session.expire_all()
    device = db.session.get(Device, device_id)
    assert device is not None
    return {
        "status": device.status,
        "inventory": device.inventory,
        "apple": db.session.get(AppleDevice, device_id),
        "push_address": db.session.get(PushAddress, device_id),
        "wakeup": db.session.get(PushWakeup, device_id),
        "policy_state": db.session.get(DevicePolicyState, device_id),
        "open_commands": db.session.scalar(
            select(func.count())
            .select_from(Command)
            .where(Command.device_id == device_id, Command.due_at.is_not(None))
        ),
        "live_credentials": db.session.scalar(
            select(func.count())
            .select_from(DeviceCredential)
            .where(DeviceCredential.device_id == device_id, DeviceCredential.revoked_at.is_(None))
        ),
        "consents": db.session.scalar(
            select(func.count()).select_from(Consent).where(Consent.device_id == device_id)
        ),
    }


def _managed_with_everything(
    phone: IPad,
    client: FlaskClient,
    admin_headers: dict[str, str],
    make_policy: Callable[..., dict[str, Any]],
) -> None:
    """The personal device with an inventory, a policy applied, push address and UnlockToken,
    and a command waiting."""
    _answer_inventory(phone)
    make_policy(
        {"passcode": {"required": True}}, assign={"target": "ownership", "ownership": "byod"}
    )
    policy = answer(phone.result("Idle"))
    assert policy is not None and policy["Command"]["RequestType"] == "InstallProfile"
    phone.result("Acknowledged", policy["CommandUUID"])
    assert (
        _queue(
            client,
            admin_headers,
            "install_app",
            device_ids=[phone.device_id],
            parameters={"app": "de.schule.app"},
        ).status_code
        == 201
    )
    before = _stored(phone.device_id)
    assert before["inventory"] and before["push_address"] is not None
    assert before["policy_state"] is not None and before["open_commands"] == 1
    assert before["apple"].enrollment_id == phone.enrollment_id


def _events(device_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.target_type == "device", AuditEvent.target_id == str(device_id))
            .order_by(AuditEvent.id)
        )
    )


def test_check_out_deletes_what_was_stored_about_the_personal_device(
    phone: IPad,
    client: FlaskClient,
    admin_headers: dict[str, str],
    make_policy: Callable[..., dict[str, Any]],
) -> None:
    _managed_with_everything(phone, client, admin_headers, make_policy)

    checked_out = phone.check_in(
        {"MessageType": "CheckOut", "EnrollmentID": phone.enrollment_id, "Topic": TOPIC}
    )

    assert checked_out.status_code == 200
    after = _stored(phone.device_id)
    assert after == {
        "status": "retired",
        "inventory": {},
        "apple": None,
        "push_address": None,
        "wakeup": None,
        "policy_state": None,
        "open_commands": 0,
        "live_credentials": 0,
        # The owner's consent is the record of what they agreed to, as for every personal device.
        "consents": 1,
    }
    assert "device.retire" in _events(phone.device_id)
    assert phone.result("Idle").status_code == 401


def test_remove_management_deletes_what_was_stored_and_tells_the_device_once(
    app: Flask,
    phone: IPad,
    client: FlaskClient,
    admin_headers: dict[str, str],
    make_policy: Callable[..., dict[str, Any]],
    headers: Callable[[User], dict[str, str]],
    teacher: User,
    school: School,
) -> None:
    _managed_with_everything(phone, client, admin_headers, make_policy)

    removed = client.post(
        f"/api/v1/me/devices/{phone.device_id}/remove-management", headers=headers(teacher)
    )

    assert removed.status_code == 204
    after = _stored(phone.device_id)
    apple = after.pop("apple")
    assert after == {
        "status": "retired",
        "inventory": {},
        # Kept only to reach the device with the one RemoveProfile, and for its CheckOut.
        "push_address": after["push_address"],
        "wakeup": after["wakeup"],
        "policy_state": None,
        "open_commands": 0,
        "live_credentials": 1,
        "consents": 1,
    }
    assert after["push_address"] is not None and after["wakeup"] is not None
    assert apple.unlock_token is None and apple.policy_left_out == []
    assert apple.inventory_due_at is None and apple.removal_requested_at is not None

    told = answer(phone.result("Idle"))

    prefix = f"{app.config['APPLE_PAYLOAD_PREFIX']}.{school.slug}"
    assert told == {
        "CommandUUID": "remove-management",
        "Command": {"RequestType": "RemoveProfile", "Identifier": f"{prefix}.enrollment"},
    }
    # Once: the next connect gets nothing, and nothing else ever comes.
    assert answer(phone.result("Idle")) is None
    # No new push token is taken.
    assert phone.check_in(_token_update(phone)).status_code == 400
    assert answer(phone.result("Acknowledged", "remove-management")) is None
    assert _stored(phone.device_id)["push_address"] is None

    checked_out = phone.check_in(
        {"MessageType": "CheckOut", "EnrollmentID": phone.enrollment_id, "Topic": TOPIC}
    )

    assert checked_out.status_code == 200
    final = _stored(phone.device_id)
    assert final["apple"] is None and final["live_credentials"] == 0
    assert final["consents"] == 1 and final["inventory"] == {}
    events = _events(phone.device_id)
    assert events[-4:] == [
        "device.retire",
        "device.apple.remove_management",
        "device.apple.remove_management_result",
        "device.apple.check_out",
    ]
    assert phone.result("Idle").status_code == 401


def _token_update(phone: PersonalIPhone) -> dict[str, Any]:
    return {
        "MessageType": "TokenUpdate",
        "EnrollmentID": phone.enrollment_id,
        "Topic": TOPIC,
        "Token": b"\x01" * 32,
        "PushMagic": "NEW",
    }


def test_remove_profile_is_sent_again_only_when_no_answer_came(
    app: Flask,
    phone: IPad,
    client: FlaskClient,
    headers: Callable[[User], dict[str, str]],
    teacher: User,
) -> None:
    _answer_inventory(phone)
    client.post(f"/api/v1/me/devices/{phone.device_id}/remove-management", headers=headers(teacher))
    first = answer(phone.result("Idle"))
    assert first is not None and first["Command"]["RequestType"] == "RemoveProfile"
    apple = db.session.get(AppleDevice, phone.device_id)
    assert apple is not None and apple.removal_due_at is not None
    # The answer was lost: after COMMAND_RESEND_SECONDS it comes again; NotNow puts it off.
    apple.removal_due_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    again = answer(phone.result("Idle"))
    assert again == first
    assert answer(phone.result("NotNow", "remove-management")) is None
    db.session.expire_all()
    assert db.session.get(AppleDevice, phone.device_id).removal_due_at > utcnow()  # type: ignore[union-attr]


def test_check_out_right_after_remove_management_is_no_error(
    phone: IPad, client: FlaskClient, headers: Callable[[User], dict[str, str]], teacher: User
) -> None:
    _answer_inventory(phone)
    client.post(f"/api/v1/me/devices/{phone.device_id}/remove-management", headers=headers(teacher))

    # The owner removed the profile in Settings before the device was told.
    checked_out = phone.check_in(
        {"MessageType": "CheckOut", "EnrollmentID": phone.enrollment_id, "Topic": TOPIC}
    )

    assert checked_out.status_code == 200
    final = _stored(phone.device_id)
    assert final["apple"] is None and final["push_address"] is None
    assert final["wakeup"] is None and final["live_credentials"] == 0
    assert (
        phone.check_in(
            {"MessageType": "CheckOut", "EnrollmentID": phone.enrollment_id, "Topic": TOPIC}
        ).status_code
        == 401
    )


def test_a_school_ipad_checks_out_as_before(ipad: IPad) -> None:
    assert (
        ipad.check_in({"MessageType": "CheckOut", "UDID": ipad.udid, "Topic": TOPIC}).status_code
        == 200
    )

    after = _stored(ipad.device_id)
    assert after["status"] == "retired"
    assert after["apple"] is not None and after["apple"].checked_out_at is not None
    assert after["apple"].udid == ipad.udid


def test_remove_management_before_the_device_authenticated_ends_it_at_once(
    client: FlaskClient,
    school: School,
    teacher: User,
    notice: dict[str, Any],
    push_topic: str,
    phone_key: Any,
    headers: Callable[[User], dict[str, str]],
) -> None:
    pending = _personal_device(client, school, teacher, notice, phone_key, authenticate=False)

    removed = client.post(
        f"/api/v1/me/devices/{pending.device_id}/remove-management", headers=headers(teacher)
    )

    assert removed.status_code == 204
    after = _stored(pending.device_id)
    assert after["status"] == "retired" and after["apple"] is None
    assert after["live_credentials"] == 0 and after["wakeup"] is None


def test_an_admin_who_retires_a_personal_device_ends_its_management_as_the_owner_would(
    app: Flask,
    phone: IPad,
    ipad: IPad,
    client: FlaskClient,
    admin_headers: dict[str, str],
    make_policy: Callable[..., dict[str, Any]],
    school: School,
) -> None:
    """The student left the school: the school ends its management of the personal iPhone. The
    phone is told (the school's apps and data leave it) and nothing stored about it stays."""
    _managed_with_everything(phone, client, admin_headers, make_policy)

    retired = client.post(f"/api/v1/devices/{phone.device_id}/retire", headers=admin_headers)

    assert retired.status_code == 200, retired.get_json()
    after = _stored(phone.device_id)
    apple = after.pop("apple")
    assert after["status"] == "retired" and after["inventory"] == {}
    assert after["policy_state"] is None and after["open_commands"] == 0
    assert apple.unlock_token is None and apple.removal_requested_at is not None
    told = answer(phone.result("Idle"))
    prefix = f"{app.config['APPLE_PAYLOAD_PREFIX']}.{school.slug}"
    assert told == {
        "CommandUUID": "remove-management",
        "Command": {"RequestType": "RemoveProfile", "Identifier": f"{prefix}.enrollment"},
    }
    assert answer(phone.result("Acknowledged", "remove-management")) is None
    checked_out = phone.check_in(
        {"MessageType": "CheckOut", "EnrollmentID": phone.enrollment_id, "Topic": TOPIC}
    )
    assert checked_out.status_code == 200
    final = _stored(phone.device_id)
    assert final["apple"] is None and final["push_address"] is None
    assert final["live_credentials"] == 0
    assert "device.apple.remove_management" in _events(phone.device_id)
    # A school iPad retired by an admin is retired as before: no RemoveProfile is queued.
    assert (
        client.post(f"/api/v1/devices/{ipad.device_id}/retire", headers=admin_headers).status_code
        == 200
    )
    db.session.expire_all()
    school_apple = db.session.get(AppleDevice, ipad.device_id)
    assert school_apple is not None and school_apple.removal_requested_at is None
