"""Extensions, created unbound; `create_app` binds them."""

from flask_jwt_extended import JWTManager
from flask_migrate import Migrate
from flask_smorest import Api as _SmorestApi
from flask_smorest import Blueprint
from flask_sqlalchemy import SQLAlchemy
from marshmallow import Schema, fields
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase


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


# Invalid input is a 400 with field errors (webargs' default would be 422).
Blueprint.ARGUMENTS_PARSER.DEFAULT_VALIDATION_STATUS = 400

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
jwt = JWTManager()
api = Api()
