"""Extensions, created unbound; `create_app` binds them."""

import time
from http import HTTPStatus
from typing import Any

from flask_jwt_extended import JWTManager
from flask_jwt_extended.config import config as jwt_config
from flask_migrate import Migrate
from flask_smorest import Api as _SmorestApi
from flask_smorest.utils import prepare_response
from flask_sqlalchemy import SQLAlchemy
from jwt import ExpiredSignatureError, get_unverified_header
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from mdm.platform.cache import worker_cache
from mdm.platform.openapi import PROBLEM_JSON, ProblemsPlugin, register_problem_responses
from mdm.platform.schemas import ProblemSchema


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


class Api(_SmorestApi):
    """flask-smorest's Api, leaving error handling to `mdm.platform.errors`, and documenting
    every error as application/problem+json (see `mdm.platform.openapi`)."""

    ERROR_SCHEMA = ProblemSchema

    def __init__(self) -> None:
        super().__init__(spec_kwargs={"extra_plugins": [ProblemsPlugin()]})

    def _register_error_handlers(self) -> None:
        return None

    def _register_responses(self) -> None:
        register_problem_responses(self.spec, self.ERROR_SCHEMA)
        for name in ("NOT_MODIFIED", "NO_CONTENT"):  # answers without a body flask-smorest uses
            self.spec.components.response(name, {"description": HTTPStatus[name].phrase}, lazy=True)
        default = {"description": "Any other error", "schema": self.ERROR_SCHEMA}
        prepare_response(default, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)


class VerifyingOnceJWTManager(JWTManager):
    """flask-jwt-extended's manager that verifies each distinct token once per worker.

    A token's signature is checked the first time the worker sees it (the claims are kept in
    the worker cache); later requests with the same token only have their expiry checked again.
    Revocation is checked apart from this, in mdm.accounts.auth.
    """

    cache_size = 10_000

    def _decode_jwt_from_config(
        self, encoded_token: str, csrf_value: Any = None, allow_expired: bool = False
    ) -> dict[str, Any]:
        if csrf_value is not None:
            return super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        # Keyed by the signing key too, so a key change (or another app in the process) never
        # accepts a token verified under the old key.
        key = f"{jwt_config.decode_key}\n{encoded_token}"
        verified = worker_cache().facts("verified-tokens", self.cache_size)
        claims = verified.get(key)
        if claims is None:
            claims = super()._decode_jwt_from_config(encoded_token, None, allow_expired=True)
            verified.put(key, claims)
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
