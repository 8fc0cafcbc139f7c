"""Timetable import API: upload an export (files or a zip), the import history."""

from typing import Any

from flask import request
from flask_smorest import Blueprint

from mdm.auth import current_actor, roles_required
from mdm.extensions import db
from mdm.http import accepts, limit_offset, page
from mdm.schemas import PageArgs
from schedules import importer
from schedules.import_schemas import (
    ImportPageSchema,
    ImportReportSchema,
    TimetableImportDetailSchema,
)
from schedules.models import TimetableImport

blp = Blueprint(
    "timetable_imports",
    __name__,
    url_prefix="/api/v1/schools/<int:school_id>/timetable",
    description="Timetable imports: Untis GPU and HTML exports, Indiware plans",
)
ADMINS = ("it_admin", "school_admin")
FORMAT_DESCRIPTION = "untis-gpu, untis-html or indiware; detected from the file names when absent"


@blp.route("/imports", methods=["POST"])
@accepts("multipart/form-data", "application/zip")
@roles_required(*ADMINS)
@blp.response(201, ImportReportSchema)
@blp.doc(
    parameters=[
        {
            "in": "query",
            "name": "format",
            "schema": {"type": "string"},
            "required": False,
            "description": FORMAT_DESCRIPTION,
        }
    ],
    requestBody={
        "description": "The export's files as the repeated multipart field `files` (a .zip "
        "among them is unpacked), or one zip as the body (application/zip).",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        "format": {"type": "string", "description": FORMAT_DESCRIPTION},
                    },
                }
            },
            "application/zip": {"schema": {"type": "string", "format": "binary"}},
        },
    },
)
def upload_import(school_id: int) -> dict[str, Any]:
    """Import an export: all of it applies, or nothing changes (a problem+json says why)."""
    if request.mimetype == "application/zip":
        uploads = [("upload.zip", request.get_data())]
    else:
        uploads = [(f.filename or "upload", f.read()) for f in request.files.getlist("files")]
    file_format = request.form.get("format") or request.args.get("format") or None
    result = importer.import_uploads(db.session, current_actor(), school_id, uploads, file_format)
    return {
        **_fields(result.record),
        "plan_changed": result.plan_changed,
        "plan_version": result.plan_version,
    }


@blp.route("/imports", methods=["GET"])
@roles_required(*ADMINS)
@blp.arguments(PageArgs, location="query")
@blp.response(200, ImportPageSchema)
def list_imports(args: dict[str, Any], school_id: int) -> dict[str, Any]:
    """The school's imports, newest first."""
    rows, total = importer.list_imports(
        db.session, current_actor(), school_id, **limit_offset(args)
    )
    return page(rows, total, args)


@blp.route("/imports/<int:import_id>", methods=["GET"])
@roles_required(*ADMINS)
@blp.response(200, TimetableImportDetailSchema)
def get_import(school_id: int, import_id: int) -> dict[str, Any]:
    """One import with the substitutions it added, changed and removed."""
    record, changes = importer.get_import(db.session, current_actor(), school_id, import_id)
    return {**_fields(record), "substitution_changes": changes}


def _fields(record: TimetableImport) -> dict[str, Any]:
    """The history row's fields, to which a response adds its own."""
    return {column.name: getattr(record, column.name) for column in record.__table__.columns}
