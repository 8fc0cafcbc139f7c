"""What is kept of a school-owned device's inventory: the school's inventory policy (which
personal categories - location, phone number, installed apps, network - are kept, per kind of
device), and the serial number and IMEIs taken from it (docs/privacy.md,
docs/agent-protocol.md). Personal (BYOD) devices go by mdm/devices/byod.py instead. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

SERIAL_NUMBER_LENGTH = 64
# The keys agents and Apple's DeviceInformation use, compared lower case without spaces, '_'
# and '-' (normalize_key): `serial`, `serial_number`, `SerialNumber`, `serialNumber`, ...
SERIAL_NUMBER_KEYS = ("serial", "serial_number", "serial_no", "hardware_serial", "device_serial")
IMEI_KEYS = ("imei", "imei1", "imei2", "imeis", "imei_number")
# Objects (or lists of objects) in which agents nest those keys: {"hardware": {"serial": ...}},
# {"telephony": {"imeis": [...]}}, Apple's {"ServiceSubscriptions": [{"IMEI": ...}, ...]}.
CONTAINER_KEYS = (
    "hardware",
    "device",
    "device_info",
    "identifiers",
    "telephony",
    "modem",
    "modems",
    "sim",
    "sims",
    "sim_cards",
    "ServiceSubscriptions",
    "subscriptions",
)
# Containers nest at most this deep below the inventory ({"device": {"hardware": {...}}}).
MAX_CONTAINER_DEPTH = 3
# What agents report when a platform hides the serial number (Android 10+ without privileges).
PLACEHOLDER_SERIALS = frozenset({"", "UNKNOWN", "NONE", "NULL", "N/A", "NA", "0123456789ABCDEF"})


def normalize_key(name: str) -> str:
    """Lower case without spaces, '_' and '-': `Serial Number`, `serial_number`, `SerialNumber`."""
    return name.replace("_", "").replace("-", "").replace(" ", "").casefold()


_SERIAL_KEYS = frozenset(normalize_key(name) for name in SERIAL_NUMBER_KEYS)
_IMEI_KEYS = frozenset(normalize_key(name) for name in IMEI_KEYS)
_CONTAINERS = frozenset(normalize_key(name) for name in CONTAINER_KEYS)
_SERIAL_RE = re.compile(r"^[A-Z0-9][A-Z0-9._:/-]*$")
_IMEI_SEPARATORS = re.compile(r"[\s/.-]")


@dataclass(frozen=True)
class HardwareIds:
    """A device's serial number and up to two IMEIs (dual SIM), normalised; None when unknown."""

    serial_number: str | None = None
    imei: str | None = None
    imei2: str | None = None


def normalize_serial(value: Any) -> str | None:
    """A serial number in upper case without spaces, or None for placeholders and junk."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    serial = re.sub(r"\s+", "", str(value)).upper()
    if serial in PLACEHOLDER_SERIALS or set(serial) == {"0"}:
        return None
    if len(serial) > SERIAL_NUMBER_LENGTH or not _SERIAL_RE.match(serial):
        return None
    return serial


def normalize_imei(value: Any) -> str | None:
    """An IMEI as its digits (14 to 16: with or without check digit, or an IMEISV), or None."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    digits = _IMEI_SEPARATORS.sub("", str(value))
    if not digits.isdigit() or not 14 <= len(digits) <= 16 or set(digits) == {"0"}:
        return None
    return digits


def search_imei(text: str) -> str | None:
    """The digits of a search text that looks like (a part of) an IMEI, e.g. `35 693803`."""
    digits = _IMEI_SEPARATORS.sub("", text)
    return digits if digits.isdigit() and len(digits) >= 4 else None


def _objects(inventory: dict[str, Any]) -> list[dict[str, Any]]:
    """The inventory and the objects nested in it under CONTAINER_KEYS, breadth first."""
    found = [inventory]
    level = [inventory]
    for _depth in range(MAX_CONTAINER_DEPTH):
        below: list[dict[str, Any]] = []
        for item in level:
            for key, value in item.items():
                if not isinstance(key, str) or normalize_key(key) not in _CONTAINERS:
                    continue
                values = value if isinstance(value, list) else [value]
                below.extend(child for child in values if isinstance(child, dict))
        found.extend(below)
        level = below
    return found


def hardware_ids(inventory: dict[str, Any]) -> HardwareIds:
    """The serial number (the first one found, top level first) and the first two distinct
    IMEIs of an inventory, under any of the accepted key names."""
    serial: str | None = None
    imeis: list[str] = []
    for item in _objects(inventory):
        for key, value in item.items():
            if not isinstance(key, str):
                continue
            normalized = normalize_key(key)
            if normalized in _SERIAL_KEYS and serial is None:
                serial = normalize_serial(value)
            elif normalized in _IMEI_KEYS:
                for candidate in value if isinstance(value, list) else [value]:
                    imei = normalize_imei(candidate)
                    if imei is not None and imei not in imeis:
                        imeis.append(imei)
    return HardwareIds(
        serial_number=serial,
        imei=imeis[0] if imeis else None,
        imei2=imeis[1] if len(imeis) > 1 else None,
    )


# The inventory policy: categories of personal data a school may keep of its own devices. Each
# names the keys that carry it, dropped at any depth unless the policy keeps the category.
INVENTORY_CATEGORIES: dict[str, tuple[str, ...]] = {
    "location": (
        "location",
        "device_location",
        "last_location",
        "last_known_location",
        "geolocation",
        "geo",
        "gps",
        "coordinates",
        "latitude",
        "longitude",
        "lat",
        "lng",
        "lon",
        "altitude",
    ),
    "phone_number": ("phone_number", "phone_numbers", "msisdn", "line1_number", "own_number"),
    # Every installed app, the ones a student installed themselves among them; the apps the
    # school installed (managed_apps, school_apps, ManagedApplicationList) are always kept.
    "installed_apps": (
        "apps",
        "installed_apps",
        "installed_applications",
        "InstalledApplicationList",
        "installed_packages",
        "packages",
        "applications",
        "app_list",
        "installed_software",
        "installed_programs",
        "programs",
    ),
    # The networks a device is on say where it is (a home Wi-Fi's name, a public address).
    "network": (
        "ssid",
        "bssid",
        "wifi_ssid",
        "wifi_bssid",
        "current_ssid",
        "wifi_network",
        "current_network",
        "network_name",
        "ip",
        "ip_address",
        "ip_addresses",
        "ipv4",
        "ipv6",
        "public_ip",
        "external_ip",
    ),
}
CATEGORY_DESCRIPTIONS = {
    "location": "where the device is or was (GPS position, last known location)",
    "phone_number": "the phone number(s) of its SIM cards",
    "installed_apps": "the list of all installed apps (the apps the school installed are kept "
    "anyway)",
    "network": "the Wi-Fi network it is on and its IP addresses",
}
# Whose device it is, for the policy: a student's, a teacher's, or shared (a class set).
POLICY_ROLES = ("student", "teacher", "shared")
# Nothing personal of students' devices; a teacher's or a shared device is a work tool whose
# apps and the school's phone line are the school's business, never where its user is.
DEFAULT_KEPT: dict[str, tuple[str, ...]] = {
    "student": (),
    "teacher": ("installed_apps", "phone_number"),
    "shared": ("installed_apps", "phone_number"),
}
_CATEGORY_OF_KEY = {
    normalize_key(key): category for category, keys in INVENTORY_CATEGORIES.items() for key in keys
}


def policy_errors(policy: dict[str, Any]) -> dict[str, list[str]]:
    """What is wrong with an inventory policy ({role: [category, ...]}), by field."""
    errors: dict[str, list[str]] = {}
    known = ", ".join(INVENTORY_CATEGORIES)
    for role in POLICY_ROLES:
        if role not in policy:
            errors[role] = ["missing: list the categories kept (an empty list keeps none)"]
            continue
        unknown = [name for name in policy[role] if name not in INVENTORY_CATEGORIES]
        if unknown:
            shown = ", ".join(repr(name) for name in unknown)
            errors[role] = [
                f"unknown categor{'y' if len(unknown) == 1 else 'ies'} {shown}; known: {known}"
            ]
    for role in sorted(set(policy) - set(POLICY_ROLES)):
        errors[role] = [f"not a kind of device; one of {', '.join(POLICY_ROLES)}"]
    return errors


def normalized_policy(policy: dict[str, Any] | None) -> dict[str, list[str]]:
    """The policy as stored: every role with its categories in a fixed order; the defaults
    where there is no policy (or a role is missing)."""
    policy = policy or {}
    return {
        role: [
            name for name in INVENTORY_CATEGORIES if name in policy.get(role, DEFAULT_KEPT[role])
        ]
        for role in POLICY_ROLES
    }


def policy_role(user_role: str, owner_role: str | None) -> str:
    """Which rule of the policy a school-owned device goes by: a student's device whenever a
    student is involved (the token was for students, or a student is its user), else a
    teacher's when a teacher or admin uses it, else shared."""
    if "student" in (user_role, owner_role):
        return "student"
    if owner_role is not None or user_role == "teacher":
        return "teacher"
    return "shared"


def kept_categories(policy: dict[str, Any] | None, role: str) -> frozenset[str]:
    """The categories the school keeps of a device of this policy role."""
    return frozenset(normalized_policy(policy)[role])


def filter_school_inventory(
    inventory: dict[str, Any], kept: frozenset[str]
) -> tuple[dict[str, Any], list[str]]:
    """(the inventory without the categories the policy does not keep, at any depth; dotted
    paths of what was dropped). Callers check the nesting depth first."""
    dropped: list[str] = []
    return _without(inventory, kept, "", dropped), dropped


def _without(value: Any, kept: frozenset[str], path: str, dropped: list[str]) -> Any:
    if isinstance(value, list):
        return [
            _without(item, kept, f"{path}[{index}]", dropped) for index, item in enumerate(value)
        ]
    if not isinstance(value, dict):
        return value
    result = {}
    for key, item in value.items():
        key_path = f"{path}.{key}" if path else str(key)
        category = _CATEGORY_OF_KEY.get(normalize_key(key)) if isinstance(key, str) else None
        if category is not None and category not in kept:
            dropped.append(key_path)
            continue
        result[key] = _without(item, kept, key_path, dropped)
    return result


def what_is_kept(ownership: str, kept: frozenset[str]) -> dict[str, Any]:
    """For the device's user: which rule applies and, per category, whether the school keeps
    it (serial number and IMEI: school-owned devices only)."""
    personal = ownership == "byod"
    return {
        "rule": "byod_allow_list" if personal else "school_inventory_policy",
        "serial_number_and_imei": not personal,
        **{name: not personal and name in kept for name in INVENTORY_CATEGORIES},
    }
