"""Device-management models: devices, groups (classes, teachers, custom sets), and device
identity (each school's device CA, the credentials devices authenticate with)."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mdm.accounts.models import User
from mdm.extensions import db
from mdm.platform.encryption import EncryptedBytes
from mdm.platform.types import UTCDateTime, utcnow

OWNERSHIPS = ("school", "byod")
PLATFORMS = ("ios", "ipados", "macos", "android", "windows", "linux")
# pending: created for an enrollment the device has not completed yet (an Apple device that
# fetched its profile and has not authenticated).
DEVICE_STATUSES = ("pending", "enrolled", "retired")
USER_ROLES = ("student", "teacher", "shared")
GROUP_KINDS = ("class", "teachers", "custom")

group_devices = Table(
    "group_devices",
    db.metadata,
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("device_id", ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True, index=True),
)

group_users = Table(
    "group_users",
    db.metadata,
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Group(db.Model):
    """A named set of devices and users of one school: a class, the teachers, or a custom set."""

    __tablename__ = "groups"
    __table_args__ = (
        UniqueConstraint("school_id", "name"),
        Index("ix_groups_school_class_key", "school_id", "class_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set on the group of a class (mdm/devices/class_groups.py): the class's key (class_key of
    # its name); its students and their devices are kept in sync. None on admins' own groups.
    class_key: Mapped[str | None] = mapped_column(String(40))
    # When the class was no longer in the timetable nor among the students; the group is kept.
    class_gone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    devices: Mapped[list["Device"]] = relationship(
        secondary=group_devices, back_populates="groups", order_by="Device.id"
    )
    users: Mapped[list[User]] = relationship(secondary=group_users, order_by=User.id)


class Device(db.Model):
    """A managed tablet, phone or computer of a school, school-owned or the owner's own (BYOD)."""

    __tablename__ = "devices"
    # Every check-in rewrites last_seen_at: it is deliberately not indexed, so that PostgreSQL can
    # update the row in place (a HOT update, helped by the table's fillfactor, see migration
    # 0005) instead of writing into every index of the table, on the busiest write of the
    # service. "Last seen before/after" filters scan one school's devices, a few thousand rows.
    # The serial number and IMEIs are indexed: they change only with the inventory, so a check-in
    # that only says "alive" still updates in place.
    __table_args__ = (
        Index("ix_devices_school_status", "school_id", "status"),
        Index("ix_devices_school_serial_number", "school_id", "serial_number"),
        Index("ix_devices_school_imei", "school_id", "imei"),
        Index("ix_devices_school_imei2", "school_id", "imei2"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    ownership: Mapped[str] = mapped_column(String(10))
    platform: Mapped[str] = mapped_column(String(20))
    model: Mapped[str] = mapped_column(String(120), default="")
    os_version: Mapped[str] = mapped_column(String(60), default="")
    name: Mapped[str] = mapped_column(String(120))
    # The role of the person using it (from the enrollment token): student, teacher or shared.
    user_role: Mapped[str] = mapped_column(String(20))
    # The person it is assigned to; for a BYOD device, its owner.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="enrolled")
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the device last reported, after the BYOD filter; the hash spares unchanged writes.
    inventory: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    inventory_hash: Mapped[str] = mapped_column(String(64), default="")
    # Taken from a school-owned device's inventory (mdm/devices/inventory_rules.py), normalised; the
    # last known value stays when an inventory lacks it. Never stored for a personal device.
    serial_number: Mapped[str | None] = mapped_column(String(64))
    imei: Mapped[str | None] = mapped_column(String(16))
    imei2: Mapped[str | None] = mapped_column(String(16))
    # Rises whenever the configuration the agent should hold changes (name, user, groups).
    config_version: Mapped[int] = mapped_column(default=1)

    user: Mapped[User | None] = relationship()
    groups: Mapped[list[Group]] = relationship(
        secondary=group_devices, back_populates="devices", order_by=Group.name
    )


class DeviceCA(db.Model):
    """A school's own device CA; its key is passphrase-encrypted PEM, and both are encrypted."""

    __tablename__ = "device_cas"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="RESTRICT"), unique=True
    )
    certificate_pem: Mapped[str] = mapped_column(Text)
    key_pem: Mapped[bytes] = mapped_column(EncryptedBytes)
    key_passphrase: Mapped[bytes] = mapped_column(EncryptedBytes)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeviceCredential(db.Model):
    """What a device authenticates with: a secret (stored hashed) and maybe a client certificate."""

    __tablename__ = "device_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    lookup_key: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    certificate_serial: Mapped[str | None] = mapped_column(String(40))
    certificate_fingerprint: Mapped[str | None] = mapped_column(String(64), unique=True)
    certificate_pem: Mapped[str | None] = mapped_column(Text)
    not_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InventoryPolicy(db.Model):
    """Which personal categories of inventory (location, phone number, installed apps, network)
    a school keeps of its own devices, per kind of device (mdm/devices/inventory_rules.py).
    A school without a row goes by the defaults there."""

    __tablename__ = "inventory_policies"

    school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="RESTRICT"), primary_key=True
    )
    # {"student": [...], "teacher": [...], "shared": [...]}: the categories kept.
    kept: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
