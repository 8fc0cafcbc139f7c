"""Timetables: time grid, classes, lessons, substitutions, day messages, importers, the panel."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Add the timetable models, blueprints, CLI commands, demo plan and jobs to the app; the
    timetable's classes become device groups; its figures on the admin dashboard."""
    from mdm.accounts.demo import register_demo
    from mdm.devices.class_groups import register_class_source
    from mdm.extensions import api as rest_api
    from mdm.platform.dashboard import register_dashboard_provider
    from mdm.platform.jobs import JobSpec, register_job
    from mdm.platform.pages import AdminLink, register_admin_link
    from mdm.policies.calendar import register_school_calendar
    from schedules import (  # noqa: F401
        api,
        dashboard,
        demo,
        import_folder,
        import_pages,
        import_service,
        models,
        policy_calendar,
    )
    from schedules.import_cli import import_group
    from schedules.pages import pages

    rest_api.register_blueprint(api.panel_blp)
    app.register_blueprint(pages)
    app.register_blueprint(import_pages.pages)
    register_admin_link(
        app, AdminLink("timetable_pages.import_history", import_pages.NAV, order=50)
    )
    rest_api.register_blueprint(api.imports_blp)
    app.cli.add_command(import_group)
    register_demo(app, demo.seed)
    register_class_source(app, import_service.timetable_classes)
    register_school_calendar(app, policy_calendar.school_day)
    register_dashboard_provider(app, dashboard.timetable_figures)
    if app.config["TIMETABLE_IMPORT_FOLDER"]:
        register_job(
            app,
            JobSpec(
                id=import_folder.JOB_ID,
                func=import_folder.import_folders,
                seconds=int(app.config["TIMETABLE_IMPORT_INTERVAL_SECONDS"]),
            ),
        )
