"""A SCEP client as an iPad (or an older RFC 8894 client) is one, built in the tests from
`cryptography` and `asn1crypto` alone: it picks the certificate to encrypt to from GetCACert,
makes a CSR with the challenge, envelopes it in the cipher asked for, signs the pkiMessage with
a self-signed certificate, and reads the CertRep."""

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import AttributeOID, NameOID

SCEP = "2.16.840.1.113733.1.9."
MESSAGE_TYPE, PKI_STATUS, FAIL_INFO = SCEP + "2", SCEP + "3", SCEP + "4"
SENDER_NONCE, RECIPIENT_NONCE, TRANSACTION_ID = SCEP + "5", SCEP + "6", SCEP + "7"
CONTENT_TYPE, MESSAGE_DIGEST = "1.2.840.113549.1.9.3", "1.2.840.113549.1.9.4"
# asn1crypto's names of the envelope ciphers -> (key bytes, IV bytes).
CIPHERS = {
    "aes128_cbc": (16, 16),
    "aes256_cbc": (32, 16),
    "tripledes_3key": (24, 8),
    "des": (8, 8),
}
HASHES = {"sha256": hashes.SHA256, "sha1": hashes.SHA1, "md5": hashes.MD5}


def self_signed(key: rsa.RSAPrivateKey, name: str = "iPad") -> x509.Certificate:
    """The self-signed certificate an enrolling client signs its request with."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def csr(key: rsa.RSAPrivateKey, challenge: str | None, name: str = "iPad") -> bytes:
    """A PKCS#10 request (DER) with the challengePassword attribute."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    )
    if challenge is not None:
        builder = builder.add_attribute(AttributeOID.CHALLENGE_PASSWORD, challenge.encode())
    return builder.sign(key, hashes.SHA256()).public_bytes(Encoding.DER)


def recipient(ca_certs_der: bytes) -> x509.Certificate:
    """The certificate of GetCACert's answer to encrypt to: the one for keyEncipherment."""
    info = cms.ContentInfo.load(ca_certs_der)
    for choice in info["content"]["certificates"]:
        cert = x509.load_der_x509_certificate(choice.chosen.dump())
        try:
            usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            continue
        if usage.key_encipherment and not usage.key_cert_sign:
            return cert
    raise AssertionError("GetCACert names no certificate to encrypt to")


def certificates(ca_certs_der: bytes) -> list[x509.Certificate]:
    """Every certificate of a degenerate certs-only SignedData."""
    info = cms.ContentInfo.load(ca_certs_der)
    assert info["content_type"].native == "signed_data"
    return [
        x509.load_der_x509_certificate(choice.chosen.dump())
        for choice in info["content"]["certificates"]
    ]


def _cipher(name: str, key: bytes) -> algorithms.AES | TripleDES:
    if name.startswith("aes"):
        return algorithms.AES(key)
    return TripleDES(key * 3 if name == "des" else key)


def _issuer_and_serial(cert: x509.Certificate) -> cms.IssuerAndSerialNumber:
    parsed = asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))
    return cms.IssuerAndSerialNumber(
        {"issuer": parsed.issuer, "serial_number": parsed.serial_number}
    )


def envelope(content: bytes, to: x509.Certificate, cipher: str) -> bytes:
    """A CMS EnvelopedData of the content to the certificate's RSA key."""
    key_bytes, iv_bytes = CIPHERS[cipher]
    key, iv = os.urandom(key_bytes), os.urandom(iv_bytes)
    algorithm = _cipher(cipher, key)
    padder = padding.PKCS7(algorithm.block_size).padder()
    encryptor = Cipher(algorithm, modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padder.update(content) + padder.finalize()) + encryptor.finalize()
    public_key = to.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    ktri = cms.KeyTransRecipientInfo(
        {
            "version": "v0",
            "rid": cms.RecipientIdentifier(
                name="issuer_and_serial_number", value=_issuer_and_serial(to)
            ),
            "key_encryption_algorithm": {"algorithm": "rsa"},
            "encrypted_key": public_key.encrypt(key, asym_padding.PKCS1v15()),
        }
    )
    enveloped = cms.EnvelopedData(
        {
            "version": "v0",
            "recipient_infos": [cms.RecipientInfo(name="ktri", value=ktri)],
            "encrypted_content_info": {
                "content_type": "data",
                "content_encryption_algorithm": algos.EncryptionAlgorithm(
                    {"algorithm": cipher, "parameters": core.OctetString(iv)}
                ),
                "encrypted_content": ciphertext,
            },
        }
    )
    return cms.ContentInfo({"content_type": "enveloped_data", "content": enveloped}).dump()


def _attribute(oid: str, value: core.Asn1Value) -> cms.CMSAttribute:
    return cms.CMSAttribute({"type": oid, "values": [value]})


def _digest(name: str, data: bytes) -> bytes:
    hasher = hashes.Hash(HASHES[name]())
    hasher.update(data)
    return hasher.finalize()


def signed(
    content: bytes,
    key: rsa.RSAPrivateKey,
    signer: x509.Certificate,
    *,
    message_type: str = "19",
    transaction_id: str = "tx-1",
    nonce: bytes = b"n" * 16,
    digest: str = "sha256",
) -> bytes:
    """A pkiMessage: SignedData of the content with the SCEP signed attributes."""
    attrs = cms.CMSAttributes(
        [
            _attribute(CONTENT_TYPE, cms.ContentType("data")),
            _attribute(MESSAGE_DIGEST, core.OctetString(_digest(digest, content))),
            _attribute(MESSAGE_TYPE, core.PrintableString(message_type)),
            _attribute(TRANSACTION_ID, core.PrintableString(transaction_id)),
            _attribute(SENDER_NONCE, core.OctetString(nonce)),
        ]
    )
    signature = key.sign(attrs.dump(), asym_padding.PKCS1v15(), HASHES[digest]())
    signer_asn1 = asn1_x509.Certificate.load(signer.public_bytes(Encoding.DER))
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": digest}],
            "encap_content_info": {
                "content_type": "data",
                "content": content,
            },
            "certificates": [signer_asn1],
            "signer_infos": [
                {
                    "version": "v1",
                    "sid": cms.SignerIdentifier(
                        name="issuer_and_serial_number", value=_issuer_and_serial(signer)
                    ),
                    "digest_algorithm": {"algorithm": digest},
                    "signed_attrs": attrs,
                    "signature_algorithm": {"algorithm": f"{digest}_rsa"},
                    "signature": signature,
                }
            ],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()


@dataclass
class Enrollment:
    """One client's key, self-signed certificate and transaction."""

    key: rsa.RSAPrivateKey
    transaction_id: str = "tx-1"
    nonce: bytes = field(default_factory=lambda: os.urandom(16))
    signer: x509.Certificate | None = None

    def __post_init__(self) -> None:
        if self.signer is None:
            self.signer = self_signed(self.key)

    def pkcs_req(
        self,
        to: x509.Certificate,
        challenge: str | None,
        cipher: str = "aes128_cbc",
        digest: str = "sha256",
        message_type: str = "19",
    ) -> bytes:
        """The PKCSReq pkiMessage (DER)."""
        assert self.signer is not None
        return signed(
            envelope(csr(self.key, challenge), to, cipher),
            self.key,
            self.signer,
            message_type=message_type,
            transaction_id=self.transaction_id,
            nonce=self.nonce,
            digest=digest,
        )


@dataclass(frozen=True)
class CertRep:
    """A read and verified CertRep."""

    status: str
    fail_info: str | None
    transaction_id: str
    recipient_nonce: bytes
    digest: str
    cipher: str | None
    certificate: x509.Certificate | None


def _value(attrs: dict[str, core.Any], oid: str, spec: type[core.Asn1Value]) -> object:
    if oid not in attrs:
        return None
    value = attrs[oid]
    return value.parse(spec).native if isinstance(value, core.Any) else value.native


def read_cert_rep(data: bytes, responder: x509.Certificate, enrollment: Enrollment) -> CertRep:
    """Verify the CertRep's signature by the responder and decrypt its certificate."""
    info = cms.ContentInfo.load(data)
    assert info["content_type"].native == "signed_data"
    signed_data = info["content"]
    (signer_info,) = list(signed_data["signer_infos"])
    digest = signer_info["digest_algorithm"]["algorithm"].native
    attrs = {a["type"].dotted: a["values"][0] for a in signer_info["signed_attrs"]}
    public_key = responder.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(
        signer_info["signature"].native,
        b"\x31" + signer_info["signed_attrs"].dump()[1:],
        asym_padding.PKCS1v15(),
        HASHES[digest](),
    )
    content = signed_data["encap_content_info"]["content"]
    content_bytes = bytes(content) if content.native is not None else b""
    assert _value(attrs, MESSAGE_DIGEST, core.OctetString) == _digest(digest, content_bytes)
    assert _value(attrs, MESSAGE_TYPE, core.PrintableString) == "3"
    certificate = cipher = None
    if content_bytes:
        enveloped = cms.ContentInfo.load(content_bytes)["content"]
        ktri = enveloped["recipient_infos"][0].chosen
        key = enrollment.key.decrypt(ktri["encrypted_key"].native, asym_padding.PKCS1v15())
        algorithm = enveloped["encrypted_content_info"]["content_encryption_algorithm"]
        cipher = algorithm["algorithm"].native
        decryptor = Cipher(
            _cipher(cipher, key), modes.CBC(algorithm["parameters"].native)
        ).decryptor()
        padded = (
            decryptor.update(enveloped["encrypted_content_info"]["encrypted_content"].native)
            + decryptor.finalize()
        )
        unpadder = padding.PKCS7(64 if cipher in ("des", "tripledes_3key") else 128).unpadder()
        (certificate,) = certificates(unpadder.update(padded) + unpadder.finalize())
    return CertRep(
        status=str(_value(attrs, PKI_STATUS, core.PrintableString)),
        fail_info=_value(attrs, FAIL_INFO, core.PrintableString),  # type: ignore[arg-type]
        transaction_id=str(_value(attrs, TRANSACTION_ID, core.PrintableString)),
        recipient_nonce=_value(attrs, RECIPIENT_NONCE, core.OctetString),  # type: ignore[arg-type]
        digest=digest,
        cipher=cipher,
        certificate=certificate,
    )
