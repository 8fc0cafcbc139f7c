"""The school platform: app factory, platform services and device management."""

import importlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Request, Response, request
from flask.sessions import NullSession, SessionInterface
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from mdm import errors, extensions
from mdm.extensions import db, jwt, migrate
from mdm.http import JSON_ONLY
from mdm.settings import load_config
from mdm.types import render_migration_type

MIGRATIONS = str(Path(__file__).parent / "migrations")
BODY_METHODS = {"POST", "PUT", "PATCH"}
log = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: config, extensions, blueprints of all packages, errors, CLI, jobs."""
    app = Flask(__name__, instance_path=os.environ.get("MDM_INSTANCE_PATH") or None)
    app.session_interface = NoCookieSessions()
    load_config(app, config)

    db.init_app(app)
    _configure_sqlite(app)
    migrate.init_app(
        app,
        db,
        directory=MIGRATIONS,
        render_as_batch=True,
        compare_type=True,
        render_item=render_migration_type,
    )
    jwt.init_app(app)
    extensions.api.init_app(app)

    from mdm import api as platform_api
    from mdm import auth, cli, models, platform_jobs  # noqa: F401  (models register their tables)

    auth.init_app(app)
    extensions.api.register_blueprint(platform_api.blp)
    app.add_url_rule("/healthz", "healthz", healthz)
    app.add_url_rule("/readyz", "readyz", readyz)
    for name in app.config["PACKAGES"]:
        importlib.import_module(name).init_app(app)

    errors.init_app(app)
    cli.init_app(app)
    app.before_request(_check_body_type)
    app.after_request(_finish_transaction)
    platform_jobs.init_app(app)
    return app


class NoCookieSessions(SessionInterface):
    """Logins are bearer tokens, never cookies: Flask's cookie session is not opened at all."""

    def open_session(self, app: Flask, request: Request) -> NullSession:
        return self.make_null_session(app)

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        return None


def _configure_sqlite(app: Flask) -> None:
    """WAL (readers don't block the writer) and enforced foreign keys on every SQLite connection."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def healthz() -> dict[str, str]:
    """Alive: the process answers."""
    return {"status": "ok"}


def readyz() -> Response | dict[str, str]:
    """Ready: the database answers."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        log.exception("readiness check failed")
        db.session.rollback()
        return errors.problem(
            503, "not-ready", "Service unavailable", "the database does not answer"
        )
    return {"status": "ok", "database": "ok"}


def _check_body_type() -> Response | None:
    """A body of a type the endpoint does not take is a 415, before anything else happens."""
    if request.method not in BODY_METHODS or not request.path.startswith("/api/"):
        return None
    if not request.content_length and not request.headers.get("Transfer-Encoding"):
        return None
    view = request.url_rule and _view_function(request.endpoint)
    allowed = getattr(view, "accepts", JSON_ONLY)
    if request.mimetype not in allowed:
        return errors.problem(
            415,
            "unsupported-media-type",
            "Unsupported Media Type",
            f"send the body as {' or '.join(allowed)}",
        )
    return None


def _view_function(endpoint: str | None) -> Any:
    from flask import current_app

    view = current_app.view_functions.get(endpoint or "")
    while view is not None and not hasattr(view, "accepts") and hasattr(view, "__wrapped__"):
        view = view.__wrapped__
    return view


def _finish_transaction(response: Response) -> Response:
    """Commit once at the end of a successful request; roll back otherwise."""
    if not db.session().in_transaction():
        return response  # the request did not touch the database
    if response.status_code >= 400:
        db.session.rollback()
        return response
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return errors.problem(
            409,
            "conflict",
            "Conflict",
            "The change conflicts with a concurrent change; nothing was saved.",
        )
    except Exception:
        db.session.rollback()
        log.exception("commit failed on %s %s", request.method, request.path)
        return errors.problem(
            500,
            "internal-error",
            "Internal server error",
            "The change could not be saved; nothing was changed.",
        )
    return response
