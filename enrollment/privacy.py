"""BYOD privacy rules: what a school may store about, and do to, a personal device."""

from __future__ import annotations

from typing import Any

SCHOOL = "school"
BYOD = "byod"
OWNERSHIPS = frozenset({SCHOOL, BYOD})

# Spellings as agents and Apple's DeviceInformation send them; matching ignores case, '_' and '-'.
BYOD_FORBIDDEN_INVENTORY_FIELDS = frozenset(
    {
        # hardware and subscriber identifiers
        "serial",
        "serial_number",
        "SerialNumber",
        "hardware_serial",
        "imei",
        "IMEI",
        "imei2",
        "MEID",
        "ICCID",
        "IMSI",
        "EID",
        # network hardware addresses
        "mac",
        "mac_address",
        "mac_addresses",
        "wifi_mac",
        "WiFiMAC",
        "wlan_mac",
        "BluetoothMAC",
        "bluetooth_mac",
        "EthernetMAC",
        "EthernetMACs",
        "ethernet_mac",
        # phone number
        "phone_number",
        "PhoneNumber",
        "phone_numbers",
        "msisdn",
        # location
        "location",
        "device_location",
        "DeviceLocation",
        "last_location",
        "geolocation",
        "gps",
        "latitude",
        "longitude",
        "lat",
        "lng",
        "lon",
        "altitude",
        # the person's own apps
        "apps",
        "installed_apps",
        "installed_applications",
        "InstalledApplicationList",
        "installed_packages",
        "app_list",
    }
)

# Commands the school may send to a personal device: managing its own profile and apps,
# reading filtered inventory, and ending management. Anything else is refused.
ALLOWED_BYOD_COMMANDS = frozenset(
    {
        "remove_management",
        "unenroll",
        "install_profile",
        "InstallProfile",
        "remove_profile",
        "RemoveProfile",
        "profile_list",
        "ProfileList",
        "install_app",
        "install_application",
        "InstallApplication",
        "remove_app",
        "remove_application",
        "RemoveApplication",
        "managed_app_list",
        "ManagedApplicationList",
        "device_information",
        "DeviceInformation",
        "security_info",
        "SecurityInfo",
        "settings",
        "Settings",
        "sync_policy",
        "DeclarativeManagement",
    }
)

# Named so a refusal can say why; checked as well, so a slip in the allow-list lets none through.
FORBIDDEN_BYOD_COMMANDS = frozenset(
    {
        "erase",
        "wipe",
        "erase_device",
        "EraseDevice",
        "factory_reset",
        "lock",
        "device_lock",
        "DeviceLock",
        "clear_passcode",
        "ClearPasscode",
        "reset_passcode",
        "location",
        "device_location",
        "DeviceLocation",
        "enable_lost_mode",
        "EnableLostMode",
        "installed_apps",
        "installed_application_list",
        "InstalledApplicationList",
    }
)


def _normalize(name: str) -> str:
    return name.replace("_", "").replace("-", "").casefold()


_FORBIDDEN_FIELDS = frozenset(_normalize(name) for name in BYOD_FORBIDDEN_INVENTORY_FIELDS)
_ALLOWED_COMMANDS = frozenset(_normalize(name) for name in ALLOWED_BYOD_COMMANDS)
_FORBIDDEN_COMMANDS = frozenset(_normalize(name) for name in FORBIDDEN_BYOD_COMMANDS)


def _check_ownership(ownership: str) -> None:
    if ownership not in OWNERSHIPS:
        raise ValueError(f"unknown ownership {ownership!r}")


def is_forbidden_field(name: str) -> bool:
    """Tell whether an inventory key names data a school may never store for a BYOD device."""
    return _normalize(name) in _FORBIDDEN_FIELDS


def _filter(value: Any, path: str, dropped: list[str]) -> Any:
    if isinstance(value, dict):
        kept = {}
        for key, item in value.items():
            key_path = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and is_forbidden_field(key):
                dropped.append(key_path)
            else:
                kept[key] = _filter(item, key_path, dropped)
        return kept
    # Apple reports e.g. ServiceSubscriptions as a list of dicts carrying IMEI and ICCID.
    if isinstance(value, list):
        return [_filter(item, f"{path}[{index}]", dropped) for index, item in enumerate(value)]
    return value


def filter_inventory(ownership: str, inventory: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Return (the inventory the school may store, dotted paths of the keys dropped)."""
    _check_ownership(ownership)
    if ownership == SCHOOL:
        return dict(inventory), []
    dropped: list[str] = []
    return _filter(inventory, "", dropped), dropped


def command_allowed(ownership: str, command_type: str) -> bool:
    """Tell whether a command may be sent to a device of this ownership."""
    _check_ownership(ownership)
    if ownership == SCHOOL:
        return True
    normalized = _normalize(command_type)
    return normalized in _ALLOWED_COMMANDS and normalized not in _FORBIDDEN_COMMANDS
