from typing import Any

import pytest

from mdm.devices.byod import (
    ALLOWED_BYOD_COMMANDS,
    BYOD_ALLOWED_INVENTORY_FIELDS,
    BYOD_FORBIDDEN_INVENTORY_FIELDS,
    FORBIDDEN_BYOD_COMMANDS,
    MAX_INVENTORY_DEPTH,
    USER_ENROLLMENT_FORBIDDEN_QUERIES,
    allowed_queries,
    command_allowed,
    filter_inventory,
    inventory_depth,
    profile_refusal,
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
    # found in review: spellings a deny-list missed
    "imei1",
    "Serial Number",
    "serialNo",
    "wifi_mac_address",
    "bluetooth_address",
    "udid",
    "UDID",
    "android_id",
    "identifiers",
    "DeviceName",
    "user_name",
    "email",
    "ssid",
    "network",
    "hardware",
    "ServiceSubscriptions",
    "some_field_a_new_agent_sends",
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


def test_nested_identifiers_are_dropped_wherever_they_appear() -> None:
    inventory = {
        "model": "Pixel 8",
        "hardware": {"serialNo": "R58N", "ram_gb": 8, "radio": {"Imei": "3566", "lte": True}},
        "network": {"Wi-Fi-MAC": "aa:bb", "ssid_count": 3},
        "ServiceSubscriptions": [{"ICCID": "8949", "PhoneNumber": "+49", "CarrierName": "X"}],
        "gps": {"latitude": 52.5, "longitude": 13.4},
        "identifiers": [{"type": "IMEI", "value": "3566"}, {"type": "serial", "value": "R58N"}],
        "battery": {"level": 0.5, "charging": True, "serial": "B1"},
        "storage": {"total_gb": 128, "free_gb": 12, "volume_uuid": "E3F1"},
        "managed_apps": [
            {"bundle_id": "de.schule.lernapp", "version": "3.2", "install_id": "xyz"},
            "de.schule.mail",
        ],
        "screen": {"width": 1080, "height": 2400, "panel": {"serial": "P9"}},
        "languages": ["de", "en"],
        "model_name": {"serial": "nested under a value key"},
    }

    stored, dropped = filter_inventory("byod", inventory)

    assert stored == {
        "model": "Pixel 8",
        "battery": {"level": 0.5, "charging": True},
        "storage": {"total_gb": 128, "free_gb": 12},
        "managed_apps": [{"bundle_id": "de.schule.lernapp", "version": "3.2"}, "de.schule.mail"],
        "screen": {"width": 1080, "height": 2400},
        "languages": ["de", "en"],
    }
    assert sorted(dropped) == [
        "ServiceSubscriptions",
        "battery.serial",
        "gps",
        "hardware",
        "identifiers",
        "managed_apps[0].install_id",
        "model_name",
        "network",
        "screen.panel",
        "storage.volume_uuid",
    ]


REVIEWER_INVENTORY = {
    "imei1": "356938035643809",
    "Serial Number": "F2LX1234",
    "hardware": {"serialNo": "F2LX1234"},
    "wifi_mac_address": "aa:bb:cc:dd:ee:ff",
    "bluetooth_address": "aa:bb:cc:dd:ee:00",
    "udid": "00008030-001A",
    "android_id": "9774d56d682e549c",
    "identifiers": [{"type": "IMEI", "value": "356938035643810"}],
}


def test_reviewers_examples_are_never_stored_for_byod() -> None:
    stored, dropped = filter_inventory("byod", {**ALLOWED, **REVIEWER_INVENTORY})

    assert stored == ALLOWED
    assert sorted(dropped) == sorted(REVIEWER_INVENTORY)
    assert filter_inventory("school", REVIEWER_INVENTORY) == (REVIEWER_INVENTORY, [])


SAFE_INVENTORY = {
    "os": "android",
    "OS Version": "14",
    "BuildVersion": "UP1A",
    "platform": "android",
    "model": "Pixel 8",
    "Manufacturer": "Google",
    "battery_level": 0.81,
    "charging": False,
    "storage_total_gb": 128,
    "storage-free-bytes": 12_000_000_000,
    "memory": {"total_mb": 8192, "free_mb": 2048},
    "screen": {"width": 1080, "height": 2400, "density": 420},
    "locale": "de_DE",
    "language": "de",
    "time_zone": "Europe/Berlin",
    "agent_version": "1.4.0",
    "managed_apps": [{"identifier": "de.schule.lernapp", "name": "Lernapp", "version": "3"}],
    "encrypted": True,
    "passcode_present": True,
    "last_boot": "2025-01-01T07:00:00Z",
}


def test_allowed_fields_survive_for_byod() -> None:
    assert filter_inventory("byod", SAFE_INVENTORY) == (SAFE_INVENTORY, [])


def test_allow_list_and_named_identifiers_do_not_overlap() -> None:
    def normalize(name: str) -> str:
        return name.replace("_", "").replace("-", "").replace(" ", "").casefold()

    def names(tree: dict) -> set[str]:
        found = set()
        for key, children in tree.items():
            found.add(normalize(key))
            if children is not None:
                found |= names(children)
        return found

    forbidden = {normalize(name) for name in BYOD_FORBIDDEN_INVENTORY_FIELDS}
    assert names(BYOD_ALLOWED_INVENTORY_FIELDS).isdisjoint(forbidden)


def test_inventory_depth() -> None:
    assert inventory_depth({}) == 1
    assert inventory_depth({"a": 1, "b": [1, {"c": {}}]}) == 4
    deep: dict = {}
    for _ in range(100_000):
        deep = {"a": deep}
    assert inventory_depth(deep) > MAX_INVENTORY_DEPTH  # stops early, never recurses


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


@pytest.mark.parametrize(
    "command",
    [
        "restart",
        "RestartDevice",
        "ShutDownDevice",
        "PlayLostModeSound",
        "DisableLostMode",
        "EraseDevice",
        "ClearPasscode",
        "DeviceLocation",
        "ActivationLockBypassCode",
    ],
)
def test_what_user_enrollment_forbids_is_named_and_refused(command: str) -> None:
    assert command in FORBIDDEN_BYOD_COMMANDS or command.lower() in {
        name.lower() for name in FORBIDDEN_BYOD_COMMANDS
    }
    assert not command_allowed("byod", command)


def test_a_personal_device_is_asked_only_what_is_kept_and_user_enrollment_answers() -> None:
    queries = ["UDID", "OSVersion", "SerialNumber", "IMEI", "MEID", "ICCID", "WiFiMAC"]
    queries += ["BluetoothMAC", "EthernetMACs", "PhoneNumber", "DeviceName", "IsSupervised"]
    queries += ["BatteryLevel", "ModelName", "ServiceSubscriptions", "IsCloudBackupEnabled"]

    assert allowed_queries("byod", queries) == ["OSVersion", "BatteryLevel", "ModelName"]
    assert allowed_queries("school", queries) == queries
    assert {"UDID", "SerialNumber", "IMEI", "PhoneNumber"} <= USER_ENROLLMENT_FORBIDDEN_QUERIES


def test_only_the_schools_profiles_of_a_profile_list_are_kept() -> None:
    profiles = [
        {"PayloadIdentifier": "de.schule.wlan", "IsManaged": True, "PayloadContent": [{}]},
        {"PayloadIdentifier": "com.example.vpn"},
        {"PayloadIdentifier": "de.carrier", "IsManaged": "yes"},
        "de.schule.other",
    ]

    stored, dropped = filter_inventory("byod", {"ProfileList": profiles, "os": "ios"})

    assert stored == {
        "ProfileList": [{"PayloadIdentifier": "de.schule.wlan", "IsManaged": True}],
        "os": "ios",
    }
    assert dropped == [
        "ProfileList[1]",
        "ProfileList[2]",
        "ProfileList[3]",
        "ProfileList[0].PayloadContent",
    ]
    assert filter_inventory("byod", {"ProfileList": {"IsManaged": True}}) == ({}, ["ProfileList"])
    assert filter_inventory("school", {"ProfileList": profiles})[0] == {"ProfileList": profiles}


WIFI = {"PayloadType": "com.apple.wifi.managed", "SSID_STR": "Schule", "PayloadIdentifier": "w"}


@pytest.mark.parametrize(
    ("payloads", "reason"),
    [
        (None, "cannot be read"),
        ([{"PayloadType": "com.apple.webcontent-filter"}], "'com.apple.webcontent-filter'"),
        ([{"PayloadType": "com.apple.domains"}], "com.apple.domains"),
        (["not a payload"], "None"),
        ([{**WIFI, "ProxyType": "Auto"}], "ProxyType"),
        (
            [{"PayloadType": "com.apple.applicationaccess", "allowCamera": False}],
            "allowCamera",
        ),
        (
            [
                WIFI,
                {
                    "PayloadType": "com.apple.applicationaccess",
                    "allowScreenShot": False,
                    "allowAppInstallation": False,
                    "allowCloudBackup": False,
                },
            ],
            "allowAppInstallation, allowCloudBackup, allowScreenShot",
        ),
    ],
)
def test_profiles_beyond_user_enrollment_are_refused_for_byod(payloads: Any, reason: str) -> None:
    refused = profile_refusal("byod", payloads)

    assert refused is not None and reason in refused
    assert profile_refusal("school", payloads) is None


def test_profiles_user_enrollment_allows_pass_for_byod() -> None:
    payloads = [
        WIFI,
        {"PayloadType": "com.apple.mobiledevice.passwordpolicy", "forcePIN": True},
        {"PayloadType": "com.apple.security.root", "PayloadContent": b"DER"},
        {"PayloadType": "com.apple.subscribedcalendar.account", "SubCalAccountHostName": "x"},
        {
            "PayloadType": "com.apple.applicationaccess",
            "PayloadIdentifier": "r",
            "PayloadUUID": "u",
            "allowOpenFromManagedToUnmanaged": False,
            "requireManagedPasteboard": True,
        },
    ]

    assert profile_refusal("byod", payloads) is None
    assert profile_refusal("byod", []) is None
