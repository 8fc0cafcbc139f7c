"""Timetable API: imports of Untis and Indiware exports and their history, and the panel: the
JSON feed (logged in, or by the read-only link), the picker's options, settings and link."""

from typing import Any

from flask import Response, jsonify, request
from flask_jwt_extended import get_current_user

from mdm.accounts.auth import current_actor, login_required, roles_required
from mdm.extensions import db
from mdm.platform.http import Blueprint, accepts, base_url, limit_offset, page
from mdm.platform.openapi import problems
from mdm.platform.schemas import PageArgs
from mdm.platform.scoping import ADMINS, require_school
from schedules import import_service, panel_service, plan_changes
from schedules.import_files import file_hashes
from schedules.models import PanelSettings, TimetableImport
from schedules.schemas import (
    ChangesPageArgs,
    ImportPageSchema,
    ImportPreviewSchema,
    ImportQueryArgs,
    ImportReportSchema,
    PanelLinkSchema,
    PanelOptionsSchema,
    PanelQueryArgs,
    PanelSchema,
    PanelSettingsSchema,
    PanelSettingsUpdateSchema,
    TimetableImportDetailSchema,
)

imports_blp = Blueprint(
    "timetable_imports",
    __name__,
    url_prefix="/api/v1/schools/<int:school_id>/timetable",
    description="Timetable imports: Untis GPU and HTML exports, Indiware plans",
)
panel_blp = Blueprint(
    "panel",
    __name__,
    url_prefix="/api/v1",
    description="The substitution plan panel: feed, picker options, settings, read-only link",
)
FORMAT_DESCRIPTION = (
    "untis-gpu, untis-html or indiware: only files of this format (each file's own when absent)"
)
NOT_MODIFIED = {304: {"description": "Not modified: If-None-Match matched the ETag"}}
FEED = PanelSchema()
PREVIEW = ImportPreviewSchema()


@imports_blp.route("/imports", methods=["POST"])
@accepts("multipart/form-data", "application/zip")
@roles_required(*ADMINS)
@imports_blp.arguments(ImportQueryArgs, location="query")
@imports_blp.response(201, ImportReportSchema)
@imports_blp.alt_response(200, schema=ImportPreviewSchema, description="the preview (dry_run)")
@imports_blp.doc(
    requestBody={
        "description": "The export's files as the repeated multipart field `files` (a .zip "
        "among them is unpacked, keeping its folders), or one zip as the body "
        "(application/zip). Untis GPU files, Untis HTML pages and Indiware plans may be mixed.",
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
def upload_import(args: dict[str, Any], school_id: int) -> Any:
    """Import an export: all of it applies, or nothing changes (a problem+json says why, and
    the history records the refusal); with dry_run, what would change."""
    if request.mimetype == "application/zip":
        uploads = [("upload.zip", request.get_data())]
    else:
        uploads = [(f.filename or "upload", f.read()) for f in request.files.getlist("files")]
    file_format = request.form.get("format") or args.get("format")
    actor = current_actor()
    require_school(actor, school_id)
    try:
        files = import_service.read_uploads(uploads)
        result = import_service.import_files(
            db.session,
            actor,
            school_id,
            files,
            file_format,
            force=args["force"],
            dry_run=args["dry_run"],
        )
    except import_service.ImportRefused as refused:
        if not args["dry_run"]:
            _record_refusal(school_id, uploads, refused, file_format)
        raise
    if args["dry_run"]:
        # A preview is not the report the operation declares first: serialized here.
        return jsonify(PREVIEW.dump(_preview(result)))
    return _report(result)


def _record_refusal(
    school_id: int,
    uploads: list[tuple[str, bytes]],
    refused: import_service.ImportRefused,
    file_format: str | None,
) -> None:
    """The refused import goes into the history in a transaction of its own (the import's is
    rolled back by the problem answer), so admins see it."""
    db.session.rollback()
    import_service.record_refusal(
        db.session,
        current_actor(),
        school_id,
        file_hashes(dict(uploads)),
        refused.detail,
        file_format or "",
    )
    db.session.commit()


def _report(result: import_service.ImportResult) -> dict[str, Any]:
    assert result.record is not None
    return {
        **_fields(result.record),
        "plan_changed": result.plan_changed,
        "plan_version": result.plan_version,
        "class_groups": result.class_groups,
    }


def _preview(result: import_service.ImportResult) -> dict[str, Any]:
    batch = result.batch
    assert batch is not None
    scope = plan_changes.scope_of(batch)
    return {
        "dry_run": True,
        "source": batch.source,
        "counts": import_service.batch_counts(batch),
        "plan_changed": result.plan_changed,
        "kinds": {
            kind: changes.counts() | {"examples": changes.examples}
            for kind, changes in result.kinds.items()
        },
        "refusal": result.refusal,
        "warning_summary": result.warning_summary,
        "covered_dates": [day.isoformat() for day in sorted(scope.substitution_dates)],
        "partial_dates": [day.isoformat() for day in sorted(scope.partial_dates)],
        "missing_pages": batch.missing_pages,
        "class_groups": result.class_groups,
    }


@imports_blp.route("/imports", methods=["GET"])
@roles_required(*ADMINS)
@imports_blp.arguments(PageArgs, location="query")
@imports_blp.response(200, ImportPageSchema)
def list_imports(args: dict[str, Any], school_id: int) -> dict[str, Any]:
    """The school's imports, applied and refused, newest first."""
    rows, total = import_service.list_imports(
        db.session, current_actor(), school_id, **limit_offset(args)
    )
    return page(rows, total, args)


@imports_blp.route("/imports/<int:import_id>", methods=["GET"])
@roles_required(*ADMINS)
@imports_blp.arguments(ChangesPageArgs, location="query")
@imports_blp.response(200, TimetableImportDetailSchema)
def get_import(args: dict[str, Any], school_id: int, import_id: int) -> dict[str, Any]:
    """One import with a page of the substitutions it added, changed and removed."""
    record, changes, total = import_service.get_import(
        db.session, current_actor(), school_id, import_id, **limit_offset(args)
    )
    return {
        **_fields(record),
        "substitution_changes": changes,
        "substitution_changes_total": total,
        "page": args["page"],
        "per_page": args["per_page"],
    }


@imports_blp.route("/restore", methods=["POST"])
@roles_required(*ADMINS)
@imports_blp.response(201, ImportReportSchema)
@problems(409)
def restore_plan(school_id: int) -> dict[str, Any]:
    """Undo the last import: the plan as it was before it (one level), as a new plan version."""
    result = import_service.restore_before_last_import(db.session, current_actor(), school_id)
    return _report(result)


def _fields(record: TimetableImport) -> dict[str, Any]:
    """The history row's fields, to which a response adds its own."""
    return {column.name: getattr(record, column.name) for column in record.__table__.columns}


# The panel


@panel_blp.route("/schools/<int:school_id>/panel", methods=["GET"])
@login_required
@panel_blp.arguments(PanelQueryArgs, location="query")
@panel_blp.response(200, PanelSchema)
@panel_blp.doc(responses=NOT_MODIFIED)
def school_panel(args: dict[str, Any], school_id: int) -> Response:
    """The plan of the next school days for a class, courses, a teacher, a room or everything;
    without a selection a student's own class, a teacher's own plan. ETag/304."""
    user = get_current_user()
    require_school(current_actor(), school_id)
    state = panel_service.panel_state(db.session, school_id)
    viewer = panel_service.Viewer(user.role, user.id, user.class_name)
    return _feed(state, viewer, args)


@panel_blp.route("/panel/<secret>", methods=["GET"])
@panel_blp.arguments(PanelQueryArgs, location="query")
@panel_blp.response(200, PanelSchema)
@panel_blp.doc(responses=NOT_MODIFIED, security=[])
def link_panel(args: dict[str, Any], secret: str) -> Response:
    """The read-only panel feed of the school's panel link (no login); everything by default."""
    state = panel_service.state_for_link(db.session, secret)
    return _feed(state, panel_service.Viewer("public"), args)


def _feed(
    state: panel_service.PanelState, viewer: panel_service.Viewer, args: dict[str, Any]
) -> Response:
    """304 when the client has this version of the feed, else the feed, rendered once per
    version by this worker."""
    asked = panel_service.Asked(
        days=args["days"],
        class_name=args.get("class_name", ""),
        courses=tuple(args["course"]),
        teacher=args.get("teacher", ""),
        room=args.get("room", ""),
        since=args.get("since"),
    )
    feed = panel_service.prepare_feed(db.session, state, viewer, asked)
    response = Response(mimetype="application/json")
    response.set_etag(feed.version)
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Vary"] = "Authorization"
    if state.plan_updated_at is not None:
        response.last_modified = state.plan_updated_at
    if request.if_none_match.contains_weak(feed.version):
        response.status_code = 304
        return response
    rendered = panel_service.feeds()
    body = rendered.get(feed.version)
    if body is None:
        body = FEED.dumps(panel_service.feed_body(feed), ensure_ascii=False, separators=(",", ":"))
        body = body.encode()
        rendered.put(feed.version, body)
    response.set_data(body)
    return response


@panel_blp.route("/schools/<int:school_id>/panel/options", methods=["GET"])
@login_required
@panel_blp.response(200, PanelOptionsSchema)
def panel_options(school_id: int) -> dict[str, Any]:
    """The classes, courses, teachers and rooms to pick from."""
    return panel_service.selection_options(db.session, current_actor(), school_id)


def _settings_body(settings: PanelSettings) -> dict[str, Any]:
    return {
        "hide_teachers_from_students": settings.hide_teachers_from_students,
        "screen_language": settings.screen_language,
        "public_link_enabled": settings.public_link_hash is not None,
        "public_link_lookup": settings.public_link_lookup,
        "plan_version": settings.plan_version,
        "plan_updated_at": settings.plan_updated_at,
    }


@panel_blp.route("/schools/<int:school_id>/panel/settings", methods=["GET"])
@roles_required(*ADMINS)
@panel_blp.response(200, PanelSettingsSchema)
def get_panel_settings(school_id: int) -> dict[str, Any]:
    """The school's panel settings."""
    return _settings_body(panel_service.get_settings(db.session, current_actor(), school_id))


@panel_blp.route("/schools/<int:school_id>/panel/settings", methods=["PATCH"])
@roles_required(*ADMINS)
@panel_blp.arguments(PanelSettingsUpdateSchema)
@panel_blp.response(200, PanelSettingsSchema)
def update_panel_settings(body: dict[str, Any], school_id: int) -> dict[str, Any]:
    """Change the settings given: teacher names hidden from students, the screen's language.

    `hide_teachers_from_students` also hides them from the read-only link; `screen_language`
    is the language of the entrance-hall screen (the link's screen mode), whatever the
    browser's."""
    settings = panel_service.update_settings(db.session, current_actor(), school_id, **body)
    return _settings_body(settings)


@panel_blp.route("/schools/<int:school_id>/panel/link", methods=["POST"])
@roles_required(*ADMINS)
@panel_blp.response(201, PanelLinkSchema)
def create_panel_link(school_id: int) -> dict[str, Any]:
    """Create the read-only panel link, or replace it (the old link stops working at once).
    The secret is in this answer only."""
    secret = panel_service.issue_panel_link(db.session, current_actor(), school_id)
    base = base_url()
    return {
        "secret": secret,
        "lookup": panel_service.link_lookup_key(secret),
        "url": f"{base}/panel/{secret}",
        "screen_url": f"{base}/panel/{secret}?screen=1",
        "feed_url": f"{base}/api/v1/panel/{secret}",
    }


@panel_blp.route("/schools/<int:school_id>/panel/link", methods=["DELETE"])
@roles_required(*ADMINS)
@panel_blp.response(204)
def revoke_panel_link(school_id: int) -> None:
    """Switch the read-only panel link off."""
    panel_service.revoke_panel_link(db.session, current_actor(), school_id)
