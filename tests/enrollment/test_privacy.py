import pytest

from enrollment.privacy import (
    ALLOWED_BYOD_COMMANDS,
    BYOD_FORBIDDEN_INVENTORY_FIELDS,
    FORBIDDEN_BYOD_COMMANDS,
    command_allowed,
    filter_inventory,
)

ALLOWED = {"os_version": "17.5", "model": "iPad13,18", "battery": 0.81, "storage_free_gb": 12}

FORBIDDEN_SPELLINGS = [
    "serial_number",
    "SerialNumber",
    "serial-number",
    "SERIAL_NUMBER",
    "imei",
    "IMEI",
    "MEID",
    "wifi_mac",
    "WiFiMAC",
    "wifi-mac",
    "BluetoothMAC",
    "bluetooth_mac",
    "EthernetMAC",
    "EthernetMACs",
    "mac_addresses",
    "phone_number",
    "PhoneNumber",
    "ICCID",
    "iccid",
    "location",
    "Location",
    "latitude",
    "Longitude",
    "installed_apps",
    "apps",
    "InstalledApplicationList",
]


@pytest.mark.parametrize("field", FORBIDDEN_SPELLINGS)
def test_forbidden_field_is_dropped_for_byod(field: str) -> None:
    stored, dropped = filter_inventory("byod", {**ALLOWED, field: "secret-value"})

    assert stored == ALLOWED
    assert dropped == [field]


@pytest.mark.parametrize("field", FORBIDDEN_SPELLINGS)
def test_forbidden_field_is_kept_for_school(field: str) -> None:
    inventory = {**ALLOWED, field: "value"}

    assert filter_inventory("school", inventory) == (inventory, [])


def test_nested_forbidden_fields_are_dropped_wherever_they_appear() -> None:
    inventory = {
        "model": "Pixel 8",
        "hardware": {"SerialNumber": "R58N", "ram_gb": 8, "radio": {"Imei": "3566", "lte": True}},
        "network": {"Wi-Fi-MAC": "aa:bb", "ssid_count": 3},
        "ServiceSubscriptions": [{"ICCID": "8949", "PhoneNumber": "+49", "CarrierName": "X"}],
        "gps": {"latitude": 52.5, "longitude": 13.4},
    }

    stored, dropped = filter_inventory("byod", inventory)

    assert stored == {
        "model": "Pixel 8",
        "hardware": {"ram_gb": 8, "radio": {"lte": True}},
        "network": {"ssid_count": 3},
        "ServiceSubscriptions": [{"CarrierName": "X"}],
    }
    assert sorted(dropped) == [
        "ServiceSubscriptions[0].ICCID",
        "ServiceSubscriptions[0].PhoneNumber",
        "gps",
        "hardware.SerialNumber",
        "hardware.radio.Imei",
        "network.Wi-Fi-MAC",
    ]


def test_filter_does_not_mutate_the_input() -> None:
    inventory = {"hardware": {"serial_number": "X1", "ram_gb": 4}}

    filter_inventory("byod", inventory)

    assert inventory == {"hardware": {"serial_number": "X1", "ram_gb": 4}}


def test_allowed_fields_are_kept_for_byod() -> None:
    assert filter_inventory("byod", ALLOWED) == (ALLOWED, [])


def test_every_declared_spelling_is_forbidden() -> None:
    inventory = dict.fromkeys(BYOD_FORBIDDEN_INVENTORY_FIELDS, 1)

    stored, dropped = filter_inventory("byod", {**inventory, **ALLOWED})

    assert stored == ALLOWED
    assert sorted(dropped) == sorted(BYOD_FORBIDDEN_INVENTORY_FIELDS)


def test_unknown_ownership_is_refused() -> None:
    with pytest.raises(ValueError):
        filter_inventory("personal", {"serial_number": "X"})
    with pytest.raises(ValueError):
        command_allowed("", "EraseDevice")


@pytest.mark.parametrize(
    "command",
    [
        "EraseDevice",
        "erase",
        "wipe",
        "DeviceLock",
        "ClearPasscode",
        "clear-passcode",
        "DeviceLocation",
        "InstalledApplicationList",
        "installed_apps",
        "EnableLostMode",
    ],
)
def test_destructive_and_snooping_commands_are_refused_for_byod(command: str) -> None:
    assert not command_allowed("byod", command)
    assert command_allowed("school", command)


@pytest.mark.parametrize(
    "command", ["remove_management", "RemoveProfile", "InstallProfile", "install_app"]
)
def test_management_commands_are_allowed_for_byod(command: str) -> None:
    assert command_allowed("byod", command)


def test_unknown_command_is_refused_for_byod() -> None:
    assert not command_allowed("byod", "RestartDevice")


def test_allowed_and_forbidden_commands_do_not_overlap() -> None:
    def normalize(name: str) -> str:
        return name.replace("_", "").replace("-", "").casefold()

    allowed = {normalize(name) for name in ALLOWED_BYOD_COMMANDS}
    forbidden = {normalize(name) for name in FORBIDDEN_BYOD_COMMANDS}
    assert allowed.isdisjoint(forbidden)
    assert {"erasedevice", "wipe", "devicelock", "clearpasscode", "devicelocation"} <= forbidden
    assert "removemanagement" in allowed
