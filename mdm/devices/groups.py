"""Groups of a school's devices and users (a class, the teachers, a custom set). They flush,
never commit."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mdm.accounts.models import School, User
from mdm.devices import class_groups, hooks
from mdm.devices.models import GROUP_KINDS, Device, Group
from mdm.devices.service import bump_config, require_admin
from mdm.platform import audit
from mdm.platform.actors import Actor
from mdm.platform.errors import Conflict, NotFound, ValidationFailed
from mdm.platform.scoping import get_scoped, require_school, scoped


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
    require_admin(actor)
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
    if kind == "class":
        # A class group an admin makes for a class is that class's group, filled at once.
        class_groups.sync_class_groups(session, actor, school_id)
    return group


def list_groups(
    session: Session, actor: Actor, *, school_id: int | None = None, kind: str | None = None
) -> list[Group]:
    """Groups the admin may see, by name."""
    require_admin(actor)
    stmt = scoped(select(Group), Group, actor)
    if school_id is not None:
        stmt = stmt.where(Group.school_id == school_id)
    if kind:
        stmt = stmt.where(Group.kind == kind)
    return list(session.scalars(stmt.order_by(Group.name, Group.id)))


def get_group(session: Session, actor: Actor, group_id: int) -> Group:
    """One group the admin may see."""
    require_admin(actor)
    return get_scoped(session, Group, group_id, actor)


def update_group(session: Session, actor: Actor, group_id: int, changes: dict[str, Any]) -> Group:
    """Rename a group or change its kind; a class's group renamed or made another kind is no
    longer kept in sync with the class (it becomes the admin's own)."""
    group = get_group(session, actor, group_id)
    if "name" in changes:
        name = _check_group_name(session, group.school_id, changes["name"], group.id)
        if name != group.name:
            group.class_key = group.class_gone_at = None
        group.name = name
        bump_config(session, [device.id for device in group.devices])
    if "kind" in changes:
        if changes["kind"] != group.kind:
            group.class_key = group.class_gone_at = None
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
    if group.kind == "class" and group.class_key is None:
        class_groups.sync_class_groups(session, actor, group.school_id)
    return group


def delete_group(session: Session, actor: Actor, group_id: int) -> None:
    """Delete a group; its devices and users stay."""
    group = get_group(session, actor, group_id)
    members = [device.id for device in group.devices]
    bump_config(session, members)
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
    hooks.memberships_changed(session, members)


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
    hooks.memberships_changed(session, [device.id for device in new])
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
    hooks.memberships_changed(session, [device_id])
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
