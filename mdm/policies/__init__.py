"""Policies: versioned policy documents, their assignments, and the effective policy of each
device (its desired state), with the time windows that switch policies on and off."""

from flask import Flask


def init_app(app: Flask) -> None:
    """The policy API, the hooks on devices, the job that opens and closes time windows, and the
    non-compliant devices on the dashboard."""
    from mdm.devices import hooks
    from mdm.extensions import api as rest_api
    from mdm.extensions import db
    from mdm.platform.dashboard import register_dashboard_provider
    from mdm.platform.jobs import JobSpec, register_job
    from mdm.policies import api, dashboard, service

    rest_api.register_blueprint(api.blp)
    register_dashboard_provider(app, dashboard.compliance_figures)
    hooks.on_device_created(app, service.device_created)
    hooks.on_memberships_changed(app, service.memberships_changed)
    register_job(
        app,
        JobSpec(
            id="policies.windows", func=lambda: service.refresh_windows(db.session), seconds=60
        ),
    )
