"""A school's inventory policy: which personal categories of inventory it keeps of its own
devices (docs/privacy.md). They flush, never commit."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from mdm.accounts.models import School, User
from mdm.devices import byod, inventory_rules
from mdm.devices.models import Device, InventoryPolicy
from mdm.devices.service import inventory_hash, require_admin
from mdm.platform import audit
from mdm.platform.actors import Actor
from mdm.platform.errors import ValidationFailed
from mdm.platform.scoping import require_school
from mdm.platform.types import utcnow

# Stored inventories are cleaned this many devices at a time (each may hold 64 KB).
CHUNK = 500


@dataclass(frozen=True)
class SchoolInventoryPolicy:
    """The policy in force at a school: its own, or the defaults (updated_at None)."""

    school_id: int
    kept: dict[str, list[str]]
    updated_at: datetime | None

    @property
    def is_default(self) -> bool:
        """The school never set a policy of its own."""
        return self.updated_at is None


def _school(session: Session, actor: Actor, school_id: int) -> School:
    require_admin(actor)
    require_school(actor, school_id)
    school = session.get(School, school_id)
    if school is None:
        raise ValidationFailed(errors={"school_id": [f"no school {school_id}"]})
    return school


def policy_of(session: Session, school_id: int) -> SchoolInventoryPolicy:
    """The inventory policy in force at a school."""
    row = session.get(InventoryPolicy, school_id)
    if row is None:
        return SchoolInventoryPolicy(school_id, inventory_rules.normalized_policy(None), None)
    return SchoolInventoryPolicy(
        school_id, inventory_rules.normalized_policy(row.kept), row.updated_at
    )


def get_policy(session: Session, actor: Actor, school_id: int) -> SchoolInventoryPolicy:
    """The school's inventory policy, for its admins."""
    _school(session, actor, school_id)
    return policy_of(session, school_id)


def kept_for(
    session: Session, school_id: int, user_role: str, owner_role: str | None
) -> frozenset[str]:
    """The categories the school keeps of a device of this role and owner."""
    row = session.get(InventoryPolicy, school_id)
    role = inventory_rules.policy_role(user_role, owner_role)
    return inventory_rules.kept_categories(row.kept if row else None, role)


def set_policy(
    session: Session, actor: Actor, school_id: int, policy: dict[str, Any]
) -> SchoolInventoryPolicy:
    """Set which categories the school keeps, per kind of device. What it no longer keeps is
    removed at once from every stored inventory of the school's own devices."""
    _school(session, actor, school_id)
    errors = inventory_rules.policy_errors(policy)
    if errors:
        raise ValidationFailed("The inventory policy is not valid.", errors=errors)
    kept = inventory_rules.normalized_policy(policy)
    row = session.get(InventoryPolicy, school_id)
    before = inventory_rules.normalized_policy(row.kept if row else None)
    if row is None:
        row = InventoryPolicy(school_id=school_id, kept=kept)
        session.add(row)
    row.kept, row.updated_at, row.updated_by = kept, utcnow(), actor.user_id
    session.flush()
    cleaned = _apply_to_stored(session, school_id, kept)
    audit.record(
        session,
        actor,
        "inventory_policy.update",
        "school",
        school_id,
        school_id=school_id,
        details={"before": before, "after": kept, "inventories_cleaned": cleaned},
    )
    return policy_of(session, school_id)


def _apply_to_stored(session: Session, school_id: int, policy: dict[str, list[str]]) -> int:
    """Drop what the policy does not keep from the stored inventories of the school's own
    devices, CHUNK devices at a time (a read and a batched write each); how many changed."""
    table = Device.__table__
    write = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(inventory=bindparam("b_inventory"), inventory_hash=bindparam("b_hash"))
    )
    changed = 0
    last_id = 0
    while True:
        rows = session.execute(
            select(Device.id, Device.user_role, User.role, Device.inventory)
            .outerjoin(User, User.id == Device.user_id)
            .where(
                Device.school_id == school_id,
                Device.ownership == byod.SCHOOL,
                Device.id > last_id,
            )
            .order_by(Device.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            break
        last_id = rows[-1].id
        cleaned = []
        for device_id, user_role, owner_role, stored in rows:
            role = inventory_rules.policy_role(user_role, owner_role)
            kept, dropped = inventory_rules.filter_school_inventory(
                stored or {}, frozenset(policy[role])
            )
            if dropped:
                cleaned.append(
                    {"b_id": device_id, "b_inventory": kept, "b_hash": inventory_hash(kept)}
                )
        if cleaned:
            session.execute(write, cleaned)
            changed += len(cleaned)
    if changed:
        # The devices loaded in this session hold the old inventories.
        for item in list(session.identity_map.values()):
            if isinstance(item, Device):
                session.expire(item, ["inventory", "inventory_hash"])
    return changed


def kept_for_own_devices(
    session: Session, devices: list[Device], owner_role: str
) -> dict[int, dict[str, Any]]:
    """For a user's devices: what the school keeps of each (mdm/devices/inventory_rules.py)."""
    school_ids = {device.school_id for device in devices}
    policies = {
        row.school_id: row.kept
        for row in session.scalars(
            select(InventoryPolicy).where(InventoryPolicy.school_id.in_(school_ids))
        )
    }
    result = {}
    for device in devices:
        role = inventory_rules.policy_role(device.user_role, owner_role)
        kept = inventory_rules.kept_categories(policies.get(device.school_id), role)
        result[device.id] = {
            "policy_role": None if device.ownership == byod.BYOD else role,
            **inventory_rules.what_is_kept(device.ownership, kept),
        }
    return result
