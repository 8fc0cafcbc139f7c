"""Each school's device CA: made on first use, key encrypted at rest, signs client certificates."""

import secrets

from cryptography import x509
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from enrollment import identity
from enrollment.models import DeviceCA
from mdm.models import School


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


def issue_certificate(
    session: Session, school: School, csr: x509.CertificateSigningRequest, device_id: int
) -> tuple[x509.Certificate, identity.DeviceCA]:
    """Sign a client certificate for the device with its school's CA; returns it and the CA."""
    ca = school_ca(session, school)
    days = int(current_app.config["DEVICE_CERTIFICATE_DAYS"])
    cert = identity.issue_device_certificate(ca, csr, str(device_id), school.slug, valid_days=days)
    return cert, ca
