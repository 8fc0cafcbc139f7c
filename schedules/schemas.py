"""Marshmallow schemas of the timetable API: imports, and the panel feed, its picker options, its
settings and link. The OpenAPI document is made from them."""

from datetime import UTC
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from webargs.fields import DelimitedList

from mdm.platform.schemas import JsonBoolean, PageArgs, Timestamp, page_of
from schedules.panel import MAX_DAYS
from schedules.panel_texts import LANGUAGES

NAME = validate.Length(min=1, max=60)


class PanelQueryArgs(Schema):
    class_name = fields.String(
        data_key="class", validate=NAME, metadata={"description": "a class, e.g. 7a"}
    )
    course = DelimitedList(
        fields.String(validate=NAME),
        load_default=list,
        metadata={
            "description": "chosen courses, comma-separated; with `class` only these courses of "
            "the class (lessons without a course always), alone only these courses"
        },
    )
    teacher = fields.String(validate=NAME, metadata={"description": "a teacher's abbreviation"})
    room = fields.String(validate=NAME)
    days = fields.Integer(
        load_default=2,
        validate=validate.Range(min=1, max=MAX_DAYS),
        metadata={"description": "how many school days from today on"},
    )
    since = Timestamp(
        default_timezone=UTC,
        metadata={"description": "mark entries changed after this time (ISO 8601) as `changed`"},
    )


class PanelValuesSchema(Schema):
    subject = fields.String()
    teachers = fields.List(
        fields.String(), allow_none=True, metadata={"description": "null when hidden"}
    )
    rooms = fields.List(fields.String())
    classes = fields.List(fields.String())


class PanelEntrySchema(PanelValuesSchema):
    kind = fields.String(
        allow_none=True,
        metadata={
            "description": "cancellation, substitution, room_change, swap, moved, ...; "
            "null for a regular lesson"
        },
    )
    colour = fields.String(
        allow_none=True,
        metadata={"description": "red, blue, green, yellow, orange, grey, purple, teal"},
    )
    period = fields.Integer()
    period_to = fields.Integer()
    starts = fields.String(allow_none=True, metadata={"description": "HH:MM"})
    ends = fields.String(allow_none=True, metadata={"description": "HH:MM"})
    course = fields.String()
    original = fields.Nested(
        PanelValuesSchema, allow_none=True, metadata={"description": "what the plan said"}
    )
    text = fields.String()
    changed = fields.Boolean(metadata={"description": "changed after `since`"})


class PanelAbsenceSchema(Schema):
    kind = fields.String(metadata={"description": "teacher, class or room"})
    name = fields.String()
    first_period = fields.Integer(allow_none=True)
    last_period = fields.Integer(allow_none=True)
    text = fields.String()


class PanelDaySchema(Schema):
    date = fields.Date()
    messages = fields.List(fields.String())
    absences = fields.List(fields.Nested(PanelAbsenceSchema))
    changes = fields.List(
        fields.Nested(PanelEntrySchema),
        metadata={"description": "the day's changes; a teacher's own (as the new teacher) first"},
    )
    lessons = fields.List(
        fields.Nested(PanelEntrySchema),
        metadata={
            "description": "the selection's lessons with the changes applied (empty for all)"
        },
    )


class PanelSelectionSchema(Schema):
    kind = fields.String(metadata={"description": "class, courses, teacher, room or all"})
    class_name = fields.String(data_key="class", allow_none=True)
    courses = fields.List(fields.String())
    teacher = fields.String(allow_none=True)
    room = fields.String(allow_none=True)


class PanelSchema(Schema):
    school_id = fields.Integer()
    timezone = fields.String()
    today = fields.Date()
    plan_version = fields.Integer()
    updated_at = fields.DateTime(allow_none=True, metadata={"description": "plan last updated"})
    hide_teachers = fields.Boolean()
    selection = fields.Nested(PanelSelectionSchema)
    days = fields.List(fields.Nested(PanelDaySchema))
    subjects = fields.Dict(
        keys=fields.String(), values=fields.String(), metadata={"description": "long names"}
    )


class CourseOptionSchema(Schema):
    name = fields.String()
    subject = fields.String()
    classes = fields.List(fields.String())


class TeacherOptionSchema(Schema):
    abbreviation = fields.String()
    name = fields.String()


class PanelOptionsSchema(Schema):
    classes = fields.List(fields.String())
    courses = fields.List(fields.Nested(CourseOptionSchema))
    teachers = fields.List(
        fields.Nested(TeacherOptionSchema),
        metadata={"description": "empty for students when the school hides teacher names"},
    )
    rooms = fields.List(fields.String())


SCREEN_LANGUAGE = fields.String(
    validate=validate.OneOf(LANGUAGES),
    metadata={
        "description": "the language of the entrance-hall screen (the panel link's screen "
        "mode), whatever the browser's: de (the default) or en"
    },
)


class PanelSettingsSchema(Schema):
    hide_teachers_from_students = fields.Boolean()
    screen_language = SCREEN_LANGUAGE
    public_link_enabled = fields.Boolean(dump_only=True)
    public_link_lookup = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": "the non-secret beginning of the panel link"},
    )
    plan_version = fields.Integer(dump_only=True)
    plan_updated_at = fields.DateTime(dump_only=True, allow_none=True)


class PanelSettingsUpdateSchema(Schema):
    hide_teachers_from_students = JsonBoolean()
    screen_language = SCREEN_LANGUAGE

    @validates_schema
    def _something_to_change(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if not data:
            raise ValidationError("name at least one setting to change")


class PanelLinkSchema(Schema):
    secret = fields.String(metadata={"description": "shown once; only its hash is stored"})
    lookup = fields.String()
    url = fields.String(metadata={"description": "the read-only panel page"})
    screen_url = fields.String(metadata={"description": "the large-screen mode of the page"})
    feed_url = fields.String(metadata={"description": "the read-only JSON feed"})


class ImportWarningSchema(Schema):
    file = fields.String()
    line = fields.Integer(allow_none=True, metadata={"description": "1-based; null: whole file"})
    message = fields.String()


class WarningSummarySchema(Schema):
    warning = fields.String(metadata={"description": "the kind of warning (names and numbers …/#)"})
    count = fields.Integer()
    examples = fields.List(fields.String(), metadata={"description": "the first few, with file"})


CHANGE_COUNTS = fields.Dict(
    keys=fields.String(),
    values=fields.Integer(),
    metadata={"description": "new, changed and removed"},
)


class TimetableImportSchema(Schema):
    id = fields.Integer()
    source = fields.String(
        metadata={"description": "untis-gpu, untis-html, indiware (joined by + for a mix), restore"}
    )
    created_at = fields.DateTime()
    actor = fields.String()
    status = fields.String(metadata={"description": "applied, or refused (nothing changed)"})
    reason = fields.String(
        allow_none=True, metadata={"description": "why it was refused; what a restore undid"}
    )
    files = fields.Dict(
        keys=fields.String(), values=fields.String(), metadata={"description": "name -> sha256"}
    )
    counts = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "what the export holds: classes, lessons, substitutions, ..."},
    )
    warnings = fields.List(fields.Nested(ImportWarningSchema))
    warning_summary = fields.List(
        fields.Nested(WarningSummarySchema), metadata={"description": "one line per kind"}
    )
    changes = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "substitutions new, changed and removed by this import"},
    )
    kinds = fields.Dict(
        keys=fields.String(),
        values=CHANGE_COUNTS,
        metadata={"description": "per kind of the plan it replaced: new, changed, removed"},
    )
    covered_dates = fields.List(
        fields.String(), metadata={"description": "dates whose substitutions it replaced (ISO)"}
    )
    partial_dates = fields.List(
        fields.String(),
        metadata={"description": "dates it added to but did not replace (pages missing)"},
    )
    missing_pages = fields.List(
        fields.String(), metadata={"description": "pages of an incomplete chain the export lacks"}
    )


class ImportReportSchema(TimetableImportSchema):
    plan_changed = fields.Boolean(
        metadata={"description": "false when the files held nothing new (an idempotent re-import)"}
    )
    plan_version = fields.Integer(metadata={"description": "the school's plan version now"})
    class_groups = fields.Dict(
        metadata={
            "description": "what following the timetable's classes changed in the device "
            "groups: groups created, adopted, of classes gone or back, names taken, students and "
            "devices added and removed (docs/class-groups.md); empty without class master data"
        }
    )


class KindPreviewSchema(Schema):
    new = fields.Integer()
    changed = fields.Integer()
    removed = fields.Integer()
    examples = fields.List(fields.String(), metadata={"description": "the first few changes"})


class ImportPreviewSchema(Schema):
    dry_run = fields.Boolean(metadata={"description": "always true: nothing was changed"})
    source = fields.String()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    plan_changed = fields.Boolean(metadata={"description": "whether the import would change it"})
    kinds = fields.Dict(keys=fields.String(), values=fields.Nested(KindPreviewSchema))
    refusal = fields.String(
        allow_none=True,
        metadata={"description": "why the import would be refused without force, or null"},
    )
    warning_summary = fields.List(fields.Nested(WarningSummarySchema))
    covered_dates = fields.List(fields.String())
    partial_dates = fields.List(fields.String())
    missing_pages = fields.List(fields.String())
    class_groups = fields.Dict(
        metadata={
            "description": "what following the timetable's classes changed in the device "
            "groups: groups created, adopted, of classes gone or back, names taken, students and "
            "devices added and removed (docs/class-groups.md); empty without class master data"
        }
    )


class ImportQueryArgs(Schema):
    format = fields.String(
        validate=validate.OneOf(("untis-gpu", "untis-html", "indiware")),
        metadata={"description": "only files of this format; each file's own format when absent"},
    )
    dry_run = fields.Boolean(
        load_default=False, metadata={"description": "say what would change; change nothing"}
    )
    force = fields.Boolean(
        load_default=False,
        metadata={"description": "apply even when it removes more than the configured share"},
    )


class SubstitutionChangeSchema(Schema):
    change = fields.String(metadata={"description": "new, changed or removed"})
    key = fields.String()
    date = fields.Date()
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)


class TimetableImportDetailSchema(TimetableImportSchema):
    substitution_changes = fields.List(
        fields.Nested(SubstitutionChangeSchema),
        metadata={"description": "one page of them (page, per_page), by date and key"},
    )
    substitution_changes_total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class ChangesPageArgs(PageArgs):
    per_page = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


ImportPageSchema = page_of(TimetableImportSchema, "TimetableImportPage")
