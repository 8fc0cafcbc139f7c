"""The policy document's schema: every setting checked field by field; passwords kept apart."""

import pytest
from marshmallow import ValidationError

from mdm.policies.document import (
    PolicyDocumentSchema,
    device_document,
    public_document,
    store_passwords,
)

KEY = b"test-key"


def load(document: dict) -> dict:
    return PolicyDocumentSchema().load(document)


def errors_of(document: dict) -> dict:
    with pytest.raises(ValidationError) as caught:
        load(document)
    return caught.value.messages


def test_a_full_document_loads() -> None:
    document = load(
        {
            "passcode": {"required": True, "min_length": 6, "complexity": "alphanumeric"},
            "restrictions": {"allow_camera": False, "allow_nearby_sharing": False},
            "wifi": [{"ssid": "Schule", "security": "wpa2", "password": "geheim-123"}],
            "apps": {"required": ["de.schule.app"], "blocked": ["com.example.game"]},
            "web_filter": {"deny": ["tiktok.com", "*.example.org/games"]},
            "single_app": {"app": "de.schule.exam", "exam": True},
            "windows": [{"kind": "periods", "first_period": 1, "last_period": 6}],
        }
    )
    assert document["wifi"][0]["auto_join"] is True and document["wifi"][0]["hidden"] is False


def test_bad_settings_are_refused_field_by_field() -> None:
    errors = errors_of(
        {
            "passcode": {"min_length": 2, "complexity": "very"},
            "restrictions": {"allow_kazoo": False},
            "wifi": [{"ssid": "", "security": "wep"}],
            "apps": {"required": ["not an id"]},
            "web_filter": {"allow": ["http://x"]},
            "colour": "blue",
        }
    )
    assert set(errors["passcode"]) == {"min_length", "complexity"}
    assert "allow_kazoo" in errors["restrictions"]
    assert set(errors["wifi"][0]) == {"ssid", "security"}
    assert 0 in errors["apps"]["required"]
    assert "allow" in errors["web_filter"]
    assert "colour" in errors


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ({"apps": {"required": ["a.b"], "blocked": ["a.b"]}}, ("apps", "blocked")),
        ({"web_filter": {"allow": ["a.org"], "deny": ["a.org"]}}, ("web_filter", "deny")),
        ({"wifi": [{"ssid": "x", "security": "open", "password": "12345678"}]}, ("wifi", 0)),
        (
            {"wifi": [{"ssid": "x", "security": "open"}, {"ssid": "x", "security": "open"}]},
            ("wifi",),
        ),
        ({"windows": [{"kind": "weekly", "days": ["mon"]}]}, ("windows", 0)),
        (
            {"windows": [{"kind": "weekly", "days": ["mon"], "start": "13:00", "end": "08:00"}]},
            ("windows", 0),
        ),
        ({"windows": [{"kind": "periods", "first_period": 5, "last_period": 2}]}, ("windows", 0)),
        ({"windows": [{"kind": "breaks", "start": "08:00"}]}, ("windows", 0)),
    ],
)
def test_rules_across_fields(document: dict, path: tuple) -> None:
    errors = errors_of(document)
    for part in path:
        errors = errors[part]
    assert errors


def test_passwords_are_stored_apart_and_never_shown() -> None:
    document = load({"wifi": [{"ssid": "Schule", "security": "wpa3", "password": "geheim-123"}]})

    stored, secrets = store_passwords(document, KEY, {}, {})

    assert "geheim-123" not in str(stored) and list(secrets.values()) == ["geheim-123"]
    assert public_document(stored)["wifi"][0] == {
        "ssid": "Schule",
        "security": "wpa3",
        "hidden": False,
        "auto_join": True,
        "password_set": True,
    }
    assert device_document(stored, secrets)["wifi"][0]["password"] == "geheim-123"


def test_a_network_without_a_password_keeps_the_previous_one() -> None:
    first, secrets = store_passwords(
        load({"wifi": [{"ssid": "Schule", "security": "wpa2", "password": "geheim-123"}]}),
        KEY,
        {},
        {},
    )
    again = load({"wifi": [{"ssid": "Schule", "security": "wpa2", "password_set": True}]})

    stored, kept = store_passwords(again, KEY, first, secrets)

    assert stored == first and kept == secrets
    with pytest.raises(ValidationError) as caught:
        store_passwords(load({"wifi": [{"ssid": "Neu", "security": "wpa2"}]}), KEY, first, secrets)
    assert "password" in caught.value.messages["wifi"][0]


def test_the_same_password_gives_the_same_reference_a_new_one_another() -> None:
    def ref(password: str) -> str:
        document = load({"wifi": [{"ssid": "S", "security": "wpa2", "password": password}]})
        return store_passwords(document, KEY, {}, {})[0]["wifi"][0]["password_ref"]

    assert ref("geheim-123") == ref("geheim-123") != ref("geheim-456")
