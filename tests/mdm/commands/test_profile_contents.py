"""What a configuration profile holds is read as the device reads it: the signed content of a
CMS-signed profile, a binary property list as a whole, an XML one by an XML parser. A profile
that shows a harmless property list to a text search and another one to the device must not
reach a personal device."""

import base64
import plistlib
from datetime import timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID
from marshmallow import ValidationError

from mdm.commands import rules
from mdm.platform.types import utcnow

CAMERA = {
    "PayloadType": "com.apple.applicationaccess",
    "PayloadIdentifier": "de.schule.profil.restrictions",
    "PayloadUUID": "8D1E1C46-6C4A-4F1B-9D6E-2E1F3A4B5C6D",
    "PayloadVersion": 1,
    "allowCamera": False,
}
WIFI = {
    "PayloadType": "com.apple.wifi.managed",
    "PayloadIdentifier": "de.schule.profil.wifi",
    "PayloadUUID": "7D1E1C46-6C4A-4F1B-9D6E-2E1F3A4B5C6D",
    "PayloadVersion": 1,
    "SSID_STR": "Schule",
    "EncryptionType": "WPA2",
}


def _profile(*payloads: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {
        "PayloadType": "Configuration",
        "PayloadIdentifier": "de.schule.profil",
        "PayloadUUID": "6D1E1C46-6C4A-4F1B-9D6E-2E1F3A4B5C6D",
        "PayloadVersion": 1,
        "PayloadContent": list(payloads),
        **top,
    }


HARMLESS = plistlib.dumps(_profile(WIFI))


def _encoded(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _refusal(raw: bytes) -> str | None:
    return rules.refusal("install_profile", "ios", "byod", False, {"profile": _encoded(raw)})


def sign(content: bytes) -> bytes:
    """A CMS signature of the content (as Apple Configurator signs a profile)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Schule Profile")])
    now = utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(content)
        .add_signer(cert, key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )


def test_a_binary_profile_hiding_an_xml_profile_in_a_string_is_read_as_a_whole() -> None:
    hidden = plistlib.dumps(
        _profile(CAMERA, PayloadDescription=HARMLESS.decode()), fmt=plistlib.FMT_BINARY
    )
    assert HARMLESS in hidden  # what a text search for an XML plist finds first
    assert _refusal(hidden) == "personal_profile"
    assert rules.profile_identifier(_encoded(hidden)) == "de.schule.profil"


def test_an_xml_profile_hiding_another_in_cdata_is_read_by_its_xml_parser() -> None:
    inner = HARMLESS.decode()
    outer = plistlib.dumps(_profile(CAMERA, PayloadDescription="@@")).decode()
    # A profile without an XML declaration (the device reads it all the same), whose
    # description carries a whole harmless profile as CDATA.
    outer = "<plist" + outer.split("<plist", 1)[1]
    outer = outer.replace("<string>@@</string>", f"<string><![CDATA[{inner}]]></string>")
    raw = outer.encode()
    assert plistlib.loads(raw)["PayloadContent"] == [CAMERA]
    assert _refusal(raw) == "personal_profile"


def test_a_signed_profile_is_judged_by_its_signed_content() -> None:
    assert _refusal(sign(HARMLESS)) is None
    assert _refusal(sign(plistlib.dumps(_profile(CAMERA)))) == "personal_profile"
    binary = plistlib.dumps(_profile(CAMERA), fmt=plistlib.FMT_BINARY)
    assert _refusal(sign(binary)) == "personal_profile"
    assert rules.profile_identifier(_encoded(sign(binary))) == "de.schule.profil"


def test_a_profile_with_encrypted_content_is_refused_whatever_else_it_shows() -> None:
    both = plistlib.dumps(_profile(WIFI, EncryptedPayloadContent=b"\x30\x80secret"))
    assert _refusal(both) == "personal_profile"
    assert (
        rules.refusal("install_profile", "ios", "school", False, {"profile": _encoded(both)})
        is None
    )


@pytest.mark.parametrize(
    "raw",
    [
        b"\x30\x03\x02\x01\x01",
        b"\x30\x82\xff\xff" + b"\x00" * 10,
        b"bplist00garbage",
        b"",
        b"<plist><dict><key>a</key></plist>",
        b'<?xml version="1.0" encoding="JTF-8"?><plist><dict/></plist>',
        b"<plist><dict><key>d</key><date>yesterday</date></dict></plist>",
    ],
)
def test_what_is_no_profile_is_refused_as_such(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        rules.profile_identifier(_encoded(raw))
