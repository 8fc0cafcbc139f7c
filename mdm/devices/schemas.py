"""Marshmallow schemas of the device and group API."""

from typing import Any

from marshmallow import Schema, fields, validate

from mdm.devices.inventory_rules import CATEGORY_DESCRIPTIONS, INVENTORY_CATEGORIES, POLICY_ROLES
from mdm.devices.models import DEVICE_STATUSES, GROUP_KINDS, OWNERSHIPS, PLATFORMS
from mdm.platform.schemas import PageArgs, StrictSchema, Timestamp, page_of


class UserRefSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()


class GroupRefSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    name = fields.String()


class DeviceRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    platform = fields.String()


class DeviceSchema(Schema):
    id = fields.Integer()
    school_id = fields.Integer()
    name = fields.String()
    ownership = fields.String(metadata={"description": "school or byod"})
    platform = fields.String(metadata={"description": ", ".join(PLATFORMS)})
    model = fields.String()
    os_version = fields.String()
    serial_number = fields.String(
        allow_none=True,
        metadata={"description": "from the inventory (school-owned devices only), upper case"},
    )
    imei = fields.String(
        allow_none=True, metadata={"description": "from the inventory (school-owned devices only)"}
    )
    imei2 = fields.String(allow_none=True, metadata={"description": "a dual-SIM device's second"})
    user_role = fields.String(metadata={"description": "student, teacher or shared"})
    user = fields.Nested(UserRefSchema, allow_none=True)
    groups = fields.List(fields.Nested(GroupRefSchema))
    status = fields.String(
        metadata={"description": "pending (its enrollment not finished), enrolled or retired"}
    )
    enrolled_at = fields.DateTime()
    last_seen_at = fields.DateTime(allow_none=True)
    retired_at = fields.DateTime(allow_none=True)
    config_version = fields.Integer()


class DeviceDetailSchema(DeviceSchema):
    inventory = fields.Dict(
        metadata={"description": "what the device last reported (BYOD: after the privacy filter)"}
    )


class DeviceQueryArgs(PageArgs):
    school_id = fields.Integer()
    group = fields.Integer(metadata={"description": "id of a group the device belongs to"})
    ownership = fields.String(validate=validate.OneOf(OWNERSHIPS))
    platform = fields.String(validate=validate.OneOf(PLATFORMS))
    status = fields.String(validate=validate.OneOf(DEVICE_STATUSES))
    last_seen_before = Timestamp(default_timezone=None)
    last_seen_after = Timestamp(default_timezone=None)
    q = fields.String(
        validate=validate.Length(max=100),
        metadata={
            "description": "part of the name, model, the user's username, the serial number or "
            "an IMEI (spaces and dashes in it are ignored), or a group's whole name (a class: 7a)"
        },
    )


class DeviceExportArgs(DeviceQueryArgs):
    class Meta:
        exclude = ("page", "per_page")


class DeviceUpdateSchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=120))
    user_id = fields.Integer(
        allow_none=True, metadata={"description": "assign to this user of the school, or null"}
    )


class GroupSchema(StrictSchema):
    id = fields.Integer(dump_only=True)
    school_id = fields.Integer(load_default=None, allow_none=True)
    kind = fields.String(required=True, validate=validate.OneOf(GROUP_KINDS))
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    created_at = fields.DateTime(dump_only=True)
    synced_with_class = fields.Method(
        "get_synced",
        dump_only=True,
        metadata={
            "description": "the group of a class: its students and their devices are kept in "
            "sync with the timetable and the accounts (docs/class-groups.md)"
        },
    )
    class_gone_at = fields.DateTime(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "when its class left the timetable and the accounts; the group is "
            "kept, without the students"
        },
    )

    def get_synced(self, group: Any) -> bool:
        return group.class_key is not None


class GroupDetailSchema(GroupSchema):
    devices = fields.List(fields.Nested(DeviceRefSchema))
    users = fields.List(fields.Nested(UserRefSchema))


class GroupUpdateSchema(StrictSchema):
    kind = fields.String(validate=validate.OneOf(GROUP_KINDS))
    name = fields.String(validate=validate.Length(min=1, max=120))


class GroupQueryArgs(StrictSchema):
    school_id = fields.Integer()
    kind = fields.String(validate=validate.OneOf(GROUP_KINDS))


class DeviceIdsSchema(StrictSchema):
    device_ids = fields.List(
        fields.Integer(), required=True, validate=validate.Length(min=1, max=5000)
    )


class UserIdsSchema(StrictSchema):
    user_ids = fields.List(
        fields.Integer(), required=True, validate=validate.Length(min=1, max=5000)
    )


class InventoryKeptSchema(Schema):
    """What a school keeps of one device's inventory, for the device's user."""

    rule = fields.String(
        metadata={
            "description": "school_inventory_policy (a school-owned device: the school's "
            "inventory policy) or byod_allow_list (a personal device: only the BYOD allow-list)"
        }
    )
    policy_role = fields.String(
        allow_none=True,
        metadata={
            "description": "the kind of device of the policy it goes by: "
            + ", ".join(POLICY_ROLES)
            + " (null for a personal device)"
        },
    )
    serial_number_and_imei = fields.Boolean()
    location = fields.Boolean(metadata={"description": CATEGORY_DESCRIPTIONS["location"]})
    phone_number = fields.Boolean(metadata={"description": CATEGORY_DESCRIPTIONS["phone_number"]})
    installed_apps = fields.Boolean(
        metadata={"description": CATEGORY_DESCRIPTIONS["installed_apps"]}
    )
    network = fields.Boolean(metadata={"description": CATEGORY_DESCRIPTIONS["network"]})


def _categories_field(role: str) -> fields.List:
    return fields.List(
        fields.String(validate=validate.Length(max=40)),
        required=True,
        validate=validate.Length(max=len(INVENTORY_CATEGORIES)),
        metadata={
            "description": f"the categories kept of {role} devices: any of "
            + ", ".join(INVENTORY_CATEGORIES)
        },
    )


class InventoryPolicySchema(StrictSchema):
    """Which personal categories of inventory a school keeps of its own devices, per kind."""

    school_id = fields.Integer(dump_only=True)
    student = _categories_field("students'")
    teacher = _categories_field("teachers' (and admins')")
    shared = _categories_field("shared (no user)")
    is_default = fields.Boolean(
        dump_only=True, metadata={"description": "the school never set a policy of its own"}
    )
    updated_at = fields.DateTime(dump_only=True, allow_none=True)
    categories = fields.Method(
        "get_categories", dump_only=True, metadata={"description": "the categories there are"}
    )

    def get_categories(self, _policy: object) -> dict[str, str]:
        return dict(CATEGORY_DESCRIPTIONS)


DevicePageSchema = page_of(DeviceSchema, "DevicePage")
