"""Declarative device management (DDM) of Apple devices on iOS/iPadOS 17 and later: which
devices get their policy as declarations, the DeclarativeManagement check-in (tokens,
declaration items, declarations, status reports), the DeclarativeManagement command in the
policy's lifecycle, and the legacy profile the declarations point to. They flush, never commit.

The policy's lifecycle is the one of mdm.policies (desired, sent and applied hashes): a due
policy is sent as a DeclarativeManagement command instead of InstallProfile, and counts as
applied when the device's status report has every current configuration valid and active.
"""

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from mdm.accounts.models import School
from mdm.apple import declarations, payloads
from mdm.apple.models import AppleDeclarativeState, AppleDevice
from mdm.devices.models import Device
from mdm.platform import audit
from mdm.platform.actors import Actor
from mdm.platform.errors import DomainError, NotFound
from mdm.platform.http import base_url
from mdm.policies import service as policies
from mdm.policies.models import DevicePolicyState

REMOVE_PROFILE_UUID = "declarative.RemoveProfile"
MAX_ENDPOINT = 300
# A status report's JSON, and the status kept of a device, at most.
MAX_STATUS_BYTES = 256 * 1024
PROFILE_PATH = "/apple/ddm/profiles"


class DeclarativeRequestRefused(DomainError):
    status = 400
    type = "apple-declarative-request-refused"
    title = "Declarative management request refused"


class NoDeclarations(NotFound):
    type = "apple-declaration-not-found"
    title = "Declaration not found"


def _refused(name: str, reason: str) -> DeclarativeRequestRefused:
    return DeclarativeRequestRefused(f"{name}: {reason}", errors={name: [reason]})


@dataclass(frozen=True)
class Reply:
    """What a DeclarativeManagement check-in answers (JSON, or an empty 200), and the inventory
    its status report filled (for the transport's inventory rules)."""

    body: dict[str, Any] | None
    inventory: dict[str, Any] = field(default_factory=dict)

    def json(self) -> bytes:
        """The answer's bytes."""
        return json.dumps(self.body).encode() if self.body is not None else b""


def _key(purpose: str) -> bytes:
    return f"apple-ddm-{purpose}:{current_app.config['SECRET_KEY']}".encode()


def _prefix(school: School) -> str:
    return f"{current_app.config['APPLE_PAYLOAD_PREFIX']}.{school.slug}"


def _school(session: Session, device: Device) -> School:
    school = session.get(School, device.school_id)
    assert school is not None
    return school


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _retry() -> int:
    return int(current_app.config["COMMAND_NOT_NOW_RETRY_SECONDS"])


def profile_mac(device_id: int, server_token: str) -> str:
    """The capability of a device's legacy profile of one server token."""
    message = f"{device_id}/{server_token}".encode()
    return hmac.new(_key("profile-url"), message, hashlib.sha256).hexdigest()


def profile_url(device_id: int, server_token: str) -> str:
    """Where a device fetches its legacy profile of that server token."""
    mac = profile_mac(device_id, server_token)
    return f"{base_url()}{PROFILE_PATH}/{device_id}/{server_token}/{mac}"


def state_of(session: Session, device_id: int) -> AppleDeclarativeState | None:
    """The declarative state of a device (None: it gets its policy as a profile)."""
    return session.get(AppleDeclarativeState, device_id)


def current(
    session: Session, device: Device, apple: AppleDevice, now: datetime
) -> tuple[str, declarations.Declarations]:
    """The hash of the device's effective policy and its declarations now."""
    policy_hash, document = policies.delivered_policy(
        session, device.id, device.school_id, device.ownership, now
    )
    return policy_hash, _build(session, device, apple, document)


def _build(
    session: Session, device: Device, apple: AppleDevice, document: dict[str, Any]
) -> declarations.Declarations:
    school = _school(session, device)
    return declarations.build(
        document,
        prefix=_prefix(school),
        organization=school.name,
        supervised=apple.supervised,
        personal=device.ownership == "byod",
        key=_key("server-token"),
        profile_url=lambda token: profile_url(device.id, token),
    )


def _remember(
    state: AppleDeclarativeState, built: declarations.Declarations, now: datetime
) -> None:
    if state.token != built.token:
        state.token = built.token
        state.token_at = now


def _actor(device: Device) -> Actor:
    return Actor(name=f"device:{device.id}", role="device", school_id=device.school_id)


def forget(session: Session, device_id: int) -> None:
    """Delete the declarative state of a device whose management ended (the status it
    reported among it)."""
    state = state_of(session, device_id)
    if state is not None:
        session.delete(state)


# --- which devices ---------------------------------------------------------------------------


def observe_os(
    session: Session, device: Device, apple: AppleDevice | None, os_version: Any, now: datetime
) -> bool:
    """The device reported its OS version: from iOS/iPadOS 17 on it gets its policy as
    declarations (for good). The policy profile it got before is removed first, and its
    policy is due, so the declarations and the status channel go out. True when it moved."""
    if (
        apple is None
        or not isinstance(os_version, str)
        or not declarations.is_declarative(device.platform, os_version)
        or state_of(session, device.id) is not None
    ):
        return False
    policy = session.get(DevicePolicyState, device.id)
    if policy is None:
        policies.evaluate(session, Device.id == device.id, now, wake=False)
        policy = session.get(DevicePolicyState, device.id)
    had_profile = policy is not None and policy.sent_at is not None
    session.add(
        AppleDeclarativeState(
            device_id=device.id,
            school_id=device.school_id,
            created_at=now,
            token="",
            token_at=now,
            remove_profile_due_at=now if had_profile else None,
            status={},
            status_errors=[],
        )
    )
    if policy is not None:
        policy.due_at = now
    apple.policy_left_out = []
    session.flush()
    audit.record(
        session,
        _actor(device),
        "device.apple.declarative",
        "device",
        device.id,
        school_id=device.school_id,
        details={"os_version": os_version[:60], "remove_profile": had_profile},
    )
    return True


# --- the command endpoint --------------------------------------------------------------------


def next_command(
    session: Session, device: Device, apple: AppleDevice, now: datetime, resend: int
) -> dict[str, Any] | None:
    """The policy work of a declarative device: the removal of its old policy profile, then
    a DeclarativeManagement command when its declarations changed. None when nothing is due."""
    state = state_of(session, device.id)
    assert state is not None
    if state.remove_profile_due_at is not None:
        if state.remove_profile_due_at > now:
            return None  # its answer is awaited: the declarations wait for it
        state.remove_profile_due_at = now + timedelta(seconds=resend)
        identifier = f"{_prefix(_school(session, device))}.{payloads.POLICY_PROFILE_SUFFIX}"
        request = {"RequestType": "RemoveProfile", "Identifier": identifier}
        return payloads.envelope(REMOVE_PROFILE_UUID, request)
    work = policies.policy_work(session, device.id, device.school_id, device.ownership, now, resend)
    if work is None:
        return None
    built = _build(session, device, apple, work["payload"]["document"])
    _remember(state, built, now)
    # The device has these declarations already (the policy changed in what it does not
    # carry): its last status decides, no command is needed.
    if state.synced_token == built.token and _settle(
        session, device, state, work["payload"]["hash"], built, now
    ):
        return None
    state.sent_token = built.token
    data = json.dumps(declarations.sync_tokens(built.token, _timestamp(state.token_at))).encode()
    return payloads.envelope(work["id"], {"RequestType": "DeclarativeManagement", "Data": data})


def record_result(
    session: Session,
    device: Device,
    apple: AppleDevice,
    command_uuid: str,
    result: str,
    detail: str,
    now: datetime,
) -> bool:
    """Record the result of a command of a declarative device's policy; False when the
    command is not one (the transport records it)."""
    state = state_of(session, device.id)
    if state is None:
        return False
    if command_uuid == REMOVE_PROFILE_UUID:
        # An error (the profile was gone already) ends the removal too: the device has no
        # policy profile either way. A NotNow asks again later.
        if result == "not_now":
            state.remove_profile_due_at = now + timedelta(seconds=_retry())
        else:
            state.remove_profile_due_at = None
        audit.record(
            session,
            _actor(device),
            "device.apple.remove_policy_profile",
            "device",
            device.id,
            school_id=device.school_id,
            details={"result": result, "detail": detail[:500]},
        )
        return True
    if not command_uuid.startswith("policy-"):
        return False
    policy_hash = command_uuid.removeprefix("policy-")
    if result == "done":
        # The device was told the tokens; what it applied its status report says (which may
        # have come before this answer).
        current_hash, built = current(session, device, apple, now)
        _remember(state, built, now)
        _settle(session, device, state, current_hash, built, now)
        return True
    policies.record_policy_result(
        session, device.id, policy_hash, result, detail, {}, now, _retry()
    )
    return True


def _settle(
    session: Session,
    device: Device,
    state: AppleDeclarativeState,
    policy_hash: str,
    built: declarations.Declarations,
    now: datetime,
) -> bool:
    """Record the policy's result from the device's last status, when that status covers the
    declarations of the policy last sent; False when it does not (yet)."""
    policy = session.get(DevicePolicyState, device.id)
    if policy is None or policy.sent_at is None or policy.sent_hash != policy_hash:
        return False
    outcome = declarations.outcome(state.status, built)
    if not outcome.settled:
        return False
    policies.record_policy_result(
        session,
        device.id,
        policy_hash,
        "failed" if outcome.failed else "done",
        "",
        {"failed_settings": outcome.failed_settings},
        now,
        _retry(),
    )
    return True


# --- the DeclarativeManagement check-in --------------------------------------------------------


def check_in(
    session: Session, device: Device, apple: AppleDevice, message: dict[str, Any], now: datetime
) -> Reply:
    """Answer one DeclarativeManagement check-in of an identified device."""
    endpoint = message.get("Endpoint")
    if not isinstance(endpoint, str) or not 0 < len(endpoint) <= MAX_ENDPOINT:
        raise _refused("Endpoint", f"a string of 1 to {MAX_ENDPOINT} characters")
    kind = identifier = None
    if endpoint.startswith("declaration/"):
        parts = endpoint.split("/", 2)
        if len(parts) != 3 or parts[1] not in declarations.GROUPS or not parts[2]:
            raise _refused(
                "Endpoint",
                "declaration/<activation|configuration|asset|management>/<identifier>",
            )
        kind, identifier = parts[1], parts[2]
    elif endpoint not in ("tokens", "declaration-items", "status"):
        raise _refused(
            "Endpoint", "one of tokens, declaration-items, status, declaration/<type>/<identifier>"
        )
    report = _status_report(message) if endpoint == "status" else None
    # Locked (PostgreSQL): a status report merges into the status kept, one at a time.
    state = session.scalar(
        select(AppleDeclarativeState)
        .where(AppleDeclarativeState.device_id == device.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if state is None:
        raise NoDeclarations("this device gets its policy as a profile, not as declarations")
    policy_hash, built = current(session, device, apple, now)
    _remember(state, built, now)
    if endpoint == "tokens":
        return Reply(declarations.sync_tokens(built.token, _timestamp(state.token_at)))
    if endpoint == "declaration-items":
        state.synced_token = built.token
        return Reply(built.items())
    if kind is not None and identifier is not None:
        found = built.find(kind, identifier)
        if found is None:
            raise NoDeclarations(f"the device has no {kind} {identifier!r}")
        return Reply(found.body())
    assert report is not None
    return Reply(None, _status(session, device, state, report, policy_hash, built, now))


def _no_constant(name: str) -> Any:
    """NaN and Infinity are no JSON (Python reads them; PostgreSQL's json does not store them)."""
    raise ValueError(f"{name} is not JSON")


def _status_report(message: dict[str, Any]) -> declarations.StatusReport:
    """The status report a message carries, checked (refused with the reason)."""
    data = message.get("Data")
    if isinstance(data, str):
        try:
            data = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _refused("Data", "the status report is not base64") from exc
    if not isinstance(data, bytes) or not data:
        raise _refused("Data", "a status report needs its JSON as data")
    if len(data) > MAX_STATUS_BYTES:
        raise _refused("Data", f"a status report has at most {MAX_STATUS_BYTES} bytes")
    try:
        decoded = json.loads(data, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _refused("Data", "the status report is not JSON") from exc
    try:
        return declarations.parse_status(decoded)
    except declarations.StatusRefused as exc:
        raise _refused("Data", str(exc)) from exc


def _status(
    session: Session,
    device: Device,
    state: AppleDeclarativeState,
    report: declarations.StatusReport,
    policy_hash: str,
    built: declarations.Declarations,
    now: datetime,
) -> dict[str, Any]:
    """Keep what a status report says; record the policy's result when it settles it. The
    inventory it fills is returned."""
    if device.ownership == "byod":
        # A personal device's report keeps only what it is subscribed to: a hardware
        # identifier or anything else it sends beyond that is never stored.
        report = declarations.personal_report(report)
    status = declarations.merge_status(state.status or {}, report)
    if len(json.dumps(status)) > MAX_STATUS_BYTES:
        raise _refused("Data", f"the status kept of a device has at most {MAX_STATUS_BYTES} bytes")
    state.status = status
    state.status_errors = declarations.merge_errors(state.status_errors or [], report)
    state.status_at = now
    version = declarations.os_version_of(report.items)
    if version is not None:
        device.os_version = version[:60]
    _settle(session, device, state, policy_hash, built, now)
    session.flush()
    return declarations.inventory_of(report.items)


# --- the legacy profile --------------------------------------------------------------------------


def legacy_profile(
    session: Session, device_id: int, server_token: str, mac: str, now: datetime
) -> dict[str, Any]:
    """The legacy profile a device's declaration points to, while that declaration is its
    current one; NotFound for any other (stale, forged) URL."""
    missing = NoDeclarations("no such profile")
    # Compared as bytes: a forged URL may carry any characters.
    if not hmac.compare_digest(mac.encode(), profile_mac(device_id, server_token).encode()):
        raise missing
    device = session.get(Device, device_id)
    apple = session.get(AppleDevice, device_id)
    if device is None or apple is None or device.status != "enrolled":
        raise missing
    if state_of(session, device_id) is None:
        raise missing
    _hash, built = current(session, device, apple, now)
    if built.profile is None or built.legacy_token != server_token:
        raise missing
    return built.profile
