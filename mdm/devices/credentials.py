"""Device identity: each school's device CA (made on first use, key encrypted at rest), and the
credentials devices authenticate with (a secret, and a client certificate for a CSR). They
flush, never commit."""

import secrets
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mdm.accounts.models import School
from mdm.devices import identity
from mdm.devices.models import Device, DeviceCA, DeviceCredential
from mdm.platform.errors import ValidationFailed
from mdm.platform.types import utcnow


@dataclass(frozen=True)
class IssuedCredential:
    """A new device credential as the device receives it (the secret only this once)."""

    secret: str
    certificate_pem: str | None
    ca_certificate_pem: str | None
    not_after: datetime | None


def school_ca(session: Session, school: School) -> identity.DeviceCA:
    """The school's device CA, created (and flushed) the first time a device needs it."""
    row = session.scalar(select(DeviceCA).where(DeviceCA.school_id == school.id))
    if row is None:
        passphrase = secrets.token_urlsafe(32).encode()
        cert_pem, key_pem = identity.create_ca(f"{school.name} Device CA", passphrase)
        row = DeviceCA(
            school_id=school.id,
            certificate_pem=cert_pem.decode(),
            key_pem=key_pem,
            key_passphrase=passphrase,
        )
        session.add(row)
        session.flush()
    return identity.load_ca(row.certificate_pem.encode(), row.key_pem, row.key_passphrase)


def school_ca_certificate(session: Session, school_id: int) -> x509.Certificate | None:
    """The certificate of the school's device CA (without loading its key), if it has one."""
    pem = session.scalar(select(DeviceCA.certificate_pem).where(DeviceCA.school_id == school_id))
    return x509.load_pem_x509_certificate(pem.encode()) if pem else None


def issue_certificate(
    session: Session, school: School, csr: x509.CertificateSigningRequest, device_id: int
) -> tuple[x509.Certificate, identity.DeviceCA]:
    """Sign a client certificate for the device with its school's CA; returns it and the CA."""
    ca = school_ca(session, school)
    days = int(current_app.config["DEVICE_CERTIFICATE_DAYS"])
    cert = identity.issue_device_certificate(ca, csr, str(device_id), school.slug, valid_days=days)
    return cert, ca


def parse_csr(csr_pem: str | None) -> x509.CertificateSigningRequest | None:
    """The device's CSR checked against the CA's key policy, or None when it sent none."""
    if not csr_pem:
        return None
    try:
        return identity.parse_csr(csr_pem.encode())
    except identity.CsrError as exc:
        raise ValidationFailed(
            "The certificate signing request was refused.", errors={"csr": [str(exc)]}
        ) from exc


def issue_credential(
    session: Session, device: Device, csr: x509.CertificateSigningRequest | None
) -> IssuedCredential:
    """Give the device a new secret and, for a CSR, a client certificate of its school's CA."""
    secret = identity.new_device_secret()
    credential = DeviceCredential(
        school_id=device.school_id,
        device_id=device.id,
        lookup_key=identity.device_lookup_key(secret),
        secret_hash=identity.hash_secret(secret),
    )
    certificate_pem = ca_pem = None
    if csr is not None:
        school = session.get(School, device.school_id)
        assert school is not None
        cert, ca = issue_certificate(session, school, csr, device.id)
        certificate_pem = identity.cert_to_pem(cert).decode()
        ca_pem = identity.cert_to_pem(ca.certificate).decode()
        credential.certificate_serial = format(cert.serial_number, "x")
        credential.certificate_fingerprint = identity.certificate_fingerprint(cert)
        credential.certificate_pem = certificate_pem
        credential.not_after = cert.not_valid_after_utc
    session.add(credential)
    session.flush()
    return IssuedCredential(secret, certificate_pem, ca_pem, credential.not_after)


def issue_certificate_credential(
    session: Session, device: Device, csr: x509.CertificateSigningRequest
) -> tuple[DeviceCredential, x509.Certificate]:
    """Give the device a client certificate of its school's CA as its credential, with no
    secret to hand out (SCEP: the device proves itself by its key); flushed."""
    school = session.get(School, device.school_id)
    assert school is not None
    cert, _ca = issue_certificate(session, school, csr, device.id)
    # The row's secret is random and never leaves this function: no one can present it.
    unused_secret = identity.new_device_secret()
    credential = DeviceCredential(
        school_id=device.school_id,
        device_id=device.id,
        lookup_key=identity.device_lookup_key(unused_secret),
        secret_hash=identity.hash_secret(unused_secret),
        certificate_serial=format(cert.serial_number, "x"),
        certificate_fingerprint=identity.certificate_fingerprint(cert),
        certificate_pem=identity.cert_to_pem(cert).decode(),
        not_after=cert.not_valid_after_utc,
    )
    session.add(credential)
    session.flush()
    return credential, cert


def revoke_credential(session: Session, credential_id: int) -> bool:
    """Revoke one credential (the one a device replaces); False when it was revoked already
    (by a parallel request: the database decides which one revokes it)."""
    result = session.execute(
        update(DeviceCredential)
        .where(DeviceCredential.id == credential_id, DeviceCredential.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


def revoke_credentials(session: Session, device_id: int) -> None:
    """Revoke every live credential of a device."""
    session.execute(
        update(DeviceCredential)
        .where(DeviceCredential.device_id == device_id, DeviceCredential.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
