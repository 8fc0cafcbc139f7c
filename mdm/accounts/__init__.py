"""Accounts: schools, users, logins (JWT) and their checks, the CSV import of users."""

from flask import Flask

from mdm.platform.ratelimit import make_counter


def init_app(app: Flask) -> None:
    """Logins, the login rate limits, the accounts API and the housekeeping job."""
    from mdm.accounts import api, auth, jobs, login
    from mdm.extensions import api as rest_api

    auth.init_app(app)
    app.extensions[login.FAILURES] = make_counter(
        app.config["RATELIMIT_STORAGE_URL"], int(app.config["LOGIN_FAILURE_WINDOW_SECONDS"])
    )
    rest_api.register_blueprint(api.blp)
    jobs.init_app(app)
