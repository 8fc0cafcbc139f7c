"""Accounts: schools (tenants), users, revoked logins."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mdm.extensions import db
from mdm.platform.types import UTCDateTime, utcnow

ROLES = ("it_admin", "school_admin", "teacher", "student")


class School(db.Model):
    """A school: the tenant that owns users, devices and timetables."""

    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Berlin")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Raised with every change that may end a login of its users (mdm.accounts.auth).
    auth_version: Mapped[int] = mapped_column(default=0, server_default="0")


class User(db.Model):
    """A person who logs in: city IT admin, school admin, teacher or student."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("school_id", "role", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Active history: a move to another school must know the old one (mdm.accounts.auth).
    school_id: Mapped[int | None] = mapped_column(
        ForeignKey("schools.id", ondelete="RESTRICT"), index=True, active_history=True
    )
    username: Mapped[str] = mapped_column(String(120), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    # The class of a student, e.g. "7a"; for teachers their Untis abbreviation may go here later.
    class_name: Mapped[str | None] = mapped_column(String(40))
    # The id the school office software gives the person (e.g. a Schüler-ID), from the CSV
    # import: it recognises them in the next export, whatever their name or class then.
    external_id: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the password was last changed or reset (shown; the tokens go by login_generation).
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Rises with every password change or reset; a login's tokens carry the generation they
    # were made in, and those of an earlier one are refused, however soon after they were made.
    login_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    # The language of the admin pages the user chose ("de", "en"); None follows the browser.
    language: Mapped[str | None] = mapped_column(String(2))

    school: Mapped[School | None] = relationship()

    @property
    def display_name(self) -> str:
        """First and last name, or the username when no name is known."""
        return f"{self.first_name} {self.last_name}".strip() or self.username


class RevokedToken(db.Model):
    """A JWT id that was logged out; refused until it would have expired anyway."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
