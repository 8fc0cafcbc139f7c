"""A fresh, migrated benchmark database on SQLite or PostgreSQL."""

import tempfile
from pathlib import Path

import psycopg
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from mdm import create_app
from mdm.extensions import db

BENCH_SECRETS = {
    "SECRET_KEY": "bench-secret-key",
    "JWT_SECRET_KEY": "bench-jwt-secret-key-long-enough-for-hs256-signing",
    "ENCRYPTION_KEYS": ["nV2ikxxRlDk5YDBsj3EyQv8oZGJw6pF8JAyXqmBjGzQ="],
}


def database_url(kind: str, workdir: Path) -> str:
    """A URL for a new empty database of this kind ("sqlite" or a postgresql URL)."""
    if kind == "sqlite":
        return "sqlite:///" + str(workdir / "bench.sqlite3")
    url = make_url(kind)
    with psycopg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        dbname="postgres",
        autocommit=True,
    ) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{url.database}"')
    return kind


def migrated_app(url: str) -> Flask:
    """An app on a migrated database at url."""
    app = create_app(
        {"DATABASE_URL": url, "PASSWORD_HASH_METHOD": "scrypt:1024:8:1", **BENCH_SECRETS}
    )
    with app.app_context():
        upgrade()
    return app


def environment(url: str) -> dict[str, str]:
    """MDM_* variables that make a gunicorn worker use the same database and secrets."""
    import json

    # Production serves several workers, which keep their rate limits in Redis.
    env = {
        "MDM_DATABASE_URL": url,
        "MDM_ENV": "production",
        "MDM_RATELIMIT_STORAGE_URL": "redis://127.0.0.1:6379/14",
    }
    for name, value in BENCH_SECRETS.items():
        env[f"MDM_{name}"] = value if isinstance(value, str) else json.dumps(value)
    return env


def workdir() -> Path:
    """A temporary folder for the benchmark's files."""
    return Path(tempfile.mkdtemp(prefix="mdm-bench-"))


__all__ = ["database_url", "environment", "migrated_app", "workdir", "db"]
