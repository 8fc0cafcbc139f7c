"""HTTP helpers every API shares: parsing query strings once, where a schema asks for it."""

from typing import Any

import pytest
from flask import Flask
from marshmallow import Schema, fields, post_load
from webargs.fields import DelimitedList
from werkzeug.exceptions import HTTPException

from mdm.platform.http import Blueprint


def test_query_strings_are_parsed_once_and_each_request_gets_its_own_copy(app: Flask) -> None:
    class Args(Schema):
        REMEMBER_PARSED = True
        names = DelimitedList(fields.String())
        n = fields.Integer()

    args = Args()
    parser = Blueprint.ARGUMENTS_PARSER
    with app.test_request_context("/?names=a,b&n=3"):
        first = parser.parse(args, location="query")
        first["names"].append("x")
        second = parser.parse(args, location="query")
    assert second == {"names": ["a", "b"], "n": 3}
    for _ in range(2):  # an invalid query string is refused every time, never remembered
        with app.test_request_context("/?n=three"), pytest.raises(HTTPException) as refused:
            parser.parse(args, location="query")
        assert refused.value.code == 400


def test_only_short_query_strings_of_schemas_that_ask_are_parsed_once(app: Flask) -> None:
    parsed: list[str] = []

    class Counted(Schema):
        n = fields.Integer()

        @post_load
        def count(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
            parsed.append(type(self).__name__)
            return data

    class Plain(Counted):
        pass

    class Remembered(Counted):
        REMEMBER_PARSED = True

    parser = Blueprint.ARGUMENTS_PARSER
    for query in ("/?n=1", "/?n=1", "/?n=2&" + "x=y&" * 100, "/?n=2&" + "x=y&" * 100):
        for schema in (Plain, Remembered):
            with app.test_request_context(query):
                assert parser.parse(schema, location="query")["n"] in (1, 2)
    # the short query string once for the schema that asks, the long one every time
    assert parsed.count("Remembered") == 3
    assert parsed.count("Plain") == 4
