"""Calendars: iCal feeds of timetables, school events and personal calendars."""

from flask import Blueprint, Flask


def init_app(app: Flask) -> None:
    """Add the calendar models, blueprints, jobs, demo feeds and the panel's subscribe section."""
    from calendars import api, demo, feed_service, models, source_service  # noqa: F401
    from calendars.panel_texts import SUBSCRIBE_TEXTS
    from calendars.source_service import JOB_ID
    from mdm.accounts.demo import register_demo
    from mdm.extensions import api as rest_api
    from mdm.platform.jobs import JobSpec, register_job
    from schedules.pages import PanelSection, register_panel_section

    rest_api.register_blueprint(api.blp)
    rest_api.register_blueprint(api.feeds_blp)
    app.register_blueprint(Blueprint("calendar_templates", __name__, template_folder="templates"))
    register_panel_section(app, PanelSection("calendars/panel_subscribe.html", SUBSCRIBE_TEXTS))
    register_demo(app, demo.seed)
    register_job(
        app,
        JobSpec(
            id=JOB_ID,
            func=source_service.refresh_due_sources,
            seconds=int(app.config["CALENDAR_SOURCE_JOB_SECONDS"]),
        ),
    )
    register_job(
        app,
        JobSpec(id=feed_service.PRUNE_JOB_ID, func=feed_service.prune_old_states, cron={"hour": 3}),
    )
