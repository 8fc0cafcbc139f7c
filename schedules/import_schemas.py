"""Marshmallow schemas of the timetable import API."""

from marshmallow import Schema, fields

from mdm.schemas import page_of


class ImportWarningSchema(Schema):
    file = fields.String()
    line = fields.Integer(allow_none=True, metadata={"description": "1-based; null: whole file"})
    message = fields.String()


class TimetableImportSchema(Schema):
    id = fields.Integer()
    source = fields.String(metadata={"description": "untis-gpu, untis-html or indiware"})
    created_at = fields.DateTime()
    actor = fields.String()
    files = fields.Dict(
        keys=fields.String(), values=fields.String(), metadata={"description": "name -> sha256"}
    )
    counts = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "what the export holds: classes, lessons, substitutions, ..."},
    )
    warnings = fields.List(fields.Nested(ImportWarningSchema))
    changes = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "substitutions new, changed and removed by this import"},
    )
    covered_dates = fields.List(
        fields.String(), metadata={"description": "dates the import replaced (ISO)"}
    )


class ImportReportSchema(TimetableImportSchema):
    plan_changed = fields.Boolean(
        metadata={"description": "false when the files held nothing new (an idempotent re-import)"}
    )
    plan_version = fields.Integer(metadata={"description": "the school's plan version now"})


class SubstitutionChangeSchema(Schema):
    change = fields.String(metadata={"description": "new, changed or removed"})
    key = fields.String()
    date = fields.Date()
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)


class TimetableImportDetailSchema(TimetableImportSchema):
    substitution_changes = fields.List(fields.Nested(SubstitutionChangeSchema))


ImportPageSchema = page_of(TimetableImportSchema, "TimetableImportPage")
