"""Apple MDM state of a device: the identity it authenticated with (UDID, or the EnrollmentID
of a User Enrollment), its topic, its UnlockToken (encrypted at rest), its supervision, whether
an inventory refresh is due, and for a personal device whose owner ended management, whether
the device is still to be told."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column

from mdm.extensions import db
from mdm.platform.encryption import EncryptedBytes
from mdm.platform.types import UTCDateTime, utcnow


class AppleDevice(db.Model):
    """A device enrolled through Apple's MDM protocol (its device channel; user channels are
    not kept: they are declined)."""

    __tablename__ = "apple_devices"

    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    # The device's school, for scoping (the device's cascade covers it).
    school_id: Mapped[int] = mapped_column()
    # The device channel's identifier from Authenticate: bound once, never taken from a
    # user-channel message.
    udid: Mapped[str | None] = mapped_column(String(64), unique=True)
    # A personal device enrolled through account-driven User Enrollment: Apple sends it no UDID
    # nor serial number, only the EnrollmentID of this enrollment, bound at its Authenticate.
    user_enrollment: Mapped[bool] = mapped_column(default=False, server_default=false())
    enrollment_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    topic: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    authenticated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    token_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unlock_token: Mapped[bytes | None] = mapped_column(EncryptedBytes)
    # From DeviceInformation's IsSupervised; False until the device said otherwise.
    supervised: Mapped[bool] = mapped_column(default=False)
    # When the device is next to be asked for its inventory (DeviceInformation,
    # InstalledApplicationList, ProfileList); NULL when not due.
    inventory_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The settings of the policy last sent that the device does not get (supervision, parts
    # this transport does not deliver): reported with the policy's result.
    policy_left_out: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # Set when the owner of a personal device ended its management through the API: the
    # device is retired and everything else about it is gone, and its identity is taken only
    # to tell the device (one RemoveProfile of its enrollment profile) and for its CheckOut.
    removal_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When that RemoveProfile is (next) to be sent; NULL once the device answered it.
    removal_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
