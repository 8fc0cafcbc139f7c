"""The framework ceiling: a trivial Flask endpoint, served by the same gunicorn configuration."""

from flask import Flask


def create_app() -> Flask:
    """A Flask app with one endpoint that returns a small JSON body."""
    app = Flask(__name__)
    # What config/gunicorn.conf.py checks before it serves several workers.
    app.config.update(ENV="bench", RATELIMIT_STORAGE_URL="memory://")

    @app.get("/ceiling")
    def ceiling() -> dict[str, bool]:
        return {"ok": True}

    return app
