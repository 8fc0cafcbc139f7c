"""The audit log service: written in the caller's transaction, listed with filters."""

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mdm.platform.actors import Actor
from mdm.platform.models import AuditEvent
from mdm.platform.scoping import scoped


def record(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: Any = None,
    *,
    school_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the session; it commits (or rolls back) with the change it records."""
    event = AuditEvent(
        actor_id=actor.user_id,
        actor=actor.name,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        school_id=school_id,
        address=actor.address,
        details=details or {},
    )
    session.add(event)
    return event


def list_events(
    session: Session,
    actor: Actor,
    *,
    school_id: int | None = None,
    action: str | None = None,
    actor_id: int | None = None,
    actor_name: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AuditEvent], int]:
    """Audit events the actor may see, newest first, with the total count for paging."""
    stmt = scoped(select(AuditEvent), AuditEvent, actor)
    if school_id is not None:
        stmt = stmt.where(AuditEvent.school_id == school_id)
    if action:
        stmt = stmt.where(AuditEvent.action.startswith(action))
    if actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    if actor_name:
        stmt = stmt.where(AuditEvent.actor == actor_name)
    if target_type:
        stmt = stmt.where(AuditEvent.target_type == target_type)
    if target_id:
        stmt = stmt.where(AuditEvent.target_id == target_id)
    if since:
        stmt = stmt.where(AuditEvent.at >= since)
    if until:
        stmt = stmt.where(AuditEvent.at < until)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(rows), total
