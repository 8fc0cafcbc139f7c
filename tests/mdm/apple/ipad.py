"""A simulated iPad for the tests: it fetches its enrollment profile, gets the identity the
profile names (by SCEP, or from its PKCS #12), and signs its messages (Mdm-Signature) as a real
one does. And a simulated personal iPhone that enrolls by account-driven User Enrollment:
service discovery, the enrollment request, the owner's login page, the profile, SCEP, and
messages that carry its EnrollmentID instead of a UDID."""

import base64
import hashlib
import json
import plistlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from asn1crypto import algos, cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from cryptography.x509.oid import NameOID
from flask.testing import FlaskClient

from mdm.platform.types import utcnow
from tests.mdm.apple.scep import client as scep_client

SAMPLES = Path(__file__).parents[3].parent / "shared" / "samples" / "apple-mdm"
CHECK_IN = "application/x-apple-aspen-mdm-checkin"
COMMAND = "application/x-apple-aspen-mdm"
TOPIC = "com.apple.mgmt.External.e0bd1eac-1f17-4c8e-8a63-dd17d3dd35d9"
# The EnrollmentID of the captured iOS 18 User Enrollment (fleet_byod_user_enrollment_*).
ENROLLMENT_ID = "FB833D84-50C0-41DD-99DE-F748E44FFEF5"
RESULT_PREFIX = "apple-remotemanagement-user-login://authentication-results?"


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
    # iPadOS 16 gets its policy as a profile; 17 and later (see `declarative`) as declarations.
    os_version: str = "16.7.10"
    # Declarative management: the declarations it holds ({identifier: declaration}), the
    # legacy profiles it installed from them ({ServerToken: profile}), what it says of itself
    # in status reports, and the declarations it finds invalid ({identifier: reason}).
    declarations: dict[str, dict[str, Any]] = field(default_factory=dict)
    legacy_profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    facts: dict[str, Any] = field(
        default_factory=lambda: {
            "device.identifier.serial-number": "DMPXK0AAJF8J",
            "device.model.family": "iPad",
            "device.model.identifier": "iPad13,1",
            "device.model.marketing-name": "iPad Air (4th generation)",
            "device.operating-system.build-version": "22C152",
            "device.operating-system.family": "iPadOS",
            "passcode.is-compliant": True,
            "passcode.is-present": True,
        }
    )
    invalid: dict[str, str] = field(default_factory=dict)

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
                "OSVersion": self.os_version,
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

    # --- declarative device management ---------------------------------------------------

    def channel(self) -> dict[str, str]:
        """The key its messages name their enrollment by: the iPad's UDID."""
        return {"UDID": self.udid}

    def declarative(self, endpoint: str, data: bytes | str | None = None, **fields: Any) -> Any:
        """A DeclarativeManagement check-in to an endpoint (with Data for a status report)."""
        message: dict[str, Any] = {
            "MessageType": "DeclarativeManagement",
            **self.channel(),
            "Endpoint": endpoint,
            **fields,
        }
        if data is not None:
            message["Data"] = data
        return self.check_in(message)

    def _json(self, endpoint: str) -> dict[str, Any]:
        response = self.declarative(endpoint)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "application/json"
        return response.get_json()

    def sync(self, command: dict[str, Any] | None = None) -> dict[str, Any]:
        """What an iPad does with a DeclarativeManagement command (or on its own): compare the
        tokens, fetch the declaration list and each changed declaration, install the legacy
        profiles they name, and report its status. The status report it sent."""
        tokens = self._json("tokens")["SyncTokens"]
        if command is not None:
            sent = json.loads(command["Command"]["Data"])["SyncTokens"]
            assert sent["DeclarationsToken"] == tokens["DeclarationsToken"]
        items = self._json("declaration-items")
        assert items["DeclarationsToken"] == tokens["DeclarationsToken"]
        listed: dict[str, tuple[str, str]] = {}
        for group, kind in (
            ("Activations", "activation"),
            ("Configurations", "configuration"),
            ("Assets", "asset"),
            ("Management", "management"),
        ):
            for item in items["Declarations"][group]:
                listed[item["Identifier"]] = (kind, item["ServerToken"])
        for identifier in set(self.declarations) - set(listed):
            del self.declarations[identifier]
        for identifier, (kind, token) in listed.items():
            held = self.declarations.get(identifier)
            if held is None or held["ServerToken"] != token:
                declaration = self._json(f"declaration/{kind}/{identifier}")
                assert declaration["ServerToken"] == token
                self.declarations[identifier] = declaration
        self.legacy_profiles = {}
        for declaration in self.declarations.values():
            if declaration["Type"] == "com.apple.configuration.legacy":
                fetched = self.client.get(declaration["Payload"]["ProfileURL"])
                assert fetched.status_code == 200, fetched.get_data(as_text=True)
                assert fetched.headers["Cache-Control"] == "no-store"
                self.legacy_profiles[declaration["ServerToken"]] = plistlib.loads(fetched.data)
        report = self.status_report()
        response = self.declarative("status", json.dumps(report).encode())
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.data == b""
        return report

    def status_report(self, full: bool = True) -> dict[str, Any]:
        """A status report of everything it is subscribed to and the declarations it holds."""
        subscribed = {
            item["Name"]
            for declaration in self.declarations.values()
            if declaration["Type"] == "com.apple.configuration.management.status-subscriptions"
            for item in declaration["Payload"]["StatusItems"]
        }
        values = {
            **self.facts,
            "device.identifier.udid": self.udid,
            "device.operating-system.version": self.os_version,
        }
        items: dict[str, Any] = {}
        for name in sorted(subscribed):
            if name in values:
                nest(items, name, values[name])
        groups: dict[str, list[dict[str, Any]]] = {
            "activations": [],
            "configurations": [],
            "assets": [],
            "management": [],
        }
        for identifier, declaration in sorted(self.declarations.items()):
            kind = declaration["Type"].split(".")[2]
            entry: dict[str, Any] = {
                "identifier": identifier,
                "server-token": declaration["ServerToken"],
                "active": identifier not in self.invalid,
                "valid": "invalid" if identifier in self.invalid else "valid",
            }
            if identifier in self.invalid:
                entry["reasons"] = [
                    {
                        "code": "Error.ConfigurationCannotBeApplied",
                        "description": self.invalid[identifier],
                    }
                ]
            groups[f"{kind}s" if kind != "management" else kind].append(entry)
        nest(items, "management.declarations", groups)
        return {"StatusItems": items, "Errors": [], "FullReport": full}


def nest(items: dict[str, Any], name: str, value: Any) -> None:
    """Put a status item's value at its dotted place in a report's StatusItems."""
    *parents, last = name.split(".")
    for part in parents:
        items = items.setdefault(part, {})
    items[last] = value


def fetch_ipad(client: FlaskClient, secret: str, udid: str | None = None) -> IPad:
    """Fetch the enrollment profile and get the identity it names: by SCEP, as an iPad does
    (its own key, a certificate for the profile's one-time challenge), or from its PKCS #12."""
    response = client.get(f"/enroll/{secret}/apple.mobileconfig")
    assert response.status_code == 200, response.get_data(as_text=True)
    profile, _ = unwrap(response.data)
    identity = next(p for p in profile["PayloadContent"] if p["PayloadType"] != "com.apple.mdm")
    if identity["PayloadType"] == "com.apple.security.scep":
        key, cert = scep_identity(client, identity["PayloadContent"])
    else:
        assert identity["PayloadType"] == "com.apple.security.pkcs12"
        key, cert, _extra = pkcs12.load_key_and_certificates(
            identity["PayloadContent"], identity["Password"].encode()
        )
    assert cert is not None
    ipad = IPad(client, key, cert, profile)
    if udid:
        ipad.udid = udid
    return ipad


def scep_identity(client: FlaskClient, payload: dict[str, Any]) -> tuple[Any, x509.Certificate]:
    """What an iPad does with a SCEP payload: a new key of the payload's size, the responder
    from GetCACert, a PKCSReq with the challenge; the certificate from the CertRep."""
    assert payload["Key Type"] == "RSA" and payload["Keysize"] >= 2048
    url = urlsplit(payload["URL"]).path
    key = rsa.generate_private_key(public_exponent=65537, key_size=payload["Keysize"])
    ca = client.get(url, query_string={"operation": "GetCACert", "message": payload["Name"]})
    assert ca.status_code == 200, ca.get_data(as_text=True)
    responder = scep_client.recipient(ca.data)
    enrollment = scep_client.Enrollment(key, transaction_id=uuid.uuid4().hex)
    reply = client.post(
        url,
        query_string={"operation": "PKIOperation"},
        data=enrollment.pkcs_req(responder, payload["Challenge"]),
        content_type="application/x-pki-message",
    )
    assert reply.status_code == 200, reply.get_data(as_text=True)
    rep = scep_client.read_cert_rep(reply.data, responder, enrollment)
    assert rep.status == "0" and rep.certificate is not None, rep  # SUCCESS
    return key, rep.certificate


def sample(name: str) -> bytes:
    """A captured device message, as its bytes."""
    return (SAMPLES / name).read_bytes()


def answer(response: Any) -> dict[str, Any] | None:
    """The plist a command request was answered with (None for an empty 200)."""
    assert response.status_code == 200, response.get_data(as_text=True)
    return plistlib.loads(response.data) if response.data else None


# --- a personal iPhone: account-driven User Enrollment ---------------------------------------


@dataclass
class PersonalIPhone(IPad):
    """A personal iPhone enrolled by User Enrollment: its messages carry its EnrollmentID,
    never a UDID."""

    enrollment_id: str = ENROLLMENT_ID
    topic: str = TOPIC
    os_version: str = "18.2.1"

    def channel(self) -> dict[str, str]:
        """The key its messages name their enrollment by: its EnrollmentID."""
        return {"EnrollmentID": self.enrollment_id}

    def authenticate(self, topic: str | None = None) -> Any:
        """Authenticate with the enrollment's EnrollmentID (as iOS 18 sends it)."""
        return self.check_in(
            {
                "MessageType": "Authenticate",
                "EnrollmentID": self.enrollment_id,
                "Topic": topic or self.topic,
                "ProductName": "iPhone12,1",
                "OSVersion": self.os_version,
                "BuildVersion": "22C161",
            }
        )

    def token_update(self, unlock_token: bytes | None = None) -> Any:
        """TokenUpdate with a push token and PushMagic (no UnlockToken in a User Enrollment)."""
        message: dict[str, Any] = {
            "MessageType": "TokenUpdate",
            "EnrollmentID": self.enrollment_id,
            "Topic": self.topic,
            "Token": base64.b64decode("ftAoCo4gNk3mxQgFVRXRJfO8qYsMpS46kHClaugCnt8="),
            "PushMagic": "7B8A04B0-E9B8-4BB3-8A85-4FD5FA1F70E9",
            "AwaitingConfiguration": False,
        }
        if unlock_token is not None:
            message["UnlockToken"] = unlock_token
        return self.check_in(message)

    def result(self, status: str, command_uuid: str | None = None, **fields: Any) -> Any:
        """An Idle or a result on the command endpoint, with the EnrollmentID."""
        message = {"EnrollmentID": self.enrollment_id, "Status": status, **fields}
        if command_uuid is not None:
            message["CommandUUID"] = command_uuid
        return self.connect(message)


@cache
def _device_signer() -> tuple[Any, x509.Certificate]:
    """The key and certificate an iPhone signs its enrollment request's device information
    with (Apple's device identity; the server does not read it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Apple iPhone Device CA test")])
    now = utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return key, cert


def device_information() -> bytes:
    """The body of an enrollment request: the device's information, a CMS-signed plist."""
    key, cert = _device_signer()
    info = plistlib.dumps(
        {"LANGUAGE": "de-DE", "PRODUCT": "iPhone12,1", "VERSION": "22C161", "OS_VERSION": "18.2.1"}
    )
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(info)
        .add_signer(cert, key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )


def discover(client: FlaskClient, user_identifier: str) -> str:
    """Service discovery, as the iPhone does it at the Managed Apple Account's domain: the
    path of the enrollment server's BaseURL."""
    response = client.get(
        "/.well-known/com.apple.remotemanagement",
        query_string={"user-identifier": user_identifier, "model-family": "iPhone"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    servers = response.get_json()["Servers"]
    byod = next(server for server in servers if server["Version"] == "mdm-byod")
    return urlsplit(byod["BaseURL"]).path


def enrollment_request(client: FlaskClient, path: str, access_token: str | None = None) -> Any:
    """The enrollment request: the signed device information, with the access token once the
    owner logged in."""
    headers = {"User-Agent": "DeviceManagementClient/1.0"}
    if access_token is not None:
        headers["Authorization"] = f"Bearer {access_token}"
    return client.post(
        path,
        data=device_information(),
        content_type="application/pkcs7-signature",
        headers=headers,
    )


def login_page_path(response: Any) -> str:
    """The login page a 401 sends the device's web view to (Bearer method="apple-as-web")."""
    assert response.status_code == 401, response.get_data(as_text=True)
    challenge = response.headers["WWW-Authenticate"]
    match = re.fullmatch(r'Bearer method="apple-as-web" url="([^"]+)"', challenge)
    assert match is not None, challenge
    return urlsplit(match.group(1)).path


def form_fields(html: str) -> dict[str, str]:
    """The hidden fields of a page's form (its CSRF token among them)."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))


def log_in(
    client: FlaskClient, path: str, user_identifier: str, username: str, password: str
) -> Any:
    """What the web view does with the login page: open it with the user-identifier, post the
    owner's username and password with the form's hidden fields."""
    query = {"user-identifier": user_identifier}
    page = client.get(path, query_string=query)
    assert page.status_code == 200, page.get_data(as_text=True)
    fields = form_fields(page.get_data(as_text=True))
    return client.post(
        path, query_string=query, data={**fields, "username": username, "password": password}
    )


def consent(
    client: FlaskClient, path: str, page: Any, user_identifier: str, accept: bool = True
) -> Any:
    """Accept the privacy notice a consent page shows (with its form's hidden fields)."""
    fields = form_fields(page.get_data(as_text=True))
    assert fields.get("step") == "consent", page.get_data(as_text=True)
    if accept:
        fields["accept"] = "yes"
    return client.post(path, query_string={"user-identifier": user_identifier}, data=fields)


def access_token(response: Any) -> str:
    """The access token the login hands the device (the 303 to Apple's URL scheme)."""
    assert response.status_code == 303, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.startswith(RESULT_PREFIX), location
    return parse_qs(location.removeprefix(RESULT_PREFIX))["access-token"][0]


def enroll_personal_iphone(
    client: FlaskClient,
    user_identifier: str,
    username: str,
    password: str,
    enrollment_id: str = ENROLLMENT_ID,
) -> PersonalIPhone:
    """The whole User Enrollment of a personal iPhone up to its identity: discovery, the
    refused request, the owner's login and consent, the profile, SCEP."""
    path = discover(client, user_identifier)
    login_path = login_page_path(enrollment_request(client, path))
    page = log_in(client, login_path, user_identifier, username, password)
    token = access_token(consent(client, login_path, page, user_identifier))
    response = enrollment_request(client, path, token)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/x-apple-aspen-config"
    profile, _ = unwrap(response.data)
    identity = next(p for p in profile["PayloadContent"] if p["PayloadType"] != "com.apple.mdm")
    assert identity["PayloadType"] == "com.apple.security.scep"
    key, cert = scep_identity(client, identity["PayloadContent"])
    return PersonalIPhone(client, key, cert, profile, udid="", enrollment_id=enrollment_id)
