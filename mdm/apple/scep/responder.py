"""The SCEP responder certificate (an RA certificate in RFC 8894's words): an RSA key, certified
by the school's device CA, that clients encrypt their requests to and that signs the replies.
The device CA's own key is EC, which SCEP's key transport cannot encrypt to. Pure."""

from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from mdm.devices import identity

RESPONDER_RSA_BITS = 2048


def create_responder(
    ca: identity.DeviceCA, common_name: str, now: datetime | None = None
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A new responder key and its certificate from the CA, valid as long as the CA."""
    issued_at = now or datetime.now(UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=RESPONDER_RSA_BITS)
    ca_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(issued_at - identity.BACKDATE)
        .not_valid_after(ca.certificate.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            # Clients pick the certificate to encrypt to by keyEncipherment.
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca.private_key, hashes.SHA256())
    )
    return certificate, key
