"""Apple's MDM protocol on the platform's model: who a request is (its identity certificate,
and the UDID or, for a User Enrollment, the EnrollmentID it authenticated with), the check-in
messages (Authenticate, TokenUpdate, CheckOut, UserAuthenticate) and the command
endpoint (results in, the next command out). They flush, never commit."""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

from cryptography import x509
from flask import current_app
from sqlalchemy import Connection, bindparam, exists, select, update
from sqlalchemy.orm import Session

from mdm.accounts.models import School, User
from mdm.apple import ddm, payloads, signature
from mdm.apple.models import AppleDevice
from mdm.apple.plist import dump, jsonable
from mdm.commands import rules
from mdm.commands import service as commands
from mdm.commands.models import Command
from mdm.devices import byod, credentials, identity, inventory_policy
from mdm.devices import service as devices
from mdm.devices.models import Device, DeviceCA, DeviceCredential
from mdm.platform import audit
from mdm.platform.actors import Actor
from mdm.platform.errors import (
    Conflict,
    DomainError,
    Gone,
    NotAuthenticated,
    NotFound,
    ValidationFailed,
)
from mdm.platform.types import utcnow
from mdm.policies import service as policies
from mdm.policies.models import DevicePolicyState
from mdm.push import service as push

UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Mdm-Signature realm="apple-mdm"'}
STATUSES = {
    "Acknowledged": "done",
    "Error": "failed",
    "CommandFormatError": "failed",
    "NotNow": "not_now",
}
USER_CHANNEL_KEYS = ("UserID", "EnrollmentUserID", "UserShortName")
POLICY_UUID = re.compile(r"^policy-([0-9a-f]{64})$")
COMMAND_UUID = re.compile(r"^command-([0-9]{1,18})(?:\.([A-Za-z]+))?$")
INVENTORY_UUID = re.compile(r"^inventory\.([A-Za-z]+)$")
PRODUCT_PLATFORMS = (("iPad", "ipados"), ("iPhone", "ios"), ("iPod", "ios"), ("Mac", "macos"))
# Keys of a ProfileList entry kept in the inventory (not the payloads' contents).
PROFILE_KEYS = (
    "PayloadIdentifier",
    "PayloadDisplayName",
    "PayloadOrganization",
    "PayloadUUID",
    "PayloadVersion",
    "PayloadRemovalDisallowed",
    "IsManaged",
    "IsEncrypted",
)
# What of an Authenticate the inventory keeps (of a personal device only what its rules allow).
AUTHENTICATE_INVENTORY = ("SerialNumber", "IMEI", "MEID", "ProductName", "BuildVersion")
APP_KEYS = ("Identifier", "Name", "Version", "ShortVersion", "IsValidated", "BundleSize")
# The CommandUUID of the RemoveProfile that tells a personal device its management ended.
REMOVAL_UUID = "remove-management"


class IdentityRefused(NotAuthenticated):
    type = "apple-identity-refused"
    title = "Device identity refused"


class MessageRefused(DomainError):
    type = "apple-message-refused"
    title = "MDM message refused"


class EnrolledElsewhere(Conflict):
    type = "apple-enrolled-elsewhere"
    title = "Device enrolled at another school"


class UserChannelDeclined(Gone):
    type = "apple-user-channel-declined"
    title = "User channel not managed"


def _refuse(detail: str) -> IdentityRefused:
    return IdentityRefused(detail, headers=UNAUTHORIZED_HEADERS)


@dataclass(frozen=True)
class Identified:
    """The device a request is from, and the credential its certificate belongs to."""

    device: Device
    apple: AppleDevice | None

    @property
    def actor(self) -> Actor:
        """The device as the actor of audit events."""
        return Actor(
            name=f"device:{self.device.id}", role="device", school_id=self.device.school_id
        )


def request_certificate(
    body: bytes, mdm_signature: str | None, forwarded_certificate: str | None
) -> x509.Certificate:
    """The identity certificate of a request: the signer of its Mdm-Signature, or the client
    certificate a trusted TLS proxy forwarded (None unless trusted)."""
    if forwarded_certificate:
        try:
            return x509.load_pem_x509_certificate(unquote(forwarded_certificate).encode())
        except ValueError as exc:
            raise _refuse("the forwarded client certificate is not a PEM certificate") from exc
    if not mdm_signature:
        raise _refuse("the request carries no Mdm-Signature")
    try:
        return signature.verify(body, mdm_signature)
    except signature.SignatureRejected as exc:
        raise _refuse(str(exc)) from exc


# Who a request is, in one statement: the credential of the certificate, its device and its
# UDID, its school's CA certificate, and whether work is due (index lookups each). Built once,
# run on a connection (no ORM), so an Idle with nothing due costs one SELECT and one UPDATE.
_IDENTITY = (
    select(
        DeviceCredential.revoked_at,
        Device.id.label("device_id"),
        Device.status,
        AppleDevice.udid,
        AppleDevice.enrollment_id,
        AppleDevice.inventory_due_at,
        AppleDevice.removal_requested_at,
        AppleDevice.removal_due_at,
        DeviceCA.certificate_pem.label("ca_pem"),
        DevicePolicyState.device_id.label("policy_known"),
        DevicePolicyState.due_at.label("policy_due_at"),
        exists()
        .where(Command.device_id == Device.id, Command.due_at <= bindparam("now"))
        .label("commands_due"),
    )
    .join(Device, Device.id == DeviceCredential.device_id)
    .join(DeviceCA, DeviceCA.school_id == DeviceCredential.school_id)
    .outerjoin(AppleDevice, AppleDevice.device_id == Device.id)
    .outerjoin(DevicePolicyState, DevicePolicyState.device_id == Device.id)
    .where(DeviceCredential.certificate_fingerprint == bindparam("fingerprint"))
)
_DEVICES = Device.__table__
_SEEN = (
    update(_DEVICES)
    .where(_DEVICES.c.id == bindparam("b_id"), _DEVICES.c.status == "enrolled")
    .values(last_seen_at=bindparam("b_now"))
)


@dataclass(frozen=True)
class Identity:
    """Who a request is from, and whether anything is due for it."""

    device_id: int
    status: str
    udid: str | None
    work_due: bool
    # A User Enrollment's EnrollmentID (its messages carry it instead of a UDID).
    enrollment_id: str | None = None


def check_identity(connection: Connection, cert: x509.Certificate, now: datetime) -> Identity:
    """The device whose identity (issued by its school's device CA, not revoked) this is."""
    fingerprint = identity.certificate_fingerprint(cert)
    row = connection.execute(_IDENTITY, {"fingerprint": fingerprint, "now": now}).one_or_none()
    if row is None:
        raise _refuse("the identity certificate belongs to no enrollment")
    if row.revoked_at is not None:
        raise _refuse("the identity certificate was revoked")
    ca_certificate = x509.load_pem_x509_certificate(row.ca_pem.encode())
    try:
        device_id = identity.check_device_certificate(ca_certificate, cert, now, frozenset())
    except identity.CertificateRejected as exc:
        raise _refuse(f"the identity certificate is not valid: {exc.reason}") from exc
    if device_id != str(row.device_id):
        raise _refuse("the identity certificate names another device")
    # A personal device whose owner ended management is still heard until it checked out.
    if row.status == "retired" and row.removal_requested_at is None:
        raise _refuse("this device was retired; enroll it again to manage it")
    work_due = (
        row.policy_known is None
        or (row.policy_due_at is not None and row.policy_due_at <= now)
        or bool(row.commands_due)
        or (row.inventory_due_at is not None and row.inventory_due_at <= now)
        or (row.removal_due_at is not None and row.removal_due_at <= now)
    )
    return Identity(row.device_id, row.status, row.udid, work_due, row.enrollment_id)


def idle_without_work(
    connection: Connection, who: Identity, message: dict[str, Any], now: datetime
) -> bool:
    """An Idle of an enrolled device with nothing due: it was seen, and that is all (one
    UPDATE on the connection). False when the request needs more (the full path decides)."""
    if (
        message.get("Status") != "Idle"
        or who.work_due
        or who.status != "enrolled"
        or any(key in message for key in USER_CHANNEL_KEYS)
        or not _same_enrollment(who.udid, who.enrollment_id, message)
    ):
        return False
    return bool(connection.execute(_SEEN, {"b_id": who.device_id, "b_now": now}).rowcount)


def identify(session: Session, who: Identity) -> Identified:
    """The device and its Apple state, for the request's transaction."""
    device = session.get(Device, who.device_id)
    assert device is not None
    return Identified(device, session.get(AppleDevice, who.device_id))


def _same_enrollment(udid: str | None, enrollment_id: str | None, message: dict[str, Any]) -> bool:
    """Whether a message names the enrollment its identity authenticated as: its UDID (an
    enrollment by profile) or its EnrollmentID (a User Enrollment), and not the other."""
    if udid is not None:
        return message.get("UDID") == udid and "EnrollmentID" not in message
    if enrollment_id is not None:
        return message.get("EnrollmentID") == enrollment_id and "UDID" not in message
    return False


def _channel_check(message: dict[str, Any]) -> None:
    """Only device channels are managed (of a profile's enrollment or a User Enrollment)."""
    if any(key in message for key in USER_CHANNEL_KEYS):
        raise UserChannelDeclined("this server manages the device channel only, no user channel")
    if "EnrollmentID" in message and "UDID" in message:
        raise MessageRefused("a message carries either a UDID or an EnrollmentID, not both")


def _udid(message: dict[str, Any]) -> str:
    udid = message.get("UDID")
    if not isinstance(udid, str) or not 1 <= len(udid) <= 64:
        raise MessageRefused("the message has no UDID")
    return udid


def _enrollment_id(message: dict[str, Any]) -> str:
    enrollment_id = message.get("EnrollmentID")
    if not isinstance(enrollment_id, str) or not 1 <= len(enrollment_id) <= 64:
        raise MessageRefused("the message has no EnrollmentID")
    return enrollment_id


def _check_kind(apple: AppleDevice, message: dict[str, Any]) -> None:
    """A User Enrollment speaks with its EnrollmentID, a profile's enrollment with its UDID;
    the other kind of message is refused."""
    if apple.user_enrollment and "UDID" in message:
        raise _refuse(
            "this is a User Enrollment of a personal device: its messages carry its "
            "EnrollmentID, never a UDID"
        )
    if not apple.user_enrollment and "EnrollmentID" in message:
        raise _refuse(
            "this is an enrollment by profile: its messages carry the device's UDID, not an "
            "EnrollmentID (User Enrollment is for personal devices)"
        )


def _removing(ident: Identified) -> bool:
    """Whether this is a personal device whose owner ended management, still to be told or to
    check out (it is retired)."""
    return (
        ident.device.status == "retired"
        and ident.apple is not None
        and ident.apple.removal_requested_at is not None
    )


def _bound(ident: Identified, message: dict[str, Any], *, removing: bool = False) -> AppleDevice:
    """The Apple state of an authenticated device (or, with `removing`, of one whose owner
    ended management); the message must be from its UDID (or, of a User Enrollment, its
    EnrollmentID)."""
    apple = ident.apple
    managed = ident.device.status == "enrolled" or (removing and _removing(ident))
    if apple is None or not managed:
        raise _refuse("the device has not authenticated (send Authenticate first)")
    _check_kind(apple, message)
    if apple.user_enrollment:
        if apple.enrollment_id is None:
            raise _refuse("the device has not authenticated (send Authenticate first)")
        if _enrollment_id(message) != apple.enrollment_id:
            raise _refuse(
                "the message's EnrollmentID is not the one this identity authenticated with"
            )
        return apple
    if apple.udid is None:
        raise _refuse("the device has not authenticated (send Authenticate first)")
    if _udid(message) != apple.udid:
        raise _refuse("the message's UDID is not the one this identity authenticated with")
    return apple


def _platform(product: str, fallback: str) -> str:
    for prefix, platform in PRODUCT_PLATFORMS:
        if product.startswith(prefix):
            return platform
    return fallback


def _text(message: dict[str, Any], key: str, limit: int = 120) -> str:
    value = message.get(key)
    return value[:limit] if isinstance(value, str) else ""


# --- check-in ------------------------------------------------------------------------------------


def check_in(session: Session, ident: Identified, message: dict[str, Any]) -> ddm.Reply | None:
    """Handle one check-in message; the answer is an empty 200 unless an error is raised (or
    the JSON of a DeclarativeManagement reply)."""
    kind = message.get("MessageType")
    if kind == "UserAuthenticate":
        # Apple: a server that does not manage the user answers 410, and is not asked again
        # during the user's session.
        raise UserChannelDeclined("this server does not manage users on the device")
    _channel_check(message)
    if _removing(ident) and kind != "CheckOut":
        raise MessageRefused(
            "the owner ended management of this device; it only checks out (CheckOut)"
        )
    if kind == "Authenticate":
        authenticate(session, ident, message)
    elif kind == "TokenUpdate":
        token_update(session, ident, message)
    elif kind == "CheckOut":
        check_out(session, ident, message)
    elif kind == "DeclarativeManagement":
        return declarative_management(session, ident, message)
    else:
        raise MessageRefused(f"MessageType {kind!r} is not supported by this server")
    return None


def declarative_management(
    session: Session, ident: Identified, message: dict[str, Any]
) -> ddm.Reply:
    """A DeclarativeManagement check-in of an enrolled device (mdm/apple/ddm.py); a UDID (of a
    User Enrollment: an EnrollmentID), when the message has one, must be the one the device
    authenticated with, and never the other kind."""
    apple = ident.apple
    if apple is None or apple.authenticated_at is None or ident.device.status != "enrolled":
        raise _refuse("the device has not authenticated (send Authenticate first)")
    _check_kind(apple, message)
    key, bound = (
        ("EnrollmentID", apple.enrollment_id) if apple.user_enrollment else ("UDID", apple.udid)
    )
    if key in message and message[key] != bound:
        raise _refuse(f"the message's {key} is not the one this identity authenticated with")
    # A status report merges into the status kept: one report at a time (SQLite; PostgreSQL
    # locks the row).
    _lock_for_writing(session)
    reply = ddm.check_in(session, ident.device, apple, message, utcnow())
    if reply.inventory:
        _store_inventory(session, ident.device, reply.inventory)
    return reply


def authenticate(session: Session, ident: Identified, message: dict[str, Any]) -> None:
    """Bind the identity to its pending enrollment and the device's UDID; the device counts as
    enrolled from now on. A device that enrolled before under another enrollment (erased and
    enrolled again) leaves that one retired. A User Enrollment binds its EnrollmentID instead."""
    apple = ident.apple
    device = ident.device
    if apple is None:
        raise _refuse("the identity belongs to no Apple enrollment")
    _check_kind(apple, message)
    if apple.user_enrollment:
        _authenticate_user_enrollment(session, ident, apple, message)
        return
    udid = _udid(message)
    topic = message.get("Topic")
    if topic != apple.topic:
        raise MessageRefused("the message's Topic is not the push topic of the enrollment")
    if apple.udid is not None and apple.udid != udid:
        raise _refuse("this enrollment authenticated with another UDID")
    now = utcnow()
    earlier = session.scalar(
        select(AppleDevice).where(AppleDevice.udid == udid, AppleDevice.device_id != device.id)
    )
    if earlier is not None:
        old = session.get(Device, earlier.device_id)
        # The UDID is the device's own word: it may end an enrollment of this school, never
        # one of another school (that school retires the device when it hands it over).
        if old is not None and old.status != "retired" and old.school_id != device.school_id:
            raise EnrolledElsewhere(
                "this device is still enrolled at another school; it enrolls here once that "
                "school has retired it"
            )
        earlier.udid = None
        session.flush()
        if old is not None and old.status != "retired":
            devices.retire(session, ident.actor, old, f"enrolled again as device {device.id}")
        credentials.revoke_credentials(session, earlier.device_id)
    apple.udid = udid
    _authenticated(session, ident, apple, message, now)


def _authenticate_user_enrollment(
    session: Session, ident: Identified, apple: AppleDevice, message: dict[str, Any]
) -> None:
    """Bind a User Enrollment's identity to its EnrollmentID (new with every enrollment, so
    it never ends another one); neither UDID nor serial number exist for it."""
    device = ident.device
    enrollment_id = _enrollment_id(message)
    if message.get("Topic") != apple.topic:
        raise MessageRefused("the message's Topic is not the push topic of the enrollment")
    if apple.enrollment_id is not None and apple.enrollment_id != enrollment_id:
        raise _refuse("this enrollment authenticated with another EnrollmentID")
    taken = session.scalar(
        select(AppleDevice.device_id).where(
            AppleDevice.enrollment_id == enrollment_id, AppleDevice.device_id != device.id
        )
    )
    if taken is not None:
        raise _refuse("this EnrollmentID belongs to another enrollment")
    apple.enrollment_id = enrollment_id
    _authenticated(session, ident, apple, message, utcnow())


def _authenticated(
    session: Session, ident: Identified, apple: AppleDevice, message: dict[str, Any], now: datetime
) -> None:
    """The bound enrollment authenticated: a pending device is enrolled from now on, with what
    its Authenticate tells (a personal device is called by its kind, "iPhone", never by the
    name its owner gave it; its inventory rules drop the identifiers); from iOS/iPadOS 17 on it
    gets its policy as declarations."""
    device = ident.device
    apple.authenticated_at = now
    product = _text(message, "ProductName")
    personal = device.ownership == byod.BYOD
    kind = next((prefix for prefix, _ in PRODUCT_PLATFORMS if product.startswith(prefix)), "")
    facts = devices.DeviceFacts(
        platform=_platform(product, device.platform),
        model=product or _text(message, "Model"),
        os_version=_text(message, "OSVersion", 60),
        name=kind if personal else _text(message, "DeviceName"),
    )
    first = device.status == "pending"
    if first:
        devices.activate_device(session, device, facts)
        _store_inventory(
            session,
            device,
            {
                key: message[key]
                for key in AUTHENTICATE_INVENTORY
                if isinstance(message.get(key), str) and message[key]
            },
        )
    session.flush()
    ddm.observe_os(session, device, apple, facts.os_version, now)
    details: dict[str, Any] = {
        "platform": device.platform,
        "model": device.model,
        "transport": "apple-mdm",
    }
    if apple.user_enrollment:
        details["user_enrollment"] = True
    audit.record(
        session,
        ident.actor,
        "device.enroll" if first else "device.apple.authenticate",
        "device",
        device.id,
        school_id=device.school_id,
        details=details,
    )


def token_update(session: Session, ident: Identified, message: dict[str, Any]) -> None:
    """Keep where APNs reaches the device (token, PushMagic, topic) and its UnlockToken
    (encrypted at rest); after the first one the device is asked for its inventory."""
    apple = _bound(ident, message)
    token = message.get("Token")
    magic = message.get("PushMagic")
    if not isinstance(token, bytes) or not token or not isinstance(magic, str) or not magic:
        raise MessageRefused("TokenUpdate needs Token (data) and PushMagic")
    if message.get("Topic") != apple.topic:
        raise MessageRefused("the message's Topic is not the push topic of the enrollment")
    unlock = message.get("UnlockToken")
    # Only a school's device keeps one: a personal device never gets ClearPasscode.
    if isinstance(unlock, bytes) and unlock and ident.device.ownership == "school":
        apple.unlock_token = unlock
    now = utcnow()
    first = apple.token_updated_at is None
    apple.token_updated_at = now
    ident.device.last_seen_at = now
    push.register_apns_address(session, ident.device.id, token.hex(), magic[:200], apple.topic)
    if first:
        apple.inventory_due_at = now
        # Apple devices connect when pushed: the first push brings the inventory request.
        push.queue_wakeups(session, Device.id == ident.device.id, "command", now)
    session.flush()
    audit.record(
        session,
        ident.actor,
        "device.apple.token_update",
        "device",
        ident.device.id,
        school_id=ident.device.school_id,
        details={"first": first, "unlock_token": apple.unlock_token is not None},
    )


def check_out(session: Session, ident: Identified, message: dict[str, Any]) -> None:
    """The management profile was removed from the device: it is retired, its identity
    revoked. Of a personal device everything stored about it is deleted (its inventory, its
    Apple state, push address, policy state; its open commands are cancelled); one whose owner
    ended management already has nothing left but this, and checks out without an error."""
    device = ident.device
    apple = _bound(ident, message, removing=True)
    if _removing(ident):
        _forget(session, device, apple, keep_channel=False)
        credentials.revoke_credentials(session, device.id)
        audit.record(
            session,
            ident.actor,
            "device.apple.check_out",
            "device",
            device.id,
            school_id=device.school_id,
            details={"after": "remove-management"},
        )
        return
    apple.checked_out_at = utcnow()
    devices.retire(session, ident.actor, device, "device")
    credentials.revoke_credentials(session, device.id)
    if device.ownership == byod.BYOD:
        _forget(session, device, apple, keep_channel=False)


def _forget(session: Session, device: Device, apple: AppleDevice, *, keep_channel: bool) -> None:
    """Delete what was stored about a personal device whose management ended: its policy state,
    declarative state (the status it reported) and Apple state (UnlockToken, the settings it did
    not get), its open commands cancelled.
    With `keep_channel` its Apple row and push address stay, so that it can still be told;
    without, they go too (its UDID or enrollment id, push token, PushMagic)."""
    policies.forget_device(session, device.id)
    ddm.forget(session, device.id)
    commands.cancel_open(session, device.id, "the device's management ended")
    if keep_channel:
        apple.unlock_token = None
        apple.policy_left_out = []
        apple.inventory_due_at = None
        apple.supervised = False
    else:
        push.forget_address(session, device.id)
        session.delete(apple)
    session.flush()


def end_management(session: Session, actor: Actor, device: Device) -> bool:
    """The owner or an admin ended management of a personal device (it is retired;
    mdm.devices.hooks): what was stored about it is deleted, and the device is told on its next
    connect, with a RemoveProfile of its enrollment profile. Its identity is still taken for that
    and for its CheckOut. False when there is no personal Apple device to tell (the caller
    revokes its identity); a school's device keeps its Apple state."""
    if device.ownership != byod.BYOD:
        return False
    apple = session.get(AppleDevice, device.id)
    if apple is None or device.ownership != byod.BYOD or apple.authenticated_at is None:
        if apple is not None:
            _forget(session, device, apple, keep_channel=False)
        return False
    now = utcnow()
    _forget(session, device, apple, keep_channel=True)
    apple.removal_requested_at = now
    apple.removal_due_at = now
    push.queue_wakeups(session, Device.id == device.id, "command", now, enrolled_only=False)
    session.flush()
    audit.record(
        session,
        actor,
        "device.apple.remove_management",
        "device",
        device.id,
        school_id=device.school_id,
        details={"remove_profile": _enrollment_profile(session, device)},
    )
    return True


def _enrollment_profile(session: Session, device: Device) -> str:
    school = session.get(School, device.school_id)
    assert school is not None
    prefix = f"{current_app.config['APPLE_PAYLOAD_PREFIX']}.{school.slug}"
    return payloads.enrollment_profile_identifier(prefix)


# --- inventory -----------------------------------------------------------------------------------


def _store_inventory(session: Session, device: Device, reported: dict[str, Any]) -> None:
    """Merge what the device reported into its inventory, with its school's inventory rules
    (and for a personal device the BYOD rules) applied; refused when too large."""
    owner = session.get(User, device.user_id) if device.user_id is not None else None
    kept = inventory_policy.kept_for(
        session, device.school_id, device.user_role, owner.role if owner else None
    )
    merged = {**(device.inventory or {}), **jsonable(reported)}
    stored, digest = devices.encode_inventory(device.ownership, merged, kept)
    if digest == device.inventory_hash:
        return
    ids = devices.hardware_ids(device.ownership, merged)
    device.inventory = stored
    device.inventory_hash = digest
    device.serial_number = ids.serial_number or device.serial_number
    device.imei = ids.imei or device.imei
    device.imei2 = ids.imei2 or device.imei2


def _inventory_result(
    session: Session, device: Device, apple: AppleDevice, step: str, message: dict[str, Any]
) -> None:
    if step == "DeviceInformation":
        responses = message.get("QueryResponses")
        if isinstance(responses, dict):
            apple.supervised = responses.get("IsSupervised") is True
            _store_inventory(session, device, responses)
            ddm.observe_os(session, device, apple, responses.get("OSVersion"), utcnow())
    elif step == "InstalledApplicationList":
        apps = message.get("InstalledApplicationList")
        if isinstance(apps, list):
            listed = [
                {key: app[key] for key in APP_KEYS if key in app}
                for app in apps
                if isinstance(app, dict)
            ]
            # A personal device was asked for the managed apps only (ManagedAppsOnly, and User
            # Enrollment lists no others): stored as the school's apps, the one list of apps
            # the BYOD allow-list keeps. Its entries carry no mark of being managed, so the
            # request and the device's word are what keep the person's own apps out; they are
            # never stored under the list of all installed apps, which the BYOD rule drops.
            key = "ManagedApplicationList" if device.ownership == byod.BYOD else step
            _store_inventory(session, device, {key: listed})
    elif step == "ProfileList":
        profiles = message.get("ProfileList")
        if isinstance(profiles, list):
            listed = [
                {key: profile[key] for key in PROFILE_KEYS if key in profile}
                for profile in profiles
                if isinstance(profile, dict)
            ]
            _store_inventory(session, device, {"ProfileList": listed})


def _next_step(step: str) -> str | None:
    index = payloads.INVENTORY_STEPS.index(step)
    following = payloads.INVENTORY_STEPS[index + 1 : index + 2]
    return following[0] if following else None


# --- the command endpoint ------------------------------------------------------------------------


def _error_detail(message: dict[str, Any], status: str) -> str:
    if status == "CommandFormatError":
        return "the device could not read the command (CommandFormatError)"
    chain = message.get("ErrorChain")
    parts = []
    if isinstance(chain, list):
        for item in chain[:5]:
            if isinstance(item, dict):
                text = item.get("LocalizedDescription") or item.get("USEnglishDescription") or ""
                code = item.get("ErrorCode", "")
                domain = item.get("ErrorDomain", "")
                parts.append(f"{domain} {code}: {text}".strip())
    return "; ".join(parts)[:2000] or status


def _lock_for_writing(session: Session) -> None:
    """On SQLite, take the write lock as the transaction begins (PostgreSQL locks the rows)."""
    connection = session.connection()
    raw = connection.connection.dbapi_connection
    if connection.dialect.name == "sqlite" and not raw.in_transaction:  # type: ignore[union-attr]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@dataclass(frozen=True)
class Answer:
    """What the command endpoint answers: the next command's plist, or nothing (empty 200)."""

    command: dict[str, Any] | None


def connect(
    session: Session, ident: Identified, message: dict[str, Any], now: datetime | None = None
) -> Answer:
    """Record the result the device sends (if any) and answer with its next command."""
    _channel_check(message)
    apple = _bound(ident, message, removing=True)
    status = message.get("Status")
    if not isinstance(status, str) or (status != "Idle" and status not in STATUSES):
        raise MessageRefused(f"Status {status!r} is not one of Apple's")
    now = now or utcnow()
    _lock_for_writing(session)
    if _removing(ident):
        return _removal(session, ident, apple, message, now)
    ident.device.last_seen_at = now
    follow_up = None
    if status != "Idle":
        command_uuid = message.get("CommandUUID")
        if not isinstance(command_uuid, str) or not command_uuid:
            raise MessageRefused(f"a {status} result needs its CommandUUID")
        follow_up = _record(session, ident, apple, command_uuid, status, message, now)
    if follow_up is None:
        follow_up = _next_command(session, ident, apple, now)
    push.forget_wakeup(session, ident.device.id)
    session.flush()
    return Answer(follow_up)


def _removal(
    session: Session, ident: Identified, apple: AppleDevice, message: dict[str, Any], now: datetime
) -> Answer:
    """A device whose owner ended management: it gets the RemoveProfile of its enrollment
    profile (again only when no answer came within COMMAND_RESEND_SECONDS, or after NotNow),
    and nothing else. Its answer ends the telling: the push address is deleted; the identity
    stays for the CheckOut that follows."""
    device = ident.device
    status = message.get("Status")
    answer = None
    if status != "Idle" and message.get("CommandUUID") == REMOVAL_UUID:
        if status == "NotNow":
            retry = int(current_app.config["COMMAND_NOT_NOW_RETRY_SECONDS"])
            apple.removal_due_at = now + timedelta(seconds=retry)
        else:
            apple.removal_due_at = None
            push.forget_address(session, device.id)
            audit.record(
                session,
                ident.actor,
                "device.apple.remove_management_result",
                "device",
                device.id,
                school_id=device.school_id,
                details={"status": status, "detail": _error_detail(message, status)[:500]},
            )
    elif apple.removal_due_at is not None and apple.removal_due_at <= now:
        apple.removal_due_at = _resend(now)
        request = {
            "RequestType": "RemoveProfile",
            "Identifier": _enrollment_profile(session, device),
        }
        answer = payloads.envelope(REMOVAL_UUID, request)
    push.forget_wakeup(session, device.id)
    session.flush()
    return Answer(answer)


def _resend(now: datetime) -> datetime:
    return now + timedelta(seconds=int(current_app.config["COMMAND_RESEND_SECONDS"]))


def _record(
    session: Session,
    ident: Identified,
    apple: AppleDevice,
    command_uuid: str,
    status: str,
    message: dict[str, Any],
    now: datetime,
) -> dict[str, Any] | None:
    """Record a result; a step of an inventory refresh answers with the next step."""
    result = STATUSES[status]
    detail = _error_detail(message, status) if result == "failed" else ""
    retry = int(current_app.config["COMMAND_NOT_NOW_RETRY_SECONDS"])
    device = ident.device
    policy = POLICY_UUID.match(command_uuid)
    command = COMMAND_UUID.match(command_uuid)
    inventory = INVENTORY_UUID.match(command_uuid)
    step = inventory.group(1) if inventory else command.group(2) if command else None
    if step in payloads.INVENTORY_STEPS and result == "done":
        try:
            _inventory_result(session, device, apple, step, message)
        except ValidationFailed as exc:
            # Nothing of it is stored; the refresh ends as an error that says why.
            result, detail = "failed", f"{exc.detail} {exc.errors or ''}".strip()[:2000]
    try:
        if ddm.record_result(session, device, apple, command_uuid, result, detail, now):
            return None
        if policy is not None:
            data = {"failed_settings": apple.policy_left_out} if result == "done" else {}
            policies.record_policy_result(
                session, device.id, policy.group(1), result, detail, data, now, retry
            )
            return None
        if inventory is not None and inventory.group(1) in payloads.INVENTORY_STEPS:
            if result == "done":
                following = _next_step(step)
                if following is not None:
                    return payloads.envelope(
                        f"inventory.{following}",
                        payloads.inventory_request(following, device.ownership),
                    )
                apple.inventory_due_at = None
            elif result == "not_now":
                apple.inventory_due_at = now + timedelta(seconds=retry)
            else:
                apple.inventory_due_at = None
            return None
        if command is not None:
            command_id, step = int(command.group(1)), command.group(2)
            if step is not None and result == "done" and step in payloads.INVENTORY_STEPS:
                following = _next_step(step)
                if following is not None:
                    return payloads.envelope(
                        f"command-{command_id}.{following}",
                        payloads.inventory_request(following, device.ownership),
                    )
            commands.record_command_result(
                session, device.id, device.ownership, command_id, result, detail, {}, now, retry
            )
            return None
    except (NotFound, Conflict):
        # A late or repeated result of something that was re-sent or finished meanwhile: the
        # device has done its part; it gets its next command.
        return None
    return None


def _next_command(
    session: Session, ident: Identified, apple: AppleDevice, now: datetime
) -> dict[str, Any] | None:
    device = ident.device
    if apple.inventory_due_at is not None and apple.inventory_due_at <= now:
        apple.inventory_due_at = _resend(now)
        first = payloads.INVENTORY_STEPS[0]
        request = payloads.inventory_request(first, device.ownership)
        return payloads.envelope(f"inventory.{first}", request)
    resend = int(current_app.config["COMMAND_RESEND_SECONDS"])
    if ddm.state_of(session, device.id) is not None:
        # Declarative devices get their policy as declarations, never as a profile.
        declared = ddm.next_command(session, device, apple, now, resend)
        if declared is not None:
            return declared
        work = None
    else:
        work = policies.policy_work(
            session, device.id, device.school_id, device.ownership, now, resend
        )
    if work is not None:
        school = session.get(School, device.school_id)
        assert school is not None
        built = payloads.policy_profile(
            work["payload"]["document"],
            work["payload"]["hash"],
            f"{current_app.config['APPLE_PAYLOAD_PREFIX']}.{school.slug}",
            school.name,
            apple.supervised,
        )
        apple.policy_left_out = built.failed_settings
        request = {"RequestType": "InstallProfile", "Payload": dump(built.profile)}
        return payloads.envelope(work["id"], request)
    retry = int(current_app.config["COMMAND_NOT_NOW_RETRY_SECONDS"])
    while True:
        taken = commands.command_work(session, device.id, now, 1, resend)
        if not taken:
            return None
        item = taken[0]
        command_id = int(item["id"].removeprefix("command-"))
        type_ = item["payload"]["type"]
        parameters = item["payload"]["parameters"]
        # The last guard: whatever was queued, a device gets nothing the rules refuse it (a
        # personal one nothing the BYOD rule forbids); such a command fails with the reason.
        reason = rules.refusal(
            type_, device.platform, device.ownership, apple.supervised, parameters
        )
        try:
            if reason is not None:
                raise payloads.Undeliverable(rules.explain(reason, type_, parameters))
            request = payloads.command_request(
                type_, parameters, apple.unlock_token, device.ownership
            )
        except payloads.Undeliverable as exc:
            commands.record_command_result(
                session, device.id, device.ownership, command_id, "failed", str(exc), {}, now, retry
            )
            continue
        suffix = f".{payloads.INVENTORY_STEPS[0]}" if type_ == "refresh_inventory" else ""
        return payloads.envelope(f"{item['id']}{suffix}", request)
