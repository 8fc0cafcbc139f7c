"""Marshmallow schemas of the push settings API."""

from marshmallow import Schema, fields, validate

from mdm.platform.schemas import JsonBoolean, StrictSchema


class PushSettingsSchema(Schema):
    school_id = fields.Integer()
    webhook_url = fields.String(allow_none=True)
    webhook_secret_set = fields.Boolean()
    webhook_secret = fields.String(
        metadata={
            "description": "the signing secret, only in the answer that made it: keep it for "
            "checking the X-MDM-Signature header"
        }
    )
    apns_topic = fields.String(allow_none=True, metadata={"description": "from the certificate"})
    apns_not_after = fields.DateTime(allow_none=True)
    last_error = fields.String(allow_none=True, metadata={"description": "of the last push"})
    last_error_at = fields.DateTime(allow_none=True)
    wakeups = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "waiting (pending) and given up (failed) wake-ups"},
    )


class WebhookSchema(StrictSchema):
    url = fields.String(required=True, validate=validate.Length(min=1, max=500))
    rotate_secret = JsonBoolean(
        load_default=False, metadata={"description": "make a new signing secret"}
    )


class ApnsCertificateSchema(StrictSchema):
    certificate = fields.String(
        required=True,
        validate=validate.Length(max=20000),
        metadata={"description": "the MDM push certificate from Apple (PEM)"},
    )
    private_key = fields.String(
        required=True,
        validate=validate.Length(max=20000),
        metadata={"description": "its private key (PEM), stored encrypted"},
    )
    private_key_password = fields.String(load_default=None, allow_none=True)
