"""Enrollment: tokens and QR codes, BYOD consent and privacy rules, device identity."""

from flask import Flask

from mdm import extensions
from mdm.demo import register_demo
from mdm.ratelimit import make_counter


def init_app(app: Flask) -> None:
    """Add the enrollment, device and agent APIs, the enrollment page and the demo devices."""
    from enrollment import agent_api, api, demo
    from mdm import device_api

    # The device API is mdm's, but the app factory registers only the platform's blueprint and
    # the packages' init_app; devices exist only with enrollment, so it is registered here.
    extensions.api.register_blueprint(device_api.blp)
    extensions.api.register_blueprint(api.blp)
    extensions.api.register_blueprint(agent_api.blp)
    app.register_blueprint(api.pages)
    extensions.api.spec.components.security_scheme(
        "deviceSecret",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "the device secret handed out at enrollment (not a user login)",
        },
    )
    extensions.api.spec.components.security_scheme(
        "ownerLogin",
        {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "a BYOD owner's access token from /api/v1/auth/login",
        },
    )
    app.extensions["enrollment_token_failures"] = make_counter(
        app.config["RATELIMIT_STORAGE_URL"],
        int(app.config["ENROLLMENT_TOKEN_FAILURE_WINDOW_SECONDS"]),
    )
    register_demo(app, demo.seed)
