"""Accounts: schools, users, logins (JWT) and their checks, the CSV import of users."""

from flask import Flask

from mdm.platform.openapi import REFRESH_TOKEN, USER_LOGIN
from mdm.platform.ratelimit import make_counter


def init_app(app: Flask) -> None:
    """Logins, the login rate limits, the accounts API, the housekeeping job, and the pages:
    login, account, dashboard."""
    from mdm.accounts import api, auth, jobs, login, page_auth, pages
    from mdm.extensions import api as rest_api
    from mdm.platform.pages import AdminLink, register_admin_link, register_audit_target
    from mdm.platform.scoping import CITY_ADMINS

    auth.init_app(app)
    app.extensions[login.FAILURES] = make_counter(
        app.config["RATELIMIT_STORAGE_URL"], int(app.config["LOGIN_FAILURE_WINDOW_SECONDS"])
    )
    rest_api.register_blueprint(api.blp)
    rest_api.spec.components.security_scheme(
        USER_LOGIN,
        {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "the access token from POST /api/v1/auth/login",
        },
    )
    rest_api.spec.components.security_scheme(
        REFRESH_TOKEN,
        {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "the refresh token from POST /api/v1/auth/login",
        },
    )
    jobs.init_app(app)
    app.register_blueprint(pages.pages)
    app.before_request(page_auth.forget_page_user)
    register_admin_link(app, AdminLink("account_pages.dashboard", pages.NAV["dashboard"], order=10))
    register_admin_link(app, AdminLink("account_pages.users", pages.NAV["users"], order=20))
    register_admin_link(app, AdminLink("account_pages.classes", pages.NAV["classes"], order=21))
    register_admin_link(app, AdminLink("account_pages.audit", pages.NAV["audit"], order=80))
    register_admin_link(
        app, AdminLink("account_pages.schools", pages.NAV["schools"], CITY_ADMINS, order=90)
    )
    register_audit_target(app, "user", "account_pages.user", "user_id")
    register_audit_target(app, "school", "account_pages.school", "school_id")
