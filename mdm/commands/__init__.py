"""Commands: the queue of commands to devices, with their lifecycle, expiry and retention."""

from flask import Flask


def init_app(app: Flask) -> None:
    """The command API and the jobs that expire and prune commands."""
    from mdm.commands import api, service
    from mdm.extensions import api as rest_api
    from mdm.extensions import db
    from mdm.platform.jobs import JobSpec, register_job

    rest_api.register_blueprint(api.blp)
    register_job(
        app, JobSpec(id="commands.expire", func=lambda: service.expire(db.session), seconds=300)
    )
    register_job(
        app,
        JobSpec(
            id="commands.retention",
            func=lambda: service.prune(db.session),
            cron={"hour": 3, "minute": 31},
        ),
    )
