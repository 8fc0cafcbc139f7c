"""Policies: versioned policy documents, their assignments, and the effective policy of each
device (its desired state), with the time windows that switch policies on and off."""

from flask import Flask


def init_app(app: Flask) -> None:
    """The policy API, the hooks on devices, the job that opens and closes time windows, the
    non-compliant devices on the dashboard, and the policy pages (with the effective policy on
    each device's page)."""
    from mdm.devices import hooks
    from mdm.devices.pages import register_device_filter, register_device_section
    from mdm.extensions import api as rest_api
    from mdm.extensions import db
    from mdm.platform.dashboard import register_dashboard_provider
    from mdm.platform.jobs import JobSpec, register_job
    from mdm.platform.pages import AdminLink, register_admin_link, register_audit_target
    from mdm.policies import api, dashboard, pages, service

    rest_api.register_blueprint(api.blp)
    register_dashboard_provider(app, dashboard.compliance_figures)
    app.register_blueprint(pages.pages)
    register_device_section(app, pages.device_section)
    register_device_filter(app, pages.COMPLIANCE_FILTER)
    register_admin_link(app, AdminLink("policy_pages.policy_list", pages.NAV, order=40))
    register_audit_target(app, "policy", "policy_pages.policy_detail", "policy_id")
    hooks.on_device_created(app, service.device_created)
    hooks.on_memberships_changed(app, service.memberships_changed)
    register_job(
        app,
        JobSpec(
            id="policies.windows", func=lambda: service.refresh_windows(db.session), seconds=60
        ),
    )
