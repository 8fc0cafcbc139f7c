"""Devices and groups: the admin's and the owner's operations. They flush, never commit."""

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from mdm import audit
from mdm.actors import Actor
from mdm.device_models import GROUP_KINDS, Device, Group, group_devices
from mdm.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from mdm.models import School, User
from mdm.scoping import get_scoped, require_school, scoped
from mdm.types import utcnow

ADMIN_ROLES = ("it_admin", "school_admin", "system")
CSV_COLUMNS = (
    "id",
    "school",
    "name",
    "ownership",
    "platform",
    "model",
    "os_version",
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


def _require_admin(actor: Actor) -> None:
    if actor.role not in ADMIN_ROLES:
        raise PermissionDenied("only admins manage devices and groups")


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
        pattern = f"%{filters.search.lower()}%"
        owners = select(User.id).where(func.lower(User.username).like(pattern))
        stmt = stmt.where(
            or_(
                func.lower(Device.name).like(pattern),
                func.lower(Device.model).like(pattern),
                Device.user_id.in_(owners),
            )
        )
    return stmt


def list_devices(
    session: Session, actor: Actor, filters: DeviceFilters, *, limit: int = 50, offset: int = 0
) -> tuple[list[Device], int]:
    """Devices the admin may see, filtered, newest first, with the total count."""
    _require_admin(actor)
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
    _require_admin(actor)
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
    _require_admin(actor)
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
        device.user_id = (
            None if user_id is None else _school_user(session, device.school_id, user_id).id
        )
    device.config_version += 1
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
    """An admin retires a device: its credential stops working."""
    device = get_device(session, actor, device_id)
    retire(session, actor, device, "admin")
    return device


def delete_device(session: Session, actor: Actor, device_id: int) -> None:
    """Delete a device with its credentials, consents and group memberships."""
    device = get_device(session, actor, device_id)
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
    """The owner of a BYOD device removes it from management."""
    device = session.get(Device, device_id)
    if device is None or actor.user_id is None or device.user_id != actor.user_id:
        raise NotFound(f"device {device_id} not found")
    if device.ownership != "byod":
        raise PermissionDenied("only the school removes management of a school-owned device")
    retire(session, actor, device, "owner")
    return device


def _group_school(actor: Actor, school_id: int | None) -> int:
    school_id = school_id if school_id is not None else actor.school_id
    if school_id is None:
        raise ValidationFailed(errors={"school_id": ["required for a city IT admin"]})
    require_school(actor, school_id)
    return school_id


def _check_group_name(session: Session, school_id: int, name: str, group_id: int | None) -> str:
    name = name.strip()
    if not name:
        raise ValidationFailed(errors={"name": ["must not be empty"]})
    clash = select(Group.id).where(Group.school_id == school_id, Group.name == name)
    if group_id is not None:
        clash = clash.where(Group.id != group_id)
    if session.scalar(clash) is not None:
        raise Conflict(f"the school has a group named {name!r}")
    return name


def create_group(
    session: Session, actor: Actor, *, kind: str, name: str, school_id: int | None = None
) -> Group:
    """Create a class, teachers or custom group in a school."""
    _require_admin(actor)
    school_id = _group_school(actor, school_id)
    if session.get(School, school_id) is None:
        raise ValidationFailed(errors={"school_id": [f"no school {school_id}"]})
    if kind not in GROUP_KINDS:
        raise ValidationFailed(errors={"kind": [f"must be one of {', '.join(GROUP_KINDS)}"]})
    group = Group(
        school_id=school_id, kind=kind, name=_check_group_name(session, school_id, name, None)
    )
    session.add(group)
    session.flush()
    audit.record(
        session,
        actor,
        "group.create",
        "group",
        group.id,
        school_id=school_id,
        details={"kind": kind, "name": group.name},
    )
    return group


def list_groups(
    session: Session, actor: Actor, *, school_id: int | None = None, kind: str | None = None
) -> list[Group]:
    """Groups the admin may see, by name."""
    _require_admin(actor)
    stmt = scoped(select(Group), Group, actor)
    if school_id is not None:
        stmt = stmt.where(Group.school_id == school_id)
    if kind:
        stmt = stmt.where(Group.kind == kind)
    return list(session.scalars(stmt.order_by(Group.name, Group.id)))


def get_group(session: Session, actor: Actor, group_id: int) -> Group:
    """One group the admin may see."""
    _require_admin(actor)
    return get_scoped(session, Group, group_id, actor)


def update_group(session: Session, actor: Actor, group_id: int, changes: dict[str, Any]) -> Group:
    """Rename a group or change its kind."""
    group = get_group(session, actor, group_id)
    if "name" in changes:
        group.name = _check_group_name(session, group.school_id, changes["name"], group.id)
        bump_config(session, [device.id for device in group.devices])
    if "kind" in changes:
        group.kind = changes["kind"]
    session.flush()
    audit.record(
        session,
        actor,
        "group.update",
        "group",
        group.id,
        school_id=group.school_id,
        details=changes,
    )
    return group


def delete_group(session: Session, actor: Actor, group_id: int) -> None:
    """Delete a group; its devices and users stay."""
    group = get_group(session, actor, group_id)
    bump_config(session, [device.id for device in group.devices])
    audit.record(
        session,
        actor,
        "group.delete",
        "group",
        group.id,
        school_id=group.school_id,
        details={"name": group.name},
    )
    session.delete(group)
    session.flush()


def _members(session: Session, model: Any, ids: list[int], school_id: int, field: str) -> list[Any]:
    rows = list(session.scalars(select(model).where(model.id.in_(ids))))
    found = {row.id for row in rows if row.school_id == school_id}
    missing = sorted(set(ids) - found)
    if missing:
        raise ValidationFailed(
            errors={field: [f"not in the group's school: {', '.join(map(str, missing))}"]}
        )
    return rows


def add_devices(session: Session, actor: Actor, group_id: int, device_ids: list[int]) -> Group:
    """Put devices of the group's school into the group."""
    group = get_group(session, actor, group_id)
    new = [
        device
        for device in _members(session, Device, device_ids, group.school_id, "device_ids")
        if device not in group.devices
    ]
    group.devices.extend(new)
    session.flush()
    bump_config(session, [device.id for device in new])
    audit.record(
        session,
        actor,
        "group.add_devices",
        "group",
        group.id,
        school_id=group.school_id,
        details={"device_ids": [device.id for device in new]},
    )
    return group


def remove_device(session: Session, actor: Actor, group_id: int, device_id: int) -> None:
    """Take a device out of a group."""
    group = get_group(session, actor, group_id)
    device = next((d for d in group.devices if d.id == device_id), None)
    if device is None:
        raise NotFound(f"device {device_id} is not in group {group_id}")
    group.devices.remove(device)
    session.flush()
    bump_config(session, [device_id])
    audit.record(
        session,
        actor,
        "group.remove_device",
        "group",
        group.id,
        school_id=group.school_id,
        details={"device_id": device_id},
    )


def add_users(session: Session, actor: Actor, group_id: int, user_ids: list[int]) -> Group:
    """Put users of the group's school into the group."""
    group = get_group(session, actor, group_id)
    new = [
        user
        for user in _members(session, User, user_ids, group.school_id, "user_ids")
        if user not in group.users
    ]
    group.users.extend(new)
    session.flush()
    audit.record(
        session,
        actor,
        "group.add_users",
        "group",
        group.id,
        school_id=group.school_id,
        details={"user_ids": [user.id for user in new]},
    )
    return group


def remove_user(session: Session, actor: Actor, group_id: int, user_id: int) -> None:
    """Take a user out of a group."""
    group = get_group(session, actor, group_id)
    user = next((u for u in group.users if u.id == user_id), None)
    if user is None:
        raise NotFound(f"user {user_id} is not in group {group_id}")
    group.users.remove(user)
    session.flush()
    audit.record(
        session,
        actor,
        "group.remove_user",
        "group",
        group.id,
        school_id=group.school_id,
        details={"user_id": user_id},
    )
