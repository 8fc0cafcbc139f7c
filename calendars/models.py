"""Calendar models: feeds and their secret links, school events, calendar sources with their last
good copy, and what each event UID last looked like (for SEQUENCE and LAST-MODIFIED)."""

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mdm.extensions import db
from mdm.platform.encryption import EncryptedBytes
from mdm.platform.types import UTCDateTime, utcnow

FEED_KINDS = ("teacher", "class", "courses", "events", "personal")
EVENT_CATEGORIES = ("holiday", "exam_week", "conference", "parent_evening", "other")
SOURCE_KINDS = ("url", "upload")


class CalendarFeed(db.Model):
    """A user's subscription link to one calendar: a timetable, the school's events, or their
    merged calendar. The secret is found by its sha256 and kept encrypted for its owner."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200), default="")
    # The selection: a teacher's abbreviation (empty: the owner's own), a class, chosen courses.
    teacher: Mapped[str] = mapped_column(String(40), default="")
    class_name: Mapped[str] = mapped_column(String(40), default="")
    courses: Mapped[list[str]] = mapped_column(JSON, default=list)
    include_cancelled: Mapped[bool] = mapped_column(default=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token: Mapped[bytes] = mapped_column(EncryptedBytes)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When a setting that changes the feed's content (name, selection, options) last changed.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SchoolCalendar(db.Model):
    """A school's calendar: the version of its events, raised by every change of them."""

    __tablename__ = "school_calendars"

    school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True
    )
    events_version: Mapped[int] = mapped_column(default=0)
    events_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SchoolEvent(db.Model):
    """A school event (holidays, exam weeks, conferences, parent evenings), maybe recurring.

    All-day events have dates (`starts_on`..`ends_on`, both inclusive); timed events have UTC
    times. A recurrence is an RRULE applied in the school's time zone.
    """

    __tablename__ = "school_events"
    __table_args__ = (Index("ix_school_events_school", "school_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(200), default="")
    category: Mapped[str] = mapped_column(String(20), default="other")
    all_day: Mapped[bool] = mapped_column(default=False)
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recurrence: Mapped[str] = mapped_column(String(500), default="")
    excluded_dates: Mapped[list[str]] = mapped_column(JSON, default=list)
    cancelled: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CalendarSource(db.Model):
    """A personal calendar merged into its owner's feed: a URL fetched by a job, or an upload."""

    __tablename__ = "calendar_sources"
    __table_args__ = (Index("ix_calendar_sources_due", "kind", "next_fetch_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))
    # Secret links themselves, often: encrypted; only the host is kept readable, for display.
    url: Mapped[bytes | None] = mapped_column(EncryptedBytes)
    url_host: Mapped[str] = mapped_column(String(255), default="")
    refresh_minutes: Mapped[int] = mapped_column(default=60)
    # The validators of the last good answer, for a conditional GET.
    etag: Mapped[str] = mapped_column(String(200), default="")
    http_last_modified: Mapped[str] = mapped_column(String(64), default="")
    next_fetch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the last good copy last changed (what the merged feed's events were changed at).
    content_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    event_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CalendarSourceCopy(db.Model):
    """The last good copy of a source's calendar (encrypted: personal events are private)."""

    __tablename__ = "calendar_source_copies"

    source_id: Mapped[int] = mapped_column(
        ForeignKey("calendar_sources.id", ondelete="CASCADE"), primary_key=True
    )
    body: Mapped[bytes] = mapped_column(EncryptedBytes)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CalendarEventState(db.Model):
    """What a feed event (by UID) last looked like: SEQUENCE rises when its time, place, people
    or status change; `modified_at` is its LAST-MODIFIED and DTSTAMP."""

    __tablename__ = "calendar_event_states"
    __table_args__ = (
        UniqueConstraint("school_id", "uid"),
        Index("ix_calendar_event_states_school_day", "school_id", "last_day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    uid: Mapped[str] = mapped_column(String(255))
    # sha256 of what SEQUENCE follows (times, rooms, teachers, status) and of everything shown.
    significant_hash: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(default=0)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The event's last day, so that states of long-past events can be pruned.
    last_day: Mapped[date] = mapped_column(Date)
