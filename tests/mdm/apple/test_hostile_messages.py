"""Messages a broken or hostile device might send: refused with a 400 (or 401), never a 500,
and nothing changes."""

import plistlib

from mdm.devices.models import Device
from mdm.extensions import db
from tests.mdm.apple.ipad import IPad, answer


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
