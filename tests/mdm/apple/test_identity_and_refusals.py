"""Every Apple request proves its device identity (Mdm-Signature or a trusted proxy's client
certificate); bad ones are refused clearly and change nothing. The captured device messages
run through the endpoints."""

import base64
import plistlib
from collections.abc import Callable
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from flask import Flask
from flask.testing import FlaskClient

from mdm.apple import signature
from mdm.apple.models import AppleDevice
from mdm.devices import credentials
from mdm.devices.models import Device
from mdm.extensions import db
from tests.mdm.apple.ipad import COMMAND, SAMPLES, IPad, answer, mdm_signature, sample


def _state(ipad: IPad) -> tuple:
    db.session.expire_all()
    device = db.session.get(Device, ipad.device_id)
    apple = db.session.get(AppleDevice, ipad.device_id)
    assert device is not None and apple is not None
    return (device.status, device.last_seen_at, apple.udid, apple.inventory_due_at)


def test_signature_variants_verify(ipad: IPad) -> None:
    body = plistlib.dumps({"UDID": ipad.udid, "Status": "Idle"})
    sha1 = mdm_signature(body, ipad.key, ipad.cert, sha1=True)
    assert signature.verify(body, sha1).serial_number == ipad.cert.serial_number
    bare = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(body)
        .add_signer(ipad.cert, ipad.key, hashes.SHA256())
    )
    der = bare.sign(
        serialization.Encoding.DER,
        [
            pkcs7.PKCS7Options.DetachedSignature,
            pkcs7.PKCS7Options.NoAttributes,
            pkcs7.PKCS7Options.Binary,
        ],
    )
    assert signature.verify(body, base64.b64encode(der).decode()) == ipad.cert
    with pytest.raises(signature.SignatureRejected):
        signature.verify(body + b" ", sha1)
    with pytest.raises(signature.SignatureRejected):
        signature.verify(body, "not base64!")


def test_unsigned_and_wrongly_signed_requests_get_401_and_change_nothing(
    ipad: IPad, client: FlaskClient
) -> None:
    before = _state(ipad)
    body = plistlib.dumps({"UDID": ipad.udid, "Status": "Idle"})
    unsigned = client.put("/apple/mdm/connect", data=body, headers={"Content-Type": COMMAND})
    assert unsigned.status_code == 401
    assert unsigned.headers["Content-Type"] == "application/problem+json"
    other_body = mdm_signature(b"something else", ipad.key, ipad.cert)
    wrong = client.put("/apple/mdm/connect", data=body, headers={"Mdm-Signature": other_body})
    assert wrong.status_code == 401
    # A key and certificate the school's CA never issued.
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stranger")])
    forged = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(stranger.public_key())
        .serial_number(ipad.cert.serial_number)
        .not_valid_before(ipad.cert.not_valid_before_utc)
        .not_valid_after(ipad.cert.not_valid_after_utc)
        .sign(stranger, hashes.SHA256())
    )
    forged_header = mdm_signature(body, stranger, forged)
    assert (
        client.put(
            "/apple/mdm/connect", data=body, headers={"Mdm-Signature": forged_header}
        ).status_code
        == 401
    )
    assert _state(ipad) == before


def test_revoked_identity_and_unknown_enrollment_are_refused(
    ipad: IPad, new_ipad: Callable[..., IPad], school, client: FlaskClient
) -> None:
    credentials.revoke_credentials(db.session, ipad.device_id)
    db.session.commit()
    assert ipad.result("Idle").status_code == 401
    # A certificate of the school's CA for a device that never fetched a profile.
    other = new_ipad(udid="0000")
    from tests.fixtures.devices import csr_pem

    key = ec.generate_private_key(ec.SECP256R1())
    csr = credentials.parse_csr(csr_pem(key))
    assert csr is not None
    cert, _ca = credentials.issue_certificate(db.session, school, csr, other.device_id + 1000)
    db.session.commit()
    stray = IPad(client, key, cert, {}, udid="1111")
    assert stray.authenticate().status_code == 401


def test_bad_bodies_are_refused_and_change_nothing(ipad: IPad, app: Flask) -> None:
    before = _state(ipad)
    assert ipad.connect(b"<plist><dict><key>Status</key></plist>").status_code == 400
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY a "aaaaaaaa">]>'
        b"<plist><dict><key>Status</key><string>&a;</string></dict></plist>"
    )
    refused = ipad.connect(bomb)
    assert refused.status_code == 400 and "entit" in refused.get_json()["detail"]
    assert ipad.connect(plistlib.dumps({"Status": "Idle"}), "application/json").status_code == 415
    app.config["APPLE_MAX_MESSAGE_BYTES"] = 1000
    big = plistlib.dumps({"UDID": ipad.udid, "Status": "Idle", "Pad": "x" * 2000})
    assert ipad.connect(big).status_code == 413
    app.config["APPLE_MAX_MESSAGE_BYTES"] = 4 * 1024 * 1024
    assert ipad.result("Bored").status_code == 400
    assert (
        ipad.connect(plistlib.dumps({"UDID": "someone-else", "Status": "Idle"})).status_code == 401
    )
    assert _state(ipad) == before
    # Devices send command requests without a Content-Type too.
    assert (
        ipad.connect(plistlib.dumps({"UDID": ipad.udid, "Status": "Idle"}), None).status_code == 200
    )


def test_a_trusted_proxy_may_vouch_with_the_client_certificate(
    ipad: IPad, app: Flask, client: FlaskClient
) -> None:
    body = plistlib.dumps({"UDID": ipad.udid, "Status": "Idle"})
    pem = quote(ipad.cert.public_bytes(serialization.Encoding.PEM).decode())
    headers = {"Content-Type": COMMAND, "X-SSL-Client-Cert": pem}
    assert client.put("/apple/mdm/connect", data=body, headers=headers).status_code == 401
    app.config["AGENT_TRUST_CLIENT_CERT_HEADER"] = True
    assert client.put("/apple/mdm/connect", data=body, headers=headers).status_code == 200


needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="no captured samples here")


@needs_samples
def test_captured_ipad_messages(new_ipad: Callable[..., IPad], client: FlaskClient) -> None:
    ipad = new_ipad()
    assert ipad.check_in(sample("nanomdm_checkin_Authenticate_iPad_iOS9.plist")).status_code == 200
    update = sample("nanomdm_checkin_TokenUpdate_iPad_with_UnlockToken.plist")
    assert ipad.check_in(update).status_code == 200
    apple = db.session.get(AppleDevice, ipad.device_id)
    device = db.session.get(Device, ipad.device_id)
    assert apple is not None and device is not None
    assert apple.udid == "663b07bb783e9ade1dae4fbb92ea12afc0ce5b69"
    assert apple.unlock_token is not None and apple.unlock_token.startswith(b"DATA")
    assert device.serial_number == "F5JM992LF193" and device.model == "iPad2,5"

    # The DeviceInformation result comes from another device: enroll that one, ask it, and
    # answer with the captured bytes (only its CommandUUID made the one the server sent).
    other = new_ipad(udid="66ADE930-5FDF-5EC4-8429-15640684C489")
    assert other.authenticate().status_code == 200
    assert other.token_update().status_code == 200
    asked = answer(other.result("Idle"))
    assert asked is not None
    captured = sample("nanomdm_connect_Acknowledged_DeviceInformation.plist").replace(
        b"76eda240-5488-4989-8339-f2ae160113c4", asked["CommandUUID"].encode()
    )
    following = answer(other.connect(captured))
    assert (
        following is not None and following["Command"]["RequestType"] == "InstalledApplicationList"
    )
    db.session.expire_all()
    assert db.session.get(Device, other.device_id).inventory["HostName"] == "fruit.example.com"  # type: ignore[union-attr]


@needs_samples
def test_captured_check_out_and_user_enrollment(
    new_ipad: Callable[..., IPad], push_topic: str
) -> None:
    ipad = new_ipad()
    # A User Enrollment's messages from the identity of a school iPad's profile: refused.
    refused = ipad.check_in(sample("fleet_byod_user_enrollment_Authenticate_iOS18.plist"))
    assert refused.status_code == 401 and "EnrollmentID" in refused.get_json()["detail"]
    idle = ipad.connect(sample("fleet_byod_user_enrollment_connect_Idle_iOS18.plist"))
    assert idle.status_code == 401
    db.session.expire_all()
    assert db.session.get(Device, ipad.device_id).status == "pending"  # type: ignore[union-attr]
    mac = new_ipad(udid="FA01680E-98CA-5557-8F59-7716ECFEE964")
    assert mac.authenticate().status_code == 200
    assert mac.check_in(sample("micromdm_checkin_CheckOut_macOS.plist")).status_code == 200
    db.session.expire_all()
    assert db.session.get(Device, mac.device_id).status == "retired"  # type: ignore[union-attr]


@needs_samples
def test_captured_profile_list(new_ipad: Callable[..., IPad]) -> None:
    mac = new_ipad(udid="BC5E2DA4-7FB6-5E70-9928-4981680DAFBF")
    mac.authenticate()
    mac.token_update()
    step = answer(mac.result("Idle"))
    assert step is not None
    step = answer(mac.result("Acknowledged", step["CommandUUID"], QueryResponses={}))
    step = answer(mac.result("Acknowledged", step["CommandUUID"], InstalledApplicationList=[]))  # type: ignore[index]
    assert step is not None and step["Command"]["RequestType"] == "ProfileList"
    captured = sample("micromdm_connect_Acknowledged_ProfileList_macOS.plist").replace(
        b"1a82029c-4a30-46ca-9ca3-18a4daf5e3a9", step["CommandUUID"].encode()
    )
    assert answer(mac.connect(captured)) is None
    db.session.expire_all()
    profiles = db.session.get(Device, mac.device_id).inventory["ProfileList"]  # type: ignore[union-attr]
    assert profiles[0]["PayloadIdentifier"] == "com.github.micromdm.micromdm.enroll"
