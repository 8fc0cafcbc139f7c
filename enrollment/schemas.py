"""Marshmallow schemas of the enrollment API, and of the agent protocol's enroll request."""

from typing import Any

from marshmallow import Schema, fields, validate

from mdm.agent.schemas import AgentRequestSchema, ConfigurationSchema, CredentialSchema
from mdm.devices.models import OWNERSHIPS, PLATFORMS, USER_ROLES
from mdm.devices.schemas import DeviceDetailSchema, GroupRefSchema, InventoryKeptSchema
from mdm.platform.schemas import StrictSchema, Timestamp
from mdm.platform.types import utcnow


class TokenCreateSchema(StrictSchema):
    school_id = fields.Integer(load_default=None, allow_none=True)
    label = fields.String(load_default="", validate=validate.Length(max=200))
    ownership = fields.String(required=True, validate=validate.OneOf(OWNERSHIPS))
    user_role = fields.String(
        required=True,
        validate=validate.OneOf(USER_ROLES),
        metadata={"description": "who uses the devices: student, teacher or shared"},
    )
    platform = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(PLATFORMS))
    expires_at = Timestamp(
        load_default=None,
        allow_none=True,
        default_timezone=None,
        metadata={"description": "default: in 14 days"},
    )
    max_uses = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    group_ids = fields.List(
        fields.Integer(),
        load_default=list,
        metadata={"description": "groups every device enrolled with the token joins"},
    )
    device_name = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=120),
        metadata={
            "description": "the name of the one device it enrolls (a slot of a trolley, "
            '"Koffer 3 – iPad 12"); max_uses must be 1. Without it the device\'s own name'
        },
    )
    class_name = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=40),
        metadata={
            "description": "a class of the school (e.g. 5a): its devices join the class's group "
            "(a student's device: the student's own class)"
        },
    )


class TokenSchema(Schema):
    id = fields.Integer()
    school_id = fields.Integer()
    label = fields.String()
    device_name = fields.String(allow_none=True)
    lookup_key = fields.String(metadata={"description": "the secret's non-secret beginning"})
    ownership = fields.String()
    user_role = fields.String()
    platform = fields.String(allow_none=True)
    groups = fields.List(fields.Nested(GroupRefSchema))
    classes = fields.Method(
        "get_classes",
        metadata={"description": 'the classes among its groups, e.g. ["5a"]'},
    )
    expires_at = fields.DateTime()
    max_uses = fields.Integer()
    uses = fields.Integer()
    state = fields.Method(
        "get_state", metadata={"description": "active, revoked, expired, exhausted"}
    )
    created_by = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)

    def get_state(self, token: Any) -> str:
        return token.state(utcnow())

    def get_classes(self, token: Any) -> list[str]:
        return token.classes


class TokenEnrollmentSchema(Schema):
    device_id = fields.Integer()
    device_name = fields.String(attribute="device.name")
    platform = fields.String(attribute="device.platform")
    status = fields.String(attribute="device.status")
    user = fields.Method("get_user", metadata={"description": "the device's user's username"})
    enrolled_at = fields.DateTime()

    def get_user(self, enrollment: Any) -> str | None:
        user = enrollment.device.user
        return user.username if user is not None else None


class IssuedTokenSchema(Schema):
    token = fields.Nested(TokenSchema)
    secret = fields.String(metadata={"description": "shown only this once"})
    enrollment_url = fields.String(metadata={"description": "the page a person opens to enroll"})
    qr_svg_url = fields.String(metadata={"description": "QR code of the enrollment URL (SVG)"})
    qr_png_url = fields.String(metadata={"description": "QR code of the enrollment URL (PNG)"})


class TokenQueryArgs(StrictSchema):
    school_id = fields.Integer()


class NoticeCreateSchema(StrictSchema):
    school_id = fields.Integer(load_default=None, allow_none=True)
    text = fields.String(required=True, validate=validate.Length(min=1, max=50_000))


class NoticeSchema(Schema):
    id = fields.Integer()
    school_id = fields.Integer()
    version = fields.Integer()
    text = fields.String()
    created_at = fields.DateTime()


class ConsentSchema(Schema):
    notice_version = fields.Integer()
    consented_at = fields.DateTime()


class OwnDeviceSchema(Schema):
    device = fields.Nested(
        DeviceDetailSchema, metadata={"description": "everything the school stores"}
    )
    consent = fields.Nested(ConsentSchema, allow_none=True)
    inventory_kept = fields.Nested(
        InventoryKeptSchema,
        metadata={
            "description": "what the school keeps of the device's inventory, and by which rule"
        },
    )


class EnrollRequestSchema(AgentRequestSchema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=100))
    platform = fields.String(required=True, validate=validate.OneOf(PLATFORMS))
    model = fields.String(load_default="", validate=validate.Length(max=120))
    os_version = fields.String(load_default="", validate=validate.Length(max=60))
    name = fields.String(load_default="", validate=validate.Length(max=120))
    inventory = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        metadata={"description": "free-form facts; BYOD devices' identifiers are dropped"},
    )
    csr = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "PEM CSR of an RSA (2048-8192 bits) or EC P-256/P-384 key"},
    )
    privacy_notice_version = fields.Integer(
        load_default=None,
        allow_none=True,
        metadata={"description": "BYOD: the version of the privacy notice the owner accepted"},
    )


class EnrollResponseSchema(Schema):
    protocol = fields.Integer()
    device_id = fields.Integer()
    credential = fields.Nested(CredentialSchema)
    configuration = fields.Nested(ConfigurationSchema)
