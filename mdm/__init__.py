"""The school platform: the app factory; the platform, accounts and device management live in
the subpackages (see ../shared/ARCHITECTURE.md)."""

import importlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response
from sqlalchemy import event, text

from mdm.extensions import api, db, jwt, migrate
from mdm.platform import cache, errors, headers, http
from mdm.platform.types import render_migration_type
from mdm.settings import load_config

MIGRATIONS = str(Path(__file__).parent / "migrations")
# mdm's own parts, in the order they build on each other.
SUBPACKAGES = (
    "mdm.accounts",
    "mdm.devices",
    "mdm.push",
    "mdm.policies",
    "mdm.commands",
    "mdm.agent",
    "mdm.apple",
)
log = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: config, extensions, blueprints of all packages, errors, CLI, jobs."""
    app = Flask(__name__, instance_path=os.environ.get("MDM_INSTANCE_PATH") or None)
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
    api.init_app(app)
    cache.init_app(app)

    from mdm import cli, pages
    from mdm.platform import models  # noqa: F401  (the platform's tables)

    app.add_url_rule("/healthz", "healthz", healthz)
    app.add_url_rule("/readyz", "readyz", readyz)
    app.register_blueprint(pages.pages)
    for name in (*SUBPACKAGES, *app.config["PACKAGES"]):
        importlib.import_module(name).init_app(app)

    errors.init_app(app)
    cli.init_app(app)
    headers.init_app(app)  # before http: after-request functions run last-registered first
    http.init_app(app)
    return app


def _configure_sqlite(app: Flask) -> None:
    """WAL (readers don't block the writer) and enforced foreign keys on every SQLite connection."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
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
