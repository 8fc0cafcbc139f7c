"""Which command may go to which device, and what each command takes. Pure.

The table (docs/commands.md shows it): the platforms a command exists on, and those on which it
needs a supervised device (Apple: supervised through Apple School Manager or Configurator;
Android: fully managed, the agent is the device owner). Whether a personal (BYOD) device may
get it is decided by the one BYOD rule, `mdm.devices.byod` (`command_allowed`, and for a
profile `profile_refusal`).
"""

import base64
import binascii
import plistlib
import re
from dataclasses import dataclass
from typing import Any
from xml.parsers.expat import ExpatError

from asn1crypto import cms
from marshmallow import Schema, ValidationError, fields, validate, validates

from mdm.devices import byod

APPLE_MOBILE = frozenset({"ios", "ipados"})
APPLE = APPLE_MOBILE | {"macos"}
ALL = APPLE | {"android", "windows", "linux"}
MAX_PROFILE_BYTES = 512 * 1024
APP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")  # bundle id or package name


@dataclass(frozen=True)
class CommandRule:
    """Where a command exists and where it needs a supervised device."""

    type: str
    description: str
    platforms: frozenset[str]
    supervised_on: frozenset[str] = frozenset()


RULES = {
    rule.type: rule
    for rule in (
        CommandRule("lock", "lock the screen, with an optional message", ALL),
        CommandRule("restart", "restart the device", ALL, supervised_on=APPLE_MOBILE | {"android"}),
        CommandRule(
            "clear_passcode",
            "remove the passcode (the user sets a new one)",
            APPLE_MOBILE | {"android"},
            supervised_on=frozenset({"android"}),
        ),
        CommandRule(
            "erase",
            "erase the device to factory settings",
            APPLE | {"android", "windows"},
            supervised_on=frozenset({"android"}),
        ),
        CommandRule(
            "enable_lost_mode",
            "lock the device in lost mode with a message",
            APPLE_MOBILE | {"android"},
            supervised_on=APPLE_MOBILE | {"android"},
        ),
        CommandRule(
            "disable_lost_mode",
            "end lost mode",
            APPLE_MOBILE | {"android"},
            supervised_on=APPLE_MOBILE | {"android"},
        ),
        CommandRule("refresh_inventory", "report the inventory now", ALL),
        CommandRule("install_app", "install (or update) a managed app", ALL),
        CommandRule("remove_app", "remove a managed app", ALL),
        CommandRule("install_profile", "install a configuration profile", APPLE),
        CommandRule("remove_profile", "remove a configuration profile", APPLE),
    )
}
TYPES = tuple(RULES)
# Why a device may not get a command, by reason key (a batch counts its skipped devices so).
REASONS = {
    "platform": "the command does not exist on the device's platform",
    "personal_device": "not allowed on a personal (BYOD) device",
    "personal_profile": "the profile holds what a personal (BYOD) device may not get",
    "not_supervised": "needs a supervised (Apple) or fully managed (Android) device",
}


def refusal(
    type_: str,
    platform: str,
    ownership: str,
    supervised: bool,
    parameters: dict[str, Any] | None = None,
) -> str | None:
    """The reason key why a device may not get this command (with these parameters, when
    given), or None when it may."""
    rule = RULES[type_]
    if platform not in rule.platforms:
        return "platform"
    if not byod.command_allowed(ownership, type_):
        return "personal_device"
    if ownership == byod.BYOD and personal_refusal(type_, parameters) is not None:
        return "personal_profile"
    if platform in rule.supervised_on and not supervised:
        return "not_supervised"
    return None


def personal_refusal(type_: str, parameters: dict[str, Any] | None) -> str | None:
    """Why a personal device may not get this command with these parameters although it may
    get the command (a profile with payloads User Enrollment forbids), or None."""
    if type_ != "install_profile" or parameters is None:
        return None
    try:
        payloads = profile_payloads(str(parameters.get("profile", "")))
    except ValidationError:
        payloads = None
    return byod.profile_refusal(byod.BYOD, payloads)


def explain(reason: str, type_: str, parameters: dict[str, Any] | None) -> str:
    """A refusal's reason in words, with what in the parameters a personal device may not get."""
    detail = personal_refusal(type_, parameters) if reason == "personal_profile" else None
    return f"{REASONS[reason]}: {detail}" if detail else REASONS[reason]


def supervised(inventory: dict[str, Any]) -> bool:
    """Whether a device's inventory says it is supervised (agents: `supervised`; Apple's
    DeviceInformation: `IsSupervised`)."""
    return inventory.get("supervised") is True or inventory.get("IsSupervised") is True


class NoParameters(Schema):
    pass


class MessageParameters(Schema):
    message = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "shown on the lock screen"},
    )


class LostModeParameters(Schema):
    message = fields.String(required=True, validate=validate.Length(min=1, max=200))
    phone_number = fields.String(validate=validate.Regexp(r"^\+?[0-9 ()/-]{3,30}$"))
    footnote = fields.String(validate=validate.Length(max=200))


class AppParameters(Schema):
    app = fields.String(
        required=True,
        validate=validate.Regexp(APP_ID, error="not a bundle id or package name"),
        metadata={"description": "bundle id or package name"},
    )


class InstallAppParameters(AppParameters):
    url = fields.Url(
        schemes={"https"},
        validate=validate.Length(max=2000),
        metadata={
            "description": "where the package or manifest is (an in-house app); the "
            "store's app by its id without it"
        },
    )


class InstallProfileParameters(Schema):
    profile = fields.String(
        required=True,
        metadata={"description": "the .mobileconfig, base64 (signed or not, at most 512 KB)"},
    )

    @validates("profile")
    def _is_a_profile(self, value: str, **_: Any) -> None:
        profile_identifier(value)


class RemoveProfileParameters(Schema):
    identifier = fields.String(
        required=True,
        validate=validate.Length(min=1, max=255),
        metadata={"description": "the profile's PayloadIdentifier"},
    )


PARAMETERS: dict[str, type[Schema]] = {
    "lock": MessageParameters,
    "restart": NoParameters,
    "clear_passcode": NoParameters,
    "erase": NoParameters,
    "enable_lost_mode": LostModeParameters,
    "disable_lost_mode": NoParameters,
    "refresh_inventory": NoParameters,
    "install_app": InstallAppParameters,
    "remove_app": AppParameters,
    "install_profile": InstallProfileParameters,
    "remove_profile": RemoveProfileParameters,
}


def _signed_content(raw: bytes) -> bytes:
    """The content a CMS-signed profile signs (what the device installs); the bytes themselves
    when they are not CMS. Never a text search of the bytes: a property list found elsewhere in
    them (a string of a binary plist, CDATA, an attribute of the signature) is not the one the
    device reads."""
    if not raw.startswith(b"\x30"):
        return raw
    try:
        info = cms.ContentInfo.load(raw, strict=True)
        if info["content_type"].native != "signed_data":
            raise ValueError("not signed data")
        content = info["content"]["encap_content_info"]["content"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise ValidationError("not a configuration profile (unreadable CMS signature)") from exc
    if not isinstance(content, bytes):
        raise ValidationError("not a configuration profile (the signature holds no content)")
    return content


def _profile(encoded: str) -> dict[str, Any]:
    """A base64 configuration profile as a dictionary; ValidationError when it is not one. Of a
    signed profile (CMS) the signed content is read."""
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationError("not base64") from exc
    if len(raw) > MAX_PROFILE_BYTES:
        raise ValidationError(f"at most {MAX_PROFILE_BYTES // 1024} KB")
    try:
        profile = plistlib.loads(_signed_content(raw))
    # Malformed XML is an ExpatError (LookupError for an unknown encoding); plistlib raises
    # AttributeError for a <date> its pattern does not match, IndexError or KeyError for a
    # broken binary plist, RecursionError for one nested too deep.
    except (
        plistlib.InvalidFileException,
        ExpatError,
        LookupError,
        ValueError,
        TypeError,
        OverflowError,
        AttributeError,
        RecursionError,
    ) as exc:
        raise ValidationError("not a configuration profile (a property list)") from exc
    if not isinstance(profile, dict) or profile.get("PayloadType") != "Configuration":
        raise ValidationError("not a configuration profile (PayloadType Configuration)")
    return profile


def profile_identifier(encoded: str) -> str:
    """The PayloadIdentifier of a base64 configuration profile; ValidationError when it is not
    one."""
    identifier = _profile(encoded).get("PayloadIdentifier")
    if not isinstance(identifier, str) or not identifier:
        raise ValidationError("the profile has no PayloadIdentifier")
    return identifier


def profile_payloads(encoded: str) -> list[Any] | None:
    """The payloads (PayloadContent) of a base64 configuration profile, or None when they
    cannot be read (an encrypted profile carries EncryptedPayloadContent, which the device
    installs whatever PayloadContent shows); ValidationError when it is not a profile."""
    profile = _profile(encoded)
    content = profile.get("PayloadContent")
    if "EncryptedPayloadContent" in profile or not isinstance(content, list):
        return None
    return content


_SCHEMAS = {type_: schema() for type_, schema in PARAMETERS.items()}


def load_parameters(type_: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """The command's parameters, checked; ValidationError names each bad field."""
    return _SCHEMAS[type_].load(parameters)
