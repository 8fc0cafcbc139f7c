"""Apple enrollment profiles: fetching one with a school-owned token creates the pending
device (through mdm.devices) and its identity; the device completes the enrollment with its
Authenticate check-in (mdm/apple). They flush, never commit."""

import os
import secrets
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from flask import current_app, url_for
from sqlalchemy import update
from sqlalchemy.orm import Session

from enrollment import mobileconfig
from enrollment.models import EnrollmentToken
from enrollment.page import APPLE_PLATFORMS
from enrollment.service import TokenExhausted, usable_token
from mdm.accounts.models import School
from mdm.apple import payloads
from mdm.apple.models import AppleDevice
from mdm.devices import byod, credentials
from mdm.devices import service as devices
from mdm.devices.models import Device
from mdm.platform import audit
from mdm.platform.actors import Actor
from mdm.platform.errors import Conflict
from mdm.platform.http import base_url
from mdm.platform.types import utcnow
from mdm.push.models import PushSettings

SIGNING_FILES = ("apple-profile-signing.pem", "apple-profile-signing.key")
IDENTITIES = ("scep", "pkcs12")


class AppleEnrollmentUnavailable(Conflict):
    type = "apple-enrollment-unavailable"
    title = "Apple enrollment not available"


def signing_identity() -> mobileconfig.SigningIdentity:
    """The configured profile signing certificate; in development one generated once into the
    instance folder."""
    config = current_app.config
    cert_path, key_path = (
        config["APPLE_PROFILE_SIGNING_CERTIFICATE"],
        config["APPLE_PROFILE_SIGNING_KEY"],
    )
    if not cert_path or not key_path:
        if config["ENV"] == "production":
            raise AppleEnrollmentUnavailable(
                "no profile signing certificate is configured (APPLE_PROFILE_SIGNING_CERTIFICATE"
                " and APPLE_PROFILE_SIGNING_KEY, docs/apple.md)"
            )
        cert_path, key_path = _development_signing_files(Path(current_app.instance_path))
    password = str(config["APPLE_PROFILE_SIGNING_KEY_PASSWORD"] or "").encode() or None
    return mobileconfig.load_signing_identity(
        Path(cert_path).read_bytes(), Path(key_path).read_bytes(), password
    )


def _development_signing_files(instance: Path) -> tuple[str, str]:
    cert_path, key_path = (instance / name for name in SIGNING_FILES)
    if cert_path.exists() and key_path.exists():
        return str(cert_path), str(key_path)
    instance.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "Schul-MDM profile signing (development)")]
    )
    now = utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_bytes)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(cert_path), str(key_path)


def _prefix(school: School) -> str:
    return f"{current_app.config['APPLE_PAYLOAD_PREFIX']}.{school.slug}"


def profile_facts(school: School, settings: PushSettings) -> mobileconfig.ProfileFacts:
    """What every enrollment profile of a school names: its identifier (the one a RemoveProfile
    of the enrollment names), the school, the check-in and command URLs, the push topic."""
    return mobileconfig.ProfileFacts(
        identifier=payloads.enrollment_profile_identifier(_prefix(school)),
        organization=school.name,
        server_url=base_url() + url_for("apple_mdm.connect"),
        check_in_url=base_url() + url_for("apple_mdm.check_in"),
        topic=settings.apns_topic,
    )


def scep_identity(session: Session, device: Device, school: School) -> dict:
    """The SCEP payload: the school's SCEP URL and a one-time challenge bound to the pending
    device (mdm.apple.scep, the SCEP server)."""
    from mdm.apple.scep.service import issue_challenge

    return mobileconfig.scep_payload(
        _prefix(school),
        base_url() + url_for("apple_scep.scep", school_id=school.id),
        school.slug,
        f"device-{device.id}",
        issue_challenge(session, device),
    )


def pkcs12_identity(session: Session, device: Device) -> dict:
    """The PKCS #12 payload: a key made here and its certificate of the school's device CA,
    protected by a password that travels in the same profile."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=mobileconfig.KEY_SIZE)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"device-{device.id}")]))
        .sign(key, hashes.SHA256())
    )
    issued = credentials.issue_credential(session, device, csr)
    assert issued.certificate_pem is not None and issued.ca_certificate_pem is not None
    password = secrets.token_urlsafe(18)
    bundle = mobileconfig.pack_pkcs12(
        key,
        x509.load_pem_x509_certificate(issued.certificate_pem.encode()),
        x509.load_pem_x509_certificate(issued.ca_certificate_pem.encode()),
        password,
    )
    school = session.get(School, device.school_id)
    assert school is not None
    return mobileconfig.pkcs12_payload(_prefix(school), bundle, password)


def device_identity(session: Session, device: Device, school: School) -> dict:
    """The identity payload the setting APPLE_ENROLLMENT_IDENTITY chooses."""
    if current_app.config["APPLE_ENROLLMENT_IDENTITY"] == "scep":
        return scep_identity(session, device, school)
    return pkcs12_identity(session, device)


def _check_token(token: EnrollmentToken) -> None:
    if token.ownership != byod.SCHOOL:
        raise AppleEnrollmentUnavailable(
            "personal devices enroll through account-driven User Enrollment, which this "
            "service does not offer yet; this profile is for school-owned devices"
        )
    if token.platform is not None and token.platform not in APPLE_PLATFORMS:
        raise AppleEnrollmentUnavailable(f"this enrollment token is for {token.platform} devices")


def fetch_profile(session: Session, secret: str, address: str | None) -> bytes:
    """A signed enrollment profile for one more device of a school-owned token: the pending
    device is created (one use of the token) with its identity; every check passes before the
    first row is written."""
    if current_app.config["APPLE_ENROLLMENT_IDENTITY"] not in IDENTITIES:
        raise AppleEnrollmentUnavailable("APPLE_ENROLLMENT_IDENTITY must be scep or pkcs12")
    token = usable_token(session, secret, address)
    _check_token(token)
    settings = session.get(PushSettings, token.school_id)
    if settings is None or not settings.apns_topic:
        raise AppleEnrollmentUnavailable(
            "the school has no MDM push certificate yet (PUT /api/v1/schools/{id}/push/apns, "
            "docs/apple.md): without it no iPad can be reached"
        )
    signer = signing_identity()
    school = session.get(School, token.school_id)
    assert school is not None
    consumed = session.execute(
        update(EnrollmentToken)
        .where(EnrollmentToken.id == token.id, EnrollmentToken.uses < EnrollmentToken.max_uses)
        .values(uses=EnrollmentToken.uses + 1)
        .execution_options(synchronize_session=False)
    )
    if consumed.rowcount != 1:
        raise TokenExhausted("this enrollment token is exhausted")
    platform = token.platform or "ipados"
    device = devices.create_device(
        session,
        school_id=school.id,
        ownership=token.ownership,
        user_role=token.user_role,
        facts=devices.DeviceFacts(platform=platform, name="iPad" if platform == "ipados" else ""),
        inventory=devices.encode_inventory(token.ownership, {}),
        user_id=None,
        groups=list(token.groups),
        pending=True,
    )
    session.add(AppleDevice(device_id=device.id, school_id=school.id, topic=settings.apns_topic))
    identity = device_identity(session, device, school)
    profile = mobileconfig.enrollment_profile(profile_facts(school, settings), identity)
    actor = Actor(
        name=f"token:{token.lookup_key}", role="device", school_id=school.id, address=address
    )
    session.flush()
    audit.record(
        session,
        actor,
        "device.apple.profile",
        "device",
        device.id,
        school_id=school.id,
        details={
            "token_id": token.id,
            "identity": current_app.config["APPLE_ENROLLMENT_IDENTITY"],
            "platform": platform,
        },
    )
    return mobileconfig.sign(profile, signer)
