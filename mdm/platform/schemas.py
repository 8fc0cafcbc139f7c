"""Schemas every API shares: strict input, one declared pagination, the problem+json body."""

from marshmallow import Schema, fields, validate


class ProblemSchema(Schema):
    """An RFC 9457 problem, as every API error is returned (application/problem+json)."""

    type = fields.String(metadata={"description": "stable problem type, e.g. /problems/validation"})
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    instance = fields.String()
    errors = fields.Dict(metadata={"description": "field name -> list of reasons"})


class StrictSchema(Schema):
    """Unknown fields are an error (marshmallow's default), so a typo never passes silently."""


class PageArgs(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


def page_of(item_schema: type[Schema], name: str) -> type[Schema]:
    """A schema for one page of items with the total count."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item_schema)),
            "total": fields.Integer(),
            "page": fields.Integer(),
            "per_page": fields.Integer(),
        },
        name=name,
    )
