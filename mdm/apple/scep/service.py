"""SCEP service: one-time challenges of pending devices, each school's responder, and the answer
to a PKIOperation. Takes a session, flushes, never commits."""

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from mdm.accounts.models import School
from mdm.apple.scep import message
from mdm.apple.scep.models import ScepChallenge, ScepResponder
from mdm.apple.scep.responder import create_responder
from mdm.devices import credentials
from mdm.devices.models import Device, DeviceCredential
from mdm.platform import audit
from mdm.platform.actors import Actor
from mdm.platform.errors import Conflict, NotFound
from mdm.platform.types import utcnow

PENDING = "pending"
CHALLENGE_BYTES = 32  # 256 bits
# The operations of RFC 8894 this server serves, for GetCACaps.
CAPABILITIES = ("POSTPKIOperation", "SHA-256", "SHA-1", "AES", "DES3", "SCEPStandard")
log = logging.getLogger(__name__)


class ChallengeRefused(Exception):
    """A PKCSReq's challenge does not let it have a certificate; `reason` says why (logged)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _actor(device_id: int, school_id: int) -> Actor:
    return Actor(name=f"device:{device_id}", role="device", school_id=school_id)


def challenge_hash(challenge: str) -> str:
    """The SHA-256 hex digest a challenge is stored as (256 random bits need no slow hash)."""
    return hashlib.sha256(challenge.encode()).hexdigest()


def issue_challenge(session: Session, device: Device, now: datetime | None = None) -> str:
    """A new one-time SCEP challenge for a pending device, replacing its earlier one."""
    if device.status != PENDING:
        raise Conflict(f"device {device.id} is not waiting for its enrollment")
    issued_at = now or utcnow()
    challenge = secrets.token_urlsafe(CHALLENGE_BYTES)
    session.execute(delete(ScepChallenge).where(ScepChallenge.device_id == device.id))
    session.add(
        ScepChallenge(
            school_id=device.school_id,
            device_id=device.id,
            challenge_hash=challenge_hash(challenge),
            created_at=issued_at,
            expires_at=issued_at
            + timedelta(seconds=int(current_app.config["APPLE_SCEP_CHALLENGE_SECONDS"])),
        )
    )
    session.flush()
    audit.record(
        session,
        _actor(device.id, device.school_id),
        "device.scep_challenge.issue",
        "device",
        device.id,
        school_id=device.school_id,
    )
    return challenge


def get_school(session: Session, school_id: int) -> School:
    """The school whose SCEP URL was asked for."""
    school = session.get(School, school_id)
    if school is None:
        raise NotFound(f"school {school_id} does not exist")
    return school


def school_responder(session: Session, school: School) -> message.Responder:
    """The school's SCEP responder, created (with the school's CA) the first time it is asked."""
    row = session.scalar(select(ScepResponder).where(ScepResponder.school_id == school.id))
    if row is None:
        ca = credentials.school_ca(session, school)
        certificate, key = create_responder(ca, f"{school.name} SCEP")
        row = ScepResponder(
            school_id=school.id,
            certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
            key_pem=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        session.add(row)
        session.flush()
    key = serialization.load_pem_private_key(row.key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return message.Responder(x509.load_pem_x509_certificate(row.certificate_pem.encode()), key)


def ca_certificates(session: Session, school: School) -> bytes:
    """GetCACert's answer: the responder's and the school's device CA certificate."""
    responder = school_responder(session, school)
    ca = credentials.school_ca(session, school)
    return message.ca_certificates([responder.certificate, ca.certificate])


def pki_operation(
    session: Session, school: School, data: bytes, now: datetime | None = None
) -> bytes:
    """The CertRep to a pkiMessage: the certificate, or a FAILURE; MalformedMessage if the
    message cannot be answered at all."""
    responder = school_responder(session, school)
    try:
        request = message.read_request(data, responder)
    except message.RefusedRequest as exc:
        log.info("SCEP request of school %s refused: %s", school.id, exc)
        return message.failure_reply(exc.header, responder, exc.fail_info)
    try:
        certificate = _certificate(session, school, request, now or utcnow())
    except ChallengeRefused as exc:
        log.info("SCEP request of school %s refused: %s", school.id, exc.reason)
        return message.failure_reply(request.header, responder, message.FailInfo.BAD_REQUEST)
    return message.certificate_reply(request, responder, certificate)


def _certificate(
    session: Session, school: School, request: message.CertificateRequest, now: datetime
) -> x509.Certificate:
    """The certificate a PKCSReq's challenge entitles it to: a new one, or the one issued to
    the same transaction and key before (a retransmission)."""
    if not request.challenge_password:
        raise ChallengeRefused("the request has no challengePassword")
    challenge = session.scalar(
        select(ScepChallenge).where(
            ScepChallenge.challenge_hash == challenge_hash(request.challenge_password),
            ScepChallenge.school_id == school.id,
        )
    )
    if challenge is None:
        raise ChallengeRefused("unknown challenge")
    fingerprint = message.public_key_fingerprint(request.csr)
    if challenge.used_at is not None:
        return _issued_before(session, challenge, request.header.transaction_id, fingerprint)
    if challenge.expires_at <= now:
        raise ChallengeRefused("the challenge has expired")
    device = session.get(Device, challenge.device_id)
    if device is None or device.status != PENDING:
        raise ChallengeRefused("the challenge's device is not waiting for its enrollment")
    # The database decides which of parallel requests with one challenge consumes it.
    consumed = session.execute(
        update(ScepChallenge)
        .where(ScepChallenge.id == challenge.id, ScepChallenge.used_at.is_(None))
        .values(
            used_at=now,
            transaction_id=request.header.transaction_id,
            public_key_fingerprint=fingerprint,
        )
        .execution_options(synchronize_session=False)
    )
    if not consumed.rowcount:
        raise ChallengeRefused("the challenge was used by a parallel request")
    credential, certificate = credentials.issue_certificate_credential(session, device, request.csr)
    session.execute(
        update(ScepChallenge)
        .where(ScepChallenge.id == challenge.id)
        .values(credential_id=credential.id)
        .execution_options(synchronize_session=False)
    )
    audit.record(
        session,
        _actor(device.id, device.school_id),
        "device.scep_certificate.issue",
        "device",
        device.id,
        school_id=device.school_id,
        details={
            "certificate_serial": credential.certificate_serial,
            "transaction_id": request.header.transaction_id,
            "cipher": request.content_cipher,
            "digest": request.header.digest_algorithm,
        },
    )
    return certificate


def _issued_before(
    session: Session, challenge: ScepChallenge, transaction_id: str, fingerprint: str
) -> x509.Certificate:
    """The certificate of a used challenge, for a retransmission of the same transaction with
    the same key (a client that lost the answer sends its request again), while it is not
    revoked."""
    if (challenge.transaction_id, challenge.public_key_fingerprint) != (
        transaction_id,
        fingerprint,
    ):
        raise ChallengeRefused("the challenge has been used")
    credential = (
        session.get(DeviceCredential, challenge.credential_id) if challenge.credential_id else None
    )
    if credential is None or credential.revoked_at is not None or not credential.certificate_pem:
        raise ChallengeRefused("the certificate of the challenge is no longer valid")
    return x509.load_pem_x509_certificate(credential.certificate_pem.encode())
