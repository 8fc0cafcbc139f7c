"""The BYOD rules: what a school may store about, and do to, a personal device. Pure; every
transport and the command queue go by them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SCHOOL = "school"
BYOD = "byod"
OWNERSHIPS = frozenset({SCHOOL, BYOD})

# Inventory nesting deeper than this is refused (400 on `inventory`), whoever owns the device.
MAX_INVENTORY_DEPTH = 8


def _units(*names: str) -> dict[str, None]:
    """Leaf keys with the unit suffixes agents add: storage_free, storage_free_gb, ..."""
    return {f"{name}{unit}": None for name in names for unit in ("", "gb", "mb", "kb", "bytes")}


_STORAGE = _units("total", "free", "used", "available", "capacity")
_APP = dict.fromkeys(
    (
        "name",
        "identifier",
        "bundle_id",
        "package",
        "package_name",
        "version",
        "short_version",
        "status",
        "installed",
        "managed",
    )
)

# The BYOD ALLOW-LIST: the only inventory a school stores about a personal device. Spellings
# as agents and Apple's DeviceInformation send them; matching ignores case, spaces, '_' and '-'.
# None marks a leaf (a value or a list of values; an object there is dropped); a dict names
# the keys kept inside an object (or inside each object of a list). Anything else is dropped:
# hardware and subscriber identifiers, addresses, phone numbers, location, the person's apps.
BYOD_ALLOWED_INVENTORY_FIELDS: dict[str, Any] = {
    # operating system and hardware model (never the serial or other identifiers)
    **dict.fromkeys(
        (
            "os",
            "os_name",
            "os_version",
            "OSVersion",
            "os_build",
            "BuildVersion",
            "platform",
            "model",
            "model_name",
            "ModelName",
            "ProductName",
            "manufacturer",
            "agent_version",
            "last_boot",
            "last_boot_time",
            "uptime_seconds",
        )
    ),
    # battery
    "battery": {"level": None, "charging": None, "health": None},
    **dict.fromkeys(("battery_level", "BatteryLevel", "charging", "is_charging")),
    # storage and memory totals
    "storage": _STORAGE,
    **_units("storage_total", "storage_free", "storage_used", "storage_available"),
    **dict.fromkeys(("DeviceCapacity", "AvailableDeviceCapacity")),
    "memory": _units("total", "free", "used", "available"),
    **_units("memory_total", "memory_free", "ram"),
    # screen
    "screen": dict.fromkeys(("width", "height", "density", "dpi", "scale", "resolution")),
    **dict.fromkeys(("screen_width", "screen_height", "screen_density", "screen_resolution")),
    # locale
    **dict.fromkeys(("locale", "language", "languages", "timezone", "time_zone")),
    # security state as booleans
    **dict.fromkeys(
        (
            "encrypted",
            "encryption",
            "storage_encrypted",
            "disk_encrypted",
            "encryption_enabled",
            "passcode_present",
            "PasscodePresent",
            "passcode_set",
            "screen_lock_set",
        )
    ),
    # the apps the school installed (never the person's own apps)
    "managed_apps": _APP,
    "school_apps": _APP,
    "ManagedApplicationList": _APP,
    # the profiles the school installed (Apple's ProfileList; only entries with IsManaged true
    # are kept, see _ONLY_ENTRIES), never their contents
    "ProfileList": dict.fromkeys(
        (
            "PayloadIdentifier",
            "PayloadDisplayName",
            "PayloadOrganization",
            "PayloadUUID",
            "PayloadVersion",
            "IsManaged",
        )
    ),
}
# Lists on the allow-list of which a personal device's entries are kept only when the entry
# itself says it is the school's: ProfileList lists every profile on the device, the person's
# own among them, and marks those the school's MDM installed with IsManaged.
_ONLY_ENTRIES = {"ProfileList": "IsManaged"}

# Named identifiers: listed to agents as `not_collected` and refused even if one ever slipped
# onto the allow-list. The allow-list alone decides what is kept.
BYOD_FORBIDDEN_INVENTORY_FIELDS = frozenset(
    {
        # hardware and subscriber identifiers
        "serial",
        "serial_number",
        "SerialNumber",
        "hardware_serial",
        "imei",
        "IMEI",
        "imei1",
        "imei2",
        "udid",
        "UDID",
        "android_id",
        "serial_no",
        "wifi_mac_address",
        "bluetooth_address",
        "identifiers",
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
        "refresh_inventory",
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
        "disable_lost_mode",
        "DisableLostMode",
        "installed_apps",
        "installed_application_list",
        "InstalledApplicationList",
        # Apple's User Enrollment forbids these too (mdm/commands/*.yaml of Apple's
        # device-management specification, `userenrollment: forbidden`)
        "restart",
        "restart_device",
        "RestartDevice",
        "shutdown",
        "shut_down",
        "shutdown_device",
        "ShutDownDevice",
        "play_lost_mode_sound",
        "PlayLostModeSound",
        "lost_mode_location",
        "ClearRestrictionsPassword",
        "ActivationLockBypassCode",
        "ClearActivationLockBypassCode",
        "RequestMirroring",
        "StopMirroring",
        "ScheduleOSUpdate",
        "ScheduleOSUpdateScan",
        "EnableRemoteDesktop",
        "DisableRemoteDesktop",
        "SetFirmwarePassword",
        "SetRecoveryLock",
        "RefreshCellularPlans",
        "LOMDeviceRequest",
        "LOMSetupRequest",
    }
)

# The DeviceInformation queries Apple's User Enrollment does not answer (mdm/commands/
# information.device.yaml, `userenrollment: forbidden`): never asked of a personal device, even
# if one ever slipped onto the inventory allow-list. Which queries are asked is decided by
# `allowed_queries` (the allow-list again).
USER_ENROLLMENT_FORBIDDEN_QUERIES = frozenset(
    {
        "UDID",
        "ProvisioningUDID",
        "SerialNumber",
        "IMEI",
        "MEID",
        "ICCID",
        "EID",
        "WiFiMAC",
        "BluetoothMAC",
        "EthernetMAC",
        "EthernetMACs",
        "PhoneNumber",
        "ServiceSubscriptions",
        "ModemFirmwareVersion",
        "CurrentCarrierNetwork",
        "SIMCarrierNetwork",
        "SubscriberCarrierNetwork",
        "CarrierSettingsVersion",
        "SubscriberMCC",
        "SubscriberMNC",
        "CurrentMCC",
        "CurrentMNC",
        "DataRoamingEnabled",
        "VoiceRoamingEnabled",
        "PersonalHotspotEnabled",
        "IsRoaming",
        "LastCloudBackupDate",
        "AwaitingConfiguration",
        "iTunesStoreAccountIsActive",
        "iTunesStoreAccountHash",
        "IsActivationLockEnabled",
        "IsActivationLockSupported",
        "IsDoNotDisturbInEffect",
        "IsMDMLostModeEnabled",
        "IsCloudBackupEnabled",
        "MaximumResidentUsers",
        "EstimatedResidentUsers",
        "PushToken",
        "SoftwareUpdateDeviceID",
        "AccessibilitySettings",
        "OSUpdateSettings",
        "AutoSetupAdminAccounts",
        "PINRequiredForEraseDevice",
        "PINRequiredForDeviceLock",
        "DeviceName",
        "DeviceLocation",
    }
)

# The configuration profile payloads a personal Apple device may get: those Apple's User
# Enrollment allows on iPhone and iPad (mdm/profiles/*.yaml, `userenrollment: allowed`) that
# a school has a use for: accounts, certificates, a passcode, per-app VPN, Wi-Fi and the few
# restrictions below. Any other payload type is refused (an allow-list: a type Apple adds is
# refused until it is checked and named here).
USER_ENROLLMENT_PAYLOAD_TYPES = frozenset(
    {
        "com.apple.mobiledevice.passwordpolicy",
        "com.apple.applicationaccess",
        "com.apple.wifi.managed",
        "com.apple.mail.managed",
        "com.apple.eas.account",
        "com.apple.caldav.account",
        "com.apple.carddav.account",
        "com.apple.ldap.account",
        "com.apple.google-oauth",
        "com.apple.subscribedcalendar.account",
        "com.apple.security.pkcs1",
        "com.apple.security.pkcs12",
        "com.apple.security.pem",
        "com.apple.security.root",
        "com.apple.security.scep",
        "com.apple.security.acme",
        "com.apple.vpn.managed.applayer",
    }
)
# Keys of allowed payloads that User Enrollment forbids (`userenrollment: forbidden` on the key).
USER_ENROLLMENT_FORBIDDEN_PAYLOAD_KEYS = {"com.apple.wifi.managed": frozenset({"ProxyType"})}
# The restrictions (com.apple.applicationaccess keys) a personal device may get: of those User
# Enrollment allows on iPhone and iPad, the ones that concern only the school's managed part
# (what its managed apps and accounts may share with the person's own). The policy merge's rule
# (mdm/policies/merge.py, `byod_reason`) holds here too: what would reach the person's own
# device is left out, so the device-wide ones User Enrollment would take (Siri, screenshots,
# lock-screen views, backups, Safari's fraud warning, ...) are refused, as are camera, app
# store, iCloud, AirDrop and the others User Enrollment forbids.
USER_ENROLLMENT_RESTRICTIONS = frozenset(
    {
        "allowOpenFromManagedToUnmanaged",
        "allowOpenFromUnmanagedToManaged",
        "allowUnmanagedToReadManagedContacts",
        "allowManagedAppsCloudSync",
        "allowEnterpriseBookBackup",
        "allowEnterpriseBookMetadataSync",
        "forceAirDropUnmanaged",
        "requireManagedPasteboard",
        # read by profile tools only, never by the device
        "ratingRegion",
    }
)


def _normalize(name: str) -> str:
    """Lower case without spaces, '_' and '-': `Serial Number`, `serial_number`, `SerialNumber`."""
    return name.replace("_", "").replace("-", "").replace(" ", "").casefold()


_FORBIDDEN_FIELDS = frozenset(_normalize(name) for name in BYOD_FORBIDDEN_INVENTORY_FIELDS)
_ALLOWED_COMMANDS = frozenset(_normalize(name) for name in ALLOWED_BYOD_COMMANDS)
_FORBIDDEN_COMMANDS = frozenset(_normalize(name) for name in FORBIDDEN_BYOD_COMMANDS)


def _spec(tree: dict[str, Any]) -> dict[str, Any]:
    return {
        _normalize(name): None if children is None else _spec(children)
        for name, children in tree.items()
    }


_ALLOWED_FIELDS: dict[str, Any] = _spec(BYOD_ALLOWED_INVENTORY_FIELDS)
_ENTRY_FLAGS = {_normalize(key): flag for key, flag in _ONLY_ENTRIES.items()}
_FORBIDDEN_QUERIES = frozenset(_normalize(name) for name in USER_ENROLLMENT_FORBIDDEN_QUERIES)
_SCALARS = (str, int, float, bool, type(None))


def _check_ownership(ownership: str) -> None:
    if ownership not in OWNERSHIPS:
        raise ValueError(f"unknown ownership {ownership!r}")


def inventory_depth(value: Any) -> int:
    """How deeply objects and lists nest in `value` (a scalar is 0, `{}` is 1); no recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_INVENTORY_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _filter_value(
    value: Any, children: dict[str, Any] | None, path: str, dropped: list[str]
) -> Any:
    """Keep `value` of an allowed key: scalars, lists of allowed items, objects only when
    the allow-list names their keys. Returns _DROP for what may not be kept."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, list):
        kept = []
        for index, item in enumerate(value):
            filtered = _filter_value(item, children, f"{path}[{index}]", dropped)
            if filtered is not _DROP:
                kept.append(filtered)
        return kept
    if isinstance(value, dict) and children is not None:
        return _filter_object(value, children, path, dropped)
    dropped.append(path)
    return _DROP


def _filter_object(
    value: dict[str, Any], allowed: dict[str, Any], path: str, dropped: list[str]
) -> dict[str, Any]:
    kept = {}
    for key, item in value.items():
        key_path = f"{path}.{key}" if path else str(key)
        normalized = _normalize(key) if isinstance(key, str) else None
        if normalized is None or normalized not in allowed or normalized in _FORBIDDEN_FIELDS:
            dropped.append(key_path)
            continue
        if normalized in _ENTRY_FLAGS and allowed is _ALLOWED_FIELDS:
            if not isinstance(item, list):
                dropped.append(key_path)
                continue
            item = _flagged_entries(item, _ENTRY_FLAGS[normalized], key_path, dropped)
        filtered = _filter_value(item, allowed[normalized], key_path, dropped)
        if filtered is not _DROP:
            kept[key] = filtered
    return kept


def _flagged_entries(value: list[Any], flag: str, path: str, dropped: list[str]) -> list[Any]:
    """The entries (objects) of a list whose `flag` is true."""
    kept = []
    for index, entry in enumerate(value):
        if isinstance(entry, dict) and entry.get(flag) is True:
            kept.append(entry)
        else:
            dropped.append(f"{path}[{index}]")
    return kept


_DROP = object()


def filter_inventory(ownership: str, inventory: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Return (the inventory the school may store, dotted paths of the keys dropped).

    A school-owned device keeps everything. A personal (BYOD) device keeps only keys on
    BYOD_ALLOWED_INVENTORY_FIELDS (compared lower case without spaces, '_' and '-'), and
    inside objects only where the allow-list names their keys; everything else is dropped. Of
    the lists in _ONLY_ENTRIES (ProfileList) only the entries marked as the school's are kept.
    Callers check the nesting against MAX_INVENTORY_DEPTH first (see inventory_depth).
    """
    _check_ownership(ownership)
    if ownership == SCHOOL:
        return dict(inventory), []
    dropped: list[str] = []
    return _filter_object(inventory, _ALLOWED_FIELDS, "", dropped), dropped


def command_allowed(ownership: str, command_type: str) -> bool:
    """Tell whether a command may be sent to a device of this ownership."""
    _check_ownership(ownership)
    if ownership == SCHOOL:
        return True
    normalized = _normalize(command_type)
    return normalized in _ALLOWED_COMMANDS and normalized not in _FORBIDDEN_COMMANDS


def allowed_queries(ownership: str, queries: Iterable[str]) -> list[str]:
    """The DeviceInformation queries to ask a device, in their order: all of a school-owned
    device; of a personal one only those whose answer the allow-list keeps and that Apple's
    User Enrollment answers (never UDID, serial number, IMEI, MEID, ICCID, MAC addresses,
    phone number and the other identifiers of USER_ENROLLMENT_FORBIDDEN_QUERIES)."""
    _check_ownership(ownership)
    if ownership == SCHOOL:
        return list(queries)
    return [
        query
        for query in queries
        if (normalized := _normalize(query)) in _ALLOWED_FIELDS
        and _ALLOWED_FIELDS[normalized] is None
        and normalized not in _FORBIDDEN_FIELDS
        and normalized not in _FORBIDDEN_QUERIES
    ]


def profile_refusal(ownership: str, payloads: list[Any] | None) -> str | None:
    """Why a configuration profile with these payloads (its PayloadContent; None when it cannot
    be read, e.g. encrypted) may not be installed on a device of this ownership, or None when
    it may. A personal device gets only what Apple's User Enrollment allows:
    USER_ENROLLMENT_PAYLOAD_TYPES, without USER_ENROLLMENT_FORBIDDEN_PAYLOAD_KEYS, and of the
    restrictions only USER_ENROLLMENT_RESTRICTIONS."""
    _check_ownership(ownership)
    if ownership == SCHOOL:
        return None
    if payloads is None:
        return (
            "its payloads cannot be read (an encrypted or unreadable profile), so it cannot be "
            "shown to hold only what a personal device may get"
        )
    for payload in payloads:
        kind = payload.get("PayloadType") if isinstance(payload, dict) else None
        if not isinstance(kind, str) or kind not in USER_ENROLLMENT_PAYLOAD_TYPES:
            return f"payload type {kind!r} is not allowed on a personal device (User Enrollment)"
        forbidden = sorted(
            USER_ENROLLMENT_FORBIDDEN_PAYLOAD_KEYS.get(kind, frozenset()) & payload.keys()
        )
        if forbidden:
            return f"{kind} with {', '.join(forbidden)} is not allowed on a personal device"
        if kind == "com.apple.applicationaccess":
            restrictions = sorted(
                key
                for key in payload
                if not key.startswith("Payload") and key not in USER_ENROLLMENT_RESTRICTIONS
            )
            if restrictions:
                return (
                    f"the restrictions {', '.join(restrictions)} are not allowed on a personal "
                    "device (User Enrollment)"
                )
    return None
