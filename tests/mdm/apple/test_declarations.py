"""The policy as declarations, and status reports judged against them (pure, no database)."""

from typing import Any

import pytest

from mdm.apple import declarations, payloads
from mdm.apple.declarations import (
    ACTIVATION,
    LEGACY,
    PASSCODE,
    STATUS_SUBSCRIPTIONS,
    StatusRefused,
    build,
    is_declarative,
    merge_errors,
    merge_status,
    outcome,
    parse_status,
)

KEY = b"k" * 32
DOCUMENT: dict[str, Any] = {
    "passcode": {"required": True, "min_length": 6, "complexity": "complex"},
    "restrictions": {"allow_camera": False, "allow_app_store": False},
    "wifi": [{"ssid": "Schul-WLAN", "security": "wpa2", "password": "geheim123"}],
}


def _build(document: dict[str, Any], **options: Any) -> declarations.Declarations:
    settings: dict[str, Any] = {
        "prefix": "de.schulen.mdm.gym",
        "organization": "Gymnasium",
        "supervised": False,
        "personal": False,
        "key": KEY,
        "profile_url": lambda token: f"https://mdm.example/apple/ddm/profiles/1/{token}/mac",
    }
    return build(document, **(settings | options))


def _tokens(built: declarations.Declarations) -> dict[str, str]:
    return {item.identifier: item.server_token for item in built.declarations}


@pytest.mark.parametrize(
    ("platform", "version", "expected"),
    [
        ("ipados", "17.0", True),
        ("ios", "17.5.1", True),
        ("ipados", "18.2", True),
        ("ipados", "16.7.10", False),
        ("ios", "9.3", False),
        ("ipados", "", False),
        ("ipados", "beta", False),
        ("macos", "14.1", False),
        ("android", "17", False),
    ],
)
def test_which_devices_are_declarative(platform: str, version: str, expected: bool) -> None:
    assert is_declarative(platform, version) is expected


def test_the_policy_becomes_passcode_legacy_subscriptions_and_one_activation() -> None:
    built = _build(DOCUMENT)
    kinds = {item.type: item for item in built.declarations}
    assert set(kinds) == {PASSCODE, LEGACY, STATUS_SUBSCRIPTIONS, ACTIVATION}
    assert kinds[PASSCODE].payload == {
        "RequirePasscode": True,
        "MinimumLength": 6,
        "RequireAlphanumericPasscode": True,
        "RequireComplexPasscode": True,
        "MinimumComplexCharacters": 1,
    }
    assert kinds[ACTIVATION].payload["StandardConfigurations"] == sorted(
        item.identifier for item in built.configurations
    )
    url = kinds[LEGACY].payload["ProfileURL"]
    assert url.endswith(f"/{kinds[LEGACY].server_token}/mac")
    assert built.legacy_token == kinds[LEGACY].server_token
    assert built.profile is not None
    types = [payload["PayloadType"] for payload in built.profile["PayloadContent"]]
    assert types == ["com.apple.applicationaccess", "com.apple.wifi.managed"]
    # Not the identifier of the profile path's policy profile, which is removed on the move.
    policy_profile = f"de.schulen.mdm.gym.{payloads.POLICY_PROFILE_SUFFIX}"
    assert built.profile["PayloadIdentifier"] != policy_profile
    assert built.profile["PayloadIdentifier"].startswith("de.schulen.mdm.gym.declarative.")
    assert built.failed_settings == [
        {"setting": "restrictions.allow_app_store", "reason": payloads.NEEDS_SUPERVISION}
    ]
    body = kinds[PASSCODE].body()
    assert set(body) == {"Type", "Identifier", "ServerToken", "Payload"}
    items = built.items()
    assert items["DeclarationsToken"] == built.token
    assert [len(items["Declarations"][group]) for group in declarations.GROUPS.values()] == [
        1,
        3,
        0,
        0,
    ]
    assert built.find("configuration", kinds[PASSCODE].identifier) == kinds[PASSCODE]
    assert built.find("activation", kinds[PASSCODE].identifier) is None


def test_a_supervised_device_gets_the_supervised_restrictions() -> None:
    built = _build(DOCUMENT, supervised=True)
    assert built.failed_settings == []
    assert built.profile is not None
    restrictions = built.profile["PayloadContent"][0]
    assert restrictions["allowUIAppInstallation"] is False
    assert built.legacy_token != _build(DOCUMENT).legacy_token


def test_tokens_change_exactly_with_the_content() -> None:
    first = _build(DOCUMENT)
    assert (
        _tokens(first) == _tokens(_build(dict(DOCUMENT))) and first.token == _build(DOCUMENT).token
    )
    passcode = _build({**DOCUMENT, "passcode": {"required": True, "min_length": 8}})
    changed = {k for k, v in _tokens(passcode).items() if _tokens(first)[k] != v}
    assert changed == {"de.schulen.mdm.gym.declarative.passcode"}
    assert passcode.token != first.token
    wifi = _build(
        {**DOCUMENT, "wifi": [{"ssid": "Schul-WLAN", "security": "wpa2", "password": "neu12345"}]}
    )
    changed = {k for k, v in _tokens(wifi).items() if _tokens(first)[k] != v}
    assert changed == {"de.schulen.mdm.gym.declarative.legacy"}
    # What declarations do not carry changes no token; it is reported as not delivered.
    apps = _build({**DOCUMENT, "apps": {"required": ["de.schule.app"]}})
    assert apps.token == first.token
    assert {"setting": "apps", "reason": payloads.NOT_DELIVERED["apps"]} in apps.failed_settings
    # Dropping the passcode drops its declaration and changes the activation.
    without = _build({key: value for key, value in DOCUMENT.items() if key != "passcode"})
    assert set(_tokens(without)) == set(_tokens(first)) - {
        "de.schulen.mdm.gym.declarative.passcode"
    }
    assert (
        _tokens(without)["de.schulen.mdm.gym.declarative.activation"]
        != _tokens(first)["de.schulen.mdm.gym.declarative.activation"]
    )
    # Tokens are keyed (a Wi-Fi password cannot be guessed from one).
    assert _tokens(_build(DOCUMENT, key=b"other")) != _tokens(first)


def test_an_empty_policy_still_subscribes_to_status() -> None:
    built = _build({})
    assert {item.type for item in built.declarations} == {STATUS_SUBSCRIPTIONS, ACTIVATION}
    assert built.profile is None and built.legacy_token is None


def test_a_personal_device_gets_what_user_enrollment_allows() -> None:
    built = _build(DOCUMENT, personal=True)
    kinds = {item.type: item for item in built.declarations}
    assert kinds[PASSCODE].payload == {"RequirePasscode": True}
    left_out = [item["setting"] for item in built.failed_settings]
    assert "passcode.min_length" in left_out and "passcode.complexity" in left_out
    names = {item["Name"] for item in kinds[STATUS_SUBSCRIPTIONS].payload["StatusItems"]}
    assert names == set(declarations.STATUS_ITEMS) - declarations.PERSONAL_UNSUBSCRIBED


def _status(built: declarations.Declarations, **overrides: dict[str, Any]) -> dict[str, Any]:
    configurations = []
    for item in built.configurations:
        entry = {
            "identifier": item.identifier,
            "server-token": item.server_token,
            "active": True,
            "valid": "valid",
        }
        configurations.append(entry | overrides.get(item.type, {}))
    return {
        "management": {
            "declarations": {
                "activations": [],
                "configurations": configurations,
                "assets": [],
                "management": [],
            }
        }
    }


def test_the_outcome_of_a_status() -> None:
    built = _build(DOCUMENT)
    applied = outcome(_status(built), built)
    assert applied.settled and not applied.failed
    assert applied.failed_settings == built.failed_settings
    assert not outcome({}, built).settled
    assert not outcome(_status(_build({})), built).settled
    stale = _status(built, **{PASSCODE: {"server-token": "old"}})
    assert not outcome(stale, built).settled
    unknown = _status(built, **{PASSCODE: {"valid": "unknown"}})
    assert not outcome(unknown, built).settled
    invalid = _status(
        built,
        **{
            LEGACY: {
                "valid": "invalid",
                "active": False,
                "reasons": [{"code": "Error.ProfileInstall", "description": "no"}],
            }
        },
    )
    failed = outcome(invalid, built)
    assert failed.settled and failed.failed
    assert failed.failed_settings[:2] == [
        {"setting": "restrictions", "reason": "Error.ProfileInstall: no"},
        {"setting": "wifi", "reason": "Error.ProfileInstall: no"},
    ]
    inactive = outcome(_status(built, **{PASSCODE: {"active": False}}), built)
    assert inactive.failed_settings[0]["reason"] == (
        "the device reports the declaration as not active"
    )


def test_status_reports_merge_and_are_checked() -> None:
    first = parse_status(
        {
            "StatusItems": {"device": {"operating-system": {"version": "17.5"}}},
            "Errors": [{"StatusItem": "passcode.is-present", "Reasons": [{"Code": "X"}]}],
            "FullReport": True,
        }
    )
    status = merge_status({}, first)
    errors = merge_errors([], first)
    assert errors == [
        {"StatusItem": "passcode.is-present", "Reasons": [{"code": "X", "description": ""}]}
    ]
    second = parse_status(
        {"StatusItems": {"device": {"model": {"family": "iPad"}}, "passcode": {"is-present": True}}}
    )
    status = merge_status(status, second)
    assert status == {
        "device": {"operating-system": {"version": "17.5"}, "model": {"family": "iPad"}},
        "passcode": {"is-present": True},
    }
    assert merge_errors(errors, second) == []
    assert declarations.inventory_of(status) == {
        "OSVersion": "17.5",
        "ModelName": "iPad",
        "PasscodePresent": True,
    }
    assert declarations.os_version_of(status) == "17.5"
    full = parse_status({"StatusItems": {"passcode": {"is-present": False}}, "FullReport": True})
    assert merge_status(status, full) == {"passcode": {"is-present": False}}
    for bad in (
        [],
        {"StatusItems": "x"},
        {"StatusItems": {}, "Errors": "x"},
        {"StatusItems": {}, "Errors": [{"StatusItem": 3}]},
        {"StatusItems": {}, "Errors": [{"StatusItem": "a", "Reasons": "x"}]},
        {"StatusItems": {"management": {"declarations": []}}},
        {"StatusItems": {"management": {"declarations": {"configurations": {}}}}},
        {"StatusItems": {}, "FullReport": 1},
    ):
        with pytest.raises(StatusRefused):
            parse_status(bad)
