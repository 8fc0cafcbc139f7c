"""Policies: documents and their immutable versions, assignments, the effective policy of each
device (its desired state, marked whenever it changes) and what devices report. They flush,
never commit."""

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import ColumnElement, Select, case, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from mdm.accounts.models import School
from mdm.devices import hooks
from mdm.devices.models import OWNERSHIPS, Device, Group, group_devices
from mdm.platform import audit
from mdm.platform.actors import Actor
from mdm.platform.errors import Conflict, NotFound, ValidationFailed
from mdm.platform.scoping import ADMINS, CITY_ADMINS, may_touch_school, require_role
from mdm.platform.types import utcnow
from mdm.policies import calendar
from mdm.policies.document import device_document, store_passwords
from mdm.policies.merge import EMPTY_HASH, Layer, Merged, merge
from mdm.policies.models import (
    TARGETS,
    DevicePolicyState,
    Policy,
    PolicyAssignment,
    PolicyVersion,
    PolicyWindowState,
)
from mdm.policies.windows import local_moment, windows_open

COMPLIANCE = ("compliant", "non_compliant", "pending")
# The column that names each target (a school target names none).
TARGET_FIELDS = {"group": "group_id", "device": "device_id", "ownership": "ownership"}
CHUNK = 2000  # ids per IN list
MAX_FAILED_SETTINGS = 200


# --- who may do what ---------------------------------------------------------------------------


def _require_admin(actor: Actor) -> None:
    require_role(actor, ADMINS, "only admins manage policies")


def _visible(stmt: Select[Any], model: Any, actor: Actor) -> Select[Any]:
    """A school admin sees the school's rows and the city's (school_id NULL)."""
    if actor.is_city_admin:
        return stmt
    return stmt.where(or_(model.school_id == actor.school_id, model.school_id.is_(None)))


def _require_changeable(actor: Actor, school_id: int | None) -> None:
    if school_id is None:
        require_role(actor, CITY_ADMINS, "only the city IT admin changes city policies")
    elif not may_touch_school(actor, school_id):
        raise NotFound(f"school {school_id} not found")


# --- policies and versions ---------------------------------------------------------------------


def _password_key() -> bytes:
    return ("policy-wifi:" + current_app.config["SECRET_KEY"]).encode()


def version_secrets(version: PolicyVersion) -> dict[str, str]:
    """The Wi-Fi passwords of a version, {reference: password}."""
    return json.loads(version.secrets) if version.secrets else {}


def _check_name(session: Session, school_id: int | None, name: str, policy_id: int | None) -> str:
    name = name.strip()
    if not name:
        raise ValidationFailed(errors={"name": ["must not be empty"]})
    clash = select(Policy.id).where(
        Policy.name == name,
        Policy.school_id.is_(None) if school_id is None else Policy.school_id == school_id,
    )
    if policy_id is not None:
        clash = clash.where(Policy.id != policy_id)
    if session.scalar(clash) is not None:
        raise Conflict(f"a policy named {name!r} exists")
    return name


def _add_version(
    session: Session,
    actor: Actor,
    policy: Policy,
    document: dict[str, Any],
    previous: PolicyVersion | None,
) -> PolicyVersion | None:
    """A new version with this document, or None when it equals the previous one."""
    before = previous.document if previous else {}
    before_secrets = version_secrets(previous) if previous else {}
    try:
        stored, secrets = store_passwords(document, _password_key(), before, before_secrets)
    except ValidationError as exc:
        raise ValidationFailed(errors={"document": exc.messages}) from exc
    if previous is not None and stored == before and secrets == before_secrets:
        return None
    number = previous.version + 1 if previous else 1
    version = PolicyVersion(
        policy_id=policy.id,
        school_id=policy.school_id,
        version=number,
        document=stored,
        secrets=json.dumps(secrets).encode() if secrets else None,
        created_by=actor.name,
        created_by_id=actor.user_id,
    )
    session.add(version)
    policy.current_version = number
    policy.windowed = bool(stored.get("windows"))
    policy.updated_at = utcnow()
    session.flush()
    return version


def create_policy(
    session: Session,
    actor: Actor,
    *,
    name: str,
    document: dict[str, Any],
    description: str = "",
    school_id: int | None = None,
) -> Policy:
    """A new policy with its first version; a city IT admin without a school makes a city
    policy, which every school can assign."""
    _require_admin(actor)
    if school_id is None and not actor.is_city_admin:
        school_id = actor.school_id
    _require_changeable(actor, school_id)
    if school_id is not None and session.get(School, school_id) is None:
        raise ValidationFailed(errors={"school_id": [f"no school {school_id}"]})
    policy = Policy(
        school_id=school_id,
        name=_check_name(session, school_id, name, None),
        description=description.strip(),
        current_version=1,
    )
    session.add(policy)
    session.flush()
    _add_version(session, actor, policy, document, None)
    audit.record(
        session,
        actor,
        "policy.create",
        "policy",
        policy.id,
        school_id=school_id,
        details={"name": policy.name, "version": 1},
    )
    return policy


def list_policies(session: Session, actor: Actor, *, school_id: int | None = None) -> list[Policy]:
    """Policies the admin may see (the school's and the city's), by name."""
    _require_admin(actor)
    stmt = _visible(select(Policy), Policy, actor)
    if school_id is not None:
        stmt = stmt.where(or_(Policy.school_id == school_id, Policy.school_id.is_(None)))
    return list(session.scalars(stmt.order_by(Policy.school_id.is_(None), Policy.name)))


def get_policy(session: Session, actor: Actor, policy_id: int) -> Policy:
    """One policy the admin may see."""
    _require_admin(actor)
    policy = session.get(Policy, policy_id)
    if policy is None or not (
        policy.school_id is None or may_touch_school(actor, policy.school_id)
    ):
        raise NotFound(f"policy {policy_id} not found")
    return policy


def get_version(
    session: Session, actor: Actor, policy_id: int, number: int | None = None
) -> PolicyVersion:
    """One version of a policy (its current one without a number)."""
    policy = get_policy(session, actor, policy_id)
    version = session.scalar(
        select(PolicyVersion).where(
            PolicyVersion.policy_id == policy.id,
            PolicyVersion.version == (number or policy.current_version),
        )
    )
    if version is None:
        raise NotFound(f"policy {policy_id} has no version {number}")
    return version


def list_versions(session: Session, actor: Actor, policy_id: int) -> list[PolicyVersion]:
    """Every version of a policy, newest first."""
    policy = get_policy(session, actor, policy_id)
    return list(
        session.scalars(
            select(PolicyVersion)
            .where(PolicyVersion.policy_id == policy.id)
            .order_by(PolicyVersion.version.desc())
        )
    )


def update_policy(
    session: Session,
    actor: Actor,
    policy_id: int,
    changes: dict[str, Any],
    now: datetime | None = None,
) -> Policy:
    """Rename or describe a policy, or edit its document: a changed document is a new version,
    and every device it reaches gets its new effective policy."""
    policy = get_policy(session, actor, policy_id)
    _require_changeable(actor, policy.school_id)
    details: dict[str, Any] = {}
    if "name" in changes:
        policy.name = _check_name(session, policy.school_id, changes["name"], policy.id)
        details["name"] = policy.name
    if "description" in changes:
        policy.description = changes["description"].strip()
        details["description"] = policy.description
    if "document" in changes:
        current = get_version(session, actor, policy.id)
        if _add_version(session, actor, policy, changes["document"], current) is not None:
            details["version"] = policy.current_version
            session.flush()
            reevaluate_policy(session, policy.id, now)
    session.flush()
    audit.record(
        session,
        actor,
        "policy.update",
        "policy",
        policy.id,
        school_id=policy.school_id,
        details=details,
    )
    return policy


def restore_version(
    session: Session, actor: Actor, policy_id: int, number: int, now: datetime | None = None
) -> Policy:
    """Make an earlier version's document (with its passwords) the current one, as a new
    version."""
    policy = get_policy(session, actor, policy_id)
    _require_changeable(actor, policy.school_id)
    old = get_version(session, actor, policy_id, number)
    current = get_version(session, actor, policy_id)
    if old.document == current.document and old.secrets == current.secrets:
        raise Conflict(f"version {number} is the current document already")
    version = PolicyVersion(
        policy_id=policy.id,
        school_id=policy.school_id,
        version=current.version + 1,
        document=old.document,
        secrets=old.secrets,
        created_by=actor.name,
        created_by_id=actor.user_id,
    )
    session.add(version)
    policy.current_version = version.version
    policy.windowed = bool(old.document.get("windows"))
    policy.updated_at = utcnow()
    session.flush()
    reevaluate_policy(session, policy.id, now)
    audit.record(
        session,
        actor,
        "policy.restore",
        "policy",
        policy.id,
        school_id=policy.school_id,
        details={"restored": number, "version": version.version},
    )
    return policy


def delete_policy(session: Session, actor: Actor, policy_id: int) -> None:
    """Delete a policy with its versions; refused while it is assigned."""
    policy = get_policy(session, actor, policy_id)
    _require_changeable(actor, policy.school_id)
    assigned = session.scalar(
        select(func.count())
        .select_from(PolicyAssignment)
        .where(PolicyAssignment.policy_id == policy.id)
    )
    if assigned:
        raise Conflict(f"the policy is assigned {assigned} time(s); remove the assignments first")
    audit.record(
        session,
        actor,
        "policy.delete",
        "policy",
        policy.id,
        school_id=policy.school_id,
        details={"name": policy.name},
    )
    session.execute(delete(PolicyVersion).where(PolicyVersion.policy_id == policy.id))
    session.delete(policy)
    session.flush()


# --- assignments -------------------------------------------------------------------------------


def _visible_target(session: Session, actor: Actor, model: Any, ident: int, field_name: str) -> Any:
    row = session.get(model, ident)
    if row is None or not may_touch_school(actor, row.school_id):
        raise NotFound(f"{field_name.removesuffix('_id')} {ident} not found")
    return row


def _assignment_school(
    session: Session, actor: Actor, policy: Policy, target: str, fields: dict[str, Any]
) -> tuple[int | None, dict[str, Any]]:
    """The school an assignment's target is in, and the target's columns."""
    columns: dict[str, Any] = dict.fromkeys(TARGET_FIELDS.values())
    needed = TARGET_FIELDS.get(target)
    errors: dict[str, list[str]] = {}
    for name in columns:
        if name != needed and fields.get(name) is not None:
            errors[name] = [f"not for a {target} target"]
        elif name == needed and fields.get(name) is None:
            errors[name] = [f"required for a {target} target"]
    if errors:
        raise ValidationFailed(errors=errors)
    if target in ("group", "device"):
        model = Group if target == "group" else Device
        key = f"{target}_id"
        row = _visible_target(session, actor, model, fields[key], key)
        columns[key] = row.id
        school_id = row.school_id
        if fields.get("school_id") not in (None, school_id):
            raise ValidationFailed(errors={"school_id": [f"the {target} is of school {school_id}"]})
    else:
        if fields.get("ownership") is not None:
            columns["ownership"] = fields["ownership"]
        school_id = fields.get("school_id")
        if school_id is None and not actor.is_city_admin:
            school_id = actor.school_id
        if school_id is None and policy.school_id is not None:
            school_id = policy.school_id
        if school_id is None:
            _require_changeable(actor, None)  # every school: the city's own assignment
        elif not may_touch_school(actor, school_id) or session.get(School, school_id) is None:
            raise NotFound(f"school {school_id} not found")
    if policy.school_id is not None and school_id != policy.school_id:
        field = needed if target in ("group", "device") else "school_id"
        raise ValidationFailed(
            errors={field: ["a school's policy applies only to the devices of that school"]}
        )
    return school_id, columns


def assign(
    session: Session,
    actor: Actor,
    policy_id: int,
    *,
    target: str,
    priority: int = 100,
    school_id: int | None = None,
    group_id: int | None = None,
    device_id: int | None = None,
    ownership: str | None = None,
    now: datetime | None = None,
) -> PolicyAssignment:
    """Assign a policy to a school's devices, a group, an ownership or a device; the devices it
    reaches get their new effective policy."""
    fields = {
        "target": target,
        "priority": priority,
        "school_id": school_id,
        "group_id": group_id,
        "device_id": device_id,
        "ownership": ownership,
    }
    return _assign(session, actor, policy_id, now=now, **fields)[0]


def _assign(
    session: Session,
    actor: Actor,
    policy_id: int,
    *,
    target: str,
    priority: int,
    school_id: int | None,
    group_id: int | None,
    device_id: int | None,
    ownership: str | None,
    now: datetime | None,
) -> tuple[PolicyAssignment, list[int]]:
    """The new assignment and the devices whose effective policy it changed."""
    policy = get_policy(session, actor, policy_id)
    if target not in TARGETS:
        raise ValidationFailed(errors={"target": [f"must be one of {', '.join(TARGETS)}"]})
    if ownership is not None and ownership not in OWNERSHIPS:
        raise ValidationFailed(errors={"ownership": [f"must be one of {', '.join(OWNERSHIPS)}"]})
    fields = {
        "school_id": school_id,
        "group_id": group_id,
        "device_id": device_id,
        "ownership": ownership,
    }
    school, columns = _assignment_school(session, actor, policy, target, fields)
    duplicate = select(PolicyAssignment.id).where(
        PolicyAssignment.policy_id == policy.id,
        PolicyAssignment.target == target,
        PolicyAssignment.school_id.is_(None)
        if school is None
        else PolicyAssignment.school_id == school,
        *[
            getattr(PolicyAssignment, name).is_(None)
            if value is None
            else getattr(PolicyAssignment, name) == value
            for name, value in columns.items()
        ],
    )
    if session.scalar(duplicate) is not None:
        raise Conflict("the policy is assigned to this target already")
    assignment = PolicyAssignment(
        policy_id=policy.id,
        school_id=school,
        target=target,
        priority=priority,
        created_by=actor.name,
        **columns,
    )
    session.add(assignment)
    session.flush()
    audit.record(
        session,
        actor,
        "policy.assign",
        "policy_assignment",
        assignment.id,
        school_id=school,
        details={"policy_id": policy.id, "target": target, "priority": priority, **columns},
    )
    return assignment, evaluate(session, _reach([assignment]), now)


def get_assignment(session: Session, actor: Actor, assignment_id: int) -> PolicyAssignment:
    """One assignment the admin may see."""
    _require_admin(actor)
    row = session.get(PolicyAssignment, assignment_id)
    if row is None or not (row.school_id is None or may_touch_school(actor, row.school_id)):
        raise NotFound(f"assignment {assignment_id} not found")
    return row


def list_assignments(
    session: Session,
    actor: Actor,
    *,
    school_id: int | None = None,
    policy_id: int | None = None,
    group_id: int | None = None,
    device_id: int | None = None,
) -> list[PolicyAssignment]:
    """Assignments the admin may see, by priority."""
    _require_admin(actor)
    stmt = _visible(select(PolicyAssignment), PolicyAssignment, actor)
    for column, value in (
        (PolicyAssignment.policy_id, policy_id),
        (PolicyAssignment.group_id, group_id),
        (PolicyAssignment.device_id, device_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if school_id is not None:
        stmt = stmt.where(
            or_(PolicyAssignment.school_id == school_id, PolicyAssignment.school_id.is_(None))
        )
    return list(
        session.scalars(stmt.order_by(PolicyAssignment.priority.desc(), PolicyAssignment.id))
    )


def update_assignment(
    session: Session, actor: Actor, assignment_id: int, priority: int, now: datetime | None = None
) -> PolicyAssignment:
    """Change an assignment's priority."""
    assignment = get_assignment(session, actor, assignment_id)
    _require_changeable(actor, assignment.school_id)
    before = assignment.priority
    assignment.priority = priority
    session.flush()
    audit.record(
        session,
        actor,
        "policy.assignment.update",
        "policy_assignment",
        assignment.id,
        school_id=assignment.school_id,
        details={"priority": priority, "before": before},
    )
    evaluate(session, _reach([assignment]), now)
    return assignment


def unassign(
    session: Session, actor: Actor, assignment_id: int, now: datetime | None = None
) -> None:
    """Remove an assignment; the devices it reached get their new effective policy."""
    assignment = get_assignment(session, actor, assignment_id)
    _require_changeable(actor, assignment.school_id)
    reach = _reach([assignment])
    audit.record(
        session,
        actor,
        "policy.unassign",
        "policy_assignment",
        assignment.id,
        school_id=assignment.school_id,
        details={"policy_id": assignment.policy_id, "target": assignment.target},
    )
    session.delete(assignment)
    session.flush()
    evaluate(session, reach, now)


# --- previews ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangePreview:
    """What a change would do before it is saved: how many enrolled devices the policy (or
    the new assignment) reaches, and which of them would get a new effective policy."""

    reached: int
    changed: list[Device]
    changed_total: int
    new_version: bool = True


def _preview(session: Session, change: Any) -> tuple[int, list[int], bool]:
    """Make the change in a savepoint, see what it marked, and roll it back: the preview runs
    the very code that saving runs. `change` returns (reach, marked ids, whether it changed)."""
    with session.begin_nested() as attempt:
        reach, marked, changed = change()
        reached = session.scalar(
            select(func.count()).select_from(Device).where((Device.status == "enrolled") & reach)
        )
        attempt.rollback()
    return reached or 0, sorted(marked), changed


def _changed_devices(session: Session, ids: list[int], limit: int) -> list[Device]:
    shown = ids[:limit]
    return list(session.scalars(select(Device).where(Device.id.in_(shown)).order_by(Device.id)))


def preview_update(
    session: Session,
    actor: Actor,
    policy_id: int,
    document: dict[str, Any],
    now: datetime | None = None,
    limit: int = 50,
) -> ChangePreview:
    """Which devices a new document of the policy would reach and change; nothing is saved.
    The document is a loaded one (PolicyDocumentSchema); ValidationFailed as saving would."""
    policy = get_policy(session, actor, policy_id)
    _require_changeable(actor, policy.school_id)

    def change() -> tuple[ColumnElement[bool], list[int], bool]:
        current = get_version(session, actor, policy.id)
        added = _add_version(session, actor, policy, document, current) is not None
        assignments = session.scalars(
            select(PolicyAssignment).where(PolicyAssignment.policy_id == policy.id)
        ).all()
        reach = _reach(assignments)
        marked = evaluate(session, reach, now, wake=False) if added and assignments else []
        return reach, marked, added

    reached, marked, added = _preview(session, change)
    return ChangePreview(reached, _changed_devices(session, marked, limit), len(marked), added)


def preview_assign(
    session: Session,
    actor: Actor,
    policy_id: int,
    *,
    target: str,
    priority: int = 100,
    school_id: int | None = None,
    group_id: int | None = None,
    device_id: int | None = None,
    ownership: str | None = None,
    now: datetime | None = None,
    limit: int = 50,
) -> ChangePreview:
    """Which devices a new assignment would reach and change; nothing is saved. Refused as
    assigning would be."""
    fields = {
        "target": target,
        "priority": priority,
        "school_id": school_id,
        "group_id": group_id,
        "device_id": device_id,
        "ownership": ownership,
    }

    def change() -> tuple[ColumnElement[bool], list[int], bool]:
        assignment, marked = _assign(session, actor, policy_id, now=now, **fields)
        return _reach([assignment]), marked, True

    reached, marked, _ = _preview(session, change)
    return ChangePreview(reached, _changed_devices(session, marked, limit), len(marked))


# --- the effective policy ----------------------------------------------------------------------


def _reach(assignments: Iterable[Any]) -> ColumnElement[bool]:
    """The devices these assignments reach, as a condition on devices."""
    conditions = []
    for a in assignments:
        in_school = [Device.school_id == a.school_id] if a.school_id is not None else []
        if a.target == "group":
            members = select(group_devices.c.device_id).where(
                group_devices.c.group_id == a.group_id
            )
            conditions.append(Device.id.in_(members))
        elif a.target == "device":
            conditions.append(Device.id == a.device_id)
        elif a.target == "ownership":
            conditions.append(
                Device.ownership == a.ownership
                if not in_school
                else (Device.ownership == a.ownership) & in_school[0]
            )
        else:
            conditions.append(in_school[0] if in_school else Device.id.is_not(None))
    return or_(*conditions) if conditions else Device.id.is_(None)


@dataclass
class _SchoolLayers:
    """The layers of one school, by what they target."""

    school: list[Layer] = field(default_factory=list)
    ownership: dict[str, list[Layer]] = field(default_factory=dict)
    group: dict[int, list[Layer]] = field(default_factory=dict)
    device: dict[int, list[Layer]] = field(default_factory=dict)

    def of(self, ownership: str, device_id: int, groups: Iterable[int]) -> tuple[Layer, ...]:
        """The layers that reach a device."""
        found = [*self.school, *self.ownership.get(ownership, []), *self.device.get(device_id, [])]
        for group_id in groups:
            found.extend(self.group.get(group_id, []))
        return tuple(sorted(found, key=Layer.rank))


@dataclass
class _Context:
    """Everything the merge needs of some schools: their assignments as layers, each active or
    not in its time windows at the school."""

    schools: dict[int, _SchoolLayers]
    group_ids: set[int]


def _target_name(row: Any) -> str:
    if row.target == "group":
        return f"group {row.group_name}"
    if row.target == "device":
        return f"device {row.device_id}"
    if row.target == "ownership":
        return f"{row.ownership} devices" + (
            "" if row.school_id is not None else " of every school"
        )
    return "the school" if row.school_id is not None else "every school"


def _load_context(session: Session, school_ids: set[int], now: datetime) -> _Context:
    rows = session.execute(
        select(
            PolicyAssignment.id,
            PolicyAssignment.school_id,
            PolicyAssignment.target,
            PolicyAssignment.group_id,
            PolicyAssignment.device_id,
            PolicyAssignment.ownership,
            PolicyAssignment.priority,
            Policy.id.label("policy_id"),
            Policy.name.label("policy_name"),
            Policy.windowed,
            PolicyVersion.id.label("version_id"),
            PolicyVersion.version,
            PolicyVersion.document,
            Group.name.label("group_name"),
        )
        .join(Policy, Policy.id == PolicyAssignment.policy_id)
        .join(
            PolicyVersion,
            (PolicyVersion.policy_id == Policy.id)
            & (PolicyVersion.version == Policy.current_version),
        )
        .outerjoin(Group, Group.id == PolicyAssignment.group_id)
        .where(
            or_(PolicyAssignment.school_id.in_(school_ids), PolicyAssignment.school_id.is_(None))
        )
    ).all()
    timezones: dict[int, str] = {}
    if any(row.windowed for row in rows):
        timezones = dict(
            session.execute(
                select(School.id, School.timezone).where(School.id.in_(school_ids))
            ).all()
        )
    days: dict[int, Any] = {}
    schools = {school_id: _SchoolLayers() for school_id in school_ids}
    for row in rows:
        windows = row.document.get("windows", [])
        base = Layer(
            assignment_id=row.id,
            policy_id=row.policy_id,
            policy_name=row.policy_name,
            version=row.version,
            target=row.target,
            target_name=_target_name(row),
            priority=row.priority,
            document={name: value for name, value in row.document.items() if name != "windows"},
            version_id=row.version_id,
        )
        for school_id in [row.school_id] if row.school_id is not None else school_ids:
            if school_id not in schools:
                continue
            layer = base
            if windows:
                local = local_moment(now, timezones[school_id])
                if school_id not in days:
                    days[school_id] = calendar.school_day(session, school_id, local.date())
                if not windows_open(windows, days[school_id], local.time()):
                    layer = replace(
                        base, active=False, inactive_reason="outside its time windows now"
                    )
            target = schools[school_id]
            if row.target == "school":
                target.school.append(layer)
            elif row.target == "ownership":
                target.ownership.setdefault(row.ownership, []).append(layer)
            elif row.target == "group":
                target.group.setdefault(row.group_id, []).append(layer)
            else:
                target.device.setdefault(row.device_id, []).append(layer)
    group_ids = {row.group_id for row in rows if row.group_id is not None}
    return _Context(schools=schools, group_ids=group_ids)


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def evaluate(
    session: Session, reach: ColumnElement[bool], now: datetime | None = None, *, wake: bool = True
) -> list[int]:
    """Work out the effective policy of the enrolled devices in `reach`; mark those whose hash
    changed (their policy is due) and wake them. Returns the ids of the devices marked."""
    now = now or utcnow()
    enrolled = (Device.status == "enrolled") & reach
    rows = session.execute(
        select(
            Device.id,
            Device.school_id,
            Device.ownership,
            DevicePolicyState.device_id.label("known"),
            DevicePolicyState.desired_hash,
            DevicePolicyState.sent_hash,
            DevicePolicyState.applied_hash,
        )
        .outerjoin(DevicePolicyState, DevicePolicyState.device_id == Device.id)
        .where(enrolled)
    ).all()
    if not rows:
        return []
    context = _load_context(session, {row.school_id for row in rows}, now)
    groups: dict[int, list[int]] = {}
    if context.group_ids:
        members = session.execute(
            select(group_devices.c.device_id, group_devices.c.group_id).where(
                group_devices.c.group_id.in_(context.group_ids),
                group_devices.c.device_id.in_(select(Device.id).where(enrolled)),
            )
        )
        for device_id, group_id in members:
            groups.setdefault(device_id, []).append(group_id)
    hashes: dict[tuple[Any, ...], str] = {}
    updates: dict[tuple[str, str], list[int]] = {}
    inserts: list[dict[str, Any]] = []
    due: list[int] = []
    for row in rows:
        layers = context.schools[row.school_id].of(row.ownership, row.id, groups.get(row.id, ()))
        signature = (
            row.ownership,
            tuple((layer.assignment_id, layer.active) for layer in layers),
            row.school_id,
        )
        new = hashes.get(signature)
        if new is None:
            new = hashes[signature] = merge(layers, row.ownership).hash
        if row.known is None:
            inserts.append(
                {
                    "device_id": row.id,
                    "school_id": row.school_id,
                    "desired_hash": new,
                    "desired_at": now,
                    "sent_hash": EMPTY_HASH,
                    "applied_hash": EMPTY_HASH,
                    "failed_settings": [],
                    "failed_count": 0,
                    "due_at": None if new == EMPTY_HASH else now,
                }
            )
            if new != EMPTY_HASH:
                due.append(row.id)
            continue
        if new == row.desired_hash:
            continue
        if new != row.sent_hash:
            mode = "now"
            due.append(row.id)
        else:
            mode = "none" if row.applied_hash == row.sent_hash else "keep"
        updates.setdefault((new, mode), []).append(row.id)
    for (new, mode), ids in updates.items():
        values: dict[str, Any] = {"desired_hash": new, "desired_at": now}
        if mode != "keep":
            values["due_at"] = now if mode == "now" else None
        for chunk in _chunks(ids):
            session.execute(
                update(DevicePolicyState)
                .where(DevicePolicyState.device_id.in_(chunk))
                .values(values)
                .execution_options(synchronize_session=False)
            )
    if inserts:
        session.execute(insert(DevicePolicyState), inserts)
    if wake:
        for chunk in _chunks(due):
            hooks.wake(session, Device.id.in_(chunk), "policy")
    return [row_id for ids in updates.values() for row_id in ids] + [
        i["device_id"] for i in inserts
    ]


def reevaluate_policy(session: Session, policy_id: int, now: datetime | None = None) -> list[int]:
    """Mark the devices whose effective policy changed with this policy."""
    assignments = session.scalars(
        select(PolicyAssignment).where(PolicyAssignment.policy_id == policy_id)
    ).all()
    return evaluate(session, _reach(assignments), now) if assignments else []


def device_created(session: Session, device: Device) -> None:
    """A new device starts with the empty policy applied; it is due when more applies to it."""
    evaluate(session, Device.id == device.id, wake=False)


def forget_device(session: Session, device_id: int) -> None:
    """Delete what a device had of its policy (desired, sent, applied, what it could not
    apply): its management ended."""
    session.execute(delete(DevicePolicyState).where(DevicePolicyState.device_id == device_id))


def memberships_changed(session: Session, device_ids: list[int]) -> None:
    """Devices that changed groups may have a new effective policy."""
    for chunk in _chunks(sorted(device_ids)):
        evaluate(session, Device.id.in_(chunk))


def effective_of(session: Session, device: Device, now: datetime | None = None) -> Merged:
    """A device's effective policy, explained (inactive assignments included)."""
    return _effective(session, device.id, device.school_id, device.ownership, now or utcnow())


def _effective(
    session: Session, device_id: int, school_id: int, ownership: str, now: datetime
) -> Merged:
    context = _load_context(session, {school_id}, now)
    groups = session.scalars(
        select(group_devices.c.group_id).where(group_devices.c.device_id == device_id)
    ).all()
    return merge(context.schools[school_id].of(ownership, device_id, groups), ownership)


@dataclass(frozen=True)
class EffectivePolicy:
    """What the admin reads about a device's policy."""

    device: Device
    merged: Merged
    state: DevicePolicyState | None

    @property
    def compliance(self) -> str:
        """compliant, non_compliant or pending."""
        return compliance_of(self.state)


def compliance_of(state: DevicePolicyState | None) -> str:
    """Compliant: the device applied its desired policy completely; non-compliant: with
    settings it could not apply; pending: it has not applied its desired policy yet."""
    if state is None or state.applied_hash != state.desired_hash:
        return "pending"
    return "non_compliant" if state.failed_count else "compliant"


def effective_policy(
    session: Session, actor: Actor, device_id: int, now: datetime | None = None
) -> EffectivePolicy:
    """A device's effective policy with its explanation and what the device reported."""
    _require_admin(actor)
    device = session.get(Device, device_id)
    if device is None or not may_touch_school(actor, device.school_id):
        raise NotFound(f"device {device_id} not found")
    merged = effective_of(session, device, now)
    return EffectivePolicy(device, merged, session.get(DevicePolicyState, device.id))


compliance_column = case(
    (DevicePolicyState.device_id.is_(None), "pending"),
    (DevicePolicyState.applied_hash != DevicePolicyState.desired_hash, "pending"),
    (DevicePolicyState.failed_count > 0, "non_compliant"),
    else_="compliant",
)


def list_compliance(
    session: Session,
    actor: Actor,
    *,
    school_id: int | None = None,
    status: str | None = None,
    group_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[tuple[Device, DevicePolicyState | None, str]], int, dict[str, int]]:
    """Enrolled devices with their compliance, filtered, with the total and counts per status
    (of the filter without the status)."""
    _require_admin(actor)
    stmt = (
        select(Device, DevicePolicyState, compliance_column.label("compliance"))
        .outerjoin(DevicePolicyState, DevicePolicyState.device_id == Device.id)
        .where(Device.status == "enrolled")
    )
    if not actor.is_city_admin:
        stmt = stmt.where(Device.school_id == actor.school_id)
    if school_id is not None:
        stmt = stmt.where(Device.school_id == school_id)
    if group_id is not None:
        stmt = stmt.where(
            Device.id.in_(
                select(group_devices.c.device_id).where(group_devices.c.group_id == group_id)
            )
        )
    counted = stmt.with_only_columns(compliance_column.label("compliance"), func.count()).group_by(
        compliance_column
    )
    counts = dict.fromkeys(COMPLIANCE, 0) | dict(session.execute(counted).all())
    if status is not None:
        stmt = stmt.where(compliance_column == status)
    total = counts[status] if status is not None else sum(counts.values())
    rows = session.execute(stmt.order_by(Device.id).limit(limit).offset(offset)).all()
    return [(row[0], row[1], row[2]) for row in rows], total, counts


# --- delivery and results (for the transports) -------------------------------------------------


def _secrets_of(session: Session, merged: Merged) -> dict[str, str]:
    version_ids = {s.layer.version_id for s in merged.settings if s.name.startswith("wifi[")}
    secrets: dict[str, str] = {}
    if version_ids:
        versions = session.scalars(select(PolicyVersion).where(PolicyVersion.id.in_(version_ids)))
        for version in versions:
            secrets.update(version_secrets(version))
    return secrets


def policy_work(
    session: Session,
    device_id: int,
    school_id: int,
    ownership: str,
    now: datetime,
    resend_seconds: int,
) -> dict[str, Any] | None:
    """The device's policy if it is due: marked as sent (locked on PostgreSQL, so two
    check-ins never both take it); None when nothing is due or another check-in took it."""
    locked = (
        select(DevicePolicyState.due_at)
        .where(DevicePolicyState.device_id == device_id)
        .with_for_update(skip_locked=True)
    )
    due = session.execute(locked).one_or_none()
    if due is None and session.get(DevicePolicyState, device_id) is None:
        evaluate(session, Device.id == device_id, now, wake=False)
        due = session.execute(locked).one_or_none()
    if due is None or due.due_at is None or due.due_at > now:
        return None
    merged = _effective(session, device_id, school_id, ownership, now)
    taken = session.execute(
        update(DevicePolicyState)
        .where(DevicePolicyState.device_id == device_id, DevicePolicyState.due_at <= now)
        .values(
            desired_hash=merged.hash,
            sent_hash=merged.hash,
            sent_at=now,
            due_at=now + timedelta(seconds=resend_seconds),
        )
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount == 0:
        return None
    document = device_document(merged.document, _secrets_of(session, merged))
    return {
        "id": f"policy-{merged.hash}",
        "kind": "policy",
        "payload": {"hash": merged.hash, "document": document},
    }


def delivered_policy(
    session: Session, device_id: int, school_id: int, ownership: str, now: datetime
) -> tuple[str, dict[str, Any]]:
    """A device's effective policy as a transport delivers it (with its Wi-Fi passwords), and
    its hash, without marking anything (for transports whose devices fetch it piece by
    piece after policy_work told them of it)."""
    merged = _effective(session, device_id, school_id, ownership, now)
    return merged.hash, device_document(merged.document, _secrets_of(session, merged))


def _failed_settings(status: str, detail: str, data: dict[str, Any]) -> list[dict[str, str]]:
    failed = data.get("failed_settings", [])
    problem = None
    if not isinstance(failed, list) or len(failed) > MAX_FAILED_SETTINGS:
        problem = f"a list of at most {MAX_FAILED_SETTINGS} objects"
    elif not all(
        isinstance(item, dict)
        and isinstance(item.get("setting"), str)
        and 0 < len(item["setting"]) <= 200
        and isinstance(item.get("reason", ""), str)
        and len(item.get("reason", "")) <= 500
        for item in failed
    ):
        problem = (
            'each {"setting": "...", "reason": "..."} (a setting of up to 200 characters, '
            "a reason of up to 500)"
        )
    if problem:
        raise ValidationFailed(errors={"data": {"failed_settings": [problem]}})
    cleaned = [{"setting": item["setting"], "reason": item.get("reason", "")} for item in failed]
    if status == "failed" and not cleaned:
        cleaned = [{"setting": "*", "reason": detail or "the device could not apply the policy"}]
    return cleaned


def record_policy_result(
    session: Session,
    device_id: int,
    policy_hash: str,
    status: str,
    detail: str,
    data: dict[str, Any],
    now: datetime,
    retry_seconds: int,
) -> bool:
    """Record what the device did with the policy it was sent; False when it changed nothing
    (the same result again)."""
    state = session.scalar(
        select(DevicePolicyState)
        .where(DevicePolicyState.device_id == device_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if state is None or state.sent_hash != policy_hash:
        raise NotFound(f"device {device_id} has no pending work 'policy-{policy_hash}'")
    applied = data.get("applied_hash", policy_hash)
    if applied != policy_hash:
        raise ValidationFailed(errors={"data": {"applied_hash": ["must be the hash of the work"]}})
    if status == "not_now":
        if state.desired_hash == policy_hash and state.applied_hash != policy_hash:
            state.due_at = now + timedelta(seconds=retry_seconds)
            return True
        return False
    failed = _failed_settings(status, detail, data)
    if state.applied_hash == policy_hash and state.failed_settings == failed:
        return False
    state.applied_hash = policy_hash
    state.applied_at = now
    state.failed_settings = failed
    state.failed_count = len(failed)
    if state.desired_hash == policy_hash:
        state.due_at = None
    session.flush()
    return True


# --- time windows ------------------------------------------------------------------------------


def refresh_windows(session: Session, now: datetime | None = None) -> list[int]:
    """Open and close the windows of assigned policies on time: for every school and windowed
    policy whose windows opened or closed since last looked at, mark the devices whose effective
    policy changed. Returns the ids of the devices marked."""
    now = now or utcnow()
    rows = session.execute(
        select(Policy.id, PolicyAssignment.school_id, PolicyVersion.document)
        .join(PolicyAssignment, PolicyAssignment.policy_id == Policy.id)
        .join(
            PolicyVersion,
            (PolicyVersion.policy_id == Policy.id)
            & (PolicyVersion.version == Policy.current_version),
        )
        .where(Policy.windowed.is_(True))
    ).all()
    if not rows:
        return []
    schools = dict(session.execute(select(School.id, School.timezone)).all())
    pairs: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for policy_id, school_id, document in rows:
        for school in [school_id] if school_id is not None else schools:
            pairs[(school, policy_id)] = document.get("windows", [])
    stored = {
        (state.school_id, state.policy_id): state
        for state in session.scalars(select(PolicyWindowState))
    }
    days: dict[int, Any] = {}
    flipped: list[tuple[int, int]] = []
    for (school_id, policy_id), windows in sorted(pairs.items()):
        local = local_moment(now, schools[school_id])
        if school_id not in days:
            days[school_id] = calendar.school_day(session, school_id, local.date())
        is_open = windows_open(windows, days[school_id], local.time())
        state = stored.get((school_id, policy_id))
        if state is None:
            session.add(
                PolicyWindowState(
                    school_id=school_id, policy_id=policy_id, open=is_open, changed_at=now
                )
            )
            flipped.append((school_id, policy_id))
        elif state.open != is_open:
            state.open = is_open
            state.changed_at = now
            flipped.append((school_id, policy_id))
    session.flush()
    marked: list[int] = []
    for school_id, policy_id in flipped:
        assignments = session.scalars(
            select(PolicyAssignment).where(PolicyAssignment.policy_id == policy_id)
        ).all()
        reach = _reach(assignments) & (Device.school_id == school_id)
        marked += evaluate(session, reach, now)
    return marked
