"""Marshmallow schemas of the command API."""

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from mdm.commands.models import STATUSES
from mdm.commands.rules import PARAMETERS, TYPES
from mdm.platform.schemas import PageArgs, StrictSchema, page_of


class CommandCreateSchema(StrictSchema):
    type = fields.String(
        required=True,
        validate=validate.OneOf(TYPES),
        metadata={"description": "see docs/commands.md for the platforms of each"},
    )
    parameters = fields.Dict(
        load_default=dict,
        metadata={
            "description": "by type: "
            + "; ".join(
                f"{name}: {', '.join(schema().fields) or '-'}"
                for name, schema in PARAMETERS.items()
            )
        },
    )
    device_ids = fields.List(
        fields.Integer(),
        validate=validate.Length(min=1, max=5000),
        metadata={"description": "these devices (all must take the command)"},
    )
    group_id = fields.Integer(metadata={"description": "the group's devices that take it"})
    school_id = fields.Integer(metadata={"description": "the school's devices that take it"})
    expires_in_seconds = fields.Integer(
        validate=validate.Range(min=60),
        metadata={"description": "default COMMAND_DEFAULT_EXPIRY_SECONDS (7 days)"},
    )

    @validates_schema
    def _one_target(self, data: dict[str, Any], **_: Any) -> None:
        named = [name for name in ("device_ids", "group_id", "school_id") if name in data]
        if len(named) > 1:
            raise ValidationError("name one of device_ids, group_id, school_id", named[-1])


class ShownParameters(fields.Dict):
    """A command's parameters, with a profile's content shortened."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        shown = dict(value or {})
        if "profile" in shown:
            shown["profile"] = f"<{len(shown['profile'])} characters of base64>"
        return shown


class CommandBatchSchema(Schema):
    id = fields.Integer()
    school_id = fields.Integer()
    type = fields.String()
    parameters = ShownParameters()
    target = fields.String(metadata={"description": "devices, group or school"})
    group_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    created_by = fields.String()
    expires_at = fields.DateTime()
    queued = fields.Integer(metadata={"description": "commands queued"})
    skipped = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "devices of the target skipped, by reason"},
    )


class CommandBatchDetailSchema(CommandBatchSchema):
    statuses = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "commands by status"},
    )


class CommandDeviceSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    platform = fields.String()
    ownership = fields.String()


class EventSchema(Schema):
    at = fields.DateTime()
    status = fields.String()
    detail = fields.String()


class CommandSchema(Schema):
    id = fields.Integer()
    batch_id = fields.Integer()
    school_id = fields.Integer()
    device = fields.Nested(CommandDeviceSchema)
    type = fields.String()
    status = fields.String(metadata={"description": ", ".join(STATUSES)})
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    attempts = fields.Integer(metadata={"description": "how often it was sent"})
    not_now_count = fields.Integer()
    result_detail = fields.String()
    result_data = fields.Dict(allow_none=True)


class CommandDetailSchema(CommandSchema):
    batch = fields.Nested(CommandBatchSchema)
    history = fields.List(
        fields.Nested(EventSchema), metadata={"description": "after it was queued (created_at)"}
    )


class CommandQueryArgs(PageArgs):
    school_id = fields.Integer()
    device_id = fields.Integer()
    batch_id = fields.Integer()
    type = fields.String(validate=validate.OneOf(TYPES))
    status = fields.String(validate=validate.OneOf(STATUSES))
    created_after = fields.AwareDateTime(default_timezone=None)
    created_before = fields.AwareDateTime(default_timezone=None)


class BatchQueryArgs(PageArgs):
    school_id = fields.Integer()


class CancelledSchema(Schema):
    cancelled = fields.Integer()


CommandPageSchema = page_of(CommandSchema, "CommandPage")
BatchPageSchema = page_of(CommandBatchSchema, "CommandBatchPage")
