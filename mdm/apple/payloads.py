"""What the platform's policies and commands become in Apple's MDM protocol: the policy as a
configuration profile (passcode, restrictions, Wi-Fi payloads) and each command type as a
RequestType. Pure: no Flask, no session.

Apple's keys and which of them need a supervised device are from Apple's device-management
specification (mdm/profiles/*.yaml, mdm/commands/*.yaml).
"""

import base64
import uuid
from dataclasses import dataclass, field
from typing import Any

from mdm.devices import byod

POLICY_PROFILE_SUFFIX = "policy"
# The platform's restrictions and the Restrictions payload key of each (supervised: whether
# iOS/iPadOS honour it only on a supervised device).
RESTRICTIONS: dict[str, tuple[str, bool]] = {
    "allow_camera": ("allowCamera", False),
    "allow_screenshots": ("allowScreenShot", False),
    "allow_app_installation": ("allowAppInstallation", True),
    "allow_app_removal": ("allowAppRemoval", True),
    "allow_app_store": ("allowUIAppInstallation", True),
    "allow_nearby_sharing": ("allowAirDrop", True),
    "allow_explicit_content": ("allowExplicitContent", False),
    "allow_account_changes": ("allowAccountModification", True),
}
NEEDS_SUPERVISION = "needs a supervised device"
# Parts of a policy document this transport does not turn into payloads; a device reports them
# as settings it could not apply, so its compliance says so.
NOT_DELIVERED = {
    "apps": "app lists are not delivered to Apple devices as a profile (use install_app)",
    "web_filter": "the web filter is not delivered to Apple devices yet",
    "single_app": "single-app and exam mode are not delivered to Apple devices yet",
}
WIFI_ENCRYPTION = {"open": "None", "wpa2": "WPA2", "wpa3": "WPA3"}
# The DeviceInformation queries of an inventory refresh (a personal device is asked only those
# the BYOD rule allows, `byod.allowed_queries`).
DEVICE_QUERIES = (
    "UDID",
    "DeviceName",
    "OSVersion",
    "BuildVersion",
    "ModelName",
    "Model",
    "ProductName",
    "SerialNumber",
    "IMEI",
    "MEID",
    "ServiceSubscriptions",
    "IsSupervised",
    "IsMultiUser",
    "DeviceCapacity",
    "AvailableDeviceCapacity",
    "BatteryLevel",
    "WiFiMAC",
    "BluetoothMAC",
    "IsActivationLockEnabled",
    "IsCloudBackupEnabled",
    "PhoneNumber",
)
# An inventory refresh is three requests in a row; the step is the CommandUUID's suffix.
INVENTORY_STEPS = ("DeviceInformation", "InstalledApplicationList", "ProfileList")


class Undeliverable(ValueError):
    """A command this device cannot be sent (the reason is the message)."""


def _uuid(*parts: str) -> str:
    """A stable UUID for a payload: the same content gets the same one."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts))).upper()


@dataclass(frozen=True)
class PolicyProfile:
    """The policy as a configuration profile, and the settings the device will not get."""

    identifier: str
    profile: dict[str, Any]
    failed_settings: list[dict[str, str]] = field(default_factory=list)


def _payload(kind: str, identifier: str, policy_hash: str, **keys: Any) -> dict[str, Any]:
    return {
        "PayloadType": kind,
        "PayloadIdentifier": identifier,
        "PayloadUUID": _uuid(identifier, policy_hash),
        "PayloadVersion": 1,
        **keys,
    }


def _passcode(passcode: dict[str, Any]) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    if "required" in passcode:
        keys["forcePIN"] = bool(passcode["required"])
    if "min_length" in passcode:
        keys["minLength"] = int(passcode["min_length"])
    complexity = passcode.get("complexity")
    if complexity in ("alphanumeric", "complex"):
        keys["requireAlphanumeric"] = True
        keys["allowSimple"] = False
    if complexity == "complex":
        keys["minComplexChars"] = 1
    if "auto_lock_minutes" in passcode:
        keys["maxInactivity"] = int(passcode["auto_lock_minutes"])
    return keys


def _wifi(network: dict[str, Any]) -> dict[str, Any]:
    keys: dict[str, Any] = {
        "SSID_STR": network["ssid"],
        "HIDDEN_NETWORK": bool(network.get("hidden", False)),
        "AutoJoin": bool(network.get("auto_join", True)),
        "EncryptionType": WIFI_ENCRYPTION[network["security"]],
    }
    if network.get("password"):
        keys["Password"] = network["password"]
    return keys


def policy_profile(
    document: dict[str, Any], policy_hash: str, prefix: str, organization: str, supervised: bool
) -> PolicyProfile:
    """The effective policy (with its Wi-Fi passwords) as one configuration profile; the
    same identifier every time, so that installing it replaces the one installed before."""
    identifier = f"{prefix}.{POLICY_PROFILE_SUFFIX}"
    payloads: list[dict[str, Any]] = []
    failed: list[dict[str, str]] = []
    passcode = _passcode(document.get("passcode", {}))
    if passcode:
        payloads.append(
            _payload(
                "com.apple.mobiledevice.passwordpolicy",
                f"{identifier}.passcode",
                policy_hash,
                **passcode,
            )
        )
    restrictions: dict[str, Any] = {}
    for name, value in sorted(document.get("restrictions", {}).items()):
        key, supervised_only = RESTRICTIONS[name]
        if supervised_only and not supervised:
            failed.append({"setting": f"restrictions.{name}", "reason": NEEDS_SUPERVISION})
            continue
        restrictions[key] = bool(value)
    if restrictions:
        payloads.append(
            _payload(
                "com.apple.applicationaccess",
                f"{identifier}.restrictions",
                policy_hash,
                **restrictions,
            )
        )
    for network in document.get("wifi", []):
        payloads.append(
            _payload(
                "com.apple.wifi.managed",
                f"{identifier}.wifi.{_uuid(network['ssid'])}",
                policy_hash,
                **_wifi(network),
            )
        )
    for name, reason in NOT_DELIVERED.items():
        if document.get(name):
            failed.append({"setting": name, "reason": reason})
    profile = {
        "PayloadType": "Configuration",
        "PayloadIdentifier": identifier,
        "PayloadUUID": _uuid(identifier, policy_hash),
        "PayloadVersion": 1,
        "PayloadDisplayName": f"{organization}: Richtlinie / policy",
        "PayloadOrganization": organization,
        "PayloadRemovalDisallowed": True,
        "PayloadContent": payloads,
    }
    return PolicyProfile(identifier, profile, failed)


def enrollment_profile_identifier(prefix: str) -> str:
    """The PayloadIdentifier of a school's enrollment (MDM) profile; its RemoveProfile ends the
    management of a device."""
    return f"{prefix}.enrollment"


def _require(parameters: dict[str, Any], name: str) -> Any:
    value = parameters.get(name)
    if value in (None, ""):
        raise Undeliverable(f"the command has no {name}")
    return value


def inventory_request(step: str, ownership: str) -> dict[str, Any]:
    """One step of an inventory refresh as a RequestType. A personal device is asked only the
    queries the BYOD rule allows, and only for the apps and profiles the school manages."""
    personal = ownership == byod.BYOD
    if step == "DeviceInformation":
        queries = byod.allowed_queries(ownership, DEVICE_QUERIES)
        return {"RequestType": "DeviceInformation", "Queries": queries}
    if step == "InstalledApplicationList":
        return {"RequestType": "InstalledApplicationList", "ManagedAppsOnly": personal}
    if personal:
        # User Enrollment limits the list to managed profiles anyway; asked so all the same.
        return {"RequestType": "ProfileList", "ManagedOnly": True}
    return {"RequestType": "ProfileList"}


def command_request(
    type_: str, parameters: dict[str, Any], unlock_token: bytes | None, ownership: str
) -> dict[str, Any]:
    """A queued command of the platform as the Command dictionary of Apple's protocol."""
    if type_ == "lock":
        request: dict[str, Any] = {"RequestType": "DeviceLock"}
        if parameters.get("message"):
            request["Message"] = parameters["message"]
        return request
    if type_ == "restart":
        return {"RequestType": "RestartDevice"}
    if type_ == "clear_passcode":
        if not unlock_token:
            raise Undeliverable("the device sent no UnlockToken, so its passcode cannot be cleared")
        return {"RequestType": "ClearPasscode", "UnlockToken": unlock_token}
    if type_ == "erase":
        return {"RequestType": "EraseDevice"}
    if type_ == "enable_lost_mode":
        request = {"RequestType": "EnableLostMode", "Message": _require(parameters, "message")}
        if parameters.get("phone_number"):
            request["PhoneNumber"] = parameters["phone_number"]
        if parameters.get("footnote"):
            request["Footnote"] = parameters["footnote"]
        return request
    if type_ == "disable_lost_mode":
        return {"RequestType": "DisableLostMode"}
    if type_ == "refresh_inventory":
        return inventory_request(INVENTORY_STEPS[0], ownership)
    if type_ == "install_app":
        request = {"RequestType": "InstallApplication", "ManagementFlags": 1}
        if parameters.get("url"):
            request["ManifestURL"] = parameters["url"]
        else:
            request["Identifier"] = _require(parameters, "app")
        return request
    if type_ == "remove_app":
        return {"RequestType": "RemoveApplication", "Identifier": _require(parameters, "app")}
    if type_ == "install_profile":
        payload = base64.b64decode(_require(parameters, "profile"))
        return {"RequestType": "InstallProfile", "Payload": payload}
    if type_ == "remove_profile":
        return {"RequestType": "RemoveProfile", "Identifier": _require(parameters, "identifier")}
    raise Undeliverable(f"{type_} has no Apple RequestType")


def envelope(command_uuid: str, request: dict[str, Any]) -> dict[str, Any]:
    """The plist a device gets from the command endpoint."""
    return {"CommandUUID": command_uuid, "Command": request}
