"""The panel: JSON feed (logged in, or by the read-only link), picker options, settings, page."""

import hashlib
import json
import secrets
from datetime import date, datetime
from typing import Any

from flask import Blueprint as PageBlueprint
from flask import Response, current_app, render_template, request
from flask_jwt_extended import get_current_user
from flask_smorest import Blueprint

from mdm.auth import current_actor, login_required, roles_required
from mdm.errors import NotFound, ValidationFailed
from mdm.extensions import db
from mdm.scoping import require_school
from schedules import panel, panel_service
from schedules.models import PanelSettings
from schedules.panel_schemas import (
    PanelLinkSchema,
    PanelOptionsSchema,
    PanelQueryArgs,
    PanelSchema,
    PanelSettingsSchema,
    PanelSettingsUpdateSchema,
)
from schedules.panel_texts import LANGUAGES, TEXTS

blp = Blueprint(
    "panel",
    __name__,
    url_prefix="/api/v1",
    description="The substitution plan panel: feed, picker options, settings, read-only link",
)
pages = PageBlueprint("panel_pages", __name__, template_folder="templates")
ADMINS = ("it_admin", "school_admin")
# Viewers from whom a school may hide teacher names: students and the entrance-hall screen.
HIDDEN_FROM = ("student", "public")
# An instance, so that parsing does not build a schema on every request.
QUERY_ARGS = PanelQueryArgs()
NOT_MODIFIED = {304: {"description": "Not modified: If-None-Match matched the ETag"}}


@blp.route("/schools/<int:school_id>/panel", methods=["GET"])
@login_required
@blp.arguments(QUERY_ARGS, location="query")
@blp.response(200, PanelSchema)
@blp.doc(responses=NOT_MODIFIED)
def school_panel(args: dict[str, Any], school_id: int) -> Response:
    """The plan of the next school days for a class, courses, a teacher, a room or everything;
    without a selection a student's own class, a teacher's own plan. ETag/304."""
    user = get_current_user()
    require_school(current_actor(), school_id)
    state = panel_service.panel_state(db.session, school_id)
    return _feed(state, args, user.role, user.id, user.class_name)


@blp.route("/panel/<secret>", methods=["GET"])
@blp.arguments(QUERY_ARGS, location="query")
@blp.response(200, PanelSchema)
@blp.doc(responses=NOT_MODIFIED, security=[])
def link_panel(args: dict[str, Any], secret: str) -> Response:
    """The read-only panel feed of the school's panel link (no login); everything by default."""
    state = panel_service.state_for_link(db.session, secret)
    response = _feed(state, args, "public", None, None)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _selection(
    args: dict[str, Any], role: str, teacher: str | None, class_name: str | None, hide: bool
) -> panel.Selection:
    """The selection asked for, or the viewer's own plan when none is asked for."""
    chosen = [name for name in ("class_name", "teacher", "room") if args.get(name)]
    if len(chosen) > 1:
        reason = ["choose one of class, teacher and room"]
        raise ValidationFailed(
            errors={"class" if name == "class_name" else name: reason for name in chosen}
        )
    if hide and args.get("teacher"):
        raise ValidationFailed(errors={"teacher": ["this school hides teacher names"]})
    if args.get("course") and (args.get("teacher") or args.get("room")):
        raise ValidationFailed(errors={"course": ["courses go with a class or alone"]})
    if chosen or args["course"]:
        return panel.Selection(
            class_name=args.get("class_name", ""),
            courses=frozenset(args["course"]),
            teacher=args.get("teacher", ""),
            room=args.get("room", ""),
        )
    if role == "student" and class_name:
        return panel.Selection(class_name=class_name)
    if role == "teacher" and teacher:
        return panel.Selection(teacher=teacher)
    return panel.Selection()


def _feed(
    state: panel_service.PanelState,
    args: dict[str, Any],
    role: str,
    user_id: int | None,
    class_name: str | None,
) -> Response:
    """Validate the selection, answer 304 when the client has this version, else the feed."""
    today = panel_service.school_today(state.timezone)
    plan = panel_service.load_plan(db.session, state, today, args["days"])
    hide = state.hide_teachers and role in HIDDEN_FROM
    teacher = plan.teacher_of_user.get(user_id) if user_id is not None else None
    selection = _selection(args, role, teacher, class_name, hide)
    since: datetime | None = args.get("since")
    # Everything the body depends on; `since` only through which entries it marks as changed.
    fingerprint = "|".join(
        [
            str(state.school_id),
            str(state.plan_version),
            str(state.plan_updated_at),
            today.isoformat(),
            str(args["days"]),
            selection.kind,
            selection.class_name,
            ",".join(sorted(args["course"])),
            selection.teacher,
            selection.room,
            "hidden" if hide else "shown",
            "student" if role in HIDDEN_FROM else "staff",
            str(panel.since_rank(plan.change_times, since)),
        ]
    )
    etag = hashlib.sha256(fingerprint.encode()).hexdigest()[:32]
    response = Response(mimetype="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Vary"] = "Authorization"
    if state.plan_updated_at is not None:
        response.last_modified = state.plan_updated_at
    if request.if_none_match.contains_weak(etag):
        response.status_code = 304
        return response
    body = panel_service.feed_cache.get(etag)
    if body is None:
        body = _body(state, plan, today, selection, args["course"], since, hide)
        panel_service.feed_cache.put(etag, body)
    response.set_data(body)
    return response


def _body(
    state: panel_service.PanelState,
    plan: panel_service.LoadedPlan,
    today: date,
    selection: panel.Selection,
    courses: list[str],
    since: datetime | None,
    hide: bool,
) -> bytes:
    """The feed as compact JSON."""
    days = panel.panel_days(plan.days, selection, since=since, hide_teachers=hide)
    body = {
        "school_id": state.school_id,
        "timezone": state.timezone,
        "today": today.isoformat(),
        "plan_version": state.plan_version,
        "updated_at": state.plan_updated_at.isoformat() if state.plan_updated_at else None,
        "hide_teachers": hide,
        "selection": {
            "kind": selection.kind,
            "class": selection.class_name or None,
            "courses": sorted(courses),
            "teacher": selection.teacher or None,
            "room": selection.room or None,
        },
        "days": days,
        "subjects": panel.used_subjects(days, plan.subject_names),
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


@blp.route("/schools/<int:school_id>/panel/options", methods=["GET"])
@login_required
@blp.response(200, PanelOptionsSchema)
def panel_options(school_id: int) -> dict[str, Any]:
    """The classes, courses, teachers and rooms to pick from."""
    return panel_service.selection_options(db.session, current_actor(), school_id)


def _settings_body(settings: PanelSettings) -> dict[str, Any]:
    return {
        "hide_teachers_from_students": settings.hide_teachers_from_students,
        "public_link_enabled": settings.public_link_hash is not None,
        "public_link_lookup": settings.public_link_lookup,
        "plan_version": settings.plan_version,
        "plan_updated_at": settings.plan_updated_at,
    }


@blp.route("/schools/<int:school_id>/panel/settings", methods=["GET"])
@roles_required(*ADMINS)
@blp.response(200, PanelSettingsSchema)
def get_panel_settings(school_id: int) -> dict[str, Any]:
    """The school's panel settings."""
    return _settings_body(panel_service.get_settings(db.session, current_actor(), school_id))


@blp.route("/schools/<int:school_id>/panel/settings", methods=["PATCH"])
@roles_required(*ADMINS)
@blp.arguments(PanelSettingsUpdateSchema)
@blp.response(200, PanelSettingsSchema)
def update_panel_settings(body: dict[str, Any], school_id: int) -> dict[str, Any]:
    """Hide teacher names from students (and from the read-only link), or show them again."""
    settings = panel_service.set_hide_teachers(
        db.session, current_actor(), school_id, body["hide_teachers_from_students"]
    )
    return _settings_body(settings)


@blp.route("/schools/<int:school_id>/panel/link", methods=["POST"])
@roles_required(*ADMINS)
@blp.response(201, PanelLinkSchema)
def create_panel_link(school_id: int) -> dict[str, Any]:
    """Create the read-only panel link, or replace it (the old link stops working at once).
    The secret is in this answer only."""
    secret = panel_service.issue_panel_link(db.session, current_actor(), school_id)
    base = current_app.config["BASE_URL"].rstrip("/")
    return {
        "secret": secret,
        "lookup": panel_service.link_lookup_key(secret),
        "url": f"{base}/panel/{secret}",
        "screen_url": f"{base}/panel/{secret}?screen=1",
        "feed_url": f"{base}/api/v1/panel/{secret}",
    }


@blp.route("/schools/<int:school_id>/panel/link", methods=["DELETE"])
@roles_required(*ADMINS)
@blp.response(204)
def revoke_panel_link(school_id: int) -> None:
    """Switch the read-only panel link off."""
    panel_service.revoke_panel_link(db.session, current_actor(), school_id)


def _language() -> str:
    asked = request.args.get("lang", "")
    if asked in LANGUAGES:
        return asked
    return request.accept_languages.best_match(LANGUAGES, default=LANGUAGES[0])


def _page(**context: Any) -> tuple[str, int, dict[str, str]]:
    """The panel page with its inline style and script allowed by a per-response nonce."""
    nonce = secrets.token_urlsafe(16)
    lang = _language()
    html = render_template("schedules/panel.html", lang=lang, t=TEXTS[lang], nonce=nonce, **context)
    headers = {
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Content-Language": lang,
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            "connect-src 'self'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'"
        ),
    }
    return html, 200, headers


@pages.route("/panel")
def panel_page() -> tuple[str, int, dict[str, str]]:
    """The panel for students and teachers: log in, pick once, see today and the next day."""
    return _page(link=None, screen=False)


@pages.route("/panel/<secret>")
def link_page(secret: str) -> tuple[str, int, dict[str, str]]:
    """The read-only panel of the school's link; `?screen=1` for the entrance-hall screen."""
    try:
        panel_service.state_for_link(db.session, secret)
    except NotFound:
        html, _status, headers = _page(link=None, screen=False, invalid_link=True)
        return html, 404, headers
    return _page(link=secret, screen=request.args.get("screen") == "1")
