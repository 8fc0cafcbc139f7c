"""Enrollment models: tokens, privacy notices and the consents given to them."""

from datetime import datetime

from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mdm.devices.models import Device, Group
from mdm.extensions import db
from mdm.platform.types import UTCDateTime, utcnow

token_groups = Table(
    "enrollment_token_groups",
    db.metadata,
    Column("token_id", ForeignKey("enrollment_tokens.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
)


class EnrollmentToken(db.Model):
    """A secret that lets devices enroll into a school with a given ownership, role and groups."""

    __tablename__ = "enrollment_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    label: Mapped[str] = mapped_column(String(200), default="")
    # The name the device enrolled with it gets ("Koffer 3 – iPad 12": one slot of a trolley);
    # None: the name the device sends.
    device_name: Mapped[str | None] = mapped_column(String(120))
    # `et_` and the first characters of the secret: found by this, confirmed by the hash.
    lookup_key: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    ownership: Mapped[str] = mapped_column(String(10))
    user_role: Mapped[str] = mapped_column(String(20))
    platform: Mapped[str | None] = mapped_column(String(20))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    max_uses: Mapped[int] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    groups: Mapped[list[Group]] = relationship(secondary=token_groups, order_by=Group.name)

    @property
    def classes(self) -> list[str]:
        """The names of the classes among its groups: the classes its devices join."""
        return [group.name for group in self.groups if group.kind == "class"]

    def state(self, now: datetime) -> str:
        """active, revoked, expired or exhausted."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        if self.uses >= self.max_uses:
            return "exhausted"
        return "active"


class TokenEnrollment(db.Model):
    """Which device enrolled with which token, and when: who enrolled what."""

    __tablename__ = "enrollment_token_devices"

    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    token_id: Mapped[int] = mapped_column(
        ForeignKey("enrollment_tokens.id", ondelete="CASCADE"), index=True
    )
    school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    device: Mapped[Device] = relationship()


class PrivacyNotice(db.Model):
    """One version of a school's privacy notice, shown to BYOD owners before they enroll."""

    __tablename__ = "privacy_notices"
    __table_args__ = (UniqueConstraint("school_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Consent(db.Model):
    """A BYOD owner's consent to a version of the school's privacy notice, for one device."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    notice_id: Mapped[int] = mapped_column(ForeignKey("privacy_notices.id", ondelete="RESTRICT"))
    notice_version: Mapped[int] = mapped_column(Integer)
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AppleAccessToken(db.Model):
    """The access token of account-driven User Enrollment: handed to the owner's iPhone or iPad
    once they logged in and consented; good for one enrollment profile, for minutes. Only its
    hash is stored."""

    __tablename__ = "apple_access_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The enrollment token the profile takes its use, groups and role from.
    token_id: Mapped[int] = mapped_column(
        ForeignKey("enrollment_tokens.id", ondelete="CASCADE"), index=True
    )
    notice_id: Mapped[int] = mapped_column(ForeignKey("privacy_notices.id", ondelete="RESTRICT"))
    notice_version: Mapped[int] = mapped_column(Integer)
    # The Managed Apple Account the device signed in with (the owner's email).
    managed_apple_id: Mapped[str] = mapped_column(String(254))
    # The owner's login generation of the login that made it: a password change since ends it,
    # as it ends every earlier login.
    login_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    # The SHA-256 of the login's random id (kept in the page's signed cookie): one login makes
    # one access token, whatever cookie of it is sent again.
    login_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The device whose profile it was used for.
    device_id: Mapped[int | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"), index=True
    )
