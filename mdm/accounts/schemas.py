"""Marshmallow schemas of the accounts API (and the audit log); the OpenAPI document is made from
them."""

from marshmallow import Schema, fields, validate

from mdm.accounts.models import ROLES
from mdm.platform.schemas import JsonBoolean, PageArgs, StrictSchema, Timestamp, page_of


class LoginSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=120))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=200))


class TokensSchema(Schema):
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer(metadata={"description": "seconds until the access token expires"})


class AccessTokenSchema(Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()


class PasswordChangeSchema(StrictSchema):
    current_password = fields.String(required=True, load_only=True)
    new_password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=8, max=200)
    )


class SchoolSchema(StrictSchema):
    id = fields.Integer(dump_only=True)
    slug = fields.String(required=True, validate=validate.Length(min=2, max=63))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    timezone = fields.String(load_default="Europe/Berlin", validate=validate.Length(max=64))
    created_at = fields.DateTime(dump_only=True)


class SchoolUpdateSchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    timezone = fields.String(validate=validate.Length(max=64))


class UserSchema(StrictSchema):
    id = fields.Integer(dump_only=True)
    username = fields.String(required=True, validate=validate.Length(min=2, max=120))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    school_id = fields.Integer(allow_none=True, load_default=None)
    first_name = fields.String(load_default="", validate=validate.Length(max=100))
    last_name = fields.String(load_default="", validate=validate.Length(max=100))
    email = fields.Email(allow_none=True, load_default=None, validate=validate.Length(max=254))
    class_name = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=40))
    password = fields.String(
        load_only=True, load_default=None, allow_none=True, validate=validate.Length(min=8, max=200)
    )
    active = fields.Boolean(dump_only=True)
    display_name = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    last_login_at = fields.DateTime(dump_only=True, allow_none=True)


class UserUpdateSchema(StrictSchema):
    first_name = fields.String(validate=validate.Length(max=100))
    last_name = fields.String(validate=validate.Length(max=100))
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    class_name = fields.String(allow_none=True, validate=validate.Length(max=40))
    active = JsonBoolean()
    password = fields.String(load_only=True, validate=validate.Length(min=8, max=200))


class UserQueryArgs(PageArgs):
    school_id = fields.Integer()
    role = fields.String(validate=validate.OneOf(ROLES))
    class_name = fields.String(data_key="class")
    q = fields.String(validate=validate.Length(max=100))


class ImportResultSchema(Schema):
    created = fields.List(fields.String(), metadata={"description": "usernames created"})
    updated = fields.List(fields.String(), metadata={"description": "usernames updated"})
    initial_passwords = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "generated passwords of new users; shown only this once"},
    )


class AuditEventSchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor_id = fields.Integer(allow_none=True)
    actor = fields.String()
    action = fields.String()
    target_type = fields.String()
    target_id = fields.String(allow_none=True)
    school_id = fields.Integer(allow_none=True)
    address = fields.String(allow_none=True)
    details = fields.Dict()


class AuditQueryArgs(PageArgs):
    school_id = fields.Integer()
    action = fields.String(metadata={"description": "prefix, e.g. 'user.' or 'auth.login'"})
    actor_id = fields.Integer()
    target_type = fields.String()
    target_id = fields.String()
    since = Timestamp(default_timezone=None)
    until = Timestamp(default_timezone=None)


UserPageSchema = page_of(UserSchema, "UserPage")
AuditPageSchema = page_of(AuditEventSchema, "AuditPage")
