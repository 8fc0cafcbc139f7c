"""Messages a broken or hostile device might send: refused with a 400 (or 401), never a 500,
and nothing changes."""

import plistlib

from tests.mdm.apple.ipad import IPad


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
