"""Apple's device management: SCEP enrollment of school-owned iPads, and the MDM protocol's
check-in and command endpoints of enrolled iPads, iPhones and Macs, their identity
(Mdm-Signature), plists, and the policy as configuration profiles."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Apple's endpoints: SCEP, check-in and commands."""
    from mdm.apple import api, declarative_api, models, scep, service  # noqa: F401  (the tables)
    from mdm.devices import hooks

    hooks.on_management_ended(app, service.end_management)
    scep.init_app(app)
    app.register_blueprint(api.blp)
    app.register_blueprint(declarative_api.blp)
