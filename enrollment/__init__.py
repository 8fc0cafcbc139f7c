"""Enrollment: tokens and their QR codes and page, privacy notices and consent; devices are
created through mdm.devices."""

from flask import Flask

from mdm.accounts.demo import register_demo
from mdm.extensions import api as rest_api
from mdm.platform.ratelimit import make_counter


def init_app(app: Flask) -> None:
    """Add the enrollment API, the agent's enroll request, the enrollment page, the admins'
    enrollment pages, the privacy notices' admin page, account-driven User Enrollment of
    personal iPhones and iPads, and the demo devices."""
    from enrollment import api, apple_account_pages, demo, notice_pages, pages
    from mdm.platform.pages import AdminLink, register_admin_link, register_audit_target

    rest_api.register_blueprint(api.blp)
    rest_api.register_blueprint(api.agent_blp)
    app.register_blueprint(api.pages)
    app.register_blueprint(pages.pages)
    register_admin_link(app, AdminLink("enrollment_admin_pages.token_list", pages.NAV, order=30))
    register_audit_target(
        app, "enrollment_token", "enrollment_admin_pages.token_detail", "token_id"
    )
    app.register_blueprint(notice_pages.pages)
    app.register_blueprint(apple_account_pages.pages)
    app.extensions["enrollment_token_failures"] = make_counter(
        app.config["RATELIMIT_STORAGE_URL"],
        int(app.config["ENROLLMENT_TOKEN_FAILURE_WINDOW_SECONDS"]),
    )
    register_demo(app, demo.seed)
