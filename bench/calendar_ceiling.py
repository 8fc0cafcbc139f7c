"""The calendar ceiling: a trivial Flask endpoint serving the bytes of a file as text/calendar,
on the same gunicorn configuration (the file is named by MDM_BENCH_FEED_FILE)."""

import os
from pathlib import Path

from flask import Flask, Response


def create_app() -> Flask:
    """A Flask app with one endpoint that returns the same bytes every time."""
    app = Flask(__name__)
    body = Path(os.environ["MDM_BENCH_FEED_FILE"]).read_bytes()

    @app.get("/ceiling.ics")
    def ceiling() -> Response:
        return Response(body, content_type="text/calendar; charset=utf-8")

    return app
