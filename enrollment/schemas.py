"""Marshmallow schemas of the enrollment API and of the JSON agent protocol v1."""

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate

from enrollment.agent import WORK_STATUSES
from mdm.device_models import OWNERSHIPS, PLATFORMS, USER_ROLES
from mdm.device_schemas import DeviceDetailSchema, GroupRefSchema
from mdm.schemas import StrictSchema
from mdm.types import utcnow


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
    expires_at = fields.AwareDateTime(
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


class TokenSchema(Schema):
    id = fields.Integer()
    school_id = fields.Integer()
    label = fields.String()
    lookup_key = fields.String(metadata={"description": "the secret's non-secret beginning"})
    ownership = fields.String()
    user_role = fields.String()
    platform = fields.String(allow_none=True)
    groups = fields.List(fields.Nested(GroupRefSchema))
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


class AgentRequestSchema(Schema):
    """Agent requests ignore fields they do not know, so newer agents work with a v1 server."""

    class Meta:
        unknown = EXCLUDE


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


class CredentialSchema(Schema):
    secret = fields.String(
        metadata={"description": "send as 'Authorization: Bearer <secret>'; shown only once"}
    )
    certificate = fields.String(attribute="certificate_pem", allow_none=True)
    ca_certificate = fields.String(attribute="ca_certificate_pem", allow_none=True)
    certificate_not_after = fields.DateTime(attribute="not_after", allow_none=True)


class ConfigurationSchema(Schema):
    version = fields.Integer()
    device_id = fields.Integer()
    name = fields.String()
    ownership = fields.String()
    user_role = fields.String()
    groups = fields.List(fields.String())
    check_in_seconds = fields.Integer()
    not_collected = fields.List(
        fields.String(), metadata={"description": "inventory fields the server drops (BYOD)"}
    )


class EnrollResponseSchema(Schema):
    protocol = fields.Integer()
    device_id = fields.Integer()
    credential = fields.Nested(CredentialSchema)
    configuration = fields.Nested(ConfigurationSchema)


class CheckInRequestSchema(AgentRequestSchema):
    inventory = fields.Dict(
        keys=fields.String(),
        metadata={"description": "the full inventory; leave out to keep the stored one"},
    )
    os_version = fields.String(validate=validate.Length(max=60))


class WorkItemSchema(Schema):
    id = fields.String()
    kind = fields.String(metadata={"description": "kind of work, e.g. policy or command"})
    payload = fields.Dict()


class CheckInResponseSchema(Schema):
    protocol = fields.Integer()
    config_version = fields.Integer(
        metadata={"description": "fetch /configuration when it differs from the agent's"}
    )
    check_in_seconds = fields.Integer()
    work = fields.List(fields.Nested(WorkItemSchema))


class ResultRequestSchema(AgentRequestSchema):
    work_id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    status = fields.String(required=True, validate=validate.OneOf(WORK_STATUSES))
    detail = fields.String(load_default="", validate=validate.Length(max=2000))
    data = fields.Dict(load_default=dict)


class RotateRequestSchema(AgentRequestSchema):
    csr = fields.String(load_default=None, allow_none=True)


class RotateResponseSchema(Schema):
    credential = fields.Nested(CredentialSchema)
