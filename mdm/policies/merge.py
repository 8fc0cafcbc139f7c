"""The effective policy of a device: a deterministic merge of the documents assigned to it,
explainable setting by setting, with what a school may not enforce on a personal device left
out (docs/policies.md). Pure: no Flask, no session.

Every document is cut into settings (`passcode.min_length`, `apps[org.example.app]`,
`wifi[Schul-WLAN]`, ...). For each setting the active assignment that comes first wins: the
highest priority; on equal priority the more specific target (device, group, ownership, school);
then the older assignment. The winners make the effective document again.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mdm.policies.document import APP_MODES

SPECIFICITY = {"device": 3, "group": 2, "ownership": 1, "school": 0}
BYOD = "byod"

# Why a setting is left out on a personal device (see docs/policies.md for the rule).
BYOD_PASSCODE = (
    "personal device: only requiring a passcode can be enforced (Apple's User Enrollment "
    "ignores length, complexity and auto-lock; a work profile governs only its own challenge)"
)
BYOD_RESTRICTION = (
    "personal device: a restriction of the whole device (User Enrollment does not allow it; a "
    "work profile restricts only its own apps)"
)
BYOD_BLOCKED_APP = "personal device: blocking an app would reach the owner's own apps"
BYOD_WEB_FILTER = "personal device: a web filter would filter the owner's own browsing"
BYOD_SINGLE_APP = "personal device: single-app and exam mode need a supervised device"


@dataclass(frozen=True)
class Layer:
    """One assignment's contribution: the document of its policy's current version."""

    assignment_id: int
    policy_id: int
    policy_name: str
    version: int
    target: str
    target_name: str
    priority: int
    document: Mapping[str, Any]
    version_id: int = 0
    active: bool = True
    inactive_reason: str = ""

    def rank(self) -> tuple[int, int, int]:
        """Sort key: the first layer wins a setting."""
        return (-self.priority, -SPECIFICITY[self.target], self.assignment_id)


@dataclass(frozen=True)
class Setting:
    """One setting of the effective policy: its value, who set it, whom it overrode."""

    name: str
    value: Any
    layer: Layer
    overridden: tuple[tuple[Layer, Any], ...] = ()


@dataclass(frozen=True)
class LeftOut:
    """A setting the merge chose but that a personal device does not get."""

    setting: Setting
    reason: str


@dataclass(frozen=True)
class Merged:
    """The effective policy: its document (stored form), hash and explanation."""

    document: dict[str, Any]
    hash: str
    settings: tuple[Setting, ...] = ()
    left_out: tuple[LeftOut, ...] = ()
    inactive: tuple[Layer, ...] = field(default_factory=tuple)


def document_hash(document: Mapping[str, Any]) -> str:
    """SHA-256 of the document's canonical JSON."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


EMPTY_HASH = document_hash({})


def settings_of(document: Mapping[str, Any]) -> dict[str, Any]:
    """Cut a document into its settings."""
    settings: dict[str, Any] = {}
    for part in ("passcode", "restrictions"):
        for name, value in document.get(part, {}).items():
            settings[f"{part}.{name}"] = value
    for network in document.get("wifi", []):
        settings[f"wifi[{network['ssid']}]"] = dict(network)
    for mode in APP_MODES:
        for app in document.get("apps", {}).get(mode, []):
            settings[f"apps[{app}]"] = mode
    web_filter = document.get("web_filter", {})
    if "allow_listed_only" in web_filter:
        settings["web_filter.allow_listed_only"] = web_filter["allow_listed_only"]
    for action in ("allow", "deny"):
        for site in web_filter.get(action, []):
            settings[f"web_filter.sites[{site}]"] = action
    if "single_app" in document:
        settings["single_app"] = dict(document["single_app"])
    return settings


def _key(name: str) -> str:
    return name[name.index("[") + 1 : -1]


def document_of(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Put settings together into a document (lists sorted, so equal settings make equal
    documents)."""
    document: dict[str, Any] = {}
    for name, value in settings.items():
        if name.startswith(("passcode.", "restrictions.")):
            part, key = name.split(".", 1)
            document.setdefault(part, {})[key] = value
        elif name.startswith("wifi["):
            document.setdefault("wifi", []).append(value)
        elif name.startswith("apps["):
            document.setdefault("apps", {}).setdefault(value, []).append(_key(name))
        elif name == "web_filter.allow_listed_only":
            document.setdefault("web_filter", {})["allow_listed_only"] = value
        elif name.startswith("web_filter.sites["):
            document.setdefault("web_filter", {}).setdefault(value, []).append(_key(name))
        elif name == "single_app":
            document["single_app"] = value
    if "wifi" in document:
        document["wifi"].sort(key=lambda network: network["ssid"])
    for part in ("apps", "web_filter"):
        for value in document.get(part, {}).values():
            if isinstance(value, list):
                value.sort()
    return document


def byod_reason(name: str, value: Any) -> str | None:
    """Why a personal device does not get this setting, or None when it does."""
    if name.startswith("passcode."):
        return None if name == "passcode.required" else BYOD_PASSCODE
    if name.startswith("restrictions."):
        return BYOD_RESTRICTION
    if name.startswith("apps["):
        return BYOD_BLOCKED_APP if value == "blocked" else None
    if name.startswith("web_filter."):
        return BYOD_WEB_FILTER
    if name == "single_app":
        return BYOD_SINGLE_APP
    return None


def merge(layers: Iterable[Layer], ownership: str) -> Merged:
    """The effective policy of a device of this ownership with these assignments."""
    ordered = sorted(layers, key=Layer.rank)
    active = [layer for layer in ordered if layer.active]
    candidates: dict[str, list[tuple[Layer, Any]]] = {}
    for layer in active:
        for name, value in settings_of(layer.document).items():
            candidates.setdefault(name, []).append((layer, value))
    chosen: list[Setting] = []
    left_out: list[LeftOut] = []
    for name in sorted(candidates):
        (layer, value), *others = candidates[name]
        setting = Setting(name, value, layer, tuple(others))
        reason = byod_reason(name, value) if ownership == BYOD else None
        if reason is None:
            chosen.append(setting)
        else:
            left_out.append(LeftOut(setting, reason))
    document = document_of({setting.name: setting.value for setting in chosen})
    return Merged(
        document=document,
        hash=document_hash(document),
        settings=tuple(chosen),
        left_out=tuple(left_out),
        inactive=tuple(layer for layer in ordered if not layer.active),
    )


def document_changes(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> list[tuple[str, Any, Any]]:
    """The settings two documents differ in: (setting, value before, value after), a value
    None where the document does not set it; by setting name."""
    old, new = settings_of(before), settings_of(after)
    return [
        (name, old.get(name), new.get(name))
        for name in sorted(old.keys() | new.keys())
        if old.get(name) != new.get(name)
    ]
