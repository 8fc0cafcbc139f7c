"""Configuration loading: defaults, then MDM_CONFIG (TOML), then MDM_* variables, then overrides."""

import json
import os
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from flask import Flask

SECRET_SETTINGS = ("SECRET_KEY", "JWT_SECRET_KEY", "ENCRYPTION_KEYS")
# What gunicorn reads before the service sees a request (a 414 or 431 beyond it), the same for
# `mdm run` and config/gunicorn.conf.py; the OpenAPI document and README say so.
HTTP_SERVER_LIMITS = {
    "limit_request_line": 8190,
    "limit_request_field_size": 8190,
    "limit_request_fields": 100,
}
# Gunicorn's logger for `mdm run` and config/gunicorn.conf.py: no link secrets in the access log.
ACCESS_LOGGER = "mdm.platform.access_log.AccessLogger"


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message names the setting."""


def load_config(app: Flask, overrides: Mapping[str, Any] | None = None) -> None:
    """Fill app.config in the documented order and check the secrets."""
    app.config.from_object("config.defaults")
    config_file = os.environ.get("MDM_CONFIG")
    if config_file:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError(f"MDM_CONFIG names {config_file}, which is not a readable file")
        try:
            app.config.from_file(str(path.resolve()), load=tomllib.load, text=False)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"MDM_CONFIG file {config_file} is not valid TOML: {exc}") from exc
    app.config.from_mapping(_environment_settings())
    if overrides:
        app.config.from_mapping(overrides)
    _apply_database_url(app)
    _check_base_url(app)
    _apply_secrets(app)
    app.config["JWT_ACCESS_TOKEN_EXPIRES"] = int(app.config["ACCESS_TOKEN_SECONDS"])
    app.config["JWT_REFRESH_TOKEN_EXPIRES"] = int(app.config["REFRESH_TOKEN_SECONDS"])
    # The pages' login cookie lives as long as the refresh token its login made.
    app.config["PERMANENT_SESSION_LIFETIME"] = int(app.config["REFRESH_TOKEN_SECONDS"])


def _environment_settings() -> dict[str, Any]:
    """MDM_* environment variables, JSON-decoded where they are JSON."""
    settings: dict[str, Any] = {}
    for name, raw in os.environ.items():
        if not name.startswith("MDM_") or name == "MDM_CONFIG":
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        settings[name.removeprefix("MDM_")] = value
    return settings


def _apply_database_url(app: Flask) -> None:
    url = app.config["DATABASE_URL"] or ""
    if not url:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        url = "sqlite:///" + str(Path(app.instance_path) / "mdm.sqlite3")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    options: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # Several threads and the scheduler share the file; wait for locks instead of failing.
        options["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        options["pool_pre_ping"] = True
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", options)


def _check_base_url(app: Flask) -> None:
    base = str(app.config["BASE_URL"] or "")
    if base and not base.startswith(("http://", "https://")):
        raise ConfigError(
            f"BASE_URL {base!r} is not an address: give it as http://host[:port] or "
            "https://host (or leave it empty to follow the address of each request)"
        )


def _apply_secrets(app: Flask) -> None:
    missing = [name for name in SECRET_SETTINGS if not app.config.get(name)]
    if missing and app.config["ENV"] == "production":
        names = ", ".join(f"{name} (MDM_{name})" for name in missing)
        raise ConfigError(f"production mode needs these secrets, which are not set: {names}")
    if missing:
        generated = _development_secrets(Path(app.instance_path))
        for name in missing:
            app.config[name] = generated[name]
    keys = app.config["ENCRYPTION_KEYS"]
    if isinstance(keys, str):
        keys = [keys]
    for key in keys:
        try:
            Fernet(key)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                "ENCRYPTION_KEYS holds a key that is not a Fernet key "
                "(32 url-safe base64-encoded bytes)"
            ) from exc
    app.config["ENCRYPTION_KEYS"] = list(keys)


def _development_secrets(instance: Path) -> dict[str, Any]:
    """Secrets generated once into the instance folder, so restarts keep sessions and data."""
    path = instance / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    instance.mkdir(parents=True, exist_ok=True)
    generated = {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(generated, handle, indent=2)
    return generated


def check_workers(config: Mapping[str, Any], workers: int) -> None:
    """Refuse to serve production from several workers with limits kept in each one's memory:
    every worker would count apart, multiplying the login limits by the workers. (An app
    without these settings, such as the benchmarks' trivial ceiling app, is not checked.)"""
    storage = str(config.get("RATELIMIT_STORAGE_URL", ""))
    if config.get("ENV") == "production" and workers > 1 and storage.startswith("memory://"):
        raise ConfigError(
            f"{workers} workers keep their rate limits apart with RATELIMIT_STORAGE_URL="
            f"{storage}: set MDM_RATELIMIT_STORAGE_URL to a Redis URL (redis://host:6379/0), "
            "or serve with one worker"
        )
