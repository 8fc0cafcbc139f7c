"""Serial numbers and IMEIs: taken from the inventory under any accepted key, kept as columns of
school-owned devices (never of personal ones), found by the device list's search."""

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from mdm.accounts.models import School, User
from mdm.devices.inventory_rules import HardwareIds, hardware_ids, normalize_imei, search_imei
from mdm.devices.models import Device
from mdm.extensions import db
from tests.fixtures.devices import device_auth

Headers = Callable[[User], dict[str, str]]


@pytest.mark.parametrize(
    "inventory",
    [
        {"serial": "F2LX1234"},
        {"serial_number": "F2LX1234"},
        {"SerialNumber": "F2LX1234"},
        {"serialNumber": "f2lx1234"},
        {"Serial Number": " F2LX 1234 "},
        {"serial-no": "F2LX1234"},
        {"hardware": {"serial": "F2LX1234"}},
        {"device": {"hardware": {"SerialNumber": "F2LX1234"}}},
        {"serial": "unknown", "hardware": {"serial_number": "F2LX1234"}},
    ],
)
def test_serial_number_under_any_accepted_key(inventory: dict[str, Any]) -> None:
    assert hardware_ids(inventory).serial_number == "F2LX1234"


@pytest.mark.parametrize(
    "inventory, imeis",
    [
        ({"imei": "356938035643809"}, ("356938035643809", None)),
        ({"IMEI": 356938035643809}, ("356938035643809", None)),
        ({"IMEI": "35 693803 564380 9"}, ("356938035643809", None)),
        (
            {"IMEI": "356938035643809", "IMEI2": "356938035643817"},
            ("356938035643809", "356938035643817"),
        ),
        ({"imeis": ["356938035643809", "356938035643809"]}, ("356938035643809", None)),
        (
            {"telephony": {"imeis": ["356938035643809", "356938035643817", "356938035643825"]}},
            ("356938035643809", "356938035643817"),
        ),
        (
            {"ServiceSubscriptions": [{"IMEI": "35 693803 564380 9"}, {"IMEI": ""}]},
            ("356938035643809", None),
        ),
        ({"imei": "12345"}, (None, None)),
        ({"imei": "000000000000000"}, (None, None)),
        ({"imei": True}, (None, None)),
    ],
)
def test_imeis_under_any_accepted_key(
    inventory: dict[str, Any], imeis: tuple[str | None, str | None]
) -> None:
    ids = hardware_ids(inventory)
    assert (ids.imei, ids.imei2) == imeis


def test_junk_and_placeholders_are_no_identifiers() -> None:
    assert hardware_ids({"serial": "0123456789ABCDEF", "imei": None}) == HardwareIds()
    assert hardware_ids({"serial": "000000"}).serial_number is None
    assert hardware_ids({"serial": "x" * 65}).serial_number is None
    assert hardware_ids({"serial": {"value": "F2LX"}}).serial_number is None
    assert hardware_ids({"battery": 80, "other": {"serial": "NESTED"}}) == HardwareIds()
    assert normalize_imei("3569-3803-5643-809") == "356938035643809"
    assert search_imei("35 6938") == "356938" and search_imei("iPad") is None


@pytest.fixture
def school_device(
    make_token: Callable[..., Any], enroll: Callable[..., Any], school: School
) -> dict[str, Any]:
    token = make_token(user_role="shared")
    answer = enroll(
        token["secret"],
        name="Tablet 7a-01",
        inventory={"hardware": {"SerialNumber": "f2lx 1234"}, "imeis": ["356938035643809"]},
    )
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def test_enrollment_keeps_the_serial_number_and_imei(
    client: FlaskClient, headers: Headers, school_admin: User, school_device: dict[str, Any]
) -> None:
    body = client.get(
        f"/api/v1/devices/{school_device['device_id']}", headers=headers(school_admin)
    ).get_json()

    assert (body["serial_number"], body["imei"], body["imei2"]) == (
        "F2LX1234",
        "356938035643809",
        None,
    )


def test_check_in_updates_them_and_keeps_what_an_inventory_lacks(
    client: FlaskClient, school_device: dict[str, Any]
) -> None:
    auth = device_auth(school_device)
    dual_sim = {"battery": 50, "IMEI": "356938035643817", "IMEI2": "356938035643825"}
    answer = client.post("/api/agent/v1/checkin", json={"inventory": dual_sim}, headers=auth)
    assert answer.status_code == 200
    device = db.session.get(Device, school_device["device_id"])
    db.session.refresh(device)
    assert (device.serial_number, device.imei, device.imei2) == (
        "F2LX1234",
        "356938035643817",
        "356938035643825",
    )

    renamed = {"battery": 49, "serialNumber": "G7QX0001"}
    answer = client.post("/api/agent/v1/checkin", json={"inventory": renamed}, headers=auth)
    assert answer.status_code == 200
    db.session.refresh(device)
    assert (device.serial_number, device.imei) == ("G7QX0001", "356938035643817")


def test_search_finds_a_device_by_serial_number_or_imei(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    school_device: dict[str, Any],
    make_token: Callable[..., Any],
    enroll: Callable[..., Any],
) -> None:
    other = enroll(make_token(user_role="shared")["secret"], inventory={"serial": "ZZZ999"})
    auth = headers(school_admin)

    def found(text: str) -> list[int]:
        response = client.get("/api/v1/devices", query_string={"q": text}, headers=auth)
        assert response.status_code == 200, response.get_json()
        return [item["id"] for item in response.get_json()["items"]]

    device_id = school_device["device_id"]
    assert found("F2LX1234") == [device_id]
    assert found("f2lx 12") == [device_id]
    assert found("356938035643809") == [device_id]
    assert found("35 693803") == [device_id]
    assert found("zzz999") == [other.get_json()["device_id"]]
    assert found("123456789") == []
    export = client.get("/api/v1/devices/export.csv?q=F2LX1234", headers=auth)
    assert "F2LX1234,356938035643809" in export.get_data(as_text=True)


def test_another_schools_device_is_not_found(
    client: FlaskClient,
    headers: Headers,
    school_device: dict[str, Any],
    create_user: Callable[..., User],
    other_school: School,
) -> None:
    other_admin = create_user("school_admin", other_school)
    response = client.get("/api/v1/devices?q=F2LX1234", headers=headers(other_admin))
    assert response.get_json()["items"] == []


def test_a_personal_device_keeps_no_serial_number_or_imei(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    teacher: User,
    make_token: Callable[..., Any],
    enroll: Callable[..., Any],
    notice: dict[str, Any],
) -> None:
    secret = make_token(ownership="byod", user_role="teacher")["secret"]
    identifiers = {"serial": "BYOD0001", "IMEI": "356938035643809"}
    answer = enroll(
        secret, headers=headers(teacher), privacy_notice_version=1, inventory=identifiers
    ).get_json()
    client.post(
        "/api/agent/v1/checkin",
        json={"inventory": {**identifiers, "battery": 3}},
        headers=device_auth(answer),
    )

    device = db.session.get(Device, answer["device_id"])
    assert (device.serial_number, device.imei, device.imei2) == (None, None, None)
    auth = headers(school_admin)
    for text in ("BYOD0001", "356938035643809"):
        assert client.get(f"/api/v1/devices?q={text}", headers=auth).get_json()["items"] == []
