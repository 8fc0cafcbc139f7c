"""The command queue: queueing for one device, a list, a group or a school (set-based), the
lifecycle (queued, sent, acknowledged, error, not_now, expired, cancelled), delivery and
results for the transports, cancelling, expiry and retention. They flush, never commit."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import (
    ColumnElement,
    Select,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Session

from mdm.accounts.models import School
from mdm.commands import rules
from mdm.commands.models import (
    OPEN_STATUSES,
    Command,
    CommandBatch,
    CommandEvent,
)
from mdm.devices import byod, hooks, inventory_rules
from mdm.devices.models import Device, Group, group_devices
from mdm.platform import audit
from mdm.platform.actors import Actor
from mdm.platform.errors import Conflict, NotFound, ValidationFailed
from mdm.platform.scoping import ADMINS, may_touch_school, require_role, scoped
from mdm.platform.types import utcnow

RESULT_STATUSES = {"done": "acknowledged", "failed": "error"}
CANCELLABLE = ("queued", "not_now")
CHUNK = 2000


class CommandNotAllowed(Conflict):
    """The command may not go to the device (platform, ownership or supervision)."""

    type = "command-not-allowed"
    title = "Command not allowed"


def _require_admin(actor: Actor) -> None:
    require_role(actor, ADMINS, "only admins send commands")


def _visible_device(session: Session, actor: Actor, device_id: int) -> Device:
    device = session.get(Device, device_id)
    if device is None or not may_touch_school(actor, device.school_id):
        raise NotFound(f"device {device_id} not found")
    return device


def _expiry(now: datetime, seconds: int | None) -> datetime:
    limit = int(current_app.config["COMMAND_MAX_EXPIRY_SECONDS"])
    seconds = seconds or int(current_app.config["COMMAND_DEFAULT_EXPIRY_SECONDS"])
    if not 60 <= seconds <= limit:
        raise ValidationFailed(errors={"expires_in_seconds": [f"between 60 and {limit} seconds"]})
    return now + timedelta(seconds=seconds)


def _events(
    session: Session, commands: Select[Any], status: str, now: datetime, detail: str = ""
) -> None:
    """Add a history step to the commands this select of Command.id finds (set-based)."""
    source = select(
        Command.id,
        Command.school_id,
        literal(now, Command.created_at.type),
        literal(status),
        literal(detail),
    ).where(Command.id.in_(commands))
    session.execute(
        insert(CommandEvent).from_select(
            ["command_id", "school_id", "at", "status", "detail"], source
        )
    )


@dataclass(frozen=True)
class Target:
    """To whom an admin sends a command: devices by id, a group, or a whole school."""

    device_ids: list[int] | None = None
    group_id: int | None = None
    school_id: int | None = None


def _resolve(
    session: Session, actor: Actor, target: Target
) -> tuple[int, str, ColumnElement[bool]]:
    """(school, target kind, condition on the target's devices)."""
    if target.device_ids:
        devices = [
            _visible_device(session, actor, device_id)
            for device_id in sorted(set(target.device_ids))
        ]
        schools = {device.school_id for device in devices}
        if len(schools) > 1:
            raise ValidationFailed(errors={"device_ids": ["devices of one school per command"]})
        return schools.pop(), "devices", Device.id.in_([device.id for device in devices])
    if target.group_id is not None:
        group = session.get(Group, target.group_id)
        if group is None or not may_touch_school(actor, group.school_id):
            raise NotFound(f"group {target.group_id} not found")
        members = select(group_devices.c.device_id).where(group_devices.c.group_id == group.id)
        return group.school_id, "group", Device.id.in_(members)
    school_id = target.school_id if target.school_id is not None else actor.school_id
    if school_id is None:
        raise ValidationFailed(errors={"school_id": ["name the devices, a group or a school"]})
    if not may_touch_school(actor, school_id) or session.get(School, school_id) is None:
        raise NotFound(f"school {school_id} not found")
    return school_id, "school", Device.school_id == school_id


def _eligibility(
    session: Session, type_: str, parameters: dict[str, Any], reach: ColumnElement[bool]
) -> tuple[ColumnElement[bool], dict[str, int], dict[int, str]]:
    """(condition on the devices that may get the command, skipped counts by reason, the
    reason of each device refused for its supervision)."""
    rule = rules.RULES[type_]
    enrolled = (Device.status == "enrolled") & reach
    personal_refused = rules.personal_refusal(type_, parameters) is not None
    allowed_ownerships = [
        o
        for o in sorted(byod.OWNERSHIPS)
        if byod.command_allowed(o, type_) and not (o == byod.BYOD and personal_refused)
    ]
    skipped: dict[str, int] = {}
    counts = session.execute(
        select(Device.platform, Device.ownership, func.count())
        .where(enrolled)
        .group_by(Device.platform, Device.ownership)
    )
    for platform, ownership, count in counts:
        reason = rules.refusal(type_, platform, ownership, True, parameters)
        if reason:
            skipped[reason] = skipped.get(reason, 0) + count
    condition = (
        enrolled
        & Device.platform.in_(sorted(rule.platforms))
        & Device.ownership.in_(allowed_ownerships)
    )
    unsupervised: dict[int, str] = {}
    if rule.supervised_on:
        candidates = session.execute(
            select(Device.id, Device.inventory).where(
                condition, Device.platform.in_(sorted(rule.supervised_on))
            )
        )
        unsupervised = {
            device_id: "not_supervised"
            for device_id, inventory in candidates
            if not rules.supervised(inventory or {})
        }
        if unsupervised:
            skipped["not_supervised"] = len(unsupervised)
            condition = condition & Device.id.not_in(sorted(unsupervised))
    return condition, skipped, unsupervised


def queue(
    session: Session,
    actor: Actor,
    *,
    type: str,
    target: Target,
    parameters: dict[str, Any] | None = None,
    expires_in_seconds: int | None = None,
    now: datetime | None = None,
) -> CommandBatch:
    """Queue a command for every device of the target that may take it, in a few statements
    whatever their number. Named devices must all take it (else nothing is queued); of a group
    or a school the others are skipped and counted."""
    _require_admin(actor)
    now = now or utcnow()
    if type not in rules.RULES:
        raise ValidationFailed(errors={"type": [f"must be one of {', '.join(rules.TYPES)}"]})
    try:
        parameters = rules.load_parameters(type, parameters or {})
    except ValidationError as exc:
        raise ValidationFailed(errors={"parameters": exc.messages}) from exc
    expires_at = _expiry(now, expires_in_seconds)
    school_id, kind, reach = _resolve(session, actor, target)
    if kind == "devices":
        refused = []
        # One verdict per kind of device: a profile is read once, not once per device.
        verdicts: dict[tuple[str, str, bool], str | None] = {}
        for device in session.scalars(select(Device).where(reach).order_by(Device.id)):
            if device.status != "enrolled":
                refused.append(f"device {device.id}: retired")
                continue
            key = (device.platform, device.ownership, rules.supervised(device.inventory or {}))
            if key not in verdicts:
                reason = rules.refusal(type, *key, parameters)
                verdicts[key] = reason and rules.explain(reason, type, parameters)
            if verdicts[key]:
                refused.append(f"device {device.id}: {verdicts[key]}")
        if refused:
            raise CommandNotAllowed(
                f"{type} may not go to every device named; nothing was queued",
                errors={"device_ids": refused},
            )
    condition, skipped, _ = _eligibility(session, type, parameters, reach)
    batch = CommandBatch(
        school_id=school_id,
        type=type,
        parameters=parameters,
        target=kind,
        group_id=target.group_id if kind == "group" else None,
        created_by=actor.name,
        created_by_id=actor.user_id,
        created_at=now,
        expires_at=expires_at,
        skipped=skipped,
    )
    session.add(batch)
    session.flush()
    source = select(
        literal(batch.id),
        Device.school_id,
        Device.id,
        literal(type),
        literal("queued"),
        literal(now, Command.created_at.type),
        literal(expires_at, Command.expires_at.type),
        literal(now, Command.due_at.type),
        literal(0),
        literal(0),
        literal(""),
    ).where(condition)
    session.execute(
        insert(Command).from_select(
            [
                "batch_id",
                "school_id",
                "device_id",
                "type",
                "status",
                "created_at",
                "expires_at",
                "due_at",
                "attempts",
                "not_now_count",
                "result_detail",
            ],
            source,
        )
    )
    # Counted, not taken from the INSERT's rowcount, which not every driver reports.
    batch.queued = session.scalar(
        select(func.count()).select_from(Command).where(Command.batch_id == batch.id)
    )
    if not batch.queued:
        reasons = "; ".join(
            f"{count} {rules.explain(key, type, parameters)}"
            for key, count in sorted(skipped.items())
        )
        raise CommandNotAllowed(
            f"no device of the {kind} may take {type}" + (f" ({reasons})" if reasons else ""),
            errors={"type": [reasons or "the target has no enrolled device"]},
        )
    session.flush()
    # The devices the command was queued for, by the same condition (a join on the new rows
    # would be planned without statistics of them).
    hooks.wake(session, condition, "command")
    shown = {name: value for name, value in parameters.items() if name != "profile"}
    audit.record(
        session,
        actor,
        "command.queue",
        "command_batch",
        batch.id,
        school_id=school_id,
        details={
            "type": type,
            "target": kind,
            "group_id": batch.group_id,
            "device_ids": sorted(set(target.device_ids)) if kind == "devices" else None,
            "parameters": shown,
            "queued": batch.queued,
            "skipped": skipped,
        },
    )
    return batch


@dataclass(frozen=True)
class CommandFilters:
    """What the admin's command list is filtered by."""

    school_id: int | None = None
    device_id: int | None = None
    batch_id: int | None = None
    type: str | None = None
    status: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


def list_commands(
    session: Session, actor: Actor, filters: CommandFilters, *, limit: int = 50, offset: int = 0
) -> tuple[list[tuple[Command, Device]], int]:
    """Commands the admin may see, newest first, with the total."""
    _require_admin(actor)
    stmt = scoped(
        select(Command, Device).join(Device, Device.id == Command.device_id), Command, actor
    )
    for column, value in (
        (Command.school_id, filters.school_id),
        (Command.device_id, filters.device_id),
        (Command.batch_id, filters.batch_id),
        (Command.type, filters.type),
        (Command.status, filters.status),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if filters.created_after is not None:
        stmt = stmt.where(Command.created_at >= filters.created_after)
    if filters.created_before is not None:
        stmt = stmt.where(Command.created_at < filters.created_before)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(stmt.order_by(Command.id.desc()).limit(limit).offset(offset)).all()
    return [(row[0], row[1]) for row in rows], total


def get_command(session: Session, actor: Actor, command_id: int) -> Command:
    """One command the admin may see."""
    _require_admin(actor)
    command = session.get(Command, command_id)
    if command is None or not may_touch_school(actor, command.school_id):
        raise NotFound(f"command {command_id} not found")
    return command


def history(session: Session, command: Command) -> list[CommandEvent]:
    """A command's steps after it was queued, oldest first."""
    return list(
        session.scalars(
            select(CommandEvent)
            .where(CommandEvent.command_id == command.id)
            .order_by(CommandEvent.id)
        )
    )


def get_batch(session: Session, actor: Actor, batch_id: int) -> tuple[CommandBatch, dict[str, int]]:
    """A batch the admin may see, with its commands counted by status."""
    _require_admin(actor)
    batch = session.get(CommandBatch, batch_id)
    if batch is None or not may_touch_school(actor, batch.school_id):
        raise NotFound(f"command batch {batch_id} not found")
    counts = dict(
        session.execute(
            select(Command.status, func.count())
            .where(Command.batch_id == batch.id)
            .group_by(Command.status)
        ).all()
    )
    return batch, counts


def list_batches(
    session: Session,
    actor: Actor,
    *,
    school_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[CommandBatch], int]:
    """Batches the admin may see, newest first."""
    _require_admin(actor)
    stmt = scoped(select(CommandBatch), CommandBatch, actor)
    if school_id is not None:
        stmt = stmt.where(CommandBatch.school_id == school_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(CommandBatch.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def _cancel(session: Session, condition: ColumnElement[bool], now: datetime, detail: str) -> int:
    cancellable = select(Command.id).where(condition, Command.status.in_(CANCELLABLE))
    _events(session, cancellable, "cancelled", now, detail)
    result = session.execute(
        update(Command)
        .where(condition, Command.status.in_(CANCELLABLE))
        .values(status="cancelled", due_at=None, finished_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def cancel_command(
    session: Session, actor: Actor, command_id: int, now: datetime | None = None
) -> Command:
    """Cancel a command that was not sent, or that its device answered "not now"."""
    command = get_command(session, actor, command_id)
    now = now or utcnow()
    if not _cancel(session, Command.id == command.id, now, f"by {actor.name}"):
        session.refresh(command)
        reason = (
            "was sent to the device; its result will be recorded"
            if command.status == "sent"
            else f"is {command.status}"
        )
        raise Conflict(f"command {command_id} {reason}")
    audit.record(
        session,
        actor,
        "command.cancel",
        "command",
        command.id,
        school_id=command.school_id,
        details={"device_id": command.device_id, "type": command.type},
    )
    session.refresh(command)
    return command


def cancel_batch(session: Session, actor: Actor, batch_id: int, now: datetime | None = None) -> int:
    """Cancel every command of a batch that was not sent yet; how many."""
    batch, _ = get_batch(session, actor, batch_id)
    cancelled = _cancel(session, Command.batch_id == batch.id, now or utcnow(), f"by {actor.name}")
    audit.record(
        session,
        actor,
        "command.cancel_batch",
        "command_batch",
        batch.id,
        school_id=batch.school_id,
        details={"cancelled": cancelled, "type": batch.type},
    )
    return cancelled


# --- delivery and results (for the transports) -------------------------------------------------


def command_work(
    session: Session, device_id: int, now: datetime, limit: int, resend_seconds: int
) -> list[dict[str, Any]]:
    """The device's due commands, oldest first, marked as sent (locked on PostgreSQL, and taken
    only if still due, so two check-ins never both take one); expired ones are marked expired."""
    due = (Command.device_id == device_id) & (Command.due_at <= now)
    rows = session.execute(
        select(Command.id, Command.expires_at)
        .where(due)
        .order_by(Command.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    ids = [row.id for row in rows]
    if not ids:
        return []
    if any(row.expires_at <= now for row in rows):
        overdue = Command.id.in_(ids) & due & (Command.expires_at <= now)
        _events(session, select(Command.id).where(overdue), "expired", now)
        session.execute(
            update(Command)
            .where(overdue)
            .values(status="expired", due_at=None, finished_at=now)
            .execution_options(synchronize_session=False)
        )
    taken = session.scalars(
        update(Command)
        .where(Command.id.in_(ids), due)
        .values(
            status="sent",
            sent_at=now,
            due_at=now + timedelta(seconds=resend_seconds),
            attempts=Command.attempts + 1,
        )
        .returning(Command.id)
        .execution_options(synchronize_session=False)
    ).all()
    if not taken:
        return []
    _events(session, select(Command.id).where(Command.id.in_(taken)), "sent", now)
    rows = session.execute(
        select(Command.id, Command.type, Command.expires_at, CommandBatch.parameters)
        .join(CommandBatch, CommandBatch.id == Command.batch_id)
        .where(Command.id.in_(taken))
        .order_by(Command.id)
    )
    return [
        {
            "id": f"command-{row.id}",
            "kind": "command",
            "payload": {
                "type": row.type,
                "parameters": row.parameters,
                "expires_at": row.expires_at.isoformat(),
            },
        }
        for row in rows
    ]


def record_command_result(
    session: Session,
    device_id: int,
    ownership: str,
    command_id: int,
    status: str,
    detail: str,
    data: dict[str, Any],
    now: datetime,
    retry_seconds: int,
    inventory_kept: frozenset[str] = frozenset(),
) -> bool:
    """Record a device's result of a command it was sent: once (True); the same result again
    changes nothing (False); a different result of a finished command is a Conflict. The result
    keeps of a device's inventory only what may be stored of it (a personal device: the BYOD
    allow-list; a school-owned one: the categories `inventory_kept` of its inventory policy)."""
    mine = (Command.id == command_id) & (Command.device_id == device_id)
    command = session.scalar(
        select(Command).where(mine).with_for_update().execution_options(populate_existing=True)
    )
    if command is None or command.sent_at is None:
        raise NotFound(f"device {device_id} has no pending work 'command-{command_id}'")
    if ownership == byod.BYOD:
        data, _dropped = byod.filter_inventory(byod.BYOD, data)
    else:
        data, _dropped = inventory_rules.filter_school_inventory(data, inventory_kept)
    if status == "not_now":
        values: dict[str, Any] = {
            "status": "not_now",
            "due_at": now + timedelta(seconds=retry_seconds),
            "not_now_count": Command.not_now_count + 1,
        }
        open_now: tuple[str, ...] = ("sent",)
    else:
        values = {
            "status": RESULT_STATUSES[status],
            "due_at": None,
            "finished_at": now,
            "result_detail": detail,
            "result_data": data,
        }
        open_now = ("sent", "not_now", "expired")
    changed = session.execute(
        update(Command)
        .where(mine, Command.status.in_(open_now), Command.sent_at.is_not(None))
        .values(values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed:
        session.add(
            CommandEvent(
                command_id=command_id,
                school_id=command.school_id,
                at=now,
                status=values["status"],
                detail=detail,
            )
        )
        session.flush()
        return True
    current = session.scalar(select(Command.status).where(mine))
    if current == values["status"] or (status == "not_now" and current in OPEN_STATUSES):
        return False
    raise Conflict(f"command {command_id} is {current} already")


# --- jobs --------------------------------------------------------------------------------------


def expire(session: Session, now: datetime | None = None) -> int:
    """Expire open commands past their expiry, and cancel the open commands of retired devices;
    how many."""
    now = now or utcnow()
    overdue = Command.due_at.is_not(None) & (Command.expires_at <= now)
    _events(session, select(Command.id).where(overdue), "expired", now)
    count = session.execute(
        update(Command)
        .where(overdue)
        .values(status="expired", due_at=None, finished_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    retired = Command.due_at.is_not(None) & exists().where(
        Device.id == Command.device_id, Device.status != "enrolled"
    )
    _events(session, select(Command.id).where(retired), "cancelled", now, "the device was retired")
    count += session.execute(
        update(Command)
        .where(retired)
        .values(status="cancelled", due_at=None, finished_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    return count


def cancel_open(session: Session, device_id: int, detail: str, now: datetime | None = None) -> int:
    """Cancel every open command of a device whose management ended, those sent and not
    answered among them (what `expire` does for retired devices, at once); how many."""
    now = now or utcnow()
    open_ = (Command.device_id == device_id) & Command.due_at.is_not(None)
    _events(session, select(Command.id).where(open_), "cancelled", now, detail)
    return session.execute(
        update(Command)
        .where(open_)
        .values(status="cancelled", due_at=None, finished_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount


def prune(session: Session, now: datetime | None = None) -> int:
    """Delete finished commands older than the retention (their history goes with them; the
    audit log keeps who sent what), then batches left without commands; how many commands."""
    now = now or utcnow()
    cutoff = now - timedelta(days=int(current_app.config["COMMAND_RETENTION_DAYS"]))
    old = Command.finished_at < cutoff
    session.execute(
        delete(CommandEvent).where(CommandEvent.command_id.in_(select(Command.id).where(old)))
    )
    pruned = session.execute(delete(Command).where(old)).rowcount
    session.execute(
        delete(CommandBatch).where(
            CommandBatch.created_at < cutoff,
            ~exists().where(Command.batch_id == CommandBatch.id),
        )
    )
    return pruned
