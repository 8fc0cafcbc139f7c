"""The effective policy as Apple's declarative device management (DDM) declarations, and the
status reports devices send back. Pure: no Flask, no session.

A device gets a passcode configuration, a legacy-profile configuration for the restrictions and
Wi-Fi (a profile the service serves at a URL, built by payloads.policy_profile), a status
subscription configuration, and one activation of them all. Every declaration has a stable
Identifier and a ServerToken computed over its content, and the set has a DeclarationsToken
computed over its (Identifier, ServerToken) pairs: the same policy gives the same tokens, a
changed policy changes exactly the tokens of the declarations it changes.

Keys and shapes are from Apple's device-management specification (declarative/declarations,
declarative/protocol, declarative/status).
"""

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mdm.apple import payloads

PASSCODE = "com.apple.configuration.passcode.settings"
LEGACY = "com.apple.configuration.legacy"
STATUS_SUBSCRIPTIONS = "com.apple.configuration.management.status-subscriptions"
ACTIVATION = "com.apple.activation.simple"
# The declaration-items groups, and the kind (the `declaration/<kind>/<identifier>` path part
# and the status report's group) of each declaration type.
GROUPS = {
    "activation": "Activations",
    "configuration": "Configurations",
    "asset": "Assets",
    "management": "Management",
}
# iOS and iPadOS 17 are the first whose declarations cover what the profile path delivers
# (passcode settings, legacy profiles and the status channel together).
DECLARATIVE_SINCE = {"ios": (17,), "ipados": (17,)}
# The status items every device subscribes to, and the inventory key each is stored as (the
# DeviceInformation spelling where one exists, so both channels fill the same fields).
STATUS_ITEMS: dict[str, str] = {
    "device.identifier.serial-number": "SerialNumber",
    "device.identifier.udid": "UDID",
    "device.model.family": "ModelName",
    "device.model.identifier": "ProductName",
    "device.model.marketing-name": "model_name",
    "device.operating-system.build-version": "BuildVersion",
    "device.operating-system.family": "os",
    "device.operating-system.version": "OSVersion",
    "passcode.is-compliant": "PasscodeCompliant",
    "passcode.is-present": "PasscodePresent",
}
# Hardware identifiers: a User Enrollment cannot report them, and a school keeps none of a
# personal device, so a personal device is not subscribed to them.
PERSONAL_UNSUBSCRIBED = frozenset({"device.identifier.serial-number", "device.identifier.udid"})
# The passcode keys a personal device gets (the platform's BYOD rule: only requiring a passcode
# is enforced on a personal device).
PERSONAL_PASSCODE_KEYS = frozenset({"RequirePasscode"})
PERSONAL_PASSCODE = (
    "personal device: only requiring a passcode can be enforced (Apple's User Enrollment "
    "ignores length, complexity and auto-lock)"
)
# The parts of a policy the legacy profile carries, and those reported as not delivered.
LEGACY_PARTS = ("restrictions", "wifi")


def is_declarative(platform: str, os_version: str) -> bool:
    """Whether a device of this platform and OS version gets its policy as declarations."""
    since = DECLARATIVE_SINCE.get(platform)
    if since is None:
        return False
    parts: list[int] = []
    for part in os_version.strip().split(".")[:3]:
        if not part.isdigit():
            break
        parts.append(int(part))
    return bool(parts) and tuple(parts) >= since


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_token(key: bytes, value: Any) -> str:
    """A ServerToken of some content: the same content gives the same token. Keyed, because
    the content may carry a Wi-Fi password that an unkeyed hash would let be guessed."""
    return hmac.new(key, _canonical(value), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Declaration:
    """One declaration as the device fetches it."""

    type: str
    identifier: str
    server_token: str
    payload: dict[str, Any]
    # The settings of the policy it carries (named in failed settings when it fails).
    settings: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        """activation, configuration, asset or management."""
        return self.type.split(".")[2]

    def body(self) -> dict[str, Any]:
        """The declaration's JSON object."""
        return {
            "Type": self.type,
            "Identifier": self.identifier,
            "ServerToken": self.server_token,
            "Payload": self.payload,
        }


@dataclass(frozen=True)
class Declarations:
    """A device's declarations, their DeclarationsToken, the legacy profile one of them points
    to (None without one) and the settings the device will not get."""

    declarations: tuple[Declaration, ...]
    token: str
    profile: dict[str, Any] | None = None
    failed_settings: list[dict[str, str]] = field(default_factory=list)

    def items(self) -> dict[str, Any]:
        """The declaration-items answer."""
        groups: dict[str, list[dict[str, str]]] = {name: [] for name in GROUPS.values()}
        for item in self.declarations:
            groups[GROUPS[item.kind]].append(
                {"Identifier": item.identifier, "ServerToken": item.server_token}
            )
        return {"Declarations": groups, "DeclarationsToken": self.token}

    def find(self, kind: str, identifier: str) -> Declaration | None:
        """The declaration of this kind and identifier, if the device has it."""
        for item in self.declarations:
            if item.kind == kind and item.identifier == identifier:
                return item
        return None

    @property
    def configurations(self) -> list[Declaration]:
        """The configurations (what the status report's validity is judged on)."""
        return [item for item in self.declarations if item.kind == "configuration"]

    @property
    def legacy_token(self) -> str | None:
        """The ServerToken of the legacy profile's configuration, if there is one."""
        legacy = next((item for item in self.declarations if item.type == LEGACY), None)
        return legacy.server_token if legacy else None


def passcode_settings(
    passcode: Mapping[str, Any], personal: bool
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The platform's passcode settings as a passcode configuration's payload, and the settings
    left out (of a personal device, all but requiring a passcode)."""
    keys: dict[str, Any] = {}
    if "required" in passcode:
        keys["RequirePasscode"] = bool(passcode["required"])
    if "min_length" in passcode:
        keys["MinimumLength"] = int(passcode["min_length"])
    # As the profile path: alphanumeric also forbids simple (repeated, sequential) passcodes;
    # complex adds a symbol.
    complexity = passcode.get("complexity")
    if complexity in ("alphanumeric", "complex"):
        keys["RequireAlphanumericPasscode"] = True
        keys["RequireComplexPasscode"] = True
    if complexity == "complex":
        keys["MinimumComplexCharacters"] = 1
    if "auto_lock_minutes" in passcode:
        keys["MaximumInactivityInMinutes"] = int(passcode["auto_lock_minutes"])
    left_out: list[dict[str, str]] = []
    if personal:
        names = {
            "MinimumLength": "min_length",
            "RequireAlphanumericPasscode": "complexity",
            "MaximumInactivityInMinutes": "auto_lock_minutes",
        }
        for key in sorted(set(keys) - PERSONAL_PASSCODE_KEYS):
            if key in names:
                left_out.append({"setting": f"passcode.{names[key]}", "reason": PERSONAL_PASSCODE})
        keys = {key: value for key, value in keys.items() if key in PERSONAL_PASSCODE_KEYS}
    return keys, left_out


def build(
    document: Mapping[str, Any],
    *,
    prefix: str,
    organization: str,
    supervised: bool,
    personal: bool,
    key: bytes,
    profile_url: Callable[[str], str],
) -> Declarations:
    """A device's declarations for its effective policy (with its Wi-Fi passwords).

    `prefix` is the school's reverse-DNS prefix; `profile_url(server_token)` is the URL the
    legacy profile of that server token is served at for this device."""
    base = f"{prefix}.declarative"
    configurations: list[Declaration] = []
    failed: list[dict[str, str]] = []
    passcode, left_out = passcode_settings(document.get("passcode", {}), personal)
    failed += left_out
    if passcode:
        configurations.append(
            Declaration(
                PASSCODE, f"{base}.passcode", content_token(key, passcode), passcode, ("passcode",)
            )
        )
    legacy_document = {name: document[name] for name in LEGACY_PARTS if document.get(name)}
    # The profile's UUIDs come from its own content, not the whole policy's hash, so that a
    # passcode change leaves the legacy profile (and its token) alone.
    legacy_hash = content_token(key, [legacy_document, supervised])
    undelivered = {name: document[name] for name in payloads.NOT_DELIVERED if document.get(name)}
    built = payloads.policy_profile(
        legacy_document | undelivered, legacy_hash, base, organization, supervised
    )
    failed += built.failed_settings
    profile = built.profile if built.profile["PayloadContent"] else None
    if profile is not None:
        token = content_token(key, profile)
        configurations.append(
            Declaration(
                LEGACY,
                f"{base}.legacy",
                token,
                {"ProfileURL": profile_url(token)},
                tuple(legacy_document),
            )
        )
    items = [
        {"Name": name} for name in STATUS_ITEMS if not (personal and name in PERSONAL_UNSUBSCRIBED)
    ]
    subscriptions = {"StatusItems": items}
    configurations.append(
        Declaration(
            STATUS_SUBSCRIPTIONS,
            f"{base}.status-subscriptions",
            content_token(key, subscriptions),
            subscriptions,
            ("status-subscriptions",),
        )
    )
    activation_payload = {
        "StandardConfigurations": sorted(item.identifier for item in configurations)
    }
    activation = Declaration(
        ACTIVATION,
        f"{base}.activation",
        content_token(key, activation_payload),
        activation_payload,
    )
    declarations = (activation, *configurations)
    pairs = sorted((item.identifier, item.server_token) for item in declarations)
    token = hashlib.sha256(_canonical(pairs)).hexdigest()
    return Declarations(declarations, token, profile, failed)


def sync_tokens(token: str, timestamp: str) -> dict[str, Any]:
    """The tokens answer (and the DeclarativeManagement command's Data)."""
    return {"SyncTokens": {"DeclarationsToken": token, "Timestamp": timestamp}}


# --- status reports --------------------------------------------------------------------------


class StatusRefused(ValueError):
    """A status report that is not of Apple's shape (the reason is the message)."""


MAX_STATUS_DEPTH = 12
MAX_ERRORS = 200


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_STATUS_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(item, level + 1) for item in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(item, level + 1) for item in value), default=level + 1)
    return level


@dataclass(frozen=True)
class StatusReport:
    """A status report: its items (nested, as sent), whether it is a full report, its errors."""

    items: dict[str, Any]
    full: bool
    errors: list[dict[str, Any]]


def parse_status(report: Any) -> StatusReport:
    """A decoded status report, checked for Apple's shape."""
    if not isinstance(report, dict):
        raise StatusRefused("a status report is a JSON object")
    items = report.get("StatusItems")
    if not isinstance(items, dict):
        raise StatusRefused("StatusItems must be an object")
    if _depth(items) > MAX_STATUS_DEPTH:
        raise StatusRefused(f"StatusItems nest at most {MAX_STATUS_DEPTH} deep")
    errors = report.get("Errors", [])
    if not isinstance(errors, list) or len(errors) > MAX_ERRORS:
        raise StatusRefused(f"Errors must be a list of at most {MAX_ERRORS} objects")
    kept: list[dict[str, Any]] = []
    for error in errors:
        if not isinstance(error, dict) or not isinstance(error.get("StatusItem"), str):
            raise StatusRefused("each of Errors is an object with a StatusItem")
        reasons = error.get("Reasons", [])
        if not isinstance(reasons, list):
            raise StatusRefused("an error's Reasons must be a list")
        kept.append(
            {
                "StatusItem": error["StatusItem"][:200],
                "Reasons": [_reason(reason, "Code", "Description") for reason in reasons[:20]],
            }
        )
    full = report.get("FullReport", False)
    if not isinstance(full, bool):
        raise StatusRefused("FullReport must be true or false")
    declarations = _find(items, "management.declarations")
    if declarations is not None:
        _check_declarations(declarations)
    return StatusReport(items, full, kept)


def _reason(reason: Any, code: str, description: str) -> dict[str, str]:
    if not isinstance(reason, dict):
        return {"code": "", "description": str(reason)[:500]}
    return {
        "code": str(reason.get(code, ""))[:200],
        "description": str(reason.get(description, ""))[:500],
    }


def _check_declarations(value: Any) -> None:
    if not isinstance(value, dict):
        raise StatusRefused("management.declarations must be an object")
    for group in ("activations", "configurations", "assets", "management"):
        entries = value.get(group, [])
        if not isinstance(entries, list):
            raise StatusRefused(f"management.declarations.{group} must be a list")
        for entry in entries:
            if not (
                isinstance(entry, dict)
                and isinstance(entry.get("identifier"), str)
                and isinstance(entry.get("server-token"), str)
                and isinstance(entry.get("active", False), bool)
                and entry.get("valid", "unknown") in ("valid", "invalid", "unknown")
                and isinstance(entry.get("reasons", []), list)
            ):
                raise StatusRefused(
                    f"each of management.declarations.{group} has an identifier, a "
                    "server-token, active (true or false) and valid (valid, invalid or unknown)"
                )


def _find(items: Mapping[str, Any], name: str) -> Any:
    """A status item's value by its dotted name (None when the report has none)."""
    value: Any = items
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


# What of a personal device's status report is kept: the items it is subscribed to and the
# state of its declarations.
PERSONAL_ITEMS = (
    *(name for name in STATUS_ITEMS if name not in PERSONAL_UNSUBSCRIBED),
    "management.declarations",
)


def personal_report(report: StatusReport) -> StatusReport:
    """A personal device's status report with only PERSONAL_ITEMS (and errors of them): what a
    device sends beyond its subscriptions (a hardware identifier) is dropped."""
    items: dict[str, Any] = {}
    for name in PERSONAL_ITEMS:
        value = _find(report.items, name)
        if value is not None:
            *parents, last = name.split(".")
            place = items
            for part in parents:
                place = place.setdefault(part, {})
            place[last] = value
    errors = [error for error in report.errors if error["StatusItem"] in PERSONAL_ITEMS]
    return StatusReport(items, report.full, errors)


def merge_status(stored: Mapping[str, Any], report: StatusReport) -> dict[str, Any]:
    """The status known after a report: a full report replaces it, an incremental one is merged
    item by item into it."""
    if report.full:
        return dict(report.items)
    return _deep_merge(stored, report.items)


def _deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for name, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(name), dict):
            merged[name] = _deep_merge(merged[name], value)
        else:
            merged[name] = value
    return merged


def merge_errors(stored: list[dict[str, Any]], report: StatusReport) -> list[dict[str, Any]]:
    """The status items the device could not report: those of this report, and of earlier
    incremental ones the items it reported since have not cleared."""
    if report.full:
        return list(report.errors)
    reported = {name for name in STATUS_ITEMS if _find(report.items, name) is not None}
    fresh = {error["StatusItem"] for error in report.errors}
    kept = [
        error
        for error in stored
        if error.get("StatusItem") not in reported and error.get("StatusItem") not in fresh
    ]
    return (kept + list(report.errors))[:MAX_ERRORS]


def inventory_of(items: Mapping[str, Any]) -> dict[str, Any]:
    """The inventory fields a report's status items fill."""
    found: dict[str, Any] = {}
    for name, key in STATUS_ITEMS.items():
        value = _find(items, name)
        if isinstance(value, str | bool | int | float):
            found[key] = value
    return found


def os_version_of(items: Mapping[str, Any]) -> str | None:
    """The OS version a report names, if it names one."""
    value = _find(items, "device.operating-system.version")
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Outcome:
    """What a device's status says of its declarations: `settled` is False while it has not
    reported every current configuration; then `failed_settings` are what it could not apply
    (with the settings the declarations leave out)."""

    settled: bool
    failed: bool = False
    failed_settings: list[dict[str, str]] = field(default_factory=list)


def outcome(status: Mapping[str, Any], current: Declarations) -> Outcome:
    """Judge the known status against the current declarations: applied when every
    configuration is reported with its current server token as valid and active."""
    declared = _find(status, "management.declarations")
    if not isinstance(declared, dict):
        return Outcome(settled=False)
    reported = {
        entry.get("identifier"): entry
        for entry in declared.get("configurations", [])
        if isinstance(entry, dict)
    }
    failed: list[dict[str, str]] = []
    for configuration in current.configurations:
        entry = reported.get(configuration.identifier)
        if entry is None or entry.get("server-token") != configuration.server_token:
            return Outcome(settled=False)
        if entry.get("valid") == "unknown":
            return Outcome(settled=False)
        if entry.get("valid") == "valid" and entry.get("active") is True:
            continue
        reasons = [_reason(reason, "code", "description") for reason in entry.get("reasons", [])]
        text = "; ".join(
            f"{reason['code']}: {reason['description']}".strip(": ") for reason in reasons
        )
        if not text:
            text = "the device reports the declaration as not active"
            if entry.get("valid") == "invalid":
                text = "the device reports the declaration as invalid"
        for setting in configuration.settings:
            failed.append({"setting": setting, "reason": text[:500]})
    return Outcome(
        settled=True, failed=bool(failed), failed_settings=failed + current.failed_settings
    )
