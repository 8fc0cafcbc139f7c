"""Apple's MDM protocol: the check-in and command endpoints of enrolled iPads, iPhones and
Macs, their identity (Mdm-Signature), plists, and the policy as configuration profiles."""

from flask import Flask


def init_app(app: Flask) -> None:
    """The check-in and command endpoints."""
    from mdm.apple import api, models  # noqa: F401  (the Apple tables)

    app.register_blueprint(api.blp)
