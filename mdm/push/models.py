"""Push models: a school's push settings (APNs certificate, webhook), the devices' push
addresses, and the queue of wake-ups."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mdm.extensions import db
from mdm.platform.encryption import EncryptedBytes
from mdm.platform.types import UTCDateTime, utcnow

WAKEUP_STATUSES = ("pending", "failed")


class PushSettings(db.Model):
    """How a school's devices are woken up: its MDM push certificate and its webhook."""

    __tablename__ = "push_settings"

    school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True
    )
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    webhook_secret: Mapped[bytes | None] = mapped_column(EncryptedBytes)
    apns_certificate_pem: Mapped[str | None] = mapped_column(Text)
    apns_key_pem: Mapped[bytes | None] = mapped_column(EncryptedBytes)
    apns_topic: Mapped[str | None] = mapped_column(String(200))
    apns_not_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PushAddress(db.Model):
    """Where APNs reaches an Apple device (from its MDM check-in); invalid once APNs says so."""

    __tablename__ = "push_addresses"

    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="RESTRICT"))
    apns_token: Mapped[str] = mapped_column(String(200))
    push_magic: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    invalid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    invalid_reason: Mapped[str | None] = mapped_column(String(100))


class PushWakeup(db.Model):
    """A device to wake up: one row per device, whatever woke it; gone once sent."""

    __tablename__ = "push_wakeups"
    __table_args__ = (Index("ix_push_wakeups_status_next", "status", "next_attempt_at"),)

    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    # The device's school, for scoping; no foreign key, which PostgreSQL would check row by row
    # when 10,000 wake-ups are queued at once (the device's cascades cover it).
    school_id: Mapped[int] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(String(20))
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
