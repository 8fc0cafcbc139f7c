"""A simulated iPad for the tests: it fetches its enrollment profile, takes the identity out of
it, and signs its messages (Mdm-Signature) as a real one does."""

import base64
import hashlib
import plistlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import algos, cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from flask.testing import FlaskClient

SAMPLES = Path(__file__).parents[3].parent / "shared" / "samples" / "apple-mdm"
CHECK_IN = "application/x-apple-aspen-mdm-checkin"
COMMAND = "application/x-apple-aspen-mdm"
TOPIC = "com.apple.mgmt.External.e0bd1eac-1f17-4c8e-8a63-dd17d3dd35d9"


def unwrap(signed: bytes) -> tuple[dict[str, Any], cms.SignedData]:
    """The plist inside a signed profile, and the CMS structure around it."""
    info = cms.ContentInfo.load(signed)
    content = info["content"]
    return plistlib.loads(content["encap_content_info"]["content"].native), content


def sha1_signature(body: bytes, key: Any, cert: x509.Certificate) -> str:
    """A detached CMS signature with SHA-1, as older iPads make it (cryptography's builder
    signs with SHA-2 only, so it is put together with asn1crypto)."""
    signer_cert = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    attributes = cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha1(body).digest()]}),
        ]
    )
    signed = key.sign(attributes.dump(), padding.PKCS1v15(), hashes.SHA1())
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {"issuer": signer_cert.issuer, "serial_number": signer_cert.serial_number}
                    )
                }
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha1"}),
            "signed_attrs": attributes,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"}),
            "signature": signed,
        }
    )
    data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha1"})],
            "encap_content_info": {"content_type": "data"},
            "certificates": [signer_cert],
            "signer_infos": [signer],
        }
    )
    info = cms.ContentInfo({"content_type": "signed_data", "content": data})
    return base64.b64encode(info.dump()).decode()


def mdm_signature(body: bytes, key: Any, cert: x509.Certificate, sha1: bool = False) -> str:
    """The Mdm-Signature header of a body: a detached CMS signature, base64."""
    if sha1:
        return sha1_signature(body, key, cert)
    der = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(body)
        .add_signer(cert, key, hashes.SHA256())
        .sign(
            serialization.Encoding.DER,
            [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
        )
    )
    return base64.b64encode(der).decode()


@dataclass
class IPad:
    """An enrolled (or enrolling) iPad: its identity and the test client it talks through."""

    client: FlaskClient
    key: Any
    cert: x509.Certificate
    profile: dict[str, Any]
    udid: str = "663b07bb783e9ade1dae4fbb92ea12afc0ce5b69"

    @property
    def device_id(self) -> int:
        """The device id its certificate names."""
        san = self.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uri = san.get_values_for_type(x509.UniformResourceIdentifier)[0]
        return int(uri.rsplit(":", 1)[1])

    def send(self, path: str, body: bytes, content_type: str | None, **headers: str) -> Any:
        """PUT a body signed with the iPad's identity."""
        sent = {"Mdm-Signature": mdm_signature(body, self.key, self.cert), **headers}
        if content_type:
            sent["Content-Type"] = content_type
        return self.client.put(path, data=body, headers=sent)

    def check_in(self, message: dict[str, Any] | bytes) -> Any:
        """A check-in message (a dict, or the raw bytes of a captured one)."""
        body = message if isinstance(message, bytes) else plistlib.dumps(message)
        return self.send("/apple/mdm/checkin", body, CHECK_IN)

    def connect(self, message: dict[str, Any] | bytes, content_type: str | None = COMMAND) -> Any:
        """A command-endpoint request; the answer."""
        body = message if isinstance(message, bytes) else plistlib.dumps(message)
        return self.send("/apple/mdm/connect", body, content_type)

    def authenticate(self, topic: str = TOPIC) -> Any:
        """Authenticate with the iPad's UDID."""
        return self.check_in(
            {
                "MessageType": "Authenticate",
                "UDID": self.udid,
                "Topic": topic,
                "ProductName": "iPad13,1",
                "OSVersion": "18.2",
                "SerialNumber": "DMPXK0AAJF8J",
                "DeviceName": "iPad 7b",
            }
        )

    def token_update(self, unlock_token: bytes | None = b"unlock-secret") -> Any:
        """TokenUpdate with a push token, PushMagic and an UnlockToken."""
        message: dict[str, Any] = {
            "MessageType": "TokenUpdate",
            "UDID": self.udid,
            "Topic": TOPIC,
            "Token": bytes.fromhex(
                "47e8eec062c2f729ec1703c1b3e18f1971d85f00be76445d34080baa701b5f51"
            ),
            "PushMagic": "CEFDF0BD-E342-4A27-8742-E930EA116B0A",
            "AwaitingConfiguration": False,
        }
        if unlock_token is not None:
            message["UnlockToken"] = unlock_token
        return self.check_in(message)

    def result(self, status: str, command_uuid: str | None = None, **fields: Any) -> Any:
        """An Idle or a result on the command endpoint."""
        message = {"UDID": self.udid, "Status": status, **fields}
        if command_uuid is not None:
            message["CommandUUID"] = command_uuid
        return self.connect(message)


def fetch_ipad(client: FlaskClient, secret: str, udid: str | None = None) -> IPad:
    """Fetch the enrollment profile and take the identity (PKCS #12) out of it."""
    response = client.get(f"/enroll/{secret}/apple.mobileconfig")
    assert response.status_code == 200, response.get_data(as_text=True)
    profile, _ = unwrap(response.data)
    identity = next(
        p for p in profile["PayloadContent"] if p["PayloadType"] == "com.apple.security.pkcs12"
    )
    key, cert, _extra = pkcs12.load_key_and_certificates(
        identity["PayloadContent"], identity["Password"].encode()
    )
    assert cert is not None
    ipad = IPad(client, key, cert, profile)
    if udid:
        ipad.udid = udid
    return ipad


def sample(name: str) -> bytes:
    """A captured device message, as its bytes."""
    return (SAMPLES / name).read_bytes()


def answer(response: Any) -> dict[str, Any] | None:
    """The plist a command request was answered with (None for an empty 200)."""
    assert response.status_code == 200, response.get_data(as_text=True)
    return plistlib.loads(response.data) if response.data else None
