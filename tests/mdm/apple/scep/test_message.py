"""Reading PKCSReqs and building CertReps, with no database: every cipher and digest a client
may choose, and every refusal."""

import contextlib
import random
from datetime import UTC, datetime

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from mdm.apple.scep import message
from mdm.apple.scep.message import FailInfo, MalformedMessage, RefusedRequest
from mdm.apple.scep.responder import create_responder
from mdm.devices import identity
from tests.mdm.apple.scep import client


@pytest.fixture(scope="module")
def ca() -> identity.DeviceCA:
    cert_pem, key_pem = identity.create_ca("Testschule Device CA", b"passphrase")
    return identity.load_ca(cert_pem, key_pem, b"passphrase")


@pytest.fixture(scope="module")
def responder(ca: identity.DeviceCA) -> message.Responder:
    return message.Responder(*create_responder(ca, "Testschule SCEP"))


def issued(ca: identity.DeviceCA, request: message.CertificateRequest) -> x509.Certificate:
    return identity.issue_device_certificate(ca, request.csr, "7", "testschule")


@pytest.mark.parametrize("cipher", ["aes128_cbc", "aes256_cbc", "tripledes_3key", "des"])
@pytest.mark.parametrize("digest", ["sha256", "sha1"])
def test_a_pkcs_req_is_read_and_answered_in_its_own_cipher_and_digest(
    ca: identity.DeviceCA,
    responder: message.Responder,
    device_key: rsa.RSAPrivateKey,
    cipher: str,
    digest: str,
) -> None:
    enrollment = client.Enrollment(device_key, transaction_id="abc123")
    data = enrollment.pkcs_req(responder.certificate, "geheim", cipher=cipher, digest=digest)

    request = message.read_request(data, responder)

    assert request.challenge_password == "geheim"
    assert request.content_cipher == cipher
    assert request.header.transaction_id == "abc123"
    assert request.header.sender_nonce == enrollment.nonce
    assert request.header.message_type == message.MessageType.PKCS_REQ
    assert request.csr.public_key() == device_key.public_key()

    certificate = issued(ca, request)
    reply = client.read_cert_rep(
        message.certificate_reply(request, responder, certificate),
        responder.certificate,
        enrollment,
    )
    assert reply.status == "0"
    assert reply.fail_info is None
    assert reply.transaction_id == "abc123"
    assert reply.recipient_nonce == enrollment.nonce
    assert reply.digest == digest
    assert reply.cipher == cipher
    assert reply.certificate == certificate


def test_a_failure_names_its_fail_info_and_carries_no_certificate(
    responder: message.Responder, device_key: rsa.RSAPrivateKey
) -> None:
    enrollment = client.Enrollment(device_key)
    request = message.read_request(enrollment.pkcs_req(responder.certificate, "x"), responder)

    reply = client.read_cert_rep(
        message.failure_reply(request.header, responder, FailInfo.BAD_REQUEST),
        responder.certificate,
        enrollment,
    )

    assert (reply.status, reply.fail_info, reply.certificate) == ("2", "2", None)
    assert reply.recipient_nonce == enrollment.nonce


def test_a_request_without_challenge_is_read_with_none(
    responder: message.Responder, device_key: rsa.RSAPrivateKey
) -> None:
    data = client.Enrollment(device_key).pkcs_req(responder.certificate, None)
    assert message.read_request(data, responder).challenge_password is None


def test_the_ca_certificates_are_a_certs_only_signed_data(
    ca: identity.DeviceCA, responder: message.Responder
) -> None:
    der = message.ca_certificates([responder.certificate, ca.certificate])

    assert set(client.certificates(der)) == {responder.certificate, ca.certificate}
    assert client.recipient(der) == responder.certificate
    responder.certificate.verify_directly_issued_by(ca.certificate)


def refusal(data: bytes, responder: message.Responder) -> RefusedRequest:
    with pytest.raises(RefusedRequest) as caught:
        message.read_request(data, responder)
    return caught.value


def test_a_forged_signature_is_a_bad_message_check(
    responder: message.Responder,
    device_key: rsa.RSAPrivateKey,
    other_device_key: rsa.RSAPrivateKey,
) -> None:
    enrollment = client.Enrollment(device_key)
    # Signed by another key than the certificate it carries names.
    data = client.signed(
        client.envelope(client.csr(device_key, "x"), responder.certificate, "aes128_cbc"),
        other_device_key,
        enrollment.signer,
    )
    refused = refusal(data, responder)
    assert refused.fail_info == FailInfo.BAD_MESSAGE_CHECK
    assert refused.reason == "signature"


def test_content_that_does_not_match_its_digest_is_a_bad_message_check(
    responder: message.Responder, device_key: rsa.RSAPrivateKey
) -> None:
    data = client.Enrollment(device_key).pkcs_req(responder.certificate, "x")
    info = cms.ContentInfo.load(data)
    content = bytearray(bytes(info["content"]["encap_content_info"]["content"]))
    content[-1] ^= 1
    tampered = data.replace(bytes(info["content"]["encap_content_info"]["content"]), content)

    refused = refusal(tampered, responder)
    assert (refused.fail_info, refused.reason) == (FailInfo.BAD_MESSAGE_CHECK, "digest")


def test_an_envelope_for_another_ca_is_a_bad_message_check(
    ca: identity.DeviceCA, responder: message.Responder, device_key: rsa.RSAPrivateKey
) -> None:
    other = message.Responder(*create_responder(ca, "Andere Schule SCEP"))
    data = client.Enrollment(device_key).pkcs_req(other.certificate, "x")

    refused = refusal(data, responder)
    assert (refused.fail_info, refused.reason) == (FailInfo.BAD_MESSAGE_CHECK, "recipient")


def test_an_unsupported_digest_is_a_bad_alg(
    responder: message.Responder, device_key: rsa.RSAPrivateKey
) -> None:
    data = client.Enrollment(device_key).pkcs_req(responder.certificate, "x", digest="md5")

    refused = refusal(data, responder)
    assert refused.fail_info == FailInfo.BAD_ALG
    # The failure is still signed, with SHA-256.
    reply = message.failure_reply(refused.header, responder, refused.fail_info)
    enrollment = client.Enrollment(device_key)
    assert client.read_cert_rep(reply, responder.certificate, enrollment).digest == "sha256"


@pytest.mark.parametrize("message_type", ["17", "20", "21", "22"])
def test_other_message_types_are_a_bad_request(
    responder: message.Responder, device_key: rsa.RSAPrivateKey, message_type: str
) -> None:
    data = client.Enrollment(device_key).pkcs_req(
        responder.certificate, "x", message_type=message_type
    )
    refused = refusal(data, responder)
    assert (refused.fail_info, refused.reason) == (
        FailInfo.BAD_REQUEST,
        "unsupported_message_type",
    )


def test_rsa_keys_under_2048_bits_are_refused(
    responder: message.Responder, device_key: rsa.RSAPrivateKey, weak_key: rsa.RSAPrivateKey
) -> None:
    weak_signer = client.Enrollment(weak_key).pkcs_req(responder.certificate, "x")
    assert refusal(weak_signer, responder).fail_info == FailInfo.BAD_REQUEST

    # A strong signer asking for a certificate of a weak key.
    enrollment = client.Enrollment(device_key)
    weak_csr = client.signed(
        client.envelope(client.csr(weak_key, "x"), responder.certificate, "aes128_cbc"),
        device_key,
        enrollment.signer,
    )
    refused = refusal(weak_csr, responder)
    assert (refused.fail_info, refused.reason) == (FailInfo.BAD_REQUEST, "bad_csr")


def test_an_envelope_that_does_not_decrypt_is_a_bad_message_check(
    responder: message.Responder, device_key: rsa.RSAPrivateKey
) -> None:
    enrollment = client.Enrollment(device_key)
    envelope = bytearray(client.envelope(client.csr(device_key, "x"), responder.certificate, "des"))
    envelope[-1] ^= 0xFF  # the last block: its padding no longer holds
    data = client.signed(bytes(envelope), device_key, enrollment.signer)

    refused = refusal(data, responder)
    assert (refused.fail_info, refused.reason) == (FailInfo.BAD_MESSAGE_CHECK, "decrypt")


def test_a_message_that_is_not_a_pki_message_is_malformed(
    responder: message.Responder, device_key: rsa.RSAPrivateKey
) -> None:
    envelope = client.envelope(b"x", responder.certificate, "aes128_cbc")
    nested = b"\x30\x80" * 30_000  # indefinite lengths, 30,000 deep
    for data in (b"", b"not der at all", envelope, b"\x30\x84\xff\xff\xff\xff", nested):
        with pytest.raises(MalformedMessage):
            message.read_request(data, responder)
    with pytest.raises(MalformedMessage, match="too_large"):
        message.read_request(b"\x30" * (message.MAX_MESSAGE_BYTES + 1), responder)


def test_a_message_without_a_transaction_id_is_malformed(
    responder: message.Responder, device_key: rsa.RSAPrivateKey
) -> None:
    enrollment = client.Enrollment(device_key)
    data = client.signed(
        client.envelope(client.csr(device_key, "x"), responder.certificate, "aes128_cbc"),
        device_key,
        enrollment.signer,
        transaction_id="",
    )
    with pytest.raises(MalformedMessage, match="transaction_id"):
        message.read_request(data, responder)


def test_damaged_messages_are_refused_never_a_crash(
    responder: message.Responder, device_key: rsa.RSAPrivateKey
) -> None:
    data = client.Enrollment(device_key).pkcs_req(responder.certificate, "x")
    rng = random.Random(8894)
    for _ in range(400):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        with contextlib.suppress(message.ScepError):
            message.read_request(bytes(damaged), responder)
    for cut in range(0, len(data), 97):
        with pytest.raises(message.ScepError):
            message.read_request(data[:cut], responder)


def test_the_responder_certificate_is_rsa_for_encryption_and_issued_by_the_ca(
    ca: identity.DeviceCA,
) -> None:
    now = datetime(2026, 12, 3, tzinfo=UTC)
    certificate, key = create_responder(ca, "Testschule SCEP", now=now)

    certificate.verify_directly_issued_by(ca.certificate)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_encipherment and usage.digital_signature and not usage.key_cert_sign
    assert certificate.not_valid_after_utc == ca.certificate.not_valid_after_utc
    assert certificate.public_bytes(Encoding.DER)
