"""Schemas every API shares: strict input, one declared pagination, the problem+json body,
and moments in time that the database can hold."""

from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, fields, validate


class ProblemSchema(Schema):
    """An RFC 9457 problem, as every API error is returned (application/problem+json)."""

    type = fields.String(metadata={"description": "stable problem type, e.g. /problems/validation"})
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    instance = fields.String()
    errors = fields.Dict(metadata={"description": "field name -> list of reasons"})


class Timestamp(fields.AwareDateTime):
    """An ISO 8601 date and time with its UTC offset, loaded as UTC. A moment whose UTC time
    falls outside the years 1 to 9999 (`0001-01-01T00:00:00+14:00`) is out of range: a 400
    naming the field, not an overflow further on."""

    default_error_messages = {
        "range": "out of range: the time in UTC must fall in the years 1 to 9999"
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(UTC)
        except OverflowError as exc:
            raise self.make_error("range") from exc


class JsonBoolean(fields.Boolean):
    """A JSON true or false, nothing else: `"yes"`, `1` or `"false"` in a body are a 400, not
    guessed at (marshmallow's Boolean takes them). Query parameters keep fields.Boolean."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


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
