"""Timetables: time grid, classes, lessons, substitutions, day messages, importers."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Add the timetable models, blueprints, CLI commands and jobs to the app."""
    from mdm import extensions
    from mdm.demo import register_demo
    from mdm.jobs import JobSpec, register_job
    from schedules import api, demo, import_folder, models, panel_service  # noqa: F401
    from schedules.import_cli import import_group
    from schedules.panel_views import blp as panel_api
    from schedules.panel_views import pages as panel_pages

    panel_service.init_app(app)
    extensions.api.register_blueprint(panel_api)
    app.register_blueprint(panel_pages)
    extensions.api.register_blueprint(api.blp)
    app.cli.add_command(import_group)
    register_demo(app, demo.seed)
    if app.config["TIMETABLE_IMPORT_FOLDER"]:
        register_job(
            app,
            JobSpec(
                id=import_folder.JOB_ID,
                func=import_folder.import_folders,
                seconds=int(app.config["TIMETABLE_IMPORT_INTERVAL_SECONDS"]),
            ),
        )
