"""Policy models: policies and their immutable versions, assignments, each device's desired and
applied policy, and the state of the policies' time windows per school."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mdm.extensions import db
from mdm.platform.encryption import EncryptedBytes
from mdm.platform.types import UTCDateTime, utcnow

TARGETS = ("school", "group", "ownership", "device")


class Policy(db.Model):
    """A named policy of a school, or of the city (school_id NULL); its document is versioned."""

    __tablename__ = "policies"
    __table_args__ = (UniqueConstraint("school_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int | None] = mapped_column(
        ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(500), default="")
    current_version: Mapped[int] = mapped_column(default=1)
    # Whether the current version has time windows (the window job looks only at these).
    windowed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PolicyVersion(db.Model):
    """One immutable version of a policy's document; Wi-Fi passwords are kept apart, encrypted."""

    __tablename__ = "policy_versions"
    __table_args__ = (UniqueConstraint("policy_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"))
    school_id: Mapped[int | None] = mapped_column(
        ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    version: Mapped[int] = mapped_column()
    # The document with each Wi-Fi password replaced by its reference (see document.py).
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    # JSON {reference: password}, encrypted at rest.
    secrets: Mapped[bytes | None] = mapped_column(EncryptedBytes)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(160))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class PolicyAssignment(db.Model):
    """A policy applied to a school's devices: all of them, a group, an ownership or one device.

    A city policy's assignment without a school applies to the devices of every school.
    """

    __tablename__ = "policy_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(
        ForeignKey("policies.id", ondelete="CASCADE"), index=True
    )
    school_id: Mapped[int | None] = mapped_column(
        ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    target: Mapped[str] = mapped_column(String(20))
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), index=True
    )
    device_id: Mapped[int | None] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), index=True
    )
    ownership: Mapped[str | None] = mapped_column(String(10))
    priority: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(160))


class DevicePolicyState(db.Model):
    """What a device should have (desired), was last sent, and reported to have applied.

    `due_at` is when the device is next to be sent its policy: set when the desired hash changes,
    moved on when it was sent (to send again if no result comes), cleared when it applied the
    desired policy. A check-in looks only at `due_at`.
    """

    __tablename__ = "device_policies"

    # Only the primary key is indexed, so that marking and sending (which rewrite the hashes
    # and due_at of thousands of rows) are HOT updates on PostgreSQL. school_id is the
    # device's, for scoping, without a foreign key checked row by row on every insert.
    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    school_id: Mapped[int] = mapped_column()
    desired_hash: Mapped[str] = mapped_column(String(64))
    desired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_hash: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    applied_hash: Mapped[str] = mapped_column(String(64))
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # [{"setting": ..., "reason": ...}] the device could not apply of applied_hash.
    failed_settings: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    failed_count: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PolicyWindowState(db.Model):
    """Whether a windowed policy's time windows were open at a school when last looked at."""

    __tablename__ = "policy_window_states"

    school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True
    )
    policy_id: Mapped[int] = mapped_column(
        ForeignKey("policies.id", ondelete="CASCADE"), primary_key=True
    )
    open: Mapped[bool] = mapped_column()
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
