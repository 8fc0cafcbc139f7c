"""Device and group API for admins: list, filter, export, assign, rename, retire, delete."""

from typing import Any

from flask import Response

from mdm.accounts.auth import current_actor, roles_required
from mdm.devices import groups, inventory_policy, service
from mdm.devices.schemas import (
    DeviceDetailSchema,
    DeviceExportArgs,
    DeviceIdsSchema,
    DevicePageSchema,
    DeviceQueryArgs,
    DeviceUpdateSchema,
    GroupDetailSchema,
    GroupQueryArgs,
    GroupSchema,
    GroupUpdateSchema,
    InventoryPolicySchema,
    UserIdsSchema,
)
from mdm.extensions import db
from mdm.platform.http import Blueprint, limit_offset, page
from mdm.platform.openapi import problems
from mdm.platform.scoping import ADMINS

blp = Blueprint(
    "devices", __name__, url_prefix="/api/v1", description="Devices and groups (admins)"
)


def _filters(args: dict[str, Any]) -> service.DeviceFilters:
    return service.DeviceFilters(
        school_id=args.get("school_id"),
        group_id=args.get("group"),
        ownership=args.get("ownership"),
        platform=args.get("platform"),
        status=args.get("status"),
        last_seen_before=args.get("last_seen_before"),
        last_seen_after=args.get("last_seen_after"),
        search=args.get("q"),
    )


@blp.route("/devices", methods=["GET"])
@roles_required(*ADMINS)
@blp.arguments(DeviceQueryArgs, location="query")
@blp.response(200, DevicePageSchema)
def list_devices(args: dict[str, Any]) -> dict[str, Any]:
    """Devices, filtered by group, ownership, platform, status, last seen, or a search text."""
    rows, total = service.list_devices(
        db.session, current_actor(), _filters(args), **limit_offset(args)
    )
    return page(rows, total, args)


@blp.route("/devices/export.csv", methods=["GET"])
@roles_required(*ADMINS)
@blp.arguments(DeviceExportArgs, location="query")
@blp.response(200, {"type": "string"}, content_type="text/csv")
def export_devices(args: dict[str, Any]) -> Response:
    """The device inventory as CSV, with the same filters as the list."""
    content = service.export_csv(db.session, current_actor(), _filters(args))
    return Response(
        content,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="devices.csv"'},
    )


@blp.route("/devices/<int:device_id>", methods=["GET"])
@roles_required(*ADMINS)
@blp.response(200, DeviceDetailSchema)
def get_device(device_id: int) -> Any:
    """One device with its inventory."""
    return service.get_device(db.session, current_actor(), device_id)


@blp.route("/devices/<int:device_id>", methods=["PATCH"])
@roles_required(*ADMINS)
@blp.arguments(DeviceUpdateSchema)
@blp.response(200, DeviceDetailSchema)
@problems(409)
def update_device(body: dict[str, Any], device_id: int) -> Any:
    """Rename a device or assign it to a user."""
    return service.update_device(db.session, current_actor(), device_id, body)


@blp.route("/devices/<int:device_id>/retire", methods=["POST"])
@roles_required(*ADMINS)
@blp.response(200, DeviceDetailSchema)
@problems(409)
def retire_device(device_id: int) -> Any:
    """Retire a device: it is no longer managed and its credential stops working. A personal
    Apple device is told, as when its owner ends management (its enrollment profile removed,
    what was stored about it deleted; docs/apple.md)."""
    return service.retire_device(db.session, current_actor(), device_id)


@blp.route("/devices/<int:device_id>", methods=["DELETE"])
@roles_required(*ADMINS)
@blp.response(204)
@problems(409)
def delete_device(device_id: int) -> None:
    """Delete a device and everything stored about it; a personal device still enrolled is
    retired first (409 until then: retiring tells it to remove the school's part)."""
    service.delete_device(db.session, current_actor(), device_id)


@blp.route("/groups", methods=["GET"])
@roles_required(*ADMINS)
@blp.arguments(GroupQueryArgs, location="query")
@blp.response(200, GroupSchema(many=True))
def list_groups(args: dict[str, Any]) -> Any:
    """Groups of the admin's school (all schools' for the city IT admin)."""
    return groups.list_groups(db.session, current_actor(), **args)


@blp.route("/groups", methods=["POST"])
@roles_required(*ADMINS)
@blp.arguments(GroupSchema)
@blp.response(201, GroupDetailSchema)
@problems(409)
def create_group(body: dict[str, Any]) -> Any:
    """Create a class, teachers or custom group."""
    return groups.create_group(db.session, current_actor(), **body)


@blp.route("/groups/<int:group_id>", methods=["GET"])
@roles_required(*ADMINS)
@blp.response(200, GroupDetailSchema)
def get_group(group_id: int) -> Any:
    """One group with its devices and users."""
    return groups.get_group(db.session, current_actor(), group_id)


@blp.route("/groups/<int:group_id>", methods=["PATCH"])
@roles_required(*ADMINS)
@blp.arguments(GroupUpdateSchema)
@blp.response(200, GroupDetailSchema)
@problems(409)
def update_group(body: dict[str, Any], group_id: int) -> Any:
    """Rename a group or change its kind."""
    return groups.update_group(db.session, current_actor(), group_id, body)


@blp.route("/groups/<int:group_id>", methods=["DELETE"])
@roles_required(*ADMINS)
@blp.response(204)
def delete_group(group_id: int) -> None:
    """Delete a group (its devices and users stay)."""
    groups.delete_group(db.session, current_actor(), group_id)


@blp.route("/groups/<int:group_id>/devices", methods=["POST"])
@roles_required(*ADMINS)
@blp.arguments(DeviceIdsSchema)
@blp.response(200, GroupDetailSchema)
def add_group_devices(body: dict[str, Any], group_id: int) -> Any:
    """Assign devices to the group."""
    return groups.add_devices(db.session, current_actor(), group_id, body["device_ids"])


@blp.route("/groups/<int:group_id>/devices/<int:device_id>", methods=["DELETE"])
@roles_required(*ADMINS)
@blp.response(204)
def remove_group_device(group_id: int, device_id: int) -> None:
    """Take a device out of the group."""
    groups.remove_device(db.session, current_actor(), group_id, device_id)


@blp.route("/groups/<int:group_id>/users", methods=["POST"])
@roles_required(*ADMINS)
@blp.arguments(UserIdsSchema)
@blp.response(200, GroupDetailSchema)
def add_group_users(body: dict[str, Any], group_id: int) -> Any:
    """Put users into the group."""
    return groups.add_users(db.session, current_actor(), group_id, body["user_ids"])


@blp.route("/groups/<int:group_id>/users/<int:user_id>", methods=["DELETE"])
@roles_required(*ADMINS)
@blp.response(204)
def remove_group_user(group_id: int, user_id: int) -> None:
    """Take a user out of the group."""
    groups.remove_user(db.session, current_actor(), group_id, user_id)


def _policy_body(policy: inventory_policy.SchoolInventoryPolicy) -> dict[str, Any]:
    return {
        "school_id": policy.school_id,
        **policy.kept,
        "is_default": policy.is_default,
        "updated_at": policy.updated_at,
    }


@blp.route("/schools/<int:school_id>/inventory-policy", methods=["GET"])
@roles_required(*ADMINS)
@blp.response(200, InventoryPolicySchema)
def get_inventory_policy(school_id: int) -> dict[str, Any]:
    """Which personal categories of inventory the school keeps of its own devices (location,
    phone number, installed apps, network), per kind of device; the defaults until it sets one."""
    return _policy_body(inventory_policy.get_policy(db.session, current_actor(), school_id))


@blp.route("/schools/<int:school_id>/inventory-policy", methods=["PUT"])
@roles_required(*ADMINS)
@blp.arguments(InventoryPolicySchema)
@blp.response(200, InventoryPolicySchema)
def set_inventory_policy(body: dict[str, Any], school_id: int) -> dict[str, Any]:
    """Set the categories kept per kind of device (student, teacher, shared); what is no longer
    kept is removed at once from the stored inventories of the school's devices."""
    return _policy_body(inventory_policy.set_policy(db.session, current_actor(), school_id, body))
