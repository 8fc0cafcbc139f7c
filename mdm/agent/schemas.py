"""Marshmallow schemas of the JSON agent protocol v1 (docs/agent-protocol.md)."""

from marshmallow import EXCLUDE, Schema, fields, validate

from mdm.agent.service import WORK_STATUSES


class AgentRequestSchema(Schema):
    """Agent requests ignore fields they do not know, so newer agents work with a v1 server."""

    class Meta:
        unknown = EXCLUDE


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
