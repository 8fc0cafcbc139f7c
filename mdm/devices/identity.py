"""The school platform's own device CA: CSR checks, device certificates and device secrets."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Set
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEVICE_URI_PREFIX = "urn:schoolmdm:device:"
MAX_CSR_BYTES = 16 * 1024
MAX_CERTIFICATE_BYTES = 16 * 1024
MIN_RSA_BITS = 2048
# Huge moduli make every signature check expensive and no real device generates them.
MAX_RSA_BITS = 8192
ALLOWED_EC_CURVES = (ec.SECP256R1, ec.SECP384R1)
# Clock skew between a device and the server must not make a fresh certificate "not yet valid".
BACKDATE = timedelta(minutes=5)

_DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# token_urlsafe(32) yields 43 characters of the URL-safe base64 alphabet.
_DEVICE_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
DEVICE_LOOKUP_KEY_CHARS = 12

CAPrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class CsrError(ValueError):
    """A certificate signing request the CA refuses; `reason` is a short machine code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class CertificateRejected(ValueError):
    """A device certificate that does not identify a device; `reason` is a short machine code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class DeviceCA:
    """A loaded device CA: its certificate and private key."""

    certificate: x509.Certificate
    private_key: CAPrivateKey


def _utcnow(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


def create_ca(
    common_name: str, passphrase: bytes, valid_days: int = 3650, now: datetime | None = None
) -> tuple[bytes, bytes]:
    """Create a new device CA and return (certificate PEM, passphrase-encrypted key PEM)."""
    if not passphrase:
        raise ValueError("the CA key must be encrypted with a non-empty passphrase")
    issued_at = _utcnow(now)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(issued_at - BACKDATE)
        .not_valid_after(issued_at + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def load_ca(cert_pem: bytes, key_pem: bytes, passphrase: bytes) -> DeviceCA:
    """Load a device CA from its certificate PEM and encrypted key PEM; ValueError if unusable."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    key = serialization.load_pem_private_key(key_pem, password=passphrase)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError("the CA key must be an EC or RSA key")
    if key.public_key() != cert.public_key():
        raise ValueError("the CA key does not belong to the CA certificate")
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    if not constraints.ca:
        raise ValueError("the certificate is not a CA certificate")
    return DeviceCA(certificate=cert, private_key=key)


def _load_csr(data: bytes) -> x509.CertificateSigningRequest:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_csr(data)
        return x509.load_der_x509_csr(data)
    except ValueError as exc:
        raise CsrError("malformed", "not a PEM or DER certificate signing request") from exc


def parse_csr(pem_or_der: bytes) -> x509.CertificateSigningRequest:
    """Parse a device's CSR (PEM or DER) and raise CsrError unless the CA may sign its key."""
    if len(pem_or_der) > MAX_CSR_BYTES:
        raise CsrError("too_large", f"a CSR may be at most {MAX_CSR_BYTES} bytes")
    csr = _load_csr(pem_or_der)
    try:
        key = csr.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CsrError("key_type", "unsupported public key") from exc
    # The key policy is checked before the signature so a hostile key is never used to verify.
    if isinstance(key, rsa.RSAPublicKey):
        if not MIN_RSA_BITS <= key.key_size <= MAX_RSA_BITS:
            raise CsrError("key_size", f"RSA keys must have {MIN_RSA_BITS}-{MAX_RSA_BITS} bits")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ALLOWED_EC_CURVES):
            raise CsrError("key_type", f"EC curve {key.curve.name} is not allowed")
    else:
        raise CsrError("key_type", "only RSA and EC keys are allowed")
    try:
        valid = csr.is_signature_valid
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CsrError("bad_signature", "the signature cannot be checked") from exc
    if not valid:
        raise CsrError("bad_signature", "the CSR is not signed by its own key")
    return csr


def _device_key_usage(key_encipherment: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def issue_device_certificate(
    ca: DeviceCA,
    csr: x509.CertificateSigningRequest,
    device_id: str,
    school_slug: str,
    valid_days: int = 397,
    now: datetime | None = None,
) -> x509.Certificate:
    """Sign a device's client certificate, taking only the public key from the CSR."""
    if not _DEVICE_ID_RE.fullmatch(device_id):
        raise ValueError("device_id must be 1-128 characters of letters, digits, '.', '_', '-'")
    if not school_slug:
        raise ValueError("school_slug must not be empty")
    issued_at = _utcnow(now)
    public_key = csr.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise CsrError("key_type", "only RSA and EC keys are allowed")
    # A certificate must not outlive the CA that vouches for it.
    not_after = min(issued_at + timedelta(days=valid_days), ca.certificate.not_valid_after_utc)
    ca_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, device_id),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, school_slug),
                ]
            )
        )
        .issuer_name(ca.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(issued_at - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            # Older RSA client stacks expect keyEncipherment too; an EC key cannot encipher at all.
            _device_key_usage(key_encipherment=isinstance(public_key, rsa.RSAPublicKey)),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(DEVICE_URI_PREFIX + device_id)]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(ca.private_key, hashes.SHA256())
    )


def device_id_from_certificate(cert: x509.Certificate) -> str:
    """Return the device id from the certificate's `urn:schoolmdm:device:` SAN URI."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound as exc:
        raise CertificateRejected("no_device_id", "the certificate has no SAN") from exc
    for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
        if uri.startswith(DEVICE_URI_PREFIX):
            device_id = uri.removeprefix(DEVICE_URI_PREFIX)
            if _DEVICE_ID_RE.fullmatch(device_id):
                return device_id
    raise CertificateRejected("no_device_id", "the certificate names no device")


def verify_device_certificate(
    ca: DeviceCA, cert_pem: bytes, now: datetime, revoked_serials: Set[int]
) -> str:
    """Return the device id of a current, unrevoked client certificate from this CA."""
    if len(cert_pem) > MAX_CERTIFICATE_BYTES:
        raise CertificateRejected("malformed", "the certificate is too large")
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise CertificateRejected("malformed", "not a PEM certificate") from exc
    return check_device_certificate(ca.certificate, cert, now, revoked_serials)


def check_device_certificate(
    ca_certificate: x509.Certificate,
    cert: x509.Certificate,
    now: datetime,
    revoked_serials: Set[int],
) -> str:
    """Return the device id of a current, unrevoked client certificate issued by the CA whose
    certificate this is (the CA's key is not needed to check it)."""
    try:
        cert.verify_directly_issued_by(ca_certificate)
    except ValueError as exc:
        raise CertificateRejected("unknown_issuer", "not issued by this CA") from exc
    except (InvalidSignature, TypeError, UnsupportedAlgorithm) as exc:
        raise CertificateRejected("bad_signature", "not signed by this CA") from exc
    checked_at = _utcnow(now)
    if checked_at < cert.not_valid_before_utc:
        raise CertificateRejected("not_yet_valid")
    if checked_at > cert.not_valid_after_utc:
        raise CertificateRejected("expired")
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise CertificateRejected("wrong_usage", "no extended key usage") from exc
    if ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
        raise CertificateRejected("wrong_usage", "not a client certificate")
    if cert.serial_number in revoked_serials:
        raise CertificateRejected("revoked")
    return device_id_from_certificate(cert)


def certificate_fingerprint(cert: x509.Certificate) -> str:
    """Return the certificate's SHA-256 fingerprint as lowercase hex."""
    return cert.fingerprint(hashes.SHA256()).hex()


def cert_to_pem(cert: x509.Certificate) -> bytes:
    """Serialize a certificate as PEM."""
    return cert.public_bytes(serialization.Encoding.PEM)


def new_device_secret() -> str:
    """Return a new random device secret (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def is_device_secret(value: str) -> bool:
    """Tell whether a string has the shape of a device secret."""
    return _DEVICE_SECRET_RE.fullmatch(value) is not None


def device_lookup_key(secret: str) -> str:
    """Return the indexed, non-secret prefix by which a device secret's credential is found."""
    if not is_device_secret(secret):
        raise ValueError("not a device secret")
    return secret[:DEVICE_LOOKUP_KEY_CHARS]


def hash_secret(secret: str) -> str:
    """Return the SHA-256 hex digest under which a device secret is stored."""
    # The secret is 256 random bits, so brute force is hopeless and a slow password hash would
    # only cost CPU on every device check-in.
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Tell in constant time whether a presented device secret matches the stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)
