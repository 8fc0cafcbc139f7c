"""SCEP pkiMessages (RFC 8894): read a client's PKCSReq and build the CA's CertRep. Pure: no
Flask, no session. asn1crypto reads and writes the CMS structures; `cryptography` does every
signature, key transport and cipher."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from enum import IntEnum

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, CipherAlgorithm, algorithms, modes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import AttributeOID

from mdm.devices import identity

# Larger messages are refused before parsing: a PKCSReq with a 4096-bit key is about 6 KB.
MAX_MESSAGE_BYTES = 64 * 1024
MAX_TRANSACTION_ID_CHARS = 128
MAX_NONCE_BYTES = 64
NONCE_BYTES = 16

# The SCEP authenticated attributes (RFC 8894, 3.2.1).
MESSAGE_TYPE = "2.16.840.1.113733.1.9.2"
PKI_STATUS = "2.16.840.1.113733.1.9.3"
FAIL_INFO = "2.16.840.1.113733.1.9.4"
SENDER_NONCE = "2.16.840.1.113733.1.9.5"
RECIPIENT_NONCE = "2.16.840.1.113733.1.9.6"
TRANSACTION_ID = "2.16.840.1.113733.1.9.7"


class MessageType(IntEnum):
    """The messageType values of RFC 8894, 3.2.1.2."""

    CERT_REP = 3
    RENEWAL_REQ = 17
    PKCS_REQ = 19
    CERT_POLL = 20
    GET_CERT = 21
    GET_CRL = 22


class PkiStatus(IntEnum):
    """The pkiStatus values of RFC 8894, 3.2.1.3."""

    SUCCESS = 0
    FAILURE = 2
    PENDING = 3


class FailInfo(IntEnum):
    """The failInfo values of RFC 8894, 3.2.1.4."""

    BAD_ALG = 0
    BAD_MESSAGE_CHECK = 1
    BAD_REQUEST = 2
    BAD_TIME = 3
    BAD_CERT_ID = 4


# Digests a client may sign with (GetCACaps advertises SHA-256 and SHA-1).
DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {"sha256": hashes.SHA256, "sha1": hashes.SHA1}
# Content ciphers of the envelope: asn1crypto's name -> (cipher, key bytes).
CIPHERS: dict[str, tuple[str, int]] = {
    "aes128_cbc": ("aes", 16),
    "aes256_cbc": ("aes", 32),
    "tripledes_3key": ("3des", 24),
    "des": ("des", 8),
}


class ScepError(ValueError):
    """A pkiMessage the server refuses; `reason` is a short machine code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class MalformedMessage(ScepError):
    """Not a pkiMessage the server can answer at all (no CertRep can be built): HTTP 400."""


class RefusedRequest(ScepError):
    """A readable pkiMessage that is refused with a CertRep FAILURE and this failInfo."""

    def __init__(self, header: RequestHeader, fail_info: FailInfo, reason: str, detail: str = ""):
        super().__init__(reason, detail)
        self.header = header
        self.fail_info = fail_info


@dataclass(frozen=True)
class Responder:
    """The certificate and RSA key the server decrypts requests and signs replies with."""

    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey


@dataclass(frozen=True)
class RequestHeader:
    """What a reply needs of a request: its transaction, nonce, digest and signer."""

    message_type: int
    transaction_id: str
    sender_nonce: bytes
    digest_algorithm: str
    signer_certificate: x509.Certificate


@dataclass(frozen=True)
class CertificateRequest:
    """A verified, decrypted PKCSReq: the CSR, its challenge and the envelope's cipher."""

    header: RequestHeader
    csr: x509.CertificateSigningRequest
    challenge_password: str | None
    content_cipher: str


def read_request(data: bytes, responder: Responder) -> CertificateRequest:
    """Read a PKCSReq: verify its signature, decrypt its envelope, check its CSR."""
    try:
        return _read_request(data, responder)
    except ScepError:
        raise
    except (
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        OverflowError,
        UnsupportedAlgorithm,
    ) as exc:
        # asn1crypto parses lazily: a damaged inner part shows when it is first read.
        raise MalformedMessage("malformed", "the message is not a readable pkiMessage") from exc


def _read_request(data: bytes, responder: Responder) -> CertificateRequest:
    signed_data, signer_info, signer = _signed_data(data)
    attributes = _attributes(signer_info)
    header = _header(attributes, signer_info, signer)
    content = _content(signed_data)
    _verify(header, signer_info, attributes, content)
    if header.message_type != MessageType.PKCS_REQ:
        raise RefusedRequest(
            header,
            FailInfo.BAD_REQUEST,
            "unsupported_message_type",
            f"messageType {header.message_type} is not served (only PKCSReq, 19)",
        )
    csr_der, cipher_name = _decrypt(header, content, responder)
    try:
        csr = identity.parse_csr(csr_der)
    except identity.CsrError as exc:
        raise RefusedRequest(header, FailInfo.BAD_REQUEST, "bad_csr", str(exc)) from exc
    return CertificateRequest(header, csr, _challenge_password(header, csr), cipher_name)


def certificate_reply(
    request: CertificateRequest, responder: Responder, certificate: x509.Certificate
) -> bytes:
    """A CertRep SUCCESS: the issued certificate, enveloped to the requester in its cipher."""
    certs_only = _content_info(
        "signed_data",
        cms.SignedData(
            {
                "version": "v1",
                "digest_algorithms": [],
                "encap_content_info": {"content_type": "data"},
                "certificates": [_asn1_certificate(certificate)],
                "signer_infos": [],
            }
        ),
    )
    envelope = _envelope(
        certs_only, request.header.signer_certificate, request.content_cipher, responder
    )
    return _cert_rep(request.header, responder, PkiStatus.SUCCESS, None, envelope)


def failure_reply(header: RequestHeader, responder: Responder, fail_info: FailInfo) -> bytes:
    """A CertRep FAILURE with the failInfo, for a request the server refuses."""
    return _cert_rep(header, responder, PkiStatus.FAILURE, fail_info, None)


def ca_certificates(certificates: list[x509.Certificate]) -> bytes:
    """A degenerate certs-only SignedData of the certificates (GetCACert with an RA)."""
    return _content_info(
        "signed_data",
        cms.SignedData(
            {
                "version": "v1",
                "digest_algorithms": [],
                "encap_content_info": {"content_type": "data"},
                "certificates": [_asn1_certificate(cert) for cert in certificates],
                "signer_infos": [],
            }
        ),
    )


def _content_info(content_type: str, content: core.Asn1Value) -> bytes:
    return cms.ContentInfo({"content_type": content_type, "content": content}).dump()


def _asn1_certificate(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


def _signed_data(
    data: bytes,
) -> tuple[cms.SignedData, cms.SignerInfo, x509.Certificate]:
    """The outer SignedData, its one SignerInfo and the signer's certificate."""
    if not data:
        raise MalformedMessage("empty", "the message is empty")
    if len(data) > MAX_MESSAGE_BYTES:
        raise MalformedMessage("too_large", f"a message may be at most {MAX_MESSAGE_BYTES} bytes")
    info = cms.ContentInfo.load(data, strict=True)
    if info["content_type"].native != "signed_data":
        raise MalformedMessage("not_signed_data", "the message is not a CMS SignedData")
    signed_data = info["content"]
    signer_infos = list(signed_data["signer_infos"])
    if len(signer_infos) != 1:
        raise MalformedMessage("signer", "the message must have exactly one signer")
    signer_info = signer_infos[0]
    signer = _signer_certificate(signed_data, signer_info["sid"])
    return signed_data, signer_info, signer


def _signer_certificate(signed_data: cms.SignedData, sid: cms.SignerIdentifier) -> x509.Certificate:
    """The certificate in the message that the signer identifier names."""
    for choice in signed_data["certificates"] or []:
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        if _identifies(sid, cert):
            try:
                return x509.load_der_x509_certificate(cert.dump())
            except ValueError as exc:
                raise MalformedMessage("signer", "the signer's certificate is unreadable") from exc
    raise MalformedMessage("signer", "the message does not carry its signer's certificate")


def _identifies(identifier: core.Choice, cert: asn1_x509.Certificate) -> bool:
    """Whether a signer or recipient identifier (issuer and serial, or key id) names the cert."""
    if identifier.name == "issuer_and_serial_number":
        named = identifier.chosen
        return (cert.issuer, cert.serial_number) == (named["issuer"], named["serial_number"].native)
    return cert.key_identifier == identifier.chosen.native


def _attributes(signer_info: cms.SignerInfo) -> dict[str, core.Any]:
    """The signed attributes by OID (each must have exactly one value)."""
    signed_attrs = signer_info["signed_attrs"]
    if not signed_attrs:
        raise MalformedMessage("attributes", "the message has no signed attributes")
    attributes: dict[str, core.Any] = {}
    for attribute in signed_attrs:
        oid = attribute["type"].dotted
        values = list(attribute["values"])
        if len(values) != 1 or oid in attributes:
            raise MalformedMessage("attributes", f"attribute {oid} must have exactly one value")
        attributes[oid] = values[0]
    return attributes


def _value(attributes: dict[str, core.Any], oid: str, spec: type[core.Asn1Value]) -> object:
    if oid not in attributes:
        raise MalformedMessage("attributes", f"the signed attribute {oid} is missing")
    try:
        value = attributes[oid]
        parsed = value.parse(spec) if isinstance(value, core.Any) else spec.load(value.dump())
        return parsed.native
    except (ValueError, TypeError) as exc:
        raise MalformedMessage("attributes", f"the signed attribute {oid} is unreadable") from exc


def _header(
    attributes: dict[str, core.Any], signer_info: cms.SignerInfo, signer: x509.Certificate
) -> RequestHeader:
    message_type = _value(attributes, MESSAGE_TYPE, core.PrintableString)
    transaction_id = _value(attributes, TRANSACTION_ID, core.PrintableString)
    nonce = _value(attributes, SENDER_NONCE, core.OctetString)
    if not isinstance(message_type, str) or not message_type.isdigit() or len(message_type) > 4:
        raise MalformedMessage("message_type", "messageType must be a decimal number")
    if not isinstance(transaction_id, str) or not 0 < len(transaction_id) <= (
        MAX_TRANSACTION_ID_CHARS
    ):
        raise MalformedMessage(
            "transaction_id", f"transactionID must have 1-{MAX_TRANSACTION_ID_CHARS} characters"
        )
    if not isinstance(nonce, bytes) or not 0 < len(nonce) <= MAX_NONCE_BYTES:
        raise MalformedMessage("sender_nonce", f"senderNonce must have 1-{MAX_NONCE_BYTES} bytes")
    try:
        digest = signer_info["digest_algorithm"]["algorithm"].native
    except ValueError as exc:
        raise MalformedMessage("digest", "the digest algorithm is unreadable") from exc
    return RequestHeader(int(message_type), transaction_id, nonce, digest, signer)


def _content(signed_data: cms.SignedData) -> bytes:
    """The signed content: the pkcsPKIEnvelope's DER."""
    encap = signed_data["encap_content_info"]
    if encap["content_type"].native != "data" or encap["content"].native is None:
        raise MalformedMessage("content", "the message carries no data content")
    return bytes(encap["content"])


def _verify(
    header: RequestHeader,
    signer_info: cms.SignerInfo,
    attributes: dict[str, core.Any],
    content: bytes,
) -> None:
    """Check the signature over the signed attributes and their digest of the content."""
    if header.digest_algorithm not in DIGESTS:
        raise RefusedRequest(
            header, FailInfo.BAD_ALG, "digest", f"{header.digest_algorithm} is not supported"
        )
    try:
        key = header.signer_certificate.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise RefusedRequest(header, FailInfo.BAD_ALG, "signer_key", "unreadable key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise RefusedRequest(header, FailInfo.BAD_ALG, "signer_key", "the signer key must be RSA")
    if not identity.MIN_RSA_BITS <= key.key_size <= identity.MAX_RSA_BITS:
        raise RefusedRequest(
            header,
            FailInfo.BAD_REQUEST,
            "signer_key",
            f"RSA keys must have {identity.MIN_RSA_BITS}-{identity.MAX_RSA_BITS} bits",
        )
    try:
        signature_algorithm = signer_info["signature_algorithm"].signature_algo
    except ValueError as exc:
        raise RefusedRequest(
            header, FailInfo.BAD_ALG, "signature_algorithm", "not an RSA PKCS#1 v1.5 signature"
        ) from exc
    if signature_algorithm != "rsassa_pkcs1v15":
        raise RefusedRequest(
            header, FailInfo.BAD_ALG, "signature_algorithm", "not an RSA PKCS#1 v1.5 signature"
        )
    digest = DIGESTS[header.digest_algorithm]
    expected = _value(attributes, "1.2.840.113549.1.9.4", core.OctetString)
    content_type = _value(attributes, "1.2.840.113549.1.9.3", cms.ContentType)
    if content_type != "data" or expected != _digest(digest, content):
        raise RefusedRequest(
            header, FailInfo.BAD_MESSAGE_CHECK, "digest", "the content does not match its digest"
        )
    # The signature covers the attributes DER-encoded as a SET OF, not under their [0] tag.
    signed = b"\x31" + signer_info["signed_attrs"].dump()[1:]
    try:
        key.verify(signer_info["signature"].native, signed, asym_padding.PKCS1v15(), digest())
    except InvalidSignature as exc:
        raise RefusedRequest(
            header, FailInfo.BAD_MESSAGE_CHECK, "signature", "the signature does not verify"
        ) from exc


def _decrypt(header: RequestHeader, content: bytes, responder: Responder) -> tuple[bytes, str]:
    """The pkcsPKIEnvelope's plaintext (the CSR's DER) and its cipher's name."""

    def refuse(reason: str, detail: str, fail_info: FailInfo = FailInfo.BAD_MESSAGE_CHECK):
        return RefusedRequest(header, fail_info, reason, detail)

    try:
        info = cms.ContentInfo.load(content, strict=True)
        if info["content_type"].native != "enveloped_data":
            raise refuse("envelope", "the content is not a CMS EnvelopedData")
        enveloped = info["content"]
        encrypted_key = _encrypted_key(enveloped, responder)
        if encrypted_key is None:
            raise refuse("recipient", "the envelope is not encrypted to this CA")
        content_info = enveloped["encrypted_content_info"]
        algorithm = content_info["content_encryption_algorithm"]
        cipher_name = algorithm["algorithm"].native
        if cipher_name not in CIPHERS:
            raise refuse("cipher", f"{cipher_name} is not supported", FailInfo.BAD_ALG)
        iv = algorithm["parameters"].native
        ciphertext = content_info["encrypted_content"].native
    except (ValueError, TypeError, KeyError) as exc:
        if isinstance(exc, ScepError):
            raise
        raise refuse("envelope", "the envelope is unreadable") from exc
    if not isinstance(iv, bytes) or not isinstance(ciphertext, bytes):
        raise refuse("envelope", "the envelope has no IV or no encrypted content")
    # One answer for a wrong key, a wrong IV and a bad padding: nothing to learn from it.
    try:
        key = responder.private_key.decrypt(encrypted_key, asym_padding.PKCS1v15())
        cipher = _cipher(cipher_name, key)
        decryptor = Cipher(cipher, modes.CBC(iv)).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = padding.PKCS7(cipher.block_size).unpadder()
        plaintext = unpadder.update(padded) + unpadder.finalize()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise refuse("decrypt", "the envelope cannot be decrypted") from exc
    return plaintext, cipher_name


def _encrypted_key(enveloped: cms.EnvelopedData, responder: Responder) -> bytes | None:
    """The content key encrypted to the responder's certificate, if a recipient names it."""
    ours = _asn1_certificate(responder.certificate)
    for recipient in enveloped["recipient_infos"]:
        if recipient.name != "ktri":
            continue
        ktri = recipient.chosen
        if ktri["key_encryption_algorithm"]["algorithm"].native not in ("rsa", "rsaes_pkcs1v15"):
            continue
        if _identifies(ktri["rid"], ours):
            return ktri["encrypted_key"].native
    return None


def _cipher(name: str, key: bytes) -> CipherAlgorithm:
    """The cipher of the envelope with its key; ValueError if the key has the wrong length."""
    kind, length = CIPHERS[name]
    if len(key) != length:
        raise ValueError("the content key has the wrong length")
    if kind == "aes":
        return algorithms.AES(key)
    # Single DES is triple DES with one key three times (EDE with K1 = K2 = K3).
    return TripleDES(key * 3 if kind == "des" else key)


def _challenge_password(header: RequestHeader, csr: x509.CertificateSigningRequest) -> str | None:
    try:
        value = csr.attributes.get_attribute_for_oid(AttributeOID.CHALLENGE_PASSWORD).value
    except x509.AttributeNotFound:
        return None
    except ValueError as exc:
        raise RefusedRequest(
            header, FailInfo.BAD_REQUEST, "challenge", "the challengePassword is unreadable"
        ) from exc
    try:
        return value.decode() if isinstance(value, bytes) else str(value)
    except UnicodeDecodeError as exc:
        raise RefusedRequest(
            header, FailInfo.BAD_REQUEST, "challenge", "the challengePassword is not text"
        ) from exc


def _envelope(
    content: bytes, recipient: x509.Certificate, cipher_name: str, responder: Responder
) -> bytes:
    """A CMS EnvelopedData of the content, encrypted to the recipient's RSA key."""
    key = os.urandom(CIPHERS[cipher_name][1])
    cipher = _cipher(cipher_name, key)
    iv = os.urandom(cipher.block_size // 8)
    padder = padding.PKCS7(cipher.block_size).padder()
    padded = padder.update(content) + padder.finalize()
    encryptor = Cipher(cipher, modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    public_key = recipient.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)  # checked when the request was verified
    requester = _asn1_certificate(recipient)
    return _content_info(
        "enveloped_data",
        cms.EnvelopedData(
            {
                "version": "v0",
                "recipient_infos": [
                    cms.RecipientInfo(
                        name="ktri",
                        value=cms.KeyTransRecipientInfo(
                            {
                                "version": "v0",
                                "rid": cms.RecipientIdentifier(
                                    name="issuer_and_serial_number",
                                    value=cms.IssuerAndSerialNumber(
                                        {
                                            "issuer": requester.issuer,
                                            "serial_number": requester.serial_number,
                                        }
                                    ),
                                ),
                                "key_encryption_algorithm": {"algorithm": "rsaes_pkcs1v15"},
                                "encrypted_key": public_key.encrypt(key, asym_padding.PKCS1v15()),
                            }
                        ),
                    )
                ],
                "encrypted_content_info": {
                    "content_type": "data",
                    "content_encryption_algorithm": algos.EncryptionAlgorithm(
                        {"algorithm": cipher_name, "parameters": core.OctetString(iv)}
                    ),
                    "encrypted_content": ciphertext,
                },
            }
        ),
    )


def _attribute(oid: str, value: core.Asn1Value) -> cms.CMSAttribute:
    return cms.CMSAttribute({"type": oid, "values": [value]})


def _cert_rep(
    header: RequestHeader,
    responder: Responder,
    status: PkiStatus,
    fail_info: FailInfo | None,
    envelope: bytes | None,
) -> bytes:
    """The CertRep SignedData, signed by the responder with the request's digest."""
    digest_name = header.digest_algorithm if header.digest_algorithm in DIGESTS else "sha256"
    digest = DIGESTS[digest_name]
    content = envelope or b""
    attributes = [
        _attribute("1.2.840.113549.1.9.3", cms.ContentType("data")),
        _attribute("1.2.840.113549.1.9.4", core.OctetString(_digest(digest, content))),
        _attribute(MESSAGE_TYPE, core.PrintableString(str(int(MessageType.CERT_REP)))),
        _attribute(PKI_STATUS, core.PrintableString(str(int(status)))),
        _attribute(TRANSACTION_ID, core.PrintableString(header.transaction_id)),
        _attribute(SENDER_NONCE, core.OctetString(os.urandom(NONCE_BYTES))),
        _attribute(RECIPIENT_NONCE, core.OctetString(header.sender_nonce)),
    ]
    if fail_info is not None:
        attributes.append(_attribute(FAIL_INFO, core.PrintableString(str(int(fail_info)))))
    signed_attrs = cms.CMSAttributes(attributes)
    signature = responder.private_key.sign(signed_attrs.dump(), asym_padding.PKCS1v15(), digest())
    ours = _asn1_certificate(responder.certificate)
    encap: dict[str, object] = {"content_type": "data"}
    if envelope is not None:
        encap["content"] = envelope
    return _content_info(
        "signed_data",
        cms.SignedData(
            {
                "version": "v1",
                "digest_algorithms": [{"algorithm": digest_name}],
                "encap_content_info": encap,
                "certificates": [ours],
                "signer_infos": [
                    {
                        "version": "v1",
                        "sid": cms.SignerIdentifier(
                            name="issuer_and_serial_number",
                            value=cms.IssuerAndSerialNumber(
                                {"issuer": ours.issuer, "serial_number": ours.serial_number}
                            ),
                        ),
                        "digest_algorithm": {"algorithm": digest_name},
                        "signed_attrs": signed_attrs,
                        "signature_algorithm": {"algorithm": "rsassa_pkcs1v15"},
                        "signature": signature,
                    }
                ],
            }
        ),
    )


def _digest(algorithm: type[hashes.HashAlgorithm], data: bytes) -> bytes:
    hasher = hashes.Hash(algorithm())
    hasher.update(data)
    return hasher.finalize()


def public_key_fingerprint(csr: x509.CertificateSigningRequest) -> str:
    """The SHA-256 of the CSR's public key (SubjectPublicKeyInfo DER), as lowercase hex."""
    spki = csr.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()
