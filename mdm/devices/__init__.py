"""Devices: devices and groups, their inventory, device identity (each school's CA and the
devices' credentials) and the BYOD rules, used by every transport."""

from flask import Flask


def init_app(app: Flask) -> None:
    """The device API; an account that owns a managed personal device is not deleted; the
    class groups follow the students' classes; `mdm sync-class-groups`; the devices' figures on
    the dashboard; the device pages."""
    from mdm.accounts.service import register_class_listener, register_deletion_check
    from mdm.devices import api, class_groups, cli, dashboard, pages, service
    from mdm.extensions import api as rest_api
    from mdm.platform.dashboard import register_dashboard_provider
    from mdm.platform.pages import AdminLink, register_admin_link, register_audit_target

    rest_api.register_blueprint(api.blp)
    register_deletion_check(app, service.personal_devices_of)
    register_class_listener(app, class_groups.students_changed_class)
    app.cli.add_command(cli.sync_class_groups_command)
    register_dashboard_provider(app, dashboard.device_figures)
    app.register_blueprint(pages.pages)
    register_admin_link(app, AdminLink("device_pages.device_list", pages.NAV, order=20))
    register_audit_target(app, "device", "device_pages.device_detail", "device_id")
