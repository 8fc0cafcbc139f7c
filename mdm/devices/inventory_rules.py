"""What is taken from a device's inventory: its serial number and IMEIs (school-owned devices
only, see docs/agent-protocol.md). Pure."""

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
