"""The Apple enrollment profile: the com.apple.mdm payload and the device identity it points
to (a SCEP payload or a PKCS #12 one), signed (CMS). Pure: no Flask, no session."""

import uuid
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

from mdm.apple.plist import dump

MIMETYPE = "application/x-apple-aspen-config"
# Every right an MDM server can be given (Apple's AccessRights bits 1 .. 4096): a
# school-owned device is the school's to manage.
ALL_ACCESS_RIGHTS = 8191
KEY_SIZE = 2048
# Key Usage of the SCEP payload: 1 signing + 4 encryption.
KEY_USAGE = 5


def new_uuid() -> str:
    """A new PayloadUUID."""
    return str(uuid.uuid4()).upper()


@dataclass(frozen=True)
class ProfileFacts:
    """What an enrollment profile is made of."""

    identifier: str
    organization: str
    server_url: str
    check_in_url: str
    topic: str


def scep_payload(identifier: str, url: str, name: str, subject: str, challenge: str) -> dict:
    """The device identity as a SCEP payload: the device makes its own 2048-bit RSA key and
    gets its certificate from `url` with the one-time `challenge`."""
    return {
        "PayloadType": "com.apple.security.scep",
        "PayloadIdentifier": f"{identifier}.identity",
        "PayloadUUID": new_uuid(),
        "PayloadVersion": 1,
        "PayloadDisplayName": "Geräte-Identität / device identity",
        "PayloadContent": {
            "URL": url,
            "Name": name,
            "Subject": [[["CN", subject]]],
            "Challenge": challenge,
            "Keysize": KEY_SIZE,
            "Key Type": "RSA",
            "Key Usage": KEY_USAGE,
        },
    }


def pkcs12_payload(identifier: str, pkcs12_der: bytes, password: str) -> dict:
    """The device identity as a password-protected PKCS #12 (key and certificate)."""
    return {
        "PayloadType": "com.apple.security.pkcs12",
        "PayloadIdentifier": f"{identifier}.identity",
        "PayloadUUID": new_uuid(),
        "PayloadVersion": 1,
        "PayloadDisplayName": "Geräte-Identität / device identity",
        "PayloadCertificateFileName": "device.p12",
        "PayloadContent": pkcs12_der,
        "Password": password,
    }


def pack_pkcs12(
    key: rsa.RSAPrivateKey, cert: x509.Certificate, ca: x509.Certificate, password: str
) -> bytes:
    """Key, certificate and CA as PKCS #12, encrypted the way every iOS version reads
    (PBE with SHA-1 and 3DES, SHA-1 MAC)."""
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(50_000)
        .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
        .hmac_hash(hashes.SHA1())
        .build(password.encode())
    )
    return pkcs12.serialize_key_and_certificates(b"device", key, cert, [ca], encryption)


def enrollment_profile(facts: ProfileFacts, identity: dict[str, Any]) -> dict[str, Any]:
    """The profile: the device identity and the MDM payload that authenticates with it."""
    mdm = {
        "PayloadType": "com.apple.mdm",
        "PayloadIdentifier": f"{facts.identifier}.mdm",
        "PayloadUUID": new_uuid(),
        "PayloadVersion": 1,
        "PayloadDisplayName": "Geräteverwaltung / device management",
        "ServerURL": facts.server_url,
        "CheckInURL": facts.check_in_url,
        "Topic": facts.topic,
        "IdentityCertificateUUID": identity["PayloadUUID"],
        "AccessRights": ALL_ACCESS_RIGHTS,
        "SignMessage": True,
        "CheckOutWhenRemoved": True,
        # No optional capability (user channels, bootstrap tokens) is offered.
        "ServerCapabilities": [],
    }
    return {
        "PayloadType": "Configuration",
        "PayloadIdentifier": facts.identifier,
        "PayloadUUID": new_uuid(),
        "PayloadVersion": 1,
        "PayloadDisplayName": f"{facts.organization}: Geräteverwaltung",
        "PayloadDescription": "Lets the school manage this device (docs/apple.md).",
        "PayloadOrganization": facts.organization,
        "PayloadContent": [identity, mdm],
    }


def user_enrollment_profile(
    facts: ProfileFacts, identity: dict[str, Any], managed_apple_id: str
) -> dict[str, Any]:
    """The profile of an account-driven User Enrollment (a personal iPhone or iPad): the MDM
    payload in BYOD mode, assigned to the Managed Apple Account the owner signed in with. No
    AccessRights: a User Enrollment's rights are Apple's fixed set, the key is ignored."""
    profile = enrollment_profile(facts, identity)
    mdm = next(p for p in profile["PayloadContent"] if p["PayloadType"] == "com.apple.mdm")
    del mdm["AccessRights"]
    mdm["EnrollmentMode"] = "BYOD"
    mdm["AssignedManagedAppleID"] = managed_apple_id
    profile["PayloadDescription"] = (
        "Lets the school manage its own accounts, apps and settings on this personal device "
        "(account-driven User Enrollment, docs/apple.md)."
    )
    return profile


@dataclass(frozen=True)
class SigningIdentity:
    """The certificate (with its chain) and key profiles are signed with."""

    certificate: x509.Certificate
    chain: list[x509.Certificate]
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def load_signing_identity(
    cert_pem: bytes, key_pem: bytes, password: bytes | None
) -> SigningIdentity:
    """The signing identity from PEM (the certificate first, then its chain); ValueError when
    the key does not belong to the certificate."""
    certs = x509.load_pem_x509_certificates(cert_pem)
    key = serialization.load_pem_private_key(key_pem, password or None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError("the profile signing key must be an RSA or EC key")
    if key.public_key() != certs[0].public_key():
        raise ValueError("the profile signing key does not belong to its certificate")
    return SigningIdentity(certs[0], certs[1:], key)


def sign(profile: dict[str, Any], signer: SigningIdentity) -> bytes:
    """The profile as a signed .mobileconfig: CMS signed data with the plist inside."""
    builder = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(dump(profile))
        .add_signer(signer.certificate, signer.key, hashes.SHA256())
    )
    for cert in signer.chain:
        builder = builder.add_certificate(cert)
    return builder.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
