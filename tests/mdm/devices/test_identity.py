from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mdm.devices.identity import (
    CertificateRejected,
    CsrError,
    DeviceCA,
    cert_to_pem,
    certificate_fingerprint,
    create_ca,
    device_id_from_certificate,
    hash_secret,
    issue_device_certificate,
    load_ca,
    new_device_secret,
    parse_csr,
    secret_matches,
    verify_device_certificate,
)

NOW = datetime(2026, 9, 1, 7, 0, tzinfo=UTC)
PASSPHRASE = b"correct horse battery staple"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def ca_pems() -> tuple[bytes, bytes]:
    return create_ca("Schule am Park Device CA", PASSPHRASE, now=NOW - timedelta(days=30))


@pytest.fixture(scope="module")
def ca(ca_pems: tuple[bytes, bytes]) -> DeviceCA:
    return load_ca(*ca_pems, PASSPHRASE)


def make_csr(key, common_name: str = "my-phone", org: str | None = None) -> bytes:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if org:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attributes))
    return csr.sign(key, algorithm).public_bytes(serialization.Encoding.PEM)


def issue_pem(ca: DeviceCA, key, device_id: str = "dev-42", **kwargs) -> bytes:
    csr = parse_csr(make_csr(key))
    return cert_to_pem(issue_device_certificate(ca, csr, device_id, "park", now=NOW, **kwargs))


def test_issue_and_verify_round_trip(ca: DeviceCA, ec_key) -> None:
    pem = issue_pem(ca, ec_key, "dev-42")

    assert verify_device_certificate(ca, pem, NOW + timedelta(days=10), set()) == "dev-42"
    cert = x509.load_pem_x509_certificate(pem)
    assert device_id_from_certificate(cert) == "dev-42"
    assert cert.public_key() == ec_key.public_key()
    assert cert.not_valid_before_utc == NOW - timedelta(minutes=5)
    assert cert.not_valid_after_utc == NOW + timedelta(days=397)
    assert cert.issuer == ca.certificate.subject


def test_round_trip_with_rsa_key_adds_key_encipherment(ca: DeviceCA, rsa_key) -> None:
    pem = issue_pem(ca, rsa_key, "ipad-7")

    assert verify_device_certificate(ca, pem, NOW, set()) == "ipad-7"
    usage = x509.load_pem_x509_certificate(pem).extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.value.digital_signature and usage.value.key_encipherment


def test_device_certificate_extensions(ca: DeviceCA, ec_key) -> None:
    cert = x509.load_pem_x509_certificate(issue_pem(ca, ec_key, "dev-42"))
    ext = cert.extensions

    assert list(ext.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    assert ext.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = ext.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_encipherment and not usage.key_cert_sign
    san = ext.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [
        "urn:schoolmdm:device:dev-42"
    ]
    ca_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    aki = ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ca_ski.value.digest


def test_csr_subject_is_ignored(ca: DeviceCA, ec_key) -> None:
    csr = parse_csr(make_csr(ec_key, common_name="dev-admin", org="other-school"))
    cert = issue_device_certificate(ca, csr, "dev-42", "park", now=NOW)

    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "dev-42"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "park"
    assert "dev-admin" not in cert.subject.rfc4514_string()


def test_serial_numbers_are_random(ca: DeviceCA, ec_key) -> None:
    first = x509.load_pem_x509_certificate(issue_pem(ca, ec_key))
    second = x509.load_pem_x509_certificate(issue_pem(ca, ec_key))

    assert first.serial_number != second.serial_number
    assert certificate_fingerprint(first) != certificate_fingerprint(second)


def test_device_certificate_never_outlives_the_ca(ca: DeviceCA, ec_key) -> None:
    cert = x509.load_pem_x509_certificate(issue_pem(ca, ec_key, valid_days=100_000))

    assert cert.not_valid_after_utc == ca.certificate.not_valid_after_utc


def test_issue_rejects_unsafe_device_id(ca: DeviceCA, ec_key) -> None:
    csr = parse_csr(make_csr(ec_key))

    with pytest.raises(ValueError):
        issue_device_certificate(ca, csr, "dev 42/../x", "park", now=NOW)


def test_parse_csr_accepts_der(ec_key) -> None:
    der = x509.load_pem_x509_csr(make_csr(ec_key)).public_bytes(serialization.Encoding.DER)

    assert parse_csr(der).public_key() == ec_key.public_key()


def test_parse_csr_accepts_p384() -> None:
    key = ec.generate_private_key(ec.SECP384R1())

    assert parse_csr(make_csr(key)).public_key() == key.public_key()


def test_small_rsa_key_is_rejected() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)

    with pytest.raises(CsrError) as info:
        parse_csr(make_csr(key))
    assert info.value.reason == "key_size"


@pytest.mark.parametrize(
    "make_key",
    [
        ed25519.Ed25519PrivateKey.generate,
        lambda: dsa.generate_private_key(key_size=1024),
        lambda: ec.generate_private_key(ec.SECP521R1()),
    ],
    ids=["ed25519", "dsa", "p521"],
)
def test_disallowed_key_types_are_rejected(make_key) -> None:
    with pytest.raises(CsrError) as info:
        parse_csr(make_csr(make_key()))
    assert info.value.reason == "key_type"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage",
        b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
    ],
    ids=["empty", "garbage", "bad-pem"],
)
def test_malformed_csr_is_rejected(data: bytes) -> None:
    with pytest.raises(CsrError) as info:
        parse_csr(data)
    assert info.value.reason == "malformed"


def test_oversized_csr_is_rejected() -> None:
    with pytest.raises(CsrError) as info:
        parse_csr(b"A" * (16 * 1024 + 1))
    assert info.value.reason == "too_large"


def test_tampered_csr_is_rejected(ec_key) -> None:
    der = x509.load_pem_x509_csr(make_csr(ec_key, common_name="device-x")).public_bytes(
        serialization.Encoding.DER
    )
    tampered = der.replace(b"device-x", b"device-y")
    assert tampered != der

    with pytest.raises(CsrError) as info:
        parse_csr(tampered)
    assert info.value.reason == "bad_signature"


def test_certificate_from_other_ca_is_rejected(ca: DeviceCA, ec_key) -> None:
    # Same name as the real CA, different key: only the signature check can tell them apart.
    impostor = load_ca(
        *create_ca("Schule am Park Device CA", b"other", now=NOW - timedelta(days=1)), b"other"
    )
    pem = issue_pem(impostor, ec_key)

    with pytest.raises(CertificateRejected) as info:
        verify_device_certificate(ca, pem, NOW, set())
    assert info.value.reason == "bad_signature"


def test_certificate_from_differently_named_ca_is_rejected(ca: DeviceCA, ec_key) -> None:
    other = load_ca(*create_ca("Other CA", b"other", now=NOW - timedelta(days=1)), b"other")

    with pytest.raises(CertificateRejected) as info:
        verify_device_certificate(ca, issue_pem(other, ec_key), NOW, set())
    assert info.value.reason == "unknown_issuer"


def test_expired_certificate_is_rejected(ca: DeviceCA, ec_key) -> None:
    pem = issue_pem(ca, ec_key, valid_days=30)

    assert verify_device_certificate(ca, pem, NOW + timedelta(days=29), set()) == "dev-42"
    with pytest.raises(CertificateRejected) as info:
        verify_device_certificate(ca, pem, NOW + timedelta(days=31), set())
    assert info.value.reason == "expired"


def test_not_yet_valid_certificate_is_rejected(ca: DeviceCA, ec_key) -> None:
    with pytest.raises(CertificateRejected) as info:
        verify_device_certificate(ca, issue_pem(ca, ec_key), NOW - timedelta(hours=1), set())
    assert info.value.reason == "not_yet_valid"


def test_revoked_certificate_is_rejected(ca: DeviceCA, ec_key) -> None:
    pem = issue_pem(ca, ec_key)
    serial = x509.load_pem_x509_certificate(pem).serial_number

    assert verify_device_certificate(ca, pem, NOW, {serial + 1}) == "dev-42"
    with pytest.raises(CertificateRejected) as info:
        verify_device_certificate(ca, pem, NOW, {serial})
    assert info.value.reason == "revoked"


def test_certificate_without_client_auth_is_rejected(ca: DeviceCA, ec_key) -> None:
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dev-42")]))
        .issuer_name(ca.certificate.subject)
        .public_key(ec_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier("urn:schoolmdm:device:dev-42")]
            ),
            critical=False,
        )
        .sign(ca.private_key, hashes.SHA256())
    )

    with pytest.raises(CertificateRejected) as info:
        verify_device_certificate(ca, cert_to_pem(cert), NOW, set())
    assert info.value.reason == "wrong_usage"


def test_garbage_certificate_is_rejected(ca: DeviceCA) -> None:
    with pytest.raises(CertificateRejected) as info:
        verify_device_certificate(ca, b"not a certificate", NOW, set())
    assert info.value.reason == "malformed"


def test_ca_certificate_is_a_constrained_ca(ca: DeviceCA) -> None:
    ext = ca.certificate.extensions
    constraints = ext.get_extension_for_class(x509.BasicConstraints)
    usage = ext.get_extension_for_class(x509.KeyUsage).value

    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    assert ext.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def test_ca_key_is_encrypted(ca_pems: tuple[bytes, bytes]) -> None:
    cert_pem, key_pem = ca_pems

    assert b"ENCRYPTED PRIVATE KEY" in key_pem
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(key_pem, password=None)
    with pytest.raises(ValueError):
        load_ca(cert_pem, key_pem, b"wrong passphrase")


def test_load_ca_rejects_a_key_of_another_ca(ca_pems: tuple[bytes, bytes]) -> None:
    _, other_key = create_ca("Other CA", PASSPHRASE, now=NOW)

    with pytest.raises(ValueError, match="does not belong"):
        load_ca(ca_pems[0], other_key, PASSPHRASE)


def test_fingerprint_is_sha256_of_der(ca: DeviceCA, ec_key) -> None:
    cert = x509.load_pem_x509_certificate(issue_pem(ca, ec_key))
    digest = hashes.Hash(hashes.SHA256())
    digest.update(cert.public_bytes(serialization.Encoding.DER))

    assert certificate_fingerprint(cert) == digest.finalize().hex()


def test_device_secret_round_trip() -> None:
    secret = new_device_secret()
    stored = hash_secret(secret)

    assert len(secret) == 43
    assert new_device_secret() != secret
    assert len(stored) == 64 and secret not in stored
    assert secret_matches(secret, stored)
    assert not secret_matches(secret + "x", stored)
    assert not secret_matches(new_device_secret(), stored)
