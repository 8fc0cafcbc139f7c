"""Enrollment: tokens and QR codes, BYOD consent and privacy rules, device identity."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Add enrollment's blueprints, CLI commands and jobs to the app (none yet)."""
