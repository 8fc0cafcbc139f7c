"""The device side of the JSON agent protocol v1: authentication, check-in, configuration,
results, credential rotation, unenroll (docs/agent-protocol.md)."""

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from cryptography import x509
from flask import current_app
from sqlalchemy import (
    Connection,
    Select,
    Update,
    bindparam,
    exists,
    func,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, selectinload

from mdm.accounts.models import User
from mdm.commands import service as commands
from mdm.commands.models import Command
from mdm.devices import byod, credentials, identity, inventory_rules
from mdm.devices import service as devices
from mdm.devices.check_ins import check_in_connection
from mdm.devices.models import Device, DeviceCredential, InventoryPolicy
from mdm.extensions import db
from mdm.platform import audit
from mdm.platform.actors import Actor
from mdm.platform.errors import Gone, NotAuthenticated, NotFound, ValidationFailed
from mdm.platform.types import utcnow
from mdm.policies import service as policies
from mdm.policies.models import DevicePolicyState
from mdm.push import service as push

PROTOCOL_VERSION = 1
UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="agent"'}
WORK_STATUSES = ("done", "failed", "not_now")
POLICY_WORK = re.compile(r"^policy-([0-9a-f]{64})$")
COMMAND_WORK = re.compile(r"^command-([0-9]{1,18})$")


class DeviceRetired(Gone):
    type = "device-retired"
    title = "Device retired"


@dataclass(frozen=True)
class AgentDevice:
    """The device a request authenticated as, with what a check-in needs of it."""

    credential_id: int
    device_id: int
    school_id: int
    ownership: str
    inventory_hash: str
    config_version: int
    address: str | None
    # The categories of personal inventory its school keeps of it (a school-owned device).
    inventory_kept: frozenset[str] = frozenset()
    # Whether the device has a policy or commands due: only then is a check-in answered from a
    # transaction (the fast path stays two statements without one).
    work_due: bool = False

    @property
    def actor(self) -> Actor:
        """The device as the actor of audit events."""
        return Actor(
            name=f"device:{self.device_id}",
            role="device",
            school_id=self.school_id,
            address=self.address,
        )


_COLUMNS = (
    DeviceCredential.id.label("credential_id"),
    DeviceCredential.revoked_at,
    DeviceCredential.secret_hash,
    DeviceCredential.not_after,
    Device.id.label("device_id"),
    Device.school_id,
    Device.ownership,
    Device.status,
    Device.inventory_hash,
    Device.config_version,
    Device.user_role,
    User.role.label("owner_role"),
    InventoryPolicy.kept.label("inventory_policy"),
    # A device without a policy state was never evaluated (it is, at its check-in).
    DevicePolicyState.device_id.label("policy_known"),
    DevicePolicyState.due_at.label("policy_due_at"),
    exists()
    .where(Command.device_id == Device.id, Command.due_at <= bindparam("now"))
    .label("commands_due"),
)
# Check-ins are the hottest path of the service: statements are built once (bound parameters)
# and run on the connection, skipping the ORM layer. The device's user and its school's
# inventory policy come with it (primary-key joins), for what is kept of its inventory; whether
# work is due is part of the one SELECT (an index lookup in each of device_policies and
# commands).
_CREDENTIAL_WITH_DEVICE = (
    select(*_COLUMNS)
    .join(Device, Device.id == DeviceCredential.device_id)
    .outerjoin(User, User.id == Device.user_id)
    .outerjoin(InventoryPolicy, InventoryPolicy.school_id == Device.school_id)
    .outerjoin(DevicePolicyState, DevicePolicyState.device_id == Device.id)
)
_BY_LOOKUP_KEY = _CREDENTIAL_WITH_DEVICE.where(DeviceCredential.lookup_key == bindparam("key"))
_BY_FINGERPRINT = _CREDENTIAL_WITH_DEVICE.where(
    DeviceCredential.certificate_fingerprint == bindparam("key")
)
_DEVICES = Device.__table__


# A hardware identifier the inventory lacks keeps its last known value.
_KEPT_WHEN_MISSING = ("serial_number", "imei", "imei2")


def _check_in_update(columns: tuple[str, ...]) -> Update:
    """UPDATE devices SET <columns> for one enrolled device."""
    values = {
        name: func.coalesce(bindparam(f"b_{name}"), _DEVICES.c[name])
        if name in _KEPT_WHEN_MISSING
        else bindparam(f"b_{name}")
        for name in columns
    }
    return (
        update(_DEVICES)
        .where(_DEVICES.c.id == bindparam("b_device_id"), _DEVICES.c.status == "enrolled")
        .values(values)
    )


# Every check-in writes last_seen_at, the OS version when sent, the inventory (with the serial
# number and IMEIs taken from it) when it changed: the four statements a check-in can need,
# built once.
_INVENTORY_COLUMNS = ("inventory", "inventory_hash", *_KEPT_WHEN_MISSING)
_CHECK_IN_COLUMNS = (
    ("last_seen_at",),
    ("last_seen_at", "os_version"),
    ("last_seen_at", *_INVENTORY_COLUMNS),
    ("last_seen_at", "os_version", *_INVENTORY_COLUMNS),
)
_CHECK_IN_UPDATES = {frozenset(columns): _check_in_update(columns) for columns in _CHECK_IN_COLUMNS}


def _refuse(detail: str) -> NotAuthenticated:
    return NotAuthenticated(detail, headers=UNAUTHORIZED_HEADERS)


def _certificate_fingerprint(header: str) -> str:
    try:
        cert = x509.load_pem_x509_certificate(unquote(header).encode())
    except ValueError as exc:
        raise _refuse("the client certificate from the proxy is not a PEM certificate") from exc
    return identity.certificate_fingerprint(cert)


@dataclass(frozen=True)
class CredentialLookup:
    """How to find the credential a request presents, worked out without the database."""

    statement: Select[Any]
    key: str
    secret: str | None


def credential_lookup(secret: str | None, client_certificate: str | None) -> CredentialLookup:
    """The lookup of a device secret (or, behind a trusted TLS proxy, of a client certificate);
    NotAuthenticated when the request presents nothing that could be one."""
    if secret:
        if not identity.is_device_secret(secret):
            raise _refuse("not a device credential")
        return CredentialLookup(_BY_LOOKUP_KEY, identity.device_lookup_key(secret), secret)
    if client_certificate:
        fingerprint = _certificate_fingerprint(client_certificate)
        return CredentialLookup(_BY_FINGERPRINT, fingerprint, None)
    raise _refuse("send the device secret as 'Authorization: Bearer <secret>'")


def authenticate(
    connection: Connection,
    lookup: CredentialLookup,
    address: str | None,
    now: datetime | None = None,
) -> AgentDevice:
    """The enrolled device whose credential the request presents, and whether work is due."""
    secret = lookup.secret
    now = now or utcnow()
    row = connection.execute(lookup.statement, {"key": lookup.key, "now": now}).one_or_none()
    if row is None or (secret and not identity.secret_matches(secret, row.secret_hash)):
        raise _refuse("unknown device credential")
    if not secret and (row.not_after is None or row.not_after <= utcnow()):
        raise _refuse("the client certificate has expired")
    # Retiring (by an admin, the owner or the agent itself) also revokes the credentials: the
    # device proved who it is, so it learns that it was retired (410), not that its credential
    # is unknown (401), and stops instead of retrying.
    if row.status != "enrolled":
        raise DeviceRetired("this device was retired; enroll it again to manage it")
    if row.revoked_at is not None:
        raise _refuse("the device credential was revoked")
    return AgentDevice(
        credential_id=row.credential_id,
        device_id=row.device_id,
        school_id=row.school_id,
        ownership=row.ownership,
        inventory_hash=row.inventory_hash,
        config_version=row.config_version,
        address=address,
        inventory_kept=inventory_rules.kept_categories(
            row.inventory_policy, inventory_rules.policy_role(row.user_role, row.owner_role)
        ),
        work_due=row.policy_known is None
        or (row.policy_due_at is not None and row.policy_due_at <= now)
        or bool(row.commands_due),
    )


def check_in_answer(config_version: int) -> dict[str, Any]:
    """The check-in answer of protocol v1: the configuration version and the pending work."""
    return {
        "protocol": PROTOCOL_VERSION,
        "config_version": config_version,
        "check_in_seconds": int(current_app.config["AGENT_CHECK_IN_SECONDS"]),
        "work": [],
    }


def check_in(
    connection: Connection,
    device: AgentDevice,
    *,
    inventory: dict[str, Any] | None,
    os_version: str | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Record that the device is alive (one UPDATE; the inventory only when it changed).

    Runs on a connection of check_in_connection(); DeviceRetired when the device was retired
    since it authenticated."""
    values: dict[str, Any] = {"last_seen_at": now or utcnow()}
    if os_version is not None:
        values["os_version"] = os_version
    if inventory is not None:
        kept, digest = devices.encode_inventory(device.ownership, inventory, device.inventory_kept)
        if digest != device.inventory_hash:
            ids = devices.hardware_ids(device.ownership, inventory)
            values["inventory"] = kept
            values["inventory_hash"] = digest
            values["serial_number"] = ids.serial_number
            values["imei"] = ids.imei
            values["imei2"] = ids.imei2
    params = {f"b_{name}": value for name, value in values.items()}
    result = connection.execute(
        _CHECK_IN_UPDATES[frozenset(values)], {"b_device_id": device.device_id, **params}
    )
    if result.rowcount == 0:
        raise DeviceRetired("this device was retired; enroll it again to manage it")
    return check_in_answer(device.config_version)


def check_in_request(
    lookup: CredentialLookup,
    address: str | None,
    *,
    inventory: dict[str, Any] | None,
    os_version: str | None,
) -> dict[str, Any]:
    """Authenticate and check in on a check-in connection; once more on a fresh connection when
    the database dropped the pooled one (after a restart): a check-in may safely run twice.
    A device with work due gets it from the request's transaction (`pending_work`)."""
    now = utcnow()
    for attempt in (1, 2):
        try:
            with check_in_connection() as connection:
                device = authenticate(connection, lookup, address, now)
                answer = check_in(
                    connection, device, inventory=inventory, os_version=os_version, now=now
                )
            break
        except DBAPIError as exc:
            if attempt == 2 or not exc.connection_invalidated:
                raise
    if device.work_due:
        answer["work"] = pending_work(db.session, device, now)
    return answer


def _lock_for_writing(session: Session) -> None:
    """On SQLite, take the write lock as the transaction begins, so that concurrent requests of
    one device wait for each other instead of failing when their reads went stale (PostgreSQL
    locks the rows instead)."""
    connection = session.connection()
    raw = connection.connection.dbapi_connection
    if connection.dialect.name == "sqlite" and not raw.in_transaction:  # type: ignore[union-attr]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def pending_work(session: Session, device: AgentDevice, now: datetime) -> list[dict[str, Any]]:
    """The device's due policy and commands, marked as sent in the session's transaction (the
    request commits it before the answer leaves): two check-ins never take the same piece."""
    config = current_app.config
    resend = int(config["COMMAND_RESEND_SECONDS"])
    limit = int(config["AGENT_MAX_WORK_ITEMS"])
    _lock_for_writing(session)
    work: list[dict[str, Any]] = []
    policy = policies.policy_work(
        session, device.device_id, device.school_id, device.ownership, now, resend
    )
    if policy is not None:
        work.append(policy)
    work += commands.command_work(session, device.device_id, now, limit - len(work), resend)
    push.forget_wakeup(session, device.device_id)
    session.flush()
    return work


def configuration(device: Device) -> dict[str, Any]:
    """The configuration an agent holds: what it is called, its groups, how often to check in."""
    return {
        "version": device.config_version,
        "device_id": device.id,
        "name": device.name,
        "ownership": device.ownership,
        "user_role": device.user_role,
        "groups": [group.name for group in device.groups],
        "check_in_seconds": int(current_app.config["AGENT_CHECK_IN_SECONDS"]),
        "not_collected": sorted(byod.BYOD_FORBIDDEN_INVENTORY_FIELDS)
        if device.ownership == byod.BYOD
        else [],
    }


def current_configuration(session: Session, device: AgentDevice) -> dict[str, Any]:
    """The device's current configuration."""
    row = session.scalar(
        select(Device).where(Device.id == device.device_id).options(selectinload(Device.groups))
    )
    assert row is not None
    return configuration(row)


def _check_data(data: dict[str, Any]) -> None:
    limit = int(current_app.config["AGENT_MAX_RESULT_BYTES"])
    if byod.inventory_depth(data) > byod.MAX_INVENTORY_DEPTH:
        raise ValidationFailed(
            errors={"data": [f"objects and lists nest at most {byod.MAX_INVENTORY_DEPTH} deep"]}
        )
    size = len(json.dumps(data, separators=(",", ":")).encode())
    if size > limit:
        raise ValidationFailed(errors={"data": [f"at most {limit} bytes of JSON, got {size}"]})


def record_result(
    session: Session,
    device: AgentDevice,
    work_id: str,
    status: str,
    detail: str = "",
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> bool:
    """Record the result of a piece of work the device was sent (a policy: the hash it applied
    and the settings it could not apply; a command: its result). The same result twice changes
    nothing the second time (False)."""
    data = data or {}
    _check_data(data)
    now = now or utcnow()
    retry = int(current_app.config["COMMAND_NOT_NOW_RETRY_SECONDS"])
    policy = POLICY_WORK.match(work_id)
    command = COMMAND_WORK.match(work_id)
    if policy is None and command is None:
        raise NotFound(f"device {device.device_id} has no pending work {work_id!r}")
    _lock_for_writing(session)
    if policy is not None:
        return policies.record_policy_result(
            session, device.device_id, policy.group(1), status, detail, data, now, retry
        )
    assert command is not None
    return commands.record_command_result(
        session,
        device.device_id,
        device.ownership,
        int(command.group(1)),
        status,
        detail,
        data,
        now,
        retry,
        device.inventory_kept,
    )


def unenroll(session: Session, device: AgentDevice) -> None:
    """The agent removes itself: the device is retired and its credentials revoked."""
    row = session.get(Device, device.device_id)
    assert row is not None
    devices.retire(session, device.actor, row, "device")
    credentials.revoke_credentials(session, device.device_id)


def rotate_credential(
    session: Session, device: AgentDevice, csr_pem: str | None
) -> credentials.IssuedCredential:
    """Replace the credential the device used by a new one; the old one stops working. Of
    parallel rotations with one credential, one gets the new credential; the others find it
    revoked, as any later request with it does."""
    csr = credentials.parse_csr(csr_pem)
    row = session.get(Device, device.device_id)
    assert row is not None
    if not credentials.revoke_credential(session, device.credential_id):
        raise _refuse("the device credential was revoked")
    issued = credentials.issue_credential(session, row, csr)
    audit.record(
        session,
        device.actor,
        "device.credential.rotate",
        "device",
        device.device_id,
        school_id=device.school_id,
        details={"certificate": issued.certificate_pem is not None},
    )
    return issued
