"""Apple MDM state of a device: the identity it authenticated with (UDID, or the EnrollmentID
of a User Enrollment), its topic, its UnlockToken (encrypted at rest), its supervision, whether
an inventory refresh is due, and for a personal device whose owner ended management, whether
the device is still to be told."""

from datetime import datetime
from typing import Any

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


class AppleDeclarativeState(db.Model):
    """A device that gets its policy by declarative device management (iOS/iPadOS 17 and
    later): the declarations it was last offered and told of, the status it reported, and
    whether the policy profile it got before is still to be removed."""

    __tablename__ = "apple_declarative_states"

    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    school_id: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The DeclarationsToken of the device's current declarations, and since when it is.
    token: Mapped[str] = mapped_column(String(64), default="")
    token_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The token the last DeclarativeManagement command carried, and the one of the last
    # declaration list the device fetched.
    sent_token: Mapped[str | None] = mapped_column(String(64))
    synced_token: Mapped[str | None] = mapped_column(String(64))
    # When the policy profile of the profile path is (again) to be removed; NULL when removed
    # or never installed. The declarations wait for it.
    remove_profile_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The status items the device reported (nested as sent, full and incremental reports
    # merged), the items it could not report, and when it last reported.
    status: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status_errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
