"""Marshmallow schemas of the calendar API: feeds and their links, school events, calendar
sources. The OpenAPI document is made from them."""

from datetime import UTC

from marshmallow import Schema, fields, validate

from calendars.models import EVENT_CATEGORIES, FEED_KINDS
from mdm.platform.schemas import JsonBoolean, PageArgs, StrictSchema, page_of

NAME = validate.Length(max=200)
SHORT = validate.Length(max=40)
COURSES = fields.List(
    fields.String(validate=validate.Length(min=1, max=60)),
    validate=validate.Length(max=30),
    metadata={"description": "chosen courses (with a class: only these of its courses)"},
)


class FeedCreateSchema(StrictSchema):
    kind = fields.String(
        required=True,
        validate=validate.OneOf(FEED_KINDS),
        metadata={
            "description": "teacher (a teacher's timetable, own by default), class, courses, "
            "events (the school's), personal (own timetable + school events + own sources)"
        },
    )
    name = fields.String(validate=NAME, load_default="", metadata={"description": "shown name"})
    teacher = fields.String(
        validate=SHORT, load_default="", metadata={"description": "another teacher (staff only)"}
    )
    class_name = fields.String(data_key="class", validate=SHORT, load_default="")
    courses = COURSES
    include_cancelled = JsonBoolean(
        load_default=True,
        metadata={"description": "keep cancelled lessons (STATUS:CANCELLED, 'Entfall: ...')"},
    )


class FeedUpdateSchema(StrictSchema):
    name = fields.String(validate=NAME)
    teacher = fields.String(validate=SHORT)
    class_name = fields.String(data_key="class", validate=SHORT)
    courses = COURSES
    include_cancelled = JsonBoolean()


class FeedSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    name = fields.String()
    teacher = fields.String()
    class_name = fields.String(data_key="class")
    courses = fields.List(fields.String())
    include_cancelled = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    rotated_at = fields.DateTime(allow_none=True)
    url = fields.String(metadata={"description": "the feed's link (its secret is in it)"})
    webcal_url = fields.String(metadata={"description": "webcal:// link: opens calendar apps"})
    qr_svg_path = fields.String(metadata={"description": "the webcal link as a QR code (SVG)"})


class SchoolEventInSchema(StrictSchema):
    title = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String(validate=validate.Length(max=5000))
    location = fields.String(validate=NAME)
    category = fields.String(validate=validate.OneOf(EVENT_CATEGORIES))
    all_day = JsonBoolean(metadata={"description": "dates (starts_on, ends_on) instead of times"})
    starts_on = fields.Date(allow_none=True)
    ends_on = fields.Date(allow_none=True, metadata={"description": "last day (inclusive)"})
    starts_at = fields.AwareDateTime(default_timezone=UTC, allow_none=True)
    ends_at = fields.AwareDateTime(default_timezone=UTC, allow_none=True)
    recurrence = fields.String(
        validate=validate.Length(max=300),
        metadata={
            "description": "an RRULE (RFC 5545), e.g. FREQ=WEEKLY;BYDAY=TU;UNTIL=20270630, "
            "applied in the school's time zone; empty: once"
        },
    )
    excluded_dates = fields.List(
        fields.Date(), validate=validate.Length(max=366), metadata={"description": "left out"}
    )
    cancelled = JsonBoolean(metadata={"description": "stays in calendars as cancelled"})


class SchoolEventCreateSchema(SchoolEventInSchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))


class SchoolEventSchema(Schema):
    id = fields.Integer()
    school_id = fields.Integer()
    title = fields.String()
    description = fields.String()
    location = fields.String()
    category = fields.String()
    all_day = fields.Boolean()
    starts_on = fields.Date(allow_none=True)
    ends_on = fields.Date(allow_none=True)
    starts_at = fields.DateTime(allow_none=True)
    ends_at = fields.DateTime(allow_none=True)
    recurrence = fields.String()
    excluded_dates = fields.List(fields.String())
    cancelled = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


SchoolEventPageSchema = page_of(SchoolEventSchema, "SchoolEventPage")


class SchoolEventQueryArgs(PageArgs):
    starting = fields.Date(data_key="from", metadata={"description": "events touching this day on"})
    ending = fields.Date(data_key="to", metadata={"description": "events touching up to this day"})


class SourceCreateSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    url = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2000),
        metadata={"description": "https, http or webcal link of an iCal calendar"},
    )
    refresh_minutes = fields.Integer(
        metadata={"description": "how often it is fetched (15 minutes to a week)"}
    )


class SourceUpdateSchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    url = fields.String(validate=validate.Length(min=1, max=2000))
    refresh_minutes = fields.Integer()


class SourceSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String(metadata={"description": "url or upload"})
    url = fields.String(allow_none=True, metadata={"description": "only its owner sees it"})
    url_host = fields.String()
    refresh_minutes = fields.Integer()
    status = fields.String(metadata={"description": "ok, error or pending"})
    event_count = fields.Integer(metadata={"description": "events in the last good copy"})
    last_attempt_at = fields.DateTime(allow_none=True)
    last_success_at = fields.DateTime(allow_none=True)
    last_error = fields.String()
    last_error_at = fields.DateTime(allow_none=True)
    content_changed_at = fields.DateTime(allow_none=True)
    next_fetch_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
