"""Policy API for admins: policies and their versions, assignments, a device's effective
policy with its explanation, and the devices' compliance."""

from typing import Any

from mdm.accounts.auth import current_actor, roles_required
from mdm.extensions import db
from mdm.platform.http import Blueprint, limit_offset, page
from mdm.platform.openapi import problems
from mdm.platform.scoping import ADMINS
from mdm.policies import service
from mdm.policies.schemas import (
    AssignmentCreateSchema,
    AssignmentQueryArgs,
    AssignmentSchema,
    AssignmentUpdateSchema,
    CompliancePageSchema,
    ComplianceQueryArgs,
    EffectivePolicyArgs,
    EffectivePolicySchema,
    PolicyCreateSchema,
    PolicyDetailSchema,
    PolicyQueryArgs,
    PolicySchema,
    PolicyUpdateSchema,
    VersionSchema,
)

blp = Blueprint(
    "policies",
    __name__,
    url_prefix="/api/v1",
    description="Policies, their versions and assignments; devices' effective policies and "
    "compliance (admins)",
)


def _detail(policy: Any) -> dict[str, Any]:
    version = service.get_version(db.session, current_actor(), policy.id)
    columns = {column.key: getattr(policy, column.key) for column in policy.__table__.columns}
    return {**columns, "document": version.document}


@blp.route("/policies", methods=["GET"])
@roles_required(*ADMINS)
@blp.arguments(PolicyQueryArgs, location="query")
@blp.response(200, PolicySchema(many=True))
def list_policies(args: dict[str, Any]) -> Any:
    """The school's policies and the city's."""
    return service.list_policies(db.session, current_actor(), **args)


@blp.route("/policies", methods=["POST"])
@roles_required(*ADMINS)
@blp.arguments(PolicyCreateSchema)
@blp.response(201, PolicyDetailSchema)
@problems(409)
def create_policy(body: dict[str, Any]) -> Any:
    """Create a policy with its first version (documents are checked setting by setting)."""
    return _detail(service.create_policy(db.session, current_actor(), **body))


@blp.route("/policies/<int:policy_id>", methods=["GET"])
@roles_required(*ADMINS)
@blp.response(200, PolicyDetailSchema)
def get_policy(policy_id: int) -> Any:
    """A policy with its current document (Wi-Fi passwords are never shown)."""
    return _detail(service.get_policy(db.session, current_actor(), policy_id))


@blp.route("/policies/<int:policy_id>", methods=["PATCH"])
@roles_required(*ADMINS)
@blp.arguments(PolicyUpdateSchema)
@blp.response(200, PolicyDetailSchema)
@problems(409)
def update_policy(body: dict[str, Any], policy_id: int) -> Any:
    """Rename, describe, or edit the document: a changed document is a new version, and the
    devices it reaches get their new effective policy."""
    return _detail(service.update_policy(db.session, current_actor(), policy_id, body))


@blp.route("/policies/<int:policy_id>", methods=["DELETE"])
@roles_required(*ADMINS)
@blp.response(204)
@problems(409)
def delete_policy(policy_id: int) -> None:
    """Delete a policy that is not assigned."""
    service.delete_policy(db.session, current_actor(), policy_id)


@blp.route("/policies/<int:policy_id>/versions", methods=["GET"])
@roles_required(*ADMINS)
@blp.response(200, VersionSchema(many=True))
def list_versions(policy_id: int) -> Any:
    """Every version of the policy, newest first."""
    return service.list_versions(db.session, current_actor(), policy_id)


@blp.route("/policies/<int:policy_id>/versions/<int:version>", methods=["GET"])
@roles_required(*ADMINS)
@blp.response(200, VersionSchema)
def get_version(policy_id: int, version: int) -> Any:
    """One version as it was made."""
    return service.get_version(db.session, current_actor(), policy_id, version)


@blp.route("/policies/<int:policy_id>/versions/<int:version>/restore", methods=["POST"])
@roles_required(*ADMINS)
@blp.response(200, PolicyDetailSchema)
@problems(409)
def restore_version(policy_id: int, version: int) -> Any:
    """Make an earlier version's document the current one again (as a new version)."""
    return _detail(service.restore_version(db.session, current_actor(), policy_id, version))


@blp.route("/policies/<int:policy_id>/assignments", methods=["POST"])
@roles_required(*ADMINS)
@blp.arguments(AssignmentCreateSchema)
@blp.response(201, AssignmentSchema)
@problems(409)
def assign(body: dict[str, Any], policy_id: int) -> Any:
    """Assign the policy to a school's devices, a group, an ownership or one device."""
    return service.assign(db.session, current_actor(), policy_id, **body)


@blp.route("/policy-assignments", methods=["GET"])
@roles_required(*ADMINS)
@blp.arguments(AssignmentQueryArgs, location="query")
@blp.response(200, AssignmentSchema(many=True))
def list_assignments(args: dict[str, Any]) -> Any:
    """Assignments (the school's and the city's), highest priority first."""
    return service.list_assignments(db.session, current_actor(), **args)


@blp.route("/policy-assignments/<int:assignment_id>", methods=["PATCH"])
@roles_required(*ADMINS)
@blp.arguments(AssignmentUpdateSchema)
@blp.response(200, AssignmentSchema)
def update_assignment(body: dict[str, Any], assignment_id: int) -> Any:
    """Change an assignment's priority."""
    return service.update_assignment(db.session, current_actor(), assignment_id, body["priority"])


@blp.route("/policy-assignments/<int:assignment_id>", methods=["DELETE"])
@roles_required(*ADMINS)
@blp.response(204)
def unassign(assignment_id: int) -> None:
    """Remove an assignment."""
    service.unassign(db.session, current_actor(), assignment_id)


@blp.route("/devices/<int:device_id>/effective-policy", methods=["GET"])
@roles_required(*ADMINS)
@blp.arguments(EffectivePolicyArgs, location="query")
@blp.response(200, EffectivePolicySchema)
def effective_policy(args: dict[str, Any], device_id: int) -> dict[str, Any]:
    """The device's effective policy now; with explain=1, which assignment set each setting,
    what a personal device does not get and why, and which assignments are not active."""
    effective = service.effective_policy(db.session, current_actor(), device_id)
    state = effective.state
    return {
        "device_id": device_id,
        "hash": effective.merged.hash,
        "document": effective.merged.document,
        "state": None
        if state is None
        else {
            **{
                name: getattr(state, name)
                for name in (
                    "desired_hash",
                    "desired_at",
                    "sent_hash",
                    "sent_at",
                    "applied_hash",
                    "applied_at",
                    "failed_settings",
                )
            },
            "compliance": effective.compliance,
            "due": state.due_at is not None,
        },
        "explain": effective.merged if args["explain"] else None,
    }


@blp.route("/compliance", methods=["GET"])
@roles_required(*ADMINS)
@blp.arguments(ComplianceQueryArgs, location="query")
@blp.response(200, CompliancePageSchema)
def list_compliance(args: dict[str, Any]) -> dict[str, Any]:
    """Enrolled devices by compliance: compliant (applied their effective policy completely),
    non_compliant (with settings they could not apply), pending (not yet applied)."""
    rows, total, counts = service.list_compliance(
        db.session,
        current_actor(),
        school_id=args.get("school_id"),
        status=args.get("status"),
        group_id=args.get("group"),
        **limit_offset(args),
    )
    items = [
        {
            "device_id": device.id,
            "name": device.name,
            "platform": device.platform,
            "ownership": device.ownership,
            "school_id": device.school_id,
            "compliance": compliance,
            "desired_hash": state.desired_hash if state else None,
            "applied_hash": state.applied_hash if state else None,
            "applied_at": state.applied_at if state else None,
            "failed_settings": state.failed_settings if state else [],
        }
        for device, state, compliance in rows
    ]
    return {**page(items, total, args), "counts": counts}
