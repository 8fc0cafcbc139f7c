"""An iPad enrolls by profile, checks in, gets its inventory asked for, its policy as a profile
and its queued commands; results land in the queue's lifecycle and the inventory."""

import plistlib
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select, text, update

from mdm.apple.models import AppleDevice
from mdm.commands.models import Command
from mdm.devices.models import Device
from mdm.extensions import db
from mdm.policies.models import DevicePolicyState
from mdm.push.models import PushAddress, PushSettings, PushWakeup
from tests.mdm.apple.ipad import IPad, answer


def _queue(client: FlaskClient, headers: dict[str, str], ipad: IPad, type_: str, **params: Any):
    return client.post(
        "/api/v1/commands",
        json={"type": type_, "parameters": params, "device_ids": [ipad.device_id]},
        headers=headers,
    )


def _inventory(ipad: IPad, supervised: bool = False) -> None:
    """Answer the inventory refresh the server asks for after enrollment."""
    asked = answer(ipad.result("Idle"))
    assert asked is not None and asked["Command"]["RequestType"] == "DeviceInformation"
    uuid = asked["CommandUUID"]
    apps = answer(
        ipad.result(
            "Acknowledged",
            uuid,
            QueryResponses={
                "IsSupervised": supervised,
                "SerialNumber": "DMPXK0AAJF8J",
                "DeviceName": "iPad 7b",
                "BatteryLevel": 0.8,
            },
        )
    )
    assert apps is not None and apps["Command"]["RequestType"] == "InstalledApplicationList"
    profiles = answer(
        ipad.result(
            "Acknowledged",
            apps["CommandUUID"],
            InstalledApplicationList=[{"Identifier": "de.schule.app", "Name": "Schul-App"}],
        )
    )
    assert profiles is not None and profiles["Command"]["RequestType"] == "ProfileList"
    ipad.result("Acknowledged", profiles["CommandUUID"], ProfileList=[])


def test_profile_creates_a_pending_device_that_authenticate_enrolls(
    new_ipad: Callable[..., IPad], push_topic: str
) -> None:
    ipad = new_ipad()
    device = db.session.get(Device, ipad.device_id)
    assert device is not None and device.status == "pending"
    mdm = next(p for p in ipad.profile["PayloadContent"] if p["PayloadType"] == "com.apple.mdm")
    identity = next(
        p for p in ipad.profile["PayloadContent"] if p["PayloadType"] != "com.apple.mdm"
    )
    assert mdm["Topic"] == push_topic
    assert mdm["IdentityCertificateUUID"] == identity["PayloadUUID"]
    assert mdm["SignMessage"] is True and mdm["CheckOutWhenRemoved"] is True
    assert mdm["ServerURL"].endswith("/apple/mdm/connect")
    assert mdm["CheckInURL"].endswith("/apple/mdm/checkin")

    assert ipad.authenticate().status_code == 200
    db.session.expire_all()
    device = db.session.get(Device, ipad.device_id)
    assert device is not None and device.status == "enrolled"
    assert device.platform == "ipados" and device.model == "iPad13,1"
    assert device.serial_number == "DMPXK0AAJF8J"
    apple = db.session.get(AppleDevice, ipad.device_id)
    assert apple is not None and apple.udid == ipad.udid


def test_token_update_feeds_push_and_keeps_the_unlock_token_encrypted(ipad: IPad) -> None:
    address = db.session.get(PushAddress, ipad.device_id)
    assert address is not None
    assert address.apns_token.startswith("47e8eec0") and address.push_magic.startswith("CEFDF0BD")
    apple = db.session.get(AppleDevice, ipad.device_id)
    assert apple is not None and apple.unlock_token == b"unlock-secret"
    raw = db.session.execute(
        text("SELECT unlock_token FROM apple_devices WHERE device_id = :id"),
        {"id": ipad.device_id},
    ).scalar_one()
    assert b"unlock-secret" not in bytes(raw)
    # The first push brings the inventory request.
    assert db.session.get(PushWakeup, ipad.device_id) is not None


def test_inventory_refresh_updates_inventory_and_supervision(ipad: IPad) -> None:
    _inventory(ipad, supervised=True)
    db.session.expire_all()
    device = db.session.get(Device, ipad.device_id)
    assert device is not None
    assert device.inventory["IsSupervised"] is True
    # A student's device: the school's default inventory policy does not keep the list of
    # installed apps (a personal category, docs/privacy.md); the profiles are kept.
    assert "InstalledApplicationList" not in device.inventory
    assert device.inventory["ProfileList"] == []
    assert db.session.get(AppleDevice, ipad.device_id).supervised is True  # type: ignore[union-attr]
    assert answer(ipad.result("Idle")) is None


def test_commands_run_through_the_queue_lifecycle(
    ipad: IPad, client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    _inventory(ipad)
    assert _queue(client, admin_headers, ipad, "lock", message="Bitte abgeben").status_code == 201
    assert db.session.get(PushWakeup, ipad.device_id) is not None
    sent = answer(ipad.result("Idle"))
    assert sent is not None
    assert sent["Command"] == {"RequestType": "DeviceLock", "Message": "Bitte abgeben"}
    command = db.session.scalar(select(Command).where(Command.device_id == ipad.device_id))
    assert command is not None and command.status == "sent"
    assert sent["CommandUUID"] == f"command-{command.id}"

    assert answer(ipad.result("NotNow", sent["CommandUUID"])) is None
    db.session.refresh(command)
    assert command.status == "not_now"

    _queue(client, admin_headers, ipad, "clear_passcode")
    cleared = answer(ipad.result("Idle"))
    assert cleared is not None and cleared["Command"]["RequestType"] == "ClearPasscode"
    assert cleared["Command"]["UnlockToken"] == b"unlock-secret"
    ipad.result(
        "Error",
        cleared["CommandUUID"],
        ErrorChain=[
            {
                "ErrorCode": 12021,
                "ErrorDomain": "MCMDMErrorDomain",
                "LocalizedDescription": "Passcode could not be cleared",
            }
        ],
    )
    failed = db.session.get(Command, int(cleared["CommandUUID"].removeprefix("command-")))
    assert failed is not None and failed.status == "error"
    assert "Passcode could not be cleared" in failed.result_detail

    _queue(client, admin_headers, ipad, "remove_app", app="de.schule.app")
    removal = answer(ipad.result("Idle"))
    assert removal is not None and removal["Command"]["Identifier"] == "de.schule.app"
    ipad.result("CommandFormatError", removal["CommandUUID"])
    formatted = db.session.get(Command, int(removal["CommandUUID"].removeprefix("command-")))
    assert formatted is not None and formatted.status == "error"


def test_acknowledged_command_and_supervision_rule(
    ipad: IPad, client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    _inventory(ipad, supervised=False)
    refused = _queue(client, admin_headers, ipad, "enable_lost_mode", message="Verloren")
    assert refused.status_code == 409
    assert "supervised" in str(refused.get_json())
    _queue(client, admin_headers, ipad, "refresh_inventory")
    sent = answer(ipad.result("Idle"))
    assert sent is not None and sent["Command"]["RequestType"] == "DeviceInformation"
    following = answer(
        ipad.result("Acknowledged", sent["CommandUUID"], QueryResponses={"IsSupervised": True})
    )
    assert following is not None
    last = answer(
        ipad.result("Acknowledged", following["CommandUUID"], InstalledApplicationList=[])
    )
    assert last is not None
    assert answer(ipad.result("Acknowledged", last["CommandUUID"], ProfileList=[])) is None
    command = db.session.scalar(select(Command).where(Command.device_id == ipad.device_id))
    assert command is not None and command.status == "acknowledged"
    assert (
        _queue(client, admin_headers, ipad, "enable_lost_mode", message="Verloren").status_code
        == 201
    )
    lost = answer(ipad.result("Idle"))
    assert lost is not None and lost["Command"]["RequestType"] == "EnableLostMode"


def test_policy_is_installed_as_a_profile_and_again_when_it_changes(
    ipad: IPad,
    make_policy: Callable[..., dict[str, Any]],
    client: FlaskClient,
    admin_headers: dict[str, str],
) -> None:
    _inventory(ipad)
    policy = make_policy(
        {
            "passcode": {"required": True, "min_length": 6},
            "restrictions": {"allow_camera": False, "allow_app_store": False},
            "wifi": [{"ssid": "Schul-WLAN", "security": "wpa2", "password": "geheim123"}],
        },
        assign={"target": "school"},
    )
    sent = answer(ipad.result("Idle"))
    assert sent is not None and sent["Command"]["RequestType"] == "InstallProfile"
    profile = plistlib.loads(sent["Command"]["Payload"])
    kinds = {p["PayloadType"]: p for p in profile["PayloadContent"]}
    assert kinds["com.apple.mobiledevice.passwordpolicy"]["minLength"] == 6
    assert kinds["com.apple.applicationaccess"] == kinds["com.apple.applicationaccess"] | {
        "allowCamera": False
    }
    assert "allowUIAppInstallation" not in kinds["com.apple.applicationaccess"]
    assert kinds["com.apple.wifi.managed"]["Password"] == "geheim123"
    assert answer(ipad.result("Acknowledged", sent["CommandUUID"])) is None
    state = db.session.get(DevicePolicyState, ipad.device_id)
    assert state is not None and state.applied_hash == state.desired_hash
    assert state.failed_settings == [
        {"setting": "restrictions.allow_app_store", "reason": "needs a supervised device"}
    ]
    changed = client.patch(
        f"/api/v1/policies/{policy['id']}",
        json={"document": {"passcode": {"required": True, "min_length": 8}}},
        headers=admin_headers,
    )
    assert changed.status_code == 200, changed.get_json()
    again = answer(ipad.result("Idle"))
    assert again is not None and again["Command"]["RequestType"] == "InstallProfile"
    assert again["CommandUUID"] != sent["CommandUUID"]
    reinstalled = plistlib.loads(again["Command"]["Payload"])
    assert reinstalled["PayloadIdentifier"] == profile["PayloadIdentifier"]


def test_check_out_retires_and_user_channels_are_declined(ipad: IPad) -> None:
    declined = ipad.check_in({"MessageType": "UserAuthenticate", "UDID": ipad.udid, "UserID": "u1"})
    assert declined.status_code == 410
    user_token = ipad.check_in(
        {
            "MessageType": "TokenUpdate",
            "UDID": ipad.udid,
            "UserID": "u1",
            "Topic": "x",
            "Token": b"t",
            "PushMagic": "m",
        }
    )
    assert user_token.status_code == 410
    address = db.session.get(PushAddress, ipad.device_id)
    assert address is not None and address.push_magic.startswith("CEFDF0BD")
    assert (
        ipad.check_in({"MessageType": "CheckOut", "UDID": ipad.udid, "Topic": "x"}).status_code
        == 200
    )
    db.session.expire_all()
    assert db.session.get(Device, ipad.device_id).status == "retired"  # type: ignore[union-attr]
    assert ipad.result("Idle").status_code == 401


def test_the_enrollment_page_leads_to_the_profile_and_refusals_change_nothing(
    client: FlaskClient, make_token: Callable[..., dict[str, Any]], school: Any
) -> None:
    token = make_token(platform="ipados", max_uses=1)
    no_push = client.get(f"/enroll/{token['secret']}/apple.mobileconfig")
    assert no_push.status_code == 409 and "push certificate" in no_push.get_json()["detail"]
    assert "apple.mobileconfig" not in client.get(f"/enroll/{token['secret']}").get_data(True)
    db.session.add(PushSettings(school_id=school.id, apns_topic="com.apple.mgmt.External.x"))
    db.session.commit()
    page = client.get(f"/enroll/{token['secret']}?lang=en").get_data(as_text=True)
    assert f"/enroll/{token['secret']}/apple.mobileconfig" in page
    fetched = client.get(f"/enroll/{token['secret']}/apple.mobileconfig")
    assert fetched.status_code == 200
    assert fetched.mimetype == "application/x-apple-aspen-config"
    assert client.get(f"/enroll/{token['secret']}/apple.mobileconfig").status_code == 410
    assert db.session.scalar(select(func.count()).select_from(Device)) == 1
    android = make_token(platform="android")
    assert client.get(f"/enroll/{android['secret']}/apple.mobileconfig").status_code == 409
    assert db.session.scalar(select(func.count()).select_from(Device)) == 1


def test_a_device_whose_push_failed_is_served_at_its_next_connect(
    ipad: IPad, client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    _inventory(ipad)
    # A restart needs a supervised iPad: refused at queueing.
    assert _queue(client, admin_headers, ipad, "restart").status_code == 409
    db.session.execute(
        update(PushWakeup).values(status="failed", attempts=8, last_error="APNs: 503")
    )
    _queue(client, admin_headers, ipad, "lock")
    sent = answer(ipad.result("Idle"))
    assert sent is not None and sent["Command"]["RequestType"] == "DeviceLock"
    assert db.session.get(PushWakeup, ipad.device_id) is None


def test_an_inventory_too_large_ends_the_refresh_as_an_error_and_stores_nothing(
    ipad: IPad, client: FlaskClient, admin_headers: dict[str, str], app: Any
) -> None:
    _inventory(ipad)
    before = db.session.get(Device, ipad.device_id).inventory_hash  # type: ignore[union-attr]
    app.config["AGENT_MAX_INVENTORY_BYTES"] = 500
    _queue(client, admin_headers, ipad, "refresh_inventory")
    sent = answer(ipad.result("Idle"))
    assert sent is not None
    big = {f"Key{n}": "x" * 50 for n in range(20)}
    assert answer(ipad.result("Acknowledged", sent["CommandUUID"], QueryResponses=big)) is None
    command = db.session.scalar(select(Command).where(Command.device_id == ipad.device_id))
    assert command is not None and command.status == "error"
    assert "too large" in command.result_detail
    db.session.expire_all()
    assert db.session.get(Device, ipad.device_id).inventory_hash == before  # type: ignore[union-attr]


def test_an_ipad_enrolled_again_leaves_its_earlier_enrollment_retired(
    ipad: IPad, new_ipad: Callable[..., IPad]
) -> None:
    again = new_ipad(udid=ipad.udid)
    assert again.authenticate().status_code == 200
    db.session.expire_all()
    assert db.session.get(Device, ipad.device_id).status == "retired"  # type: ignore[union-attr]
    assert db.session.get(AppleDevice, again.device_id).udid == ipad.udid  # type: ignore[union-attr]
    assert ipad.result("Idle").status_code == 401
    assert again.token_update().status_code == 200


def test_by_scep_the_ipad_keeps_its_key_and_its_certificate_signs_its_check_ins(
    new_ipad: Callable[..., IPad],
) -> None:
    """The default identity: a SCEP payload with a one-time challenge; the certificate the
    school's SCEP URL issued for it is what the check-in accepts, and the challenge is spent."""
    ipad = new_ipad()
    identity = next(
        p for p in ipad.profile["PayloadContent"] if p["PayloadType"] != "com.apple.mdm"
    )
    assert identity["PayloadType"] == "com.apple.security.scep"
    assert "Password" not in identity and b"PRIVATE KEY" not in plistlib.dumps(ipad.profile)
    assert ipad.authenticate().status_code == 200
    assert ipad.token_update().status_code == 200
    device = db.session.get(Device, ipad.device_id)
    assert device is not None and device.status == "enrolled"
    other = new_ipad()  # a second profile: its own challenge, its own device
    assert other.device_id != ipad.device_id and other.authenticate().status_code == 200


def test_a_pkcs12_identity_is_the_documented_alternative(
    app: Any, new_ipad: Callable[..., IPad], monkeypatch: Any
) -> None:
    monkeypatch.setitem(app.config, "APPLE_ENROLLMENT_IDENTITY", "pkcs12")
    ipad = new_ipad()
    kinds = {p["PayloadType"] for p in ipad.profile["PayloadContent"]}
    assert kinds == {"com.apple.mdm", "com.apple.security.pkcs12"}
    assert ipad.authenticate().status_code == 200
