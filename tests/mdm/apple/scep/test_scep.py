"""The SCEP endpoint end to end: a client built in the tests gets the school's CA, sends its
PKCSReq with a pending iPad's one-time challenge (POST and GET, every cipher and digest), and
gets a certificate of the school's device CA that names the device; every bad case gets a
CertRep FAILURE or a problem and changes nothing."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from sqlalchemy import func, select

from mdm.accounts.models import School
from mdm.apple.scep import service
from mdm.apple.scep.models import ScepChallenge
from mdm.devices import credentials, identity
from mdm.devices.models import Device, DeviceCredential
from mdm.extensions import db
from mdm.platform.errors import Conflict
from mdm.platform.models import AuditEvent
from mdm.platform.types import utcnow
from tests.mdm.apple.scep import client
from tests.mdm.apple.scep.conftest import Scep
from tests.mdm.platform.test_errors import assert_problem

PendingDevice = Callable[..., Device]

BAD_REQUEST = "2"


def challenge_for(device: Device, **kwargs) -> str:
    challenge = service.issue_challenge(db.session, device, **kwargs)
    db.session.commit()
    return challenge


def credential_count() -> int:
    return db.session.scalar(select(func.count()).select_from(DeviceCredential))


def challenge_row(device: Device) -> ScepChallenge:
    row = db.session.scalar(select(ScepChallenge).where(ScepChallenge.device_id == device.id))
    db.session.refresh(row)
    return row


def school_ca(school: School) -> identity.DeviceCA:
    return credentials.school_ca(db.session, school)


def test_get_ca_caps_advertises_what_the_server_does(scep: Callable[[School], Scep], school):
    response = scep(school).get("GetCACaps")

    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    caps = response.get_data(as_text=True).split()
    assert set(caps) == {"POSTPKIOperation", "SHA-256", "SHA-1", "AES", "DES3", "SCEPStandard"}
    assert "Renewal" not in caps


def test_get_ca_cert_answers_the_school_ca_and_its_responder(
    scep: Callable[[School], Scep], school: School, other_school: School
) -> None:
    response = scep(school).get("GetCACert")

    assert response.status_code == 200
    assert response.mimetype == "application/x-x509-ca-ra-cert"
    certs = client.certificates(response.data)
    ca = school_ca(school).certificate
    assert ca in certs and len(certs) == 2
    responder = client.recipient(response.data)
    responder.verify_directly_issued_by(ca)
    assert isinstance(responder.public_key(), rsa.RSAPublicKey)
    # The same responder on every request (iPads add the CA's name as `message`); another
    # school has its own.
    again = scep(school).get("GetCACert", message="Schule")
    assert client.recipient(again.data) == responder
    assert scep(other_school).responder() != responder


@pytest.mark.parametrize("cipher", ["aes128_cbc", "aes256_cbc", "tripledes_3key", "des"])
@pytest.mark.parametrize("digest", ["sha256", "sha1"])
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_pending_ipad_gets_a_certificate_of_its_school_ca(
    scep: Callable[[School], Scep],
    school: School,
    pending_device: PendingDevice,
    device_key: rsa.RSAPrivateKey,
    cipher: str,
    digest: str,
    method: str,
) -> None:
    device = pending_device(school)
    challenge = challenge_for(device)
    enrollment = client.Enrollment(device_key, transaction_id="4F1B2C")

    reply = scep(school).enroll(enrollment, challenge, method, cipher=cipher, digest=digest)

    assert (reply.status, reply.fail_info) == ("0", None)
    assert reply.transaction_id == "4F1B2C"
    assert reply.recipient_nonce == enrollment.nonce
    assert (reply.cipher, reply.digest) == (cipher, digest)
    certificate = reply.certificate
    assert certificate is not None
    ca = school_ca(school)
    certificate.verify_directly_issued_by(ca.certificate)
    assert certificate.public_key() == device_key.public_key()
    assert identity.device_id_from_certificate(certificate) == str(device.id)
    # The device's credential: the existing certificate checks accept it.
    credential = db.session.scalar(
        select(DeviceCredential).where(DeviceCredential.device_id == device.id)
    )
    assert credential.certificate_fingerprint == identity.certificate_fingerprint(certificate)
    assert credential.revoked_at is None
    pem = identity.cert_to_pem(certificate)
    assert identity.verify_device_certificate(ca, pem, utcnow(), set()) == str(device.id)
    row = challenge_row(device)
    assert row.used_at is not None and row.credential_id == credential.id
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "device.scep_certificate.issue")
    )
    assert event.target_id == str(device.id) and event.school_id == school.id
    assert event.details["cipher"] == cipher


def test_a_challenge_is_long_random_and_stored_only_as_a_hash(
    school: School, pending_device: PendingDevice
) -> None:
    device = pending_device(school)
    challenge = challenge_for(device)
    again = challenge_for(device)

    assert len(challenge) >= 22 and challenge != again  # 32 random bytes, URL-safe base64
    rows = db.session.scalars(select(ScepChallenge).where(ScepChallenge.device_id == device.id))
    (row,) = list(rows)  # one active challenge per device: the new one replaced the old
    assert challenge not in repr(vars(row)) and again not in repr(vars(row))
    assert row.challenge_hash == service.challenge_hash(again)
    assert row.expires_at - row.created_at == timedelta(seconds=3600)


def test_only_a_pending_device_gets_a_challenge(
    school: School, pending_device: PendingDevice
) -> None:
    device = pending_device(school)
    device.status = "enrolled"
    db.session.commit()
    with pytest.raises(Conflict):
        service.issue_challenge(db.session, device)


def assert_refused(reply: client.CertRep, fail_info: str = BAD_REQUEST) -> None:
    assert (reply.status, reply.fail_info, reply.certificate) == ("2", fail_info, None)


def test_wrong_missing_and_replaced_challenges_are_refused_and_change_nothing(
    scep: Callable[[School], Scep],
    school: School,
    pending_device: PendingDevice,
    device_key: rsa.RSAPrivateKey,
) -> None:
    device = pending_device(school)
    old = challenge_for(device)
    current = challenge_for(device)
    before = credential_count()

    for challenge in ("falsch", old, None, current.upper()):
        reply = scep(school).enroll(client.Enrollment(device_key), challenge)
        assert_refused(reply)

    assert credential_count() == before
    assert challenge_row(device).used_at is None
    assert scep(school).enroll(client.Enrollment(device_key), current).status == "0"


def test_an_expired_challenge_is_refused(
    app: Flask,
    scep: Callable[[School], Scep],
    school: School,
    pending_device: PendingDevice,
    device_key: rsa.RSAPrivateKey,
) -> None:
    device = pending_device(school)
    seconds = app.config["APPLE_SCEP_CHALLENGE_SECONDS"]
    challenge = challenge_for(device, now=utcnow() - timedelta(seconds=seconds + 1))

    assert_refused(scep(school).enroll(client.Enrollment(device_key), challenge))
    assert credential_count() == 0
    assert challenge_row(device).used_at is None


def test_a_challenge_of_another_school_is_refused(
    scep: Callable[[School], Scep],
    school: School,
    other_school: School,
    pending_device: PendingDevice,
    device_key: rsa.RSAPrivateKey,
) -> None:
    device = pending_device(other_school)
    challenge = challenge_for(device)

    assert_refused(scep(school).enroll(client.Enrollment(device_key), challenge))
    assert credential_count() == 0
    assert challenge_row(device).used_at is None


def test_a_device_no_longer_pending_gets_nothing_for_its_challenge(
    scep: Callable[[School], Scep],
    school: School,
    pending_device: PendingDevice,
    device_key: rsa.RSAPrivateKey,
) -> None:
    device = pending_device(school)
    challenge = challenge_for(device)
    device.status = "retired"
    db.session.commit()

    assert_refused(scep(school).enroll(client.Enrollment(device_key), challenge))
    assert credential_count() == 0


def test_a_used_challenge_is_refused_to_another_transaction_or_key(
    scep: Callable[[School], Scep],
    school: School,
    pending_device: PendingDevice,
    device_key: rsa.RSAPrivateKey,
    other_device_key: rsa.RSAPrivateKey,
) -> None:
    device = pending_device(school)
    challenge = challenge_for(device)
    assert scep(school).enroll(client.Enrollment(device_key, "tx-1"), challenge).status == "0"

    assert_refused(scep(school).enroll(client.Enrollment(device_key, "tx-2"), challenge))
    assert_refused(scep(school).enroll(client.Enrollment(other_device_key, "tx-1"), challenge))
    assert credential_count() == 1


def test_a_retransmitted_request_gets_the_same_certificate(
    scep: Callable[[School], Scep],
    school: School,
    pending_device: PendingDevice,
    device_key: rsa.RSAPrivateKey,
) -> None:
    device = pending_device(school)
    challenge = challenge_for(device)
    first = scep(school).enroll(client.Enrollment(device_key, "tx-1"), challenge)

    # The same transaction and key, a new nonce and envelope (the client lost the answer).
    again = scep(school).enroll(client.Enrollment(device_key, "tx-1"), challenge, cipher="des")

    assert again.status == "0" and again.cipher == "des"
    assert again.certificate == first.certificate
    assert credential_count() == 1

    # Once that certificate is revoked, the retransmission gets nothing.
    credentials.revoke_credentials(db.session, device.id)
    db.session.commit()
    assert_refused(scep(school).enroll(client.Enrollment(device_key, "tx-1"), challenge))


def test_a_weak_key_is_refused(
    scep: Callable[[School], Scep],
    school: School,
    pending_device: PendingDevice,
    weak_key: rsa.RSAPrivateKey,
) -> None:
    device = pending_device(school)
    challenge = challenge_for(device)

    assert_refused(scep(school).enroll(client.Enrollment(weak_key), challenge))
    assert credential_count() == 0
    assert challenge_row(device).used_at is None


def test_a_forged_request_is_a_bad_message_check(
    scep: Callable[[School], Scep],
    school: School,
    pending_device: PendingDevice,
    device_key: rsa.RSAPrivateKey,
    other_device_key: rsa.RSAPrivateKey,
) -> None:
    device = pending_device(school)
    challenge = challenge_for(device)
    endpoint = scep(school)
    responder = endpoint.responder()
    enrollment = client.Enrollment(device_key)
    forged = client.signed(
        client.envelope(client.csr(device_key, challenge), responder, "aes128_cbc"),
        other_device_key,
        enrollment.signer,
        nonce=enrollment.nonce,
    )

    response = endpoint.pki_operation(forged)

    assert response.status_code == 200
    assert_refused(client.read_cert_rep(response.data, responder, enrollment), "1")
    assert challenge_row(device).used_at is None


def test_unanswerable_requests_are_problems(
    scep: Callable[[School], Scep], client, school: School
) -> None:
    endpoint = scep(school)
    assert_problem(endpoint.get("GetCert"), 400)
    assert_problem(endpoint.client.get(endpoint.url), 400)
    assert_problem(endpoint.get("PKIOperation"), 400)
    assert_problem(endpoint.get("PKIOperation", message="%%%nicht base64"), 400)
    assert_problem(endpoint.get("PKIOperation", message="aGFsbG8="), 400)
    assert_problem(endpoint.pki_operation(b"\x30\x03\x02\x01\x01"), 400)
    assert_problem(endpoint.pki_operation(b""), 400)
    body = assert_problem(client.post(f"{endpoint.url}?operation=GetCACert"), 400)
    assert "operation" in body["errors"]
    for operation in ("GetCACaps", "GetCACert", "PKIOperation"):
        assert_problem(client.get(f"/apple/scep/999999?operation={operation}"), 404)
    assert credential_count() == 0


def test_the_certificate_names_the_device_for_the_check_in(
    scep: Callable[[School], Scep],
    school: School,
    pending_device: PendingDevice,
    device_key: rsa.RSAPrivateKey,
) -> None:
    first, second = pending_device(school, "iPad 1"), pending_device(school, "iPad 2")
    challenge = challenge_for(second)
    challenge_for(first)

    reply = scep(school).enroll(client.Enrollment(device_key), challenge)

    assert isinstance(reply.certificate, x509.Certificate)
    assert identity.device_id_from_certificate(reply.certificate) == str(second.id)
    assert challenge_row(first).used_at is None
