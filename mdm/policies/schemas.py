"""Marshmallow schemas of the policy API; the policy document itself is in document.py."""

from typing import Any

from marshmallow import Schema, fields, post_dump, validate

from mdm.devices.models import OWNERSHIPS
from mdm.platform.schemas import PageArgs, StrictSchema
from mdm.policies.document import PolicyDocumentSchema, public_document
from mdm.policies.models import TARGETS
from mdm.policies.service import COMPLIANCE


class PolicySchema(Schema):
    id = fields.Integer()
    school_id = fields.Integer(
        allow_none=True, metadata={"description": "null: a city policy, which every school sees"}
    )
    name = fields.String()
    description = fields.String()
    current_version = fields.Integer()
    windowed = fields.Boolean(metadata={"description": "the current version has time windows"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class PublicDocument(fields.Field):
    """A stored policy document as admins read it: Wi-Fi passwords only said to be set."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else public_document(value)


class VersionSchema(Schema):
    policy_id = fields.Integer()
    version = fields.Integer()
    document = PublicDocument(metadata={"description": "a PolicyDocument"})
    created_at = fields.DateTime()
    created_by = fields.String()


class PolicyDetailSchema(PolicySchema):
    document = PublicDocument(
        metadata={"description": "the current version's document (a PolicyDocument)"}
    )


class PolicyCreateSchema(StrictSchema):
    school_id = fields.Integer(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "a school admin's own school by default; a city IT admin without a "
            "school makes a city policy"
        },
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    description = fields.String(load_default="", validate=validate.Length(max=500))
    document = fields.Nested(PolicyDocumentSchema, required=True)


class PolicyUpdateSchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=120))
    description = fields.String(validate=validate.Length(max=500))
    document = fields.Nested(
        PolicyDocumentSchema,
        metadata={"description": "the whole new document; a changed one is a new version"},
    )


class PolicyQueryArgs(StrictSchema):
    school_id = fields.Integer()


class AssignmentSchema(Schema):
    id = fields.Integer()
    policy_id = fields.Integer()
    school_id = fields.Integer(allow_none=True, metadata={"description": "null: every school"})
    target = fields.String(metadata={"description": ", ".join(TARGETS)})
    group_id = fields.Integer(allow_none=True)
    device_id = fields.Integer(allow_none=True)
    ownership = fields.String(allow_none=True)
    priority = fields.Integer()
    created_at = fields.DateTime()
    created_by = fields.String()


PRIORITY = validate.Range(min=0, max=1000)


class AssignmentCreateSchema(StrictSchema):
    target = fields.String(
        required=True,
        validate=validate.OneOf(TARGETS),
        metadata={
            "description": "school: every device of the school; group, ownership (school or "
            "byod) or one device"
        },
    )
    school_id = fields.Integer(
        allow_none=True,
        load_default=None,
        metadata={
            "description": "for school and ownership targets; a city IT admin may leave it out "
            "for a city policy to reach every school"
        },
    )
    group_id = fields.Integer(allow_none=True, load_default=None)
    device_id = fields.Integer(allow_none=True, load_default=None)
    ownership = fields.String(
        allow_none=True, load_default=None, validate=validate.OneOf(OWNERSHIPS)
    )
    priority = fields.Integer(
        load_default=100,
        validate=PRIORITY,
        metadata={
            "description": "0-1000; per setting the highest priority wins, then the more "
            "specific target (device, group, ownership, school), then the older assignment"
        },
    )


class AssignmentUpdateSchema(StrictSchema):
    priority = fields.Integer(required=True, validate=PRIORITY)


class AssignmentQueryArgs(StrictSchema):
    school_id = fields.Integer()
    policy_id = fields.Integer()
    group_id = fields.Integer()
    device_id = fields.Integer()


class SourceSchema(Schema):
    assignment_id = fields.Integer()
    policy_id = fields.Integer()
    policy_name = fields.String()
    version = fields.Integer()
    target = fields.String(attribute="target_name")
    priority = fields.Integer()


def _source(layer: Any) -> dict[str, Any]:
    return SourceSchema().dump(layer)


def _shown(name: str, value: Any) -> Any:
    if name.startswith("wifi[") and isinstance(value, dict):
        return public_document({"wifi": [value]})["wifi"][0]
    return value


class ExplanationSchema(Schema):
    """Which assignment set each setting, what a personal device does not get, which
    assignments are not active now."""

    settings = fields.Method("_settings")
    left_out = fields.Method("_left_out")
    inactive = fields.Method("_inactive")
    order = fields.Constant(
        "per setting the highest priority wins; on equal priority the more specific target "
        "(device, group, ownership, school); then the older assignment"
    )

    def _settings(self, merged: Any) -> list[dict[str, Any]]:
        return [
            {
                "setting": s.name,
                "value": _shown(s.name, s.value),
                "set_by": _source(s.layer),
                "overrides": [
                    {**_source(layer), "value": _shown(s.name, value)}
                    for layer, value in s.overridden
                ],
            }
            for s in merged.settings
        ]

    def _left_out(self, merged: Any) -> list[dict[str, Any]]:
        return [
            {
                "setting": item.setting.name,
                "value": _shown(item.setting.name, item.setting.value),
                "set_by": _source(item.setting.layer),
                "reason": item.reason,
            }
            for item in merged.left_out
        ]

    def _inactive(self, merged: Any) -> list[dict[str, Any]]:
        return [{**_source(layer), "reason": layer.inactive_reason} for layer in merged.inactive]


class PolicyStateSchema(Schema):
    compliance = fields.String(metadata={"description": ", ".join(COMPLIANCE)})
    desired_hash = fields.String()
    desired_at = fields.DateTime()
    sent_hash = fields.String()
    sent_at = fields.DateTime(allow_none=True)
    applied_hash = fields.String()
    applied_at = fields.DateTime(allow_none=True)
    failed_settings = fields.List(fields.Dict())
    due = fields.Boolean(metadata={"description": "the device is to be sent its policy"})


class EffectivePolicySchema(Schema):
    device_id = fields.Integer()
    hash = fields.String(metadata={"description": "SHA-256 of the effective document"})
    document = PublicDocument(
        metadata={
            "description": "the effective PolicyDocument (Wi-Fi passwords only said to be set)"
        }
    )
    state = fields.Nested(PolicyStateSchema, allow_none=True)
    explain = fields.Nested(ExplanationSchema, metadata={"description": "with explain=1"})

    @post_dump
    def _drop_explanation(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if data.get("explain") is None:
            data.pop("explain", None)
        return data


class EffectivePolicyArgs(StrictSchema):
    explain = fields.Boolean(load_default=False)


class ComplianceQueryArgs(PageArgs):
    school_id = fields.Integer()
    group = fields.Integer(metadata={"description": "id of a group the device belongs to"})
    status = fields.String(validate=validate.OneOf(COMPLIANCE))


class ComplianceItemSchema(Schema):
    device_id = fields.Integer()
    name = fields.String()
    platform = fields.String()
    ownership = fields.String()
    school_id = fields.Integer()
    compliance = fields.String()
    desired_hash = fields.String(allow_none=True)
    applied_hash = fields.String(allow_none=True)
    applied_at = fields.DateTime(allow_none=True)
    failed_settings = fields.List(fields.Dict())


class CompliancePageSchema(Schema):
    items = fields.List(fields.Nested(ComplianceItemSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    counts = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "devices per status, of the filter without the status"},
    )
