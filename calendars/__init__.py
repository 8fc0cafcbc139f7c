"""Calendars: iCal feeds of timetables, school events and personal calendars."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Add the calendar blueprints, CLI commands and jobs to the app (none yet)."""
