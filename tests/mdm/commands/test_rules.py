"""The command table: platforms, supervision, and the one BYOD rule."""

import base64
import plistlib

import pytest
from marshmallow import ValidationError

from mdm.commands.rules import (
    RULES,
    explain,
    load_parameters,
    personal_refusal,
    profile_identifier,
    profile_payloads,
    refusal,
    supervised,
)

PROFILE = plistlib.dumps(
    {"PayloadType": "Configuration", "PayloadIdentifier": "de.schule.wlan", "PayloadContent": []}
)


@pytest.mark.parametrize(
    "command",
    ["erase", "lock", "clear_passcode", "enable_lost_mode", "disable_lost_mode", "restart"],
)
def test_a_personal_device_never_gets_these(command: str) -> None:
    assert refusal(command, "ios", "byod", supervised=True) == "personal_device"
    assert refusal(command, "ios", "school", supervised=True) is None


@pytest.mark.parametrize(
    "command",
    ["install_app", "remove_app", "install_profile", "remove_profile", "refresh_inventory"],
)
def test_a_personal_device_may_get_management_of_its_school_part(command: str) -> None:
    assert refusal(command, "ios", "byod", supervised=False) is None


def test_platforms_and_supervision() -> None:
    assert refusal("install_profile", "android", "school", True) == "platform"
    assert refusal("erase", "linux", "school", True) == "platform"
    assert refusal("restart", "ipados", "school", supervised=False) == "not_supervised"
    assert refusal("restart", "macos", "school", supervised=False) is None
    assert refusal("enable_lost_mode", "android", "school", supervised=True) is None
    assert set(RULES["lock"].platforms) == {"ios", "ipados", "macos", "android", "windows", "linux"}


def test_supervision_comes_from_the_inventory() -> None:
    assert supervised({"supervised": True}) and supervised({"IsSupervised": True})
    assert not supervised({"supervised": "yes"}) and not supervised({})


def test_parameters_are_checked_by_type() -> None:
    assert load_parameters("lock", {"message": "Bitte abgeben"}) == {"message": "Bitte abgeben"}
    with pytest.raises(ValidationError) as caught:
        load_parameters("enable_lost_mode", {"phone_number": "call me"})
    assert set(caught.value.messages) == {"message", "phone_number"}
    with pytest.raises(ValidationError):
        load_parameters("restart", {"now": True})
    with pytest.raises(ValidationError):
        load_parameters("install_app", {"app": "x y", "url": "http://insecure"})


def test_a_profile_is_a_configuration_profile_signed_or_not() -> None:
    assert profile_identifier(base64.b64encode(PROFILE).decode()) == "de.schule.wlan"
    from tests.mdm.commands.test_profile_contents import sign

    assert profile_identifier(base64.b64encode(sign(PROFILE)).decode()) == "de.schule.wlan"
    for bad in (
        "not base64!",
        base64.b64encode(b"hello").decode(),
        base64.b64encode(plistlib.dumps({"a": 1})).decode(),
    ):
        with pytest.raises(ValidationError):
            profile_identifier(bad)


def test_the_table_in_docs_is_the_table_the_service_enforces() -> None:
    from pathlib import Path

    from mdm.devices import byod

    docs = Path(__file__).resolve().parents[3] / "docs" / "commands.md"
    columns = ("ios", "macos", "android", "windows", "linux")
    documented = {}
    for line in docs.read_text().splitlines():
        if line.startswith("| `") and line.count("|") == 9:
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            documented[cells[0].strip("`")] = (cells[2:7], cells[7])
    assert set(documented) == set(RULES)
    for command, (marks, personal) in documented.items():
        rule = RULES[command]
        for platform, mark in zip(columns, marks, strict=True):
            expected = "-" if platform not in rule.platforms else "✓"
            if platform in rule.supervised_on:
                expected = "S"
            assert mark.replace("–", "-") == expected, (command, platform)
        assert personal.startswith("yes") == byod.command_allowed("byod", command), command


def _encoded(*payloads: dict) -> dict[str, str]:
    profile = {
        "PayloadType": "Configuration",
        "PayloadIdentifier": "de.schule.p",
        "PayloadContent": list(payloads),
    }
    return {"profile": base64.b64encode(plistlib.dumps(profile)).decode()}


def test_a_profile_for_a_personal_device_goes_by_user_enrollment() -> None:
    camera = _encoded({"PayloadType": "com.apple.applicationaccess", "allowCamera": False})
    wifi = _encoded({"PayloadType": "com.apple.wifi.managed", "SSID_STR": "Schule"})

    assert refusal("install_profile", "ios", "byod", False, camera) == "personal_profile"
    assert refusal("install_profile", "ios", "school", False, camera) is None
    assert refusal("install_profile", "ios", "byod", False, wifi) is None
    assert refusal("install_profile", "android", "byod", False, camera) == "platform"
    assert explain("personal_profile", "install_profile", camera) == (
        "the profile holds what a personal (BYOD) device may not get: the restrictions "
        "allowCamera are not allowed on a personal device (User Enrollment)"
    )
    assert explain("personal_device", "erase", {}) == "not allowed on a personal (BYOD) device"
    # A profile that cannot be read (here: no profile at all) is refused for a personal device.
    assert refusal("install_profile", "ios", "byod", False, {"profile": "x"}) == (
        "personal_profile"
    )
    assert personal_refusal("install_profile", None) is None
    assert personal_refusal("install_app", {"app": "de.schule.app"}) is None


def test_an_encrypted_profile_has_no_payloads_to_read() -> None:
    encrypted = plistlib.dumps(
        {
            "PayloadType": "Configuration",
            "PayloadIdentifier": "de.schule.e",
            "EncryptedPayloadContent": b"\x00" * 16,
        }
    )
    assert profile_payloads(base64.b64encode(encrypted).decode()) is None
    assert profile_payloads(base64.b64encode(PROFILE).decode()) == []
