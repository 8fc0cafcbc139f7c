"""Classes are device groups: every class of the school (of its timetable and of its students'
accounts) has a group of the same name whose members are the class's students and their
devices, kept in sync (docs/class-groups.md). They flush, never commit; callers authorize.

A group made for a class (or an admin's group of kind `class` with the class's name, adopted)
carries the class's key (`Group.class_key`). Only such groups are synced, and in them only
students and the devices of students: teachers, shared devices and everything else an admin put
in stay. A class that is gone from every source keeps its group (policies and enrollment tokens
may name it), marked `class_gone_at`; its students left it with their class.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from mdm.accounts.models import School, User
from mdm.accounts.names import class_key
from mdm.devices import hooks
from mdm.devices.models import Device, Group, group_devices, group_users
from mdm.platform import audit
from mdm.platform.actors import Actor
from mdm.platform.types import utcnow

# Other packages name classes too (the timetable's): a source answers a school's class names.
ClassSource = Callable[[Session, int], Iterable[str]]
CLASS_SOURCES = "mdm_class_sources"  # their key in app.extensions
# Devices whose configuration version rises are updated this many at a time.
CHUNK = 500


def register_class_source(app: Flask, source: ClassSource) -> None:
    """Let a package name classes of a school (each gets a group)."""
    app.extensions.setdefault(CLASS_SOURCES, []).append(source)


@dataclass
class ClassGroupChanges:
    """What a sync changed: groups by class name, memberships by count."""

    created: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    back: list[str] = field(default_factory=list)
    # Classes whose name an admin's group of another kind holds: no group is synced for them.
    name_taken: list[str] = field(default_factory=list)
    students_added: int = 0
    students_removed: int = 0
    devices_added: int = 0
    devices_removed: int = 0

    @property
    def any(self) -> bool:
        """Whether anything changed (a taken name alone is no change)."""
        return bool(
            self.created
            or self.adopted
            or self.gone
            or self.back
            or self.students_added
            or self.students_removed
            or self.devices_added
            or self.devices_removed
        )

    def to_dict(self) -> dict[str, Any]:
        """The changes for reports and the audit log."""
        return {
            "created": self.created,
            "adopted": self.adopted,
            "gone": self.gone,
            "back": self.back,
            "name_taken": self.name_taken,
            "students_added": self.students_added,
            "students_removed": self.students_removed,
            "devices_added": self.devices_added,
            "devices_removed": self.devices_removed,
        }


def school_classes(session: Session, school_id: int) -> dict[str, str]:
    """class key -> the class's name, from every source: the timetable's spelling first,
    then the students' (a class only one of them names is a class too)."""
    names: dict[str, str] = {}
    for source in current_app.extensions.get(CLASS_SOURCES, []):
        for name in source(session, school_id):
            if class_key(name):
                names.setdefault(class_key(name), name.strip())
    for name in session.scalars(
        select(User.class_name)
        .where(User.school_id == school_id, User.role == "student", User.class_name.is_not(None))
        .distinct()
    ):
        if class_key(name):
            names.setdefault(class_key(name), name.strip())
    return names


def _sync_groups(
    session: Session, school_id: int, classes: dict[str, str], changes: ClassGroupChanges
) -> dict[str, Group]:
    """Make a group for each class (or adopt an admin's class group of its name), mark the
    groups of classes that are gone; returns the synced groups by class key."""
    groups = list(session.scalars(select(Group).where(Group.school_id == school_id)))
    synced = {group.class_key: group for group in groups if group.class_key}
    unsynced: dict[str, Group] = {}
    for group in sorted(groups, key=lambda g: g.name):
        if not group.class_key:
            unsynced.setdefault(class_key(group.name), group)
    exact = {group.name: group for group in groups if not group.class_key}
    now = utcnow()
    for key, name in sorted(classes.items()):
        group = synced.get(key)
        if group is None:
            holder = exact.get(name) or unsynced.get(key)
            if holder is not None and holder.kind != "class":
                changes.name_taken.append(name)
                continue
            if holder is not None:
                holder.class_key = key
                changes.adopted.append(holder.name)
                group = holder
            else:
                group = Group(school_id=school_id, kind="class", name=name, class_key=key)
                session.add(group)
                changes.created.append(name)
            synced[key] = group
        if group.class_gone_at is not None:
            group.class_gone_at = None
            changes.back.append(group.name)
    for key, group in synced.items():
        if key not in classes and group.class_gone_at is None:
            group.class_gone_at = now
            changes.gone.append(group.name)
    session.flush()
    return synced


def _pairs(session: Session, table: Any, column: Any, group_ids: list[int]) -> set[tuple[int, int]]:
    return {
        (group_id, member_id)
        for group_id, member_id in session.execute(
            select(table.c.group_id, column).where(table.c.group_id.in_(group_ids))
        )
    }


def _replace(
    session: Session,
    table: Any,
    column: str,
    added: set[tuple[int, int]],
    removed: set[tuple[int, int]],
) -> None:
    """Insert and delete membership rows, each in one batched statement."""
    if removed:
        session.execute(
            delete(table).where(
                table.c.group_id == bindparam("b_group"), table.c[column] == bindparam("b_member")
            ),
            [{"b_group": group, "b_member": member} for group, member in sorted(removed)],
        )
    if added:
        session.execute(
            insert(table), [{"group_id": group, column: member} for group, member in sorted(added)]
        )


def _bump(session: Session, device_ids: set[int]) -> None:
    """Tell these devices' agents that their groups changed."""
    ordered = sorted(device_ids)
    for start in range(0, len(ordered), CHUNK):
        session.execute(
            update(Device)
            .where(Device.id.in_(ordered[start : start + CHUNK]))
            .values(config_version=Device.config_version + 1)
            .execution_options(synchronize_session=False)
        )


def _forget_loaded_memberships(session: Session) -> None:
    """Groups and devices loaded in this session hold the memberships before the sync."""
    for item in list(session.identity_map.values()):
        if isinstance(item, Group):
            session.expire(item, ["users", "devices"])
        elif isinstance(item, Device):
            session.expire(item, ["groups", "config_version"])


def sync_class_groups(session: Session, actor: Actor, school_id: int) -> ClassGroupChanges:
    """Bring the school's class groups in line with its classes and students: a handful of
    statements, however many students (the callers have authorized the actor)."""
    # One sync of a school at a time: two would create the same groups and rows.
    session.execute(select(School.id).where(School.id == school_id).with_for_update())
    changes = ClassGroupChanges()
    synced = _sync_groups(session, school_id, school_classes(session, school_id), changes)
    live = {key: group.id for key, group in synced.items() if group.class_gone_at is None}
    group_ids = [group.id for group in synced.values()]
    students = {
        user_id: class_key(name)
        for user_id, name in session.execute(
            select(User.id, User.class_name).where(
                User.school_id == school_id, User.role == "student"
            )
        )
    }
    wanted_users = {(live[key], user) for user, key in students.items() if key in live}
    have_users = _pairs(session, group_users, group_users.c.user_id, group_ids)
    add_users = wanted_users - have_users
    remove_users = {(g, u) for g, u in have_users if u in students and (g, u) not in wanted_users}
    owners = dict(
        session.execute(
            select(Device.id, Device.user_id)
            .join(User, User.id == Device.user_id)
            .where(
                Device.school_id == school_id,
                User.school_id == school_id,
                User.role == "student",
            )
        ).all()
    )
    wanted_devices = {
        (live[students[owner]], device)
        for device, owner in owners.items()
        if students[owner] in live
    }
    have_devices = _pairs(session, group_devices, group_devices.c.device_id, group_ids)
    add_devices = wanted_devices - have_devices
    remove_devices = {
        (g, d) for g, d in have_devices if d in owners and (g, d) not in wanted_devices
    }
    _replace(session, group_users, "user_id", add_users, remove_users)
    _replace(session, group_devices, "device_id", add_devices, remove_devices)
    moved = {device for _group, device in add_devices | remove_devices}
    _bump(session, moved)
    _forget_loaded_memberships(session)
    # What follows groups (the policies assigned to a class group) follows the devices too.
    hooks.memberships_changed(session, sorted(moved))
    changes.students_added, changes.students_removed = len(add_users), len(remove_users)
    changes.devices_added, changes.devices_removed = len(add_devices), len(remove_devices)
    if changes.any:
        audit.record(
            session,
            actor,
            "group.class_sync",
            "school",
            school_id,
            school_id=school_id,
            details=changes.to_dict(),
        )
    session.flush()
    return changes


def students_changed_class(session: Session, actor: Actor, school_id: int) -> dict[str, Any]:
    """The accounts' listener (a user import, a student's new class): sync; what changed."""
    return sync_class_groups(session, actor, school_id).to_dict()


def group_of_class(
    session: Session, actor: Actor, school_id: int, name: str | None
) -> Group | None:
    """The group of a class of the school (made by a sync if it is not there yet, e.g. for
    accounts older than the class groups); None when the school has no such class."""
    key = class_key(name)
    if not key:
        return None
    stmt = select(Group).where(
        Group.school_id == school_id, Group.class_key == key, Group.class_gone_at.is_(None)
    )
    group = session.scalar(stmt)
    if group is None:
        sync_class_groups(session, actor, school_id)
        group = session.scalar(stmt)
    return group


def class_group_for(
    session: Session, actor: Actor, school_id: int, owner: User | None
) -> Group | None:
    """The group of a student's class; None for anybody else. Ask before the device is the
    student's: a sync it may need then does not count the device as changed."""
    if owner is None or owner.role != "student" or owner.school_id != school_id:
        return None
    return group_of_class(session, actor, school_id, owner.class_name)


def with_class_group(
    groups: list[Group], owner: User | None, class_group: Group | None
) -> list[Group]:
    """The groups of a device given to `owner`: a student's device is in the student's class
    group and in no other class's (as a sync would put it); other devices keep theirs."""
    if owner is None or owner.role != "student":
        return groups
    kept = [group for group in groups if not group.class_key]
    return [*kept, class_group] if class_group is not None else kept


def summary(changes: ClassGroupChanges | dict[str, Any]) -> str:
    """One line for people about what a sync changed."""
    values = changes.to_dict() if isinstance(changes, ClassGroupChanges) else changes
    parts = [
        f"{label}: {', '.join(values[name])}"
        for name, label in (
            ("created", "new class groups"),
            ("adopted", "class groups adopted"),
            ("gone", "classes gone (groups kept, their students left)"),
            ("back", "classes back"),
            ("name_taken", "no class group (an admin's group of another kind has the name)"),
        )
        if values[name]
    ]
    parts.append(
        f"students +{values['students_added']} -{values['students_removed']}, "
        f"devices +{values['devices_added']} -{values['devices_removed']}"
    )
    return "; ".join(parts)
