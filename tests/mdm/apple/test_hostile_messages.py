"""Messages a broken or hostile device might send: refused with a 400 (or 401), never a 500,
and nothing changes."""

import base64
import plistlib

from flask.testing import FlaskClient

from mdm.devices.models import Device
from mdm.extensions import db
from tests.mdm.apple.ipad import COMMAND, IPad, answer, mdm_signature


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
