"""The policy document: its published schema (marshmallow, also in the OpenAPI document and
docs/policies.md) and how its Wi-Fi passwords are kept apart. Pure: no Flask, no session."""

import hashlib
import hmac
import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from mdm.platform.schemas import JsonBoolean

APP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")
SITE = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}(/[^\s]{0,500})?$")
TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
COMPLEXITIES = ("any", "alphanumeric", "complex")
WIFI_SECURITIES = ("open", "wpa2", "wpa3")
WINDOW_KINDS = ("weekly", "periods", "breaks")
APP_MODES = ("required", "allowed", "blocked")
RESTRICTIONS = (
    "allow_camera",
    "allow_screenshots",
    "allow_app_installation",
    "allow_app_removal",
    "allow_app_store",
    "allow_nearby_sharing",
    "allow_explicit_content",
    "allow_account_changes",
)
PASSWORD_REF = "password_ref"


class Strict(Schema):
    """Unknown fields are an error, so a misspelt setting is never silently ignored."""


class PasscodeSchema(Strict):
    required = JsonBoolean(metadata={"description": "a passcode must be set"})
    min_length = fields.Integer(validate=validate.Range(min=4, max=16))
    complexity = fields.String(
        validate=validate.OneOf(COMPLEXITIES),
        metadata={
            "description": "any; alphanumeric (letters and digits); complex (letters, digits "
            "and a symbol)"
        },
    )
    auto_lock_minutes = fields.Integer(
        validate=validate.Range(min=1, max=15),
        metadata={"description": "the screen locks after this many idle minutes, at most"},
    )


def _allow(what: str) -> JsonBoolean:
    return JsonBoolean(metadata={"description": f"false: {what} is blocked"})


class RestrictionsSchema(Strict):
    allow_camera = _allow("the camera")
    allow_screenshots = _allow("taking screenshots and recording the screen")
    allow_app_installation = _allow("installing apps")
    allow_app_removal = _allow("removing apps")
    allow_app_store = _allow("the app store")
    allow_nearby_sharing = _allow("AirDrop, Bluetooth and Nearby Share")
    allow_explicit_content = _allow("explicit music, films and books")
    allow_account_changes = _allow("adding or changing accounts")


class WifiNetworkSchema(Strict):
    ssid = fields.String(required=True, validate=validate.Length(min=1, max=32))
    security = fields.String(required=True, validate=validate.OneOf(WIFI_SECURITIES))
    password = fields.String(
        load_only=True,
        validate=validate.Length(min=8, max=64),
        metadata={
            "description": "WPA passphrase; never returned. Leave it out to keep the password "
            "the network has in the policy's current version"
        },
    )
    password_set = JsonBoolean(
        metadata={"description": "read only: whether a password is kept (ignored on input)"}
    )
    hidden = JsonBoolean(load_default=False)
    auto_join = JsonBoolean(load_default=True)

    @validates_schema
    def _password_fits_security(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("security") == "open" and data.get("password"):
            raise ValidationError("an open network has no password", "password")
        if len(data.get("ssid", "").encode()) > 32:
            raise ValidationError("at most 32 bytes", "ssid")


def _app_list() -> fields.List:
    return fields.List(
        fields.String(validate=validate.Regexp(APP_ID, error="not a bundle id or package name")),
        validate=validate.Length(max=500),
    )


class AppsSchema(Strict):
    required = _app_list()
    allowed = _app_list()
    blocked = _app_list()

    @validates_schema
    def _each_app_once(self, data: dict[str, Any], **_: Any) -> None:
        seen: dict[str, str] = {}
        for mode in APP_MODES:
            for app in data.get(mode, []):
                if app in seen:
                    raise ValidationError(f"{app} is also listed as {seen[app]}", mode)
                seen[app] = mode


def _site_list() -> fields.List:
    return fields.List(
        fields.String(
            validate=validate.Regexp(SITE, error="a host name, optionally *. and a /path")
        ),
        validate=validate.Length(max=1000),
    )


class WebFilterSchema(Strict):
    allow = _site_list()
    deny = _site_list()
    allow_listed_only = JsonBoolean(
        metadata={"description": "true: only the allowed sites open, everything else is denied"}
    )

    @validates_schema
    def _each_site_once(self, data: dict[str, Any], **_: Any) -> None:
        both = sorted(set(data.get("allow", [])) & set(data.get("deny", [])))
        if both:
            raise ValidationError(f"both allowed and denied: {', '.join(both)}", "deny")


class SingleAppSchema(Strict):
    app = fields.String(required=True, validate=validate.Regexp(APP_ID))
    exam = JsonBoolean(
        load_default=False,
        metadata={
            "description": "exam mode: besides locking the device to the app, screenshots, "
            "sharing, notifications, dictation and autocorrection are off"
        },
    )


class WindowSchema(Strict):
    kind = fields.String(
        required=True,
        validate=validate.OneOf(WINDOW_KINDS),
        metadata={
            "description": "weekly: days and times; periods: the school's periods on school "
            "days; breaks: the breaks between them. Never on holidays, except a weekly window "
            "with except_holidays false"
        },
    )
    days = fields.List(
        fields.String(validate=validate.OneOf(WEEKDAYS)), validate=validate.Length(min=1, max=7)
    )
    start = fields.String(validate=validate.Regexp(TIME, error="HH:MM"))
    end = fields.String(validate=validate.Regexp(TIME, error="HH:MM (24:00: end of the day)"))
    except_holidays = JsonBoolean(
        metadata={"description": "weekly windows: not on the school's holidays"}
    )
    first_period = fields.Integer(validate=validate.Range(min=0, max=20))
    last_period = fields.Integer(validate=validate.Range(min=0, max=20))

    @validates_schema
    def _fields_of_kind(self, data: dict[str, Any], **_: Any) -> None:
        kind = data.get("kind")
        if kind == "weekly":
            missing = [name for name in ("days", "start", "end") if name not in data]
            if missing:
                raise ValidationError({name: ["required for a weekly window"] for name in missing})
            extra = [name for name in ("first_period", "last_period") if name in data]
            if extra:
                raise ValidationError({name: ["only for periods and breaks"] for name in extra})
            if data["start"] >= data["end"]:
                raise ValidationError("must be after start (a window ends on its day)", "end")
        elif kind in ("periods", "breaks"):
            extra = [name for name in ("days", "start", "end", "except_holidays") if name in data]
            if extra:
                raise ValidationError({name: ["only for weekly windows"] for name in extra})
            first, last = data.get("first_period"), data.get("last_period")
            if first is not None and last is not None and first > last:
                raise ValidationError("must not be before first_period", "last_period")


class PolicyDocumentSchema(Strict):
    """A policy document; every part is optional, and only what it names is set."""

    passcode = fields.Nested(PasscodeSchema)
    restrictions = fields.Nested(RestrictionsSchema)
    wifi = fields.List(fields.Nested(WifiNetworkSchema), validate=validate.Length(max=32))
    apps = fields.Nested(AppsSchema)
    web_filter = fields.Nested(WebFilterSchema)
    single_app = fields.Nested(SingleAppSchema)
    windows = fields.List(
        fields.Nested(WindowSchema),
        validate=validate.Length(max=20),
        metadata={
            "description": "when the policy applies (any window open); none: always. In the "
            "school's time zone"
        },
    )

    @validates_schema
    def _each_network_once(self, data: dict[str, Any], **_: Any) -> None:
        ssids = [network["ssid"] for network in data.get("wifi", [])]
        twice = sorted({ssid for ssid in ssids if ssids.count(ssid) > 1})
        if twice:
            raise ValidationError(f"networks named twice: {', '.join(twice)}", "wifi")


def password_reference(key: bytes, ssid: str, password: str) -> str:
    """A stable reference to a Wi-Fi password: keyed, so it cannot be guessed back."""
    message = f"{ssid}\0{password}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def store_passwords(
    document: dict[str, Any], key: bytes, previous: dict[str, Any], previous_secrets: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Split a loaded document into (what is stored in the clear, {reference: password}).

    A secured network sent without a password keeps the password of the same network in the
    previous version; ValidationError when there is none."""
    kept_refs = {
        network["ssid"]: network[PASSWORD_REF]
        for network in previous.get("wifi", [])
        if PASSWORD_REF in network
    }
    stored = {name: value for name, value in document.items() if name != "wifi"}
    secrets: dict[str, str] = {}
    networks = []
    errors: dict[int, Any] = {}
    for index, network in enumerate(document.get("wifi", [])):
        entry = {k: v for k, v in network.items() if k not in ("password", "password_set")}
        if network["security"] != "open":
            if "password" in network:
                ref = password_reference(key, network["ssid"], network["password"])
                secrets[ref] = network["password"]
                entry[PASSWORD_REF] = ref
            elif network["ssid"] in kept_refs and kept_refs[network["ssid"]] in previous_secrets:
                ref = kept_refs[network["ssid"]]
                secrets[ref] = previous_secrets[ref]
                entry[PASSWORD_REF] = ref
            else:
                errors[index] = {"password": [f"required for a {network['security']} network"]}
        networks.append(entry)
    if errors:
        raise ValidationError({"wifi": errors})
    if "wifi" in document:
        stored["wifi"] = networks
    return stored, secrets


def _map_networks(document: dict[str, Any], change: Any) -> dict[str, Any]:
    if "wifi" not in document:
        return document
    return {**document, "wifi": [change(network) for network in document["wifi"]]}


def public_document(document: dict[str, Any]) -> dict[str, Any]:
    """The stored document as admins read it: passwords are only said to be set."""

    def mask(network: dict[str, Any]) -> dict[str, Any]:
        shown = {name: value for name, value in network.items() if name != PASSWORD_REF}
        if network.get("security") != "open":
            shown["password_set"] = PASSWORD_REF in network
        return shown

    return _map_networks(document, mask)


def device_document(document: dict[str, Any], secrets: dict[str, str]) -> dict[str, Any]:
    """The stored document as the device gets it: with the Wi-Fi passwords."""

    def reveal(network: dict[str, Any]) -> dict[str, Any]:
        shown = {name: value for name, value in network.items() if name != PASSWORD_REF}
        if PASSWORD_REF in network:
            shown["password"] = secrets[network[PASSWORD_REF]]
        return shown

    return _map_networks(document, reveal)
