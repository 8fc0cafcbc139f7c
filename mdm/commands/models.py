"""Command models: what an admin sent (a batch), one command per device with its lifecycle,
and each command's history."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from mdm.extensions import db
from mdm.platform.types import UTCDateTime, utcnow

STATUSES = ("queued", "sent", "acknowledged", "error", "not_now", "expired", "cancelled")
# Statuses of a command that may still reach its device.
OPEN_STATUSES = ("queued", "sent", "not_now")
FINISHED_STATUSES = ("acknowledged", "error", "expired", "cancelled")
BATCH_TARGETS = ("devices", "group", "school")


class CommandBatch(db.Model):
    """One command as an admin sent it: its type and parameters, to whom, by whom."""

    __tablename__ = "command_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    type: Mapped[str] = mapped_column(String(40))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    target: Mapped[str] = mapped_column(String(20))
    # The group's id for a group target; the devices of a "devices" target are its commands.
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(160))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    queued: Mapped[int] = mapped_column(default=0)
    # {reason: count} of the target's devices the command was not queued for.
    skipped: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)


class Command(db.Model):
    """A command queued for one device.

    `due_at` is when it is next to be sent (NULL once finished): when queued, again after a
    resend interval when sent without a result, after the retry interval when the device said
    "not now". A check-in looks only at `due_at`.
    """

    __tablename__ = "commands"
    # Few indexes and no foreign key on school_id (a copy of the device's school, for scoping):
    # a command to 10,000 devices writes 10,000 rows, and on PostgreSQL every index is written
    # and every foreign key checked by a trigger, row by row. The jobs that look at expiry and
    # age run every few minutes or daily and scan.
    __table_args__ = (Index("ix_commands_device_due", "device_id", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(
        ForeignKey("command_batches.id", ondelete="CASCADE"), index=True
    )
    school_id: Mapped[int] = mapped_column()
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="queued")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    not_now_count: Mapped[int] = mapped_column(default=0)
    result_detail: Mapped[str] = mapped_column(String(2000), default="")
    result_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class CommandEvent(db.Model):
    """A step of a command's life after it was queued: sent, not now, acknowledged, ..."""

    __tablename__ = "command_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    command_id: Mapped[int] = mapped_column(
        ForeignKey("commands.id", ondelete="CASCADE"), index=True
    )
    school_id: Mapped[int] = mapped_column()  # the command's, for scoping
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(String(2000), default="")
