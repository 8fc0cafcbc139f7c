"""SCEP models: each school's SCEP responder (the RSA key requests are encrypted to and replies
signed with), and the one-time enrollment challenges of pending devices."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mdm.extensions import db
from mdm.platform.encryption import EncryptedBytes
from mdm.platform.types import UTCDateTime, utcnow


class ScepResponder(db.Model):
    """A school's SCEP responder: an RSA certificate issued by the school's device CA (whose key
    is EC, which SCEP clients cannot encrypt to); the key is PKCS#8 PEM, encrypted at rest."""

    __tablename__ = "apple_scep_responders"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="RESTRICT"), unique=True
    )
    certificate_pem: Mapped[str] = mapped_column(Text)
    key_pem: Mapped[bytes] = mapped_column(EncryptedBytes)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScepChallenge(db.Model):
    """A pending device's one-time SCEP challenge, stored as its SHA-256 only. Once used, it
    remembers the transaction, the key and the credential, so a retransmitted request gets the
    same certificate."""

    __tablename__ = "apple_scep_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    # One challenge per device: a new one replaces the old.
    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), unique=True
    )
    challenge_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    transaction_id: Mapped[str | None] = mapped_column(String(128))
    public_key_fingerprint: Mapped[str | None] = mapped_column(String(64))
    credential_id: Mapped[int | None] = mapped_column(
        ForeignKey("device_credentials.id", ondelete="SET NULL")
    )
