"""Extensions, created unbound; `create_app` binds them."""

import time
from typing import Any

from flask import Flask, request
from flask_jwt_extended import JWTManager, view_decorators
from flask_jwt_extended.config import config as jwt_config
from flask_migrate import Migrate
from flask_smorest import Api as _SmorestApi
from flask_smorest import Blueprint
from flask_sqlalchemy import SQLAlchemy
from jwt import ExpiredSignatureError, get_unverified_header
from marshmallow import Schema, fields
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase
from webargs.flaskparser import FlaskParser

from mdm.freshness import LRUCache


class Base(DeclarativeBase):
    """Declarative base with constraint names that Alembic can diff and drop on every database."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class ProblemSchema(Schema):
    """An RFC 9457 problem, as every API error is returned (application/problem+json)."""

    type = fields.String(metadata={"description": "stable problem type, e.g. /problems/validation"})
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    instance = fields.String()
    errors = fields.Dict(metadata={"description": "field name -> list of reasons"})


class Api(_SmorestApi):
    """flask-smorest's Api, leaving error handling to `mdm.errors` (problem+json)."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        return None


class ArgumentsParser(FlaskParser):
    """webargs' parser for flask-smorest: one instance per schema class, and, for query strings,
    remembering what one parsed to.

    Only for query schemas that say `REMEMBER_PARSED = True`: those whose result is a pure
    function of the query string (no hooks reading the request, no defaults from the clock) and
    holds only simple values and lists. The busiest reading requests (an app or the entrance-hall
    screen polling the panel) send the same query string again and again. Invalid query strings
    raise and are not remembered; long ones are not remembered (anyone may send them); lists
    are copied, so a view never changes what is remembered.
    """

    DEFAULT_VALIDATION_STATUS = 400  # invalid input is a 400 with field errors (webargs: 422)
    REMEMBERED = 1024
    LONGEST_REMEMBERED = 256  # bytes of query string

    def __init__(self) -> None:
        super().__init__()
        self._parsed: LRUCache[tuple[Any, ...], dict[str, Any]] = LRUCache(self.REMEMBERED)
        self._schemas: dict[type[Schema], Schema] = {}

    def _get_schema(self, argmap: Any, req: Any) -> Schema:
        # A schema class is made into an instance once, not on every request (webargs' default).
        if isinstance(argmap, type) and issubclass(argmap, Schema):
            schema = self._schemas.get(argmap)
            if schema is None:
                schema = self._schemas.setdefault(argmap, argmap())
            return schema
        return super()._get_schema(argmap, req)

    def parse(self, argmap: Any, req: Any = None, *, location: str | None = None, **kw: Any) -> Any:
        query = (req or request).query_string
        if (
            location != "query"
            or not getattr(argmap, "REMEMBER_PARSED", False)
            or kw.get("validate") is not None
            or len(query) > self.LONGEST_REMEMBERED
        ):
            return super().parse(argmap, req, location=location, **kw)
        key = (argmap, repr(sorted(kw.items())), query)
        parsed = self._parsed.get(key)
        if parsed is None:
            parsed = super().parse(argmap, req, location=location, **kw)
            self._parsed.put(key, parsed)
        return {k: list(v) if isinstance(v, list) else v for k, v in parsed.items()}


Blueprint.ARGUMENTS_PARSER = ArgumentsParser()


class VerifyingOnceJWTManager(JWTManager):
    """flask-jwt-extended's manager that verifies each distinct token once per process.

    A token's signature is checked the first time the process sees it; later requests with the
    same token only have their expiry checked again. Revocation is checked apart from this, in
    mdm.auth. This halves the cost of a logged-in request on the busiest endpoints.
    """

    cache_size = 10_000

    def __init__(self) -> None:
        super().__init__()
        self._verified: LRUCache[str, dict[str, Any]] = LRUCache(self.cache_size)
        self._headers: LRUCache[str, dict[str, Any]] = LRUCache(self.cache_size)

    def init_app(self, app: Flask, add_context_processor: bool = False) -> None:
        super().init_app(app, add_context_processor)
        # flask-jwt-extended decodes the header of a token again on every request, apart from
        # the claims: answer it from the headers of the tokens this process has verified.
        # (tests/mdm/test_auth.py checks that this hook is still where it is patched.)
        view_decorators.get_unverified_jwt_headers = self.unverified_headers

    def unverified_headers(self, encoded_token: str) -> dict[str, Any]:
        """The token's header (as flask_jwt_extended.utils.get_unverified_jwt_headers)."""
        header = self._headers.get(encoded_token)
        if header is None:
            header = get_unverified_header(encoded_token)
            self._headers.put(encoded_token, header)
        return dict(header)

    def _decode_jwt_from_config(
        self, encoded_token: str, csrf_value: Any = None, allow_expired: bool = False
    ) -> dict[str, Any]:
        if csrf_value is not None:
            return super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        # Keyed by the signing key too, so a key change (or another app in the process) never
        # accepts a token verified under the old key.
        key = f"{jwt_config.decode_key}\n{encoded_token}"
        claims = self._verified.get(key)
        if claims is None:
            claims = super()._decode_jwt_from_config(encoded_token, None, allow_expired=True)
            self._verified.put(key, claims)
        expired = "exp" in claims and claims["exp"] + jwt_config.leeway <= time.time()
        if not allow_expired and expired:
            # Shaped as flask-jwt-extended raises it, for its expired-token handler.
            error = ExpiredSignatureError("Signature has expired")
            error.jwt_header = get_unverified_header(encoded_token)  # type: ignore[attr-defined]
            error.jwt_data = dict(claims)  # type: ignore[attr-defined]
            raise error
        return dict(claims)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
jwt = VerifyingOnceJWTManager()
api = Api()
