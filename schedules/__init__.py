"""Timetables: time grid, classes, lessons, substitutions, day messages, importers."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Add the timetable models, blueprints, CLI commands and jobs to the app."""
    from schedules import models  # noqa: F401  (registers the tables)
