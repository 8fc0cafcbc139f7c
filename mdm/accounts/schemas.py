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
    external_id = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": "the school office software's id, from the CSV import"},
    )
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


class UserImportArgs(StrictSchema):
    role = fields.String(
        validate=validate.OneOf(("student", "teacher")),
        metadata={
            "description": "the role of rows without one: needed when the file has no role "
            "column (a school office export)"
        },
    )


class ImportedLineSchema(Schema):
    line = fields.Integer(metadata={"description": "the line of the file"})
    username = fields.String()
    action = fields.String(metadata={"description": "created or updated"})
    username_generated = fields.Boolean(
        metadata={"description": "the username was made of the names (the file gave none)"}
    )


class ImportResultSchema(Schema):
    created = fields.Pluck(
        UserSchema, "username", many=True, metadata={"description": "usernames created"}
    )
    updated = fields.Pluck(
        UserSchema,
        "username",
        many=True,
        metadata={"description": "usernames of existing accounts the file matched (updated)"},
    )
    initial_passwords = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "generated passwords of new users; shown only this once"},
    )
    lines = fields.List(
        fields.Nested(ImportedLineSchema),
        metadata={"description": "what became of each line (to hand out usernames)"},
    )
    columns = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "field -> the header it was read from"},
    )
    ignored_columns = fields.List(
        fields.String(), metadata={"description": "headers of columns that were not read"}
    )
    class_groups = fields.Dict(
        metadata={
            "description": "what following the students' classes changed in the device groups: "
            "groups created, adopted, of classes gone or back, names taken, and students and "
            "devices added and removed (docs/class-groups.md)"
        }
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
