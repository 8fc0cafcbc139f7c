"""SCEP (RFC 8894) for Apple devices: the school's device CA issues an enrolling iPad its
identity certificate against a one-time challenge (docs/scep.md)."""

from flask import Flask


def init_app(app: Flask) -> None:
    """The SCEP endpoint."""
    from mdm.apple.scep import api

    app.register_blueprint(api.blp)
