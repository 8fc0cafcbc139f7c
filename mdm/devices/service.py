"""Devices: creating them for the transports, the admin's and the owner's operations, and what
is stored of a device's inventory. They flush, never commit."""

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from mdm.accounts.models import School, User
from mdm.devices import byod, class_groups, credentials, hooks, inventory_rules
from mdm.devices.models import Device, Group, group_devices
from mdm.platform import audit
from mdm.platform.actors import Actor
from mdm.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from mdm.platform.scoping import ADMINS, get_scoped, require_role, scoped
from mdm.platform.types import utcnow

CSV_COLUMNS = (
    "id",
    "school",
    "name",
    "ownership",
    "platform",
    "model",
    "os_version",
    "serial_number",
    "imei",
    "imei2",
    "status",
    "user",
    "groups",
    "enrolled_at",
    "last_seen_at",
    "inventory",
)


@dataclass(frozen=True)
class DeviceFilters:
    """What the admin's device list and CSV export are filtered by."""

    school_id: int | None = None
    group_id: int | None = None
    ownership: str | None = None
    platform: str | None = None
    status: str | None = None
    last_seen_before: datetime | None = None
    last_seen_after: datetime | None = None
    search: str | None = None
    # Conditions on Device of the packages built on devices (a policy's compliance, commands),
    # which mdm.devices does not know: mdm.devices.pages takes them from their filters.
    conditions: tuple[Any, ...] = ()


def require_admin(actor: Actor) -> None:
    """Only admins (and the system) manage devices and groups."""
    require_role(actor, ADMINS, "only admins manage devices and groups")


def _device_select(actor: Actor, filters: DeviceFilters) -> Select[Any]:
    stmt = scoped(select(Device), Device, actor)
    if filters.school_id is not None:
        stmt = stmt.where(Device.school_id == filters.school_id)
    if filters.group_id is not None:
        members = select(group_devices.c.device_id).where(
            group_devices.c.group_id == filters.group_id
        )
        stmt = stmt.where(Device.id.in_(members))
    for column, value in (
        (Device.ownership, filters.ownership),
        (Device.platform, filters.platform),
        (Device.status, filters.status),
    ):
        if value:
            stmt = stmt.where(column == value)
    if filters.last_seen_before is not None:
        stmt = stmt.where(Device.last_seen_at < filters.last_seen_before)
    if filters.last_seen_after is not None:
        stmt = stmt.where(Device.last_seen_at >= filters.last_seen_after)
    if filters.search:
        stmt = stmt.where(_search(filters.search))
    for condition in filters.conditions:
        stmt = stmt.where(condition)
    return stmt


def _search(text: str) -> Any:
    """Part of the name, model, the user's username, the serial number or an IMEI, or the
    whole name of a group (a class: "7a")."""
    pattern = f"%{text.lower()}%"
    owners = select(User.id).where(func.lower(User.username).like(pattern))
    in_group = (
        select(group_devices.c.device_id)
        .join(Group, Group.id == group_devices.c.group_id)
        .where(func.lower(Group.name) == " ".join(text.split()).lower())
    )
    matches = [
        func.lower(Device.name).like(pattern),
        func.lower(Device.model).like(pattern),
        Device.user_id.in_(owners),
        Device.id.in_(in_group),
    ]
    serial = "".join(text.split()).upper()  # serial numbers are stored so
    if serial:
        matches.append(Device.serial_number.like(f"%{serial}%"))
    imei = inventory_rules.search_imei(text)
    if imei is not None:
        matches += [Device.imei.like(f"%{imei}%"), Device.imei2.like(f"%{imei}%")]
    return or_(*matches)


def list_devices(
    session: Session, actor: Actor, filters: DeviceFilters, *, limit: int = 50, offset: int = 0
) -> tuple[list[Device], int]:
    """Devices the admin may see, filtered, newest first, with the total count."""
    require_admin(actor)
    stmt = _device_select(actor, filters)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.options(selectinload(Device.user), selectinload(Device.groups))
        .order_by(Device.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


def _csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # Names come from devices: never let a spreadsheet run them as formulas.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_csv(session: Session, actor: Actor, filters: DeviceFilters) -> str:
    """The filtered device inventory as CSV, one row per device."""
    require_admin(actor)
    stmt = _device_select(actor, filters).options(
        selectinload(Device.user), selectinload(Device.groups)
    )
    slugs = dict(session.execute(select(School.id, School.slug)).all())
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for device in session.scalars(stmt.order_by(Device.id)):
        row = (
            device.id,
            slugs.get(device.school_id),
            device.name,
            device.ownership,
            device.platform,
            device.model,
            device.os_version,
            device.serial_number,
            device.imei,
            device.imei2,
            device.status,
            device.user.username if device.user else "",
            ";".join(group.name for group in device.groups),
            device.enrolled_at.isoformat(),
            device.last_seen_at.isoformat() if device.last_seen_at else "",
            json.dumps(device.inventory, sort_keys=True, ensure_ascii=False),
        )
        writer.writerow([_csv_cell(value) for value in row])
    return out.getvalue()


def get_device(session: Session, actor: Actor, device_id: int) -> Device:
    """One device the admin may see (404 for other schools)."""
    require_admin(actor)
    return get_scoped(session, Device, device_id, actor)


def bump_config(session: Session, device_ids: list[int]) -> None:
    """Tell these devices' agents that their configuration changed."""
    if device_ids:
        session.execute(
            update(Device)
            .where(Device.id.in_(device_ids))
            .values(config_version=Device.config_version + 1)
        )


def _school_user(session: Session, school_id: int, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or user.school_id != school_id:
        raise ValidationFailed(errors={"user_id": [f"no user {user_id} in the device's school"]})
    return user


def update_device(
    session: Session, actor: Actor, device_id: int, changes: dict[str, Any]
) -> Device:
    """Rename a device or assign it to a user of its school (or to nobody)."""
    device = get_device(session, actor, device_id)
    if "name" in changes:
        device.name = changes["name"].strip()
    if "user_id" in changes:
        if device.ownership == "byod":
            raise Conflict("a BYOD device belongs to its owner; it cannot be reassigned")
        user_id = changes["user_id"]
        user = None if user_id is None else _school_user(session, device.school_id, user_id)
        # A student's device is in the student's class group (and in no other class's).
        class_group = class_groups.class_group_for(session, actor, device.school_id, user)
        device.user_id = user.id if user is not None else None
        before = {group.id for group in device.groups}
        device.groups = class_groups.with_class_group(list(device.groups), user, class_group)
        if {group.id for group in device.groups} != before:
            session.flush()
            hooks.memberships_changed(session, [device.id])
    # Raised by the database (config_version = config_version + 1), so that parallel changes
    # each get their own version.
    device.config_version = Device.config_version + 1
    session.flush()
    audit.record(
        session,
        actor,
        "device.update",
        "device",
        device.id,
        school_id=device.school_id,
        details=changes,
    )
    return device


def retire(session: Session, actor: Actor, device: Device, reason: str) -> None:
    """End management of a device; a personal device's inventory is forgotten too."""
    if device.status == "retired":
        raise Conflict(f"device {device.id} is already retired")
    device.status = "retired"
    device.retired_at = utcnow()
    if device.ownership == "byod":
        device.inventory = {}
        device.inventory_hash = ""
    session.flush()
    audit.record(
        session,
        actor,
        "device.retire",
        "device",
        device.id,
        school_id=device.school_id,
        details={"reason": reason},
    )


def retire_device(session: Session, actor: Actor, device_id: int) -> Device:
    """An admin retires a device: its credential stops working. A transport may still tell
    the device that its management ended (a personal Apple device: docs/apple.md)."""
    device = get_device(session, actor, device_id)
    retire(session, actor, device, "admin")
    hooks.management_ended(session, actor, device)
    return device


def delete_device(session: Session, actor: Actor, device_id: int) -> None:
    """Delete a device with its credentials, consents and group memberships. A personal device
    still under management is retired first (that tells it to remove the school's part)."""
    device = get_device(session, actor, device_id)
    if device.ownership == byod.BYOD and device.status == "enrolled":
        raise Conflict(
            f"device {device_id} is a personal device still under management: retire it first, "
            "which tells the device to remove the school's apps and data"
        )
    audit.record(
        session,
        actor,
        "device.delete",
        "device",
        device.id,
        school_id=device.school_id,
        details={"name": device.name, "ownership": device.ownership, "status": device.status},
    )
    session.delete(device)
    session.flush()


def list_own_devices(session: Session, actor: Actor) -> list[Device]:
    """The devices assigned to the logged-in user (their own BYOD devices among them)."""
    if actor.user_id is None:
        return []
    stmt = (
        select(Device)
        .where(Device.user_id == actor.user_id)
        .options(selectinload(Device.groups))
        .order_by(Device.id)
    )
    return list(session.scalars(stmt))


def remove_own_device(session: Session, actor: Actor, device_id: int) -> Device:
    """The owner of a BYOD device removes it from management; its credentials are revoked,
    unless a transport still tells the device (a personal Apple device: its identity is
    revoked when it checks out)."""
    device = session.get(Device, device_id)
    if device is None or actor.user_id is None or device.user_id != actor.user_id:
        raise NotFound(f"device {device_id} not found")
    if device.ownership != "byod":
        raise PermissionDenied("only the school removes management of a school-owned device")
    retire(session, actor, device, "owner")
    if not hooks.management_ended(session, actor, device):
        credentials.revoke_credentials(session, device.id)
    return device


@dataclass(frozen=True)
class DeviceFacts:
    """What a device says about itself when it enrolls."""

    platform: str
    model: str = ""
    os_version: str = ""
    name: str = ""
    inventory: dict[str, Any] | None = None


def _encoded(inventory: dict[str, Any]) -> bytes:
    return json.dumps(inventory, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def encode_inventory(
    ownership: str, inventory: dict[str, Any], kept: frozenset[str] = frozenset()
) -> tuple[dict[str, Any], str]:
    """(what may be stored, its hash): of a personal device the BYOD-allowed fields, of a
    school-owned one all but the categories of its school's inventory policy that are not
    `kept`; refuses oversized ones."""
    if byod.inventory_depth(inventory) > byod.MAX_INVENTORY_DEPTH:
        raise ValidationFailed(
            "The inventory is nested too deeply.",
            errors={
                "inventory": [f"objects and lists nest at most {byod.MAX_INVENTORY_DEPTH} deep"]
            },
        )
    stored, _dropped = byod.filter_inventory(ownership, inventory)
    if ownership == byod.SCHOOL:
        stored, _dropped = inventory_rules.filter_school_inventory(stored, kept)
    encoded = _encoded(stored)
    limit = int(current_app.config["AGENT_MAX_INVENTORY_BYTES"])
    if len(encoded) > limit:
        raise ValidationFailed(
            "The inventory is too large.",
            errors={"inventory": [f"at most {limit} bytes of JSON, got {len(encoded)}"]},
        )
    return stored, hashlib.sha256(encoded).hexdigest()


def inventory_hash(stored: dict[str, Any]) -> str:
    """The hash a stored inventory is compared by (a check-in skips an unchanged one)."""
    return hashlib.sha256(_encoded(stored)).hexdigest()


def hardware_ids(ownership: str, reported: dict[str, Any]) -> inventory_rules.HardwareIds:
    """The serial number and IMEIs to keep of a device's inventory: none of a personal device."""
    if ownership == byod.BYOD:
        return inventory_rules.HardwareIds()
    return inventory_rules.hardware_ids(reported)


def create_device(
    session: Session,
    *,
    school_id: int,
    ownership: str,
    user_role: str,
    facts: DeviceFacts,
    inventory: tuple[dict[str, Any], str],
    user_id: int | None,
    groups: list[Group],
    pending: bool = False,
) -> Device:
    """A newly enrolled device, seen now, with the inventory it keeps (`encode_inventory`,
    checked before anything was written); flushed. A pending one (an enrollment the device
    completes later, `activate_device`) gets no policy nor commands until then."""
    kept, inventory_hash = inventory
    ids = hardware_ids(ownership, facts.inventory or {})
    now = utcnow()
    device = Device(
        school_id=school_id,
        ownership=ownership,
        platform=facts.platform,
        model=facts.model,
        os_version=facts.os_version,
        name=facts.name.strip() or facts.model or facts.platform,
        user_role=user_role,
        user_id=user_id,
        status="pending" if pending else "enrolled",
        enrolled_at=now,
        last_seen_at=None if pending else now,
        inventory=kept,
        inventory_hash=inventory_hash,
        serial_number=ids.serial_number,
        imei=ids.imei,
        imei2=ids.imei2,
        config_version=1,
        groups=list(groups),
    )
    session.add(device)
    session.flush()
    hooks.device_created(session, device)
    return device


def activate_device(session: Session, device: Device, facts: DeviceFacts) -> None:
    """A pending device completed its enrollment: it is enrolled from now on, with what it
    says about itself."""
    now = utcnow()
    device.status = "enrolled"
    device.enrolled_at = now
    device.last_seen_at = now
    device.platform = facts.platform
    device.model = facts.model or device.model
    device.os_version = facts.os_version or device.os_version
    if facts.name.strip():
        device.name = facts.name.strip()
    session.flush()
    hooks.device_created(session, device)


def personal_devices_of(session: Session, user: User) -> str | None:
    """Why a user who owns enrolled personal devices may not be deleted, or None."""
    count = session.scalar(
        select(func.count())
        .select_from(Device)
        .where(Device.user_id == user.id, Device.ownership == "byod", Device.status == "enrolled")
    )
    if not count:
        return None
    # A personal device must not stay managed without the owner who consented to it.
    return (
        f"{user.username} owns {count} enrolled personal device(s); "
        "retire them (or let the owner remove management) before deleting the account"
    )
