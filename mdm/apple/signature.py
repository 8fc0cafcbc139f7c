"""The Mdm-Signature header: a CMS (PKCS #7) detached signature over the request body, made
with the device's identity. asn1crypto reads the structure (cryptography cannot verify CMS);
cryptography checks the signature. Pure."""

import base64
import binascii
import hashlib
import hmac

from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

MAX_SIGNATURE_CHARS = 16 * 1024
HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class SignatureRejected(ValueError):
    """An Mdm-Signature that does not prove who sent the body; the message says why."""


def _signer_certificate(signed: cms.SignedData, signer: cms.SignerInfo) -> x509.Certificate:
    """The certificate the signer info names, read by cryptography (asn1crypto's own reading
    of certificates and names is slow, and this runs on every request)."""
    sid = signer["sid"]
    by_issuer = sid.name == "issuer_and_serial_number"
    if by_issuer:
        issuer, serial = sid.chosen["issuer"].dump(), sid.chosen["serial_number"].native
    for choice in signed["certificates"] or []:
        if choice.name != "certificate":
            continue
        cert = x509.load_der_x509_certificate(choice.chosen.dump())
        if by_issuer:
            if cert.serial_number == serial and cert.issuer.public_bytes() == issuer:
                return cert
            continue
        try:
            ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        except x509.ExtensionNotFound:
            continue
        if ski.digest == sid.chosen.native:
            return cert
    raise SignatureRejected("the signature does not carry the signer's certificate")


def _signed_bytes(signer: cms.SignerInfo, body: bytes, digest_name: str) -> bytes:
    """What the signature is over: the body, or its signed attributes (which hold its digest)."""
    attributes = signer["signed_attrs"]
    if not attributes:
        return body
    digests = [a["values"] for a in attributes if a["type"].native == "message_digest"]
    expected = hashlib.new(digest_name, body).digest()
    # RFC 5652 11.2: one messageDigest attribute, with exactly one value.
    if (
        len(digests) != 1
        or len(digests[0]) != 1
        or not hmac.compare_digest(digests[0][0].native, expected)
    ):
        raise SignatureRejected("the signature is not over this body")
    # The attributes are signed as a SET OF, not with the [0] tag they carry in SignerInfo.
    encoded = attributes.dump()
    return b"\x31" + encoded[1:]


def verify(body: bytes, header: str) -> x509.Certificate:
    """The certificate whose key signed the body, by the header's detached CMS signature
    (SHA-1 or SHA-2, RSA PKCS #1 v1.5 or ECDSA); SignatureRejected otherwise."""
    if not header or len(header) > MAX_SIGNATURE_CHARS:
        raise SignatureRejected("no Mdm-Signature, or one too large")
    try:
        der = base64.b64decode("".join(header.split()), validate=True)
        info = cms.ContentInfo.load(der)
        if info["content_type"].native != "signed_data":
            raise SignatureRejected("the Mdm-Signature is not CMS signed data")
        signed = info["content"]
        signers = list(signed["signer_infos"])
        if len(signers) != 1:
            raise SignatureRejected("the Mdm-Signature must have exactly one signer")
        signer = signers[0]
        if signed["encap_content_info"]["content"].native is not None:
            raise SignatureRejected("the Mdm-Signature must be detached (no content inside)")
        digest_name = signer["digest_algorithm"]["algorithm"].native
        if digest_name not in HASHES:
            raise SignatureRejected(f"digest {digest_name} is not accepted")
        cert = _signer_certificate(signed, signer)
        message = _signed_bytes(signer, body, digest_name)
        signature = signer["signature"].native
    except (binascii.Error, ValueError, TypeError, KeyError, x509.InvalidVersion) as exc:
        if isinstance(exc, SignatureRejected):
            raise
        raise SignatureRejected("the Mdm-Signature is not base64 CMS") from exc
    algorithm = HASHES[digest_name]()
    try:
        key = cert.public_key()
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(algorithm))
        else:
            raise SignatureRejected("the signer's key is neither RSA nor EC")
    except (InvalidSignature, UnsupportedAlgorithm, ValueError) as exc:
        if isinstance(exc, SignatureRejected):
            raise
        raise SignatureRejected("the signature does not match the body") from exc
    return cert
