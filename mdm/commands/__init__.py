"""Commands: the queue of commands to devices, with their lifecycle, expiry and retention."""

from flask import Flask


def init_app(app: Flask) -> None:
    """The command API, the jobs that expire and prune commands, the pending and failed
    commands on the dashboard, and the commands on the device pages (actions, bulk actions,
    history, filters)."""
    from mdm.commands import api, dashboard, pages, service
    from mdm.devices.pages import (
        register_bulk_actions,
        register_device_filter,
        register_device_section,
    )
    from mdm.extensions import api as rest_api
    from mdm.extensions import db
    from mdm.platform.dashboard import register_dashboard_provider
    from mdm.platform.jobs import JobSpec, register_job

    rest_api.register_blueprint(api.blp)
    register_dashboard_provider(app, dashboard.command_figures)
    app.register_blueprint(pages.pages)
    register_device_section(app, pages.device_section)
    register_bulk_actions(app, pages.bulk_actions)
    register_device_filter(app, pages.COMMAND_FILTER)
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
