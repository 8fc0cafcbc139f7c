"""Command API for admins: send a command to devices, a group or a school; list, filter and
cancel commands; read each one's history and result."""

from typing import Any

from mdm.accounts.auth import current_actor, roles_required
from mdm.commands import service
from mdm.commands.models import CommandBatch
from mdm.commands.schemas import (
    BatchPageSchema,
    BatchQueryArgs,
    CancelledSchema,
    CommandBatchDetailSchema,
    CommandCreateSchema,
    CommandDetailSchema,
    CommandPageSchema,
    CommandQueryArgs,
)
from mdm.devices.models import Device
from mdm.extensions import db
from mdm.platform.http import Blueprint, limit_offset, page
from mdm.platform.openapi import problems
from mdm.platform.scoping import ADMINS

blp = Blueprint(
    "commands", __name__, url_prefix="/api/v1", description="Commands to devices (admins)"
)


def _command(command: Any, device: Any) -> dict[str, Any]:
    return {**{c.key: getattr(command, c.key) for c in command.__table__.columns}, "device": device}


def _batch(batch: Any, statuses: dict[str, int]) -> dict[str, Any]:
    columns = {column.key: getattr(batch, column.key) for column in batch.__table__.columns}
    return {**columns, "statuses": statuses}


@blp.route("/commands", methods=["POST"])
@roles_required(*ADMINS)
@blp.arguments(CommandCreateSchema)
@blp.response(201, CommandBatchDetailSchema)
@problems(409)
def send_command(body: dict[str, Any]) -> dict[str, Any]:
    """Queue a command for devices by id (all must take it), a group or a school (the devices
    that take it; the others are counted in `skipped`)."""
    target = service.Target(
        device_ids=body.get("device_ids"),
        group_id=body.get("group_id"),
        school_id=body.get("school_id"),
    )
    batch = service.queue(
        db.session,
        current_actor(),
        type=body["type"],
        target=target,
        parameters=body["parameters"],
        expires_in_seconds=body.get("expires_in_seconds"),
    )
    return _batch(batch, {"queued": batch.queued})


@blp.route("/commands", methods=["GET"])
@roles_required(*ADMINS)
@blp.arguments(CommandQueryArgs, location="query")
@blp.response(200, CommandPageSchema)
def list_commands(args: dict[str, Any]) -> dict[str, Any]:
    """Commands, newest first, filtered by school, device, batch, type, status or time."""
    filters = service.CommandFilters(
        **{
            name: args.get(name)
            for name in (
                "school_id",
                "device_id",
                "batch_id",
                "type",
                "status",
                "created_after",
                "created_before",
            )
        }
    )
    rows, total = service.list_commands(db.session, current_actor(), filters, **limit_offset(args))
    return page([_command(command, device) for command, device in rows], total, args)


@blp.route("/commands/<int:command_id>", methods=["GET"])
@roles_required(*ADMINS)
@blp.response(200, CommandDetailSchema)
def get_command(command_id: int) -> dict[str, Any]:
    """One command with its batch, history and result."""
    command = service.get_command(db.session, current_actor(), command_id)
    return _detail(command)


def _detail(command: Any) -> dict[str, Any]:
    return {
        **_command(command, db.session.get(Device, command.device_id)),
        "batch": db.session.get(CommandBatch, command.batch_id),
        "history": service.history(db.session, command),
    }


@blp.route("/commands/<int:command_id>/cancel", methods=["POST"])
@roles_required(*ADMINS)
@blp.response(200, CommandDetailSchema)
@problems(409)
def cancel_command(command_id: int) -> dict[str, Any]:
    """Cancel a command that was not sent yet (or that its device answered "not now")."""
    return _detail(service.cancel_command(db.session, current_actor(), command_id))


@blp.route("/command-batches", methods=["GET"])
@roles_required(*ADMINS)
@blp.arguments(BatchQueryArgs, location="query")
@blp.response(200, BatchPageSchema)
def list_batches(args: dict[str, Any]) -> dict[str, Any]:
    """Commands as admins sent them, newest first."""
    rows, total = service.list_batches(
        db.session, current_actor(), school_id=args.get("school_id"), **limit_offset(args)
    )
    return page(rows, total, args)


@blp.route("/command-batches/<int:batch_id>", methods=["GET"])
@roles_required(*ADMINS)
@blp.response(200, CommandBatchDetailSchema)
def get_batch(batch_id: int) -> dict[str, Any]:
    """A command as an admin sent it, with its devices' commands counted by status."""
    return _batch(*service.get_batch(db.session, current_actor(), batch_id))


@blp.route("/command-batches/<int:batch_id>/cancel", methods=["POST"])
@roles_required(*ADMINS)
@blp.response(200, CancelledSchema)
def cancel_batch(batch_id: int) -> dict[str, int]:
    """Cancel the batch's commands that were not sent yet."""
    return {"cancelled": service.cancel_batch(db.session, current_actor(), batch_id)}
