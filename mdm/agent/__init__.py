"""The JSON agent protocol v1 of Android, Windows and Linux agents: check-in, configuration,
results, credential rotation, unenroll."""

from flask import Flask


def init_app(app: Flask) -> None:
    """The agent API and how devices authenticate to it."""
    from mdm.agent import api
    from mdm.extensions import api as rest_api

    rest_api.register_blueprint(api.blp)
    rest_api.spec.components.security_scheme(
        "deviceSecret",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "the device secret handed out at enrollment (not a user login)",
        },
    )
