"""Messages a broken or hostile device might send: refused with a 400 (or 401), never a 500,
and nothing changes."""

import base64
import plistlib
from collections.abc import Callable

from asn1crypto import cms
from flask.testing import FlaskClient

from mdm.accounts.models import School, User
from mdm.apple.models import AppleDevice
from mdm.devices import service as devices
from mdm.devices.models import Device
from mdm.extensions import db
from mdm.platform.actors import Actor
from mdm.push.models import PushSettings
from tests.mdm.apple.ipad import COMMAND, TOPIC, IPad, answer, mdm_signature


def test_a_status_that_is_not_a_string_is_a_400(ipad: IPad) -> None:
    for status in ({"Idle": True}, ["Idle"]):
        body = plistlib.dumps({"UDID": ipad.udid, "Status": status})
        refused = ipad.connect(body)
        assert refused.status_code == 400, refused.get_data(as_text=True)
        assert refused.headers["Content-Type"] == "application/problem+json"


def test_a_date_apple_never_writes_is_a_400(ipad: IPad) -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict>'
        b"<key>UDID</key><string>" + ipad.udid.encode() + b"</string>"
        b"<key>Status</key><string>Idle</string>"
        b"<key>When</key><date>yesterday</date></dict></plist>"
    )
    refused = ipad.connect(body)
    assert refused.status_code == 400, refused.get_data(as_text=True)
    assert refused.headers["Content-Type"] == "application/problem+json"


def test_an_endless_number_in_an_inventory_is_a_400_and_stores_nothing(ipad: IPad) -> None:
    asked = answer(ipad.result("Idle"))
    assert asked is not None and asked["Command"]["RequestType"] == "DeviceInformation"
    db.session.expire_all()
    before = db.session.get(Device, ipad.device_id).inventory  # type: ignore[union-attr]
    for number in (b"1e999", b"-inf", b"nan"):
        body = (
            b'<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict>'
            b"<key>UDID</key><string>" + ipad.udid.encode() + b"</string>"
            b"<key>Status</key><string>Acknowledged</string>"
            b"<key>CommandUUID</key><string>" + asked["CommandUUID"].encode() + b"</string>"
            b"<key>QueryResponses</key><dict><key>BatteryLevel</key><real>"
            + number
            + b"</real></dict></dict></plist>"
        )
        refused = ipad.connect(body)
        assert refused.status_code == 400, refused.get_data(as_text=True)
        assert refused.headers["Content-Type"] == "application/problem+json"
    db.session.expire_all()
    assert db.session.get(Device, ipad.device_id).inventory == before  # type: ignore[union-attr]


def test_a_signature_whose_certificate_cryptography_cannot_read_is_a_401(
    ipad: IPad, client: FlaskClient
) -> None:
    body = plistlib.dumps({"UDID": ipad.udid, "Status": "Idle"})
    der = base64.b64decode(mdm_signature(body, ipad.key, ipad.cert))
    rsa_encryption = bytes.fromhex("2a864886f70d010101")
    unknown_key = der.replace(rsa_encryption, rsa_encryption[:-1] + b"\x63")
    # The certificate's version field ([0] EXPLICIT INTEGER 2) set to 7.
    version = bytes.fromhex("a003020102")
    unknown_version = der.replace(version, version[:-1] + b"\x07", 1)
    for forged in (unknown_key, unknown_version):
        assert forged != der
        refused = client.put(
            "/apple/mdm/connect",
            data=body,
            headers={"Mdm-Signature": base64.b64encode(forged).decode(), "Content-Type": COMMAND},
        )
        assert refused.status_code == 401, refused.get_data(as_text=True)
        assert refused.headers["Content-Type"] == "application/problem+json"


def test_an_enrollment_of_another_school_cannot_retire_an_ipad_by_naming_its_udid(
    ipad: IPad,
    new_ipad: Callable[..., IPad],
    other_school: School,
    create_user: Callable[..., User],
) -> None:
    db.session.add(PushSettings(school_id=other_school.id, apns_topic=TOPIC))
    db.session.commit()
    other_admin = create_user("school_admin", other_school)
    intruder = new_ipad(udid=ipad.udid, admin=other_admin)
    refused = intruder.authenticate()
    assert refused.status_code == 409, refused.get_data(as_text=True)
    assert refused.headers["Content-Type"] == "application/problem+json"
    db.session.expire_all()
    assert db.session.get(Device, ipad.device_id).status == "enrolled"  # type: ignore[union-attr]
    assert db.session.get(AppleDevice, ipad.device_id).udid == ipad.udid  # type: ignore[union-attr]
    assert db.session.get(Device, intruder.device_id).status == "pending"  # type: ignore[union-attr]
    assert ipad.result("Idle").status_code == 200


def test_an_ipad_its_school_retired_may_enroll_at_another_school(
    ipad: IPad,
    new_ipad: Callable[..., IPad],
    other_school: School,
    create_user: Callable[..., User],
) -> None:
    db.session.add(PushSettings(school_id=other_school.id, apns_topic=TOPIC))
    device = db.session.get(Device, ipad.device_id)
    assert device is not None
    devices.retire(db.session, Actor(name="test", role="admin"), device, "handed over")
    db.session.commit()
    moved = new_ipad(udid=ipad.udid, admin=create_user("school_admin", other_school))
    assert moved.authenticate().status_code == 200
    db.session.expire_all()
    assert db.session.get(AppleDevice, moved.device_id).udid == ipad.udid  # type: ignore[union-attr]


def test_a_message_digest_attribute_without_a_value_is_a_401(
    ipad: IPad, client: FlaskClient
) -> None:
    body = plistlib.dumps({"UDID": ipad.udid, "Status": "Idle"})
    info = cms.ContentInfo.load(base64.b64decode(mdm_signature(body, ipad.key, ipad.cert)))
    attributes = info["content"]["signer_infos"][0]["signed_attrs"]
    digest = next(a for a in attributes if a["type"].native == "message_digest")
    digest["values"] = cms.SetOfOctetString([])
    forged = base64.b64encode(info.dump(force=True)).decode()
    refused = client.put(
        "/apple/mdm/connect",
        data=body,
        headers={"Mdm-Signature": forged, "Content-Type": COMMAND},
    )
    assert refused.status_code == 401, refused.get_data(as_text=True)
    assert refused.headers["Content-Type"] == "application/problem+json"
