"""Calendar API: a user's feed links (create, change, rotate, revoke, QR code), school events
(admins change them, everybody of the school reads them), a user's calendar sources, and the
feeds themselves (text/calendar at the link's secret, no login: calendar apps send no headers)."""

from typing import Any

import segno
from flask import Response, request

from calendars import feed_service, school_events, source_service
from calendars.models import CalendarFeed, CalendarSource, SchoolEvent
from calendars.schemas import (
    FeedCreateSchema,
    FeedSchema,
    FeedUpdateSchema,
    SchoolEventCreateSchema,
    SchoolEventInSchema,
    SchoolEventPageSchema,
    SchoolEventQueryArgs,
    SchoolEventSchema,
    SourceCreateSchema,
    SourceSchema,
    SourceUpdateSchema,
)
from mdm.accounts.auth import current_actor, login_required, roles_required
from mdm.extensions import db
from mdm.platform.errors import ValidationFailed
from mdm.platform.http import Blueprint, accepts, limit_offset, page
from mdm.platform.scoping import ADMINS

blp = Blueprint(
    "calendars",
    __name__,
    url_prefix="/api/v1",
    description="Calendars: feed links (iCal subscriptions), school events, calendar sources",
)
feeds_blp = Blueprint(
    "calendar_feeds",
    __name__,
    url_prefix="/calendars",
    description="The iCal feeds, at their secret links (no login)",
)
CALENDAR = "text/calendar; charset=utf-8"
FEED_RESPONSES = {
    200: {
        "description": "The calendar (RFC 5545); gzip when the client accepts it",
        "content": {"text/calendar": {"schema": {"type": "string"}}},
    },
    304: {"description": "Not modified: If-None-Match or If-Modified-Since matched"},
}
UPLOAD = {
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "file": {"type": "string", "format": "binary"},
                },
                "required": ["file"],
            }
        }
    }
}


def _feed_body(feed: CalendarFeed) -> dict[str, Any]:
    token = feed.token.decode()
    return {
        "id": feed.id,
        "kind": feed.kind,
        "name": feed.name,
        "teacher": feed.teacher,
        "class_name": feed.class_name,
        "courses": list(feed.courses),
        "include_cancelled": feed.include_cancelled,
        "created_at": feed.created_at,
        "updated_at": feed.updated_at,
        "rotated_at": feed.rotated_at,
        "url": feed_service.feed_url(token),
        "webcal_url": feed_service.webcal_url(token),
        "qr_svg_path": f"/api/v1/me/calendar-feeds/{feed.id}/qr.svg",
    }


@blp.route("/me/calendar-feeds", methods=["GET"])
@login_required
@blp.response(200, FeedSchema(many=True))
def list_feeds() -> list[dict[str, Any]]:
    """The login's own feed links."""
    return [_feed_body(f) for f in feed_service.list_feeds(db.session, current_actor())]


@blp.route("/me/calendar-feeds", methods=["POST"])
@login_required
@blp.arguments(FeedCreateSchema)
@blp.response(201, FeedSchema)
def create_feed(body: dict[str, Any]) -> dict[str, Any]:
    """A new feed with its secret link: a timetable, the school's events or the merged one."""
    feed = feed_service.create_feed(db.session, current_actor(), **body)
    return _feed_body(feed)


@blp.route("/me/calendar-feeds/<int:feed_id>", methods=["GET"])
@login_required
@blp.response(200, FeedSchema)
def get_feed(feed_id: int) -> dict[str, Any]:
    """One of the login's feeds, with its link (only its owner sees it)."""
    return _feed_body(feed_service.get_feed(db.session, current_actor(), feed_id))


@blp.route("/me/calendar-feeds/<int:feed_id>", methods=["PATCH"])
@login_required
@blp.arguments(FeedUpdateSchema)
@blp.response(200, FeedSchema)
def update_feed(body: dict[str, Any], feed_id: int) -> dict[str, Any]:
    """Change a feed's name, selection, or whether cancelled lessons stay in it."""
    return _feed_body(feed_service.update_feed(db.session, current_actor(), feed_id, body))


@blp.route("/me/calendar-feeds/<int:feed_id>/rotate", methods=["POST"])
@login_required
@blp.response(200, FeedSchema)
def rotate_feed(feed_id: int) -> dict[str, Any]:
    """A new link for the feed; the old one stops working at once (after it leaked)."""
    return _feed_body(feed_service.rotate_feed(db.session, current_actor(), feed_id))


@blp.route("/me/calendar-feeds/<int:feed_id>", methods=["DELETE"])
@login_required
@blp.response(204)
def revoke_feed(feed_id: int) -> None:
    """Delete the feed; its link stops working at once."""
    feed_service.revoke_feed(db.session, current_actor(), feed_id)


@blp.route("/me/calendar-feeds/<int:feed_id>/qr.svg", methods=["GET"])
@login_required
@blp.doc(
    responses={
        200: {
            "description": "The webcal link as a QR code, for a second device",
            "content": {"image/svg+xml": {"schema": {"type": "string"}}},
        }
    }
)
def feed_qr(feed_id: int) -> Response:
    """The feed's webcal link as a QR code (SVG)."""
    feed = feed_service.get_feed(db.session, current_actor(), feed_id)
    qr = segno.make(feed_service.webcal_url(feed.token.decode()), error="m")
    svg = qr.svg_inline(scale=4, border=2, dark="#000", light="#fff")
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})


# The feeds


@feeds_blp.route("/<token>.ics", methods=["GET"])
@feeds_blp.doc(responses=FEED_RESPONSES, security=[])
def feed(token: str) -> Response:
    """The feed of a secret link: rendered once per content version, ETag/Last-Modified with
    304, gzip when accepted. Unknown or revoked links are 404."""
    facts = feed_service.feed_facts(db.session, token)
    rendered = feed_service.rendered_feed(db.session, facts)
    gzipped = request.accept_encodings["gzip"] > 0
    response = Response(content_type=CALENDAR)
    response.set_etag(rendered.etag + ("-gzip" if gzipped else ""))
    response.last_modified = rendered.last_modified
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if request.if_none_match:
        fresh = request.if_none_match.contains_weak(
            rendered.etag
        ) or request.if_none_match.contains_weak(rendered.etag + "-gzip")
    else:
        since = request.if_modified_since
        fresh = since is not None and rendered.last_modified.replace(microsecond=0) <= since
    if fresh:
        response.status_code = 304
        return response
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
        response.set_data(rendered.gzipped)
    else:
        response.set_data(rendered.body)
    return response


# School events


def _event_body(event: SchoolEvent) -> dict[str, Any]:
    return {column.name: getattr(event, column.name) for column in event.__table__.columns}


@blp.route("/schools/<int:school_id>/calendar/events", methods=["GET"])
@login_required
@blp.arguments(SchoolEventQueryArgs, location="query")
@blp.response(200, SchoolEventPageSchema)
def list_events(args: dict[str, Any], school_id: int) -> dict[str, Any]:
    """The school's events (everybody of the school), by start; `from`/`to` narrow them."""
    rows, total = school_events.list_events(
        db.session,
        current_actor(),
        school_id,
        starting=args.get("starting"),
        ending=args.get("ending"),
        **limit_offset(args),
    )
    return page([_event_body(r) for r in rows], total, args)


@blp.route("/schools/<int:school_id>/calendar/events", methods=["POST"])
@roles_required(*ADMINS)
@blp.arguments(SchoolEventCreateSchema)
@blp.response(201, SchoolEventSchema)
def create_event(body: dict[str, Any], school_id: int) -> dict[str, Any]:
    """Add a school event (all-day with dates, or with times; maybe recurring)."""
    return _event_body(school_events.create_event(db.session, current_actor(), school_id, body))


@blp.route("/schools/<int:school_id>/calendar/events/<int:event_id>", methods=["GET"])
@login_required
@blp.response(200, SchoolEventSchema)
def get_event(school_id: int, event_id: int) -> dict[str, Any]:
    """One school event."""
    return _event_body(school_events.get_event(db.session, current_actor(), school_id, event_id))


@blp.route("/schools/<int:school_id>/calendar/events/<int:event_id>", methods=["PATCH"])
@roles_required(*ADMINS)
@blp.arguments(SchoolEventInSchema)
@blp.response(200, SchoolEventSchema)
def update_event(body: dict[str, Any], school_id: int, event_id: int) -> dict[str, Any]:
    """Change a school event; calendars show the change with a higher SEQUENCE."""
    event = school_events.update_event(db.session, current_actor(), school_id, event_id, body)
    return _event_body(event)


@blp.route("/schools/<int:school_id>/calendar/events/<int:event_id>", methods=["DELETE"])
@roles_required(*ADMINS)
@blp.response(204)
def delete_event(school_id: int, event_id: int) -> None:
    """Remove a school event from every calendar."""
    school_events.delete_event(db.session, current_actor(), school_id, event_id)


# Calendar sources


def _source_body(source: CalendarSource) -> dict[str, Any]:
    if source.last_error_at is not None and (
        source.last_success_at is None or source.last_error_at >= source.last_success_at
    ):
        status = "error"
    else:
        status = "ok" if source.last_success_at is not None else "pending"
    return {
        column.name: getattr(source, column.name)
        for column in source.__table__.columns
        if column.name not in ("url", "etag", "http_last_modified", "content_hash")
    } | {"url": source_service.source_url(source), "status": status}


@blp.route("/me/calendar-sources", methods=["GET"])
@login_required
@blp.response(200, SourceSchema(many=True))
def list_sources() -> list[dict[str, Any]]:
    """The login's own calendar sources, each with its last success and last error."""
    return [_source_body(s) for s in source_service.list_sources(db.session, current_actor())]


@blp.route("/me/calendar-sources", methods=["POST"])
@login_required
@blp.arguments(SourceCreateSchema)
@blp.response(201, SourceSchema)
def create_source(body: dict[str, Any]) -> dict[str, Any]:
    """Subscribe to a personal calendar by URL; it is fetched at the refresh job's next run and
    merged into the login's personal feed."""
    source = source_service.create_url_source(db.session, current_actor(), **body)
    return _source_body(source)


def _upload() -> tuple[str, bytes]:
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed(errors={"file": ["send the .ics file as the form field `file`"]})
    return request.form.get("name") or upload.filename or "Kalender", upload.read()


@blp.route("/me/calendar-sources/upload", methods=["POST"])
@accepts("multipart/form-data")
@login_required
@blp.response(201, SourceSchema)
@blp.doc(requestBody=UPLOAD)
def upload_source() -> dict[str, Any]:
    """Add an uploaded .ics as a calendar source (refused with the reason when it is none)."""
    name, body = _upload()
    source = source_service.create_upload_source(db.session, current_actor(), name=name, body=body)
    return _source_body(source)


@blp.route("/me/calendar-sources/<int:source_id>/file", methods=["PUT"])
@accepts("multipart/form-data")
@login_required
@blp.response(200, SourceSchema)
@blp.doc(requestBody=UPLOAD)
def replace_source_file(source_id: int) -> dict[str, Any]:
    """Replace an uploaded source's calendar."""
    _, body = _upload()
    source = source_service.replace_upload(db.session, current_actor(), source_id, body)
    return _source_body(source)


@blp.route("/me/calendar-sources/<int:source_id>", methods=["GET"])
@login_required
@blp.response(200, SourceSchema)
def get_source(source_id: int) -> dict[str, Any]:
    """One of the login's calendar sources."""
    return _source_body(source_service.get_source(db.session, current_actor(), source_id))


@blp.route("/me/calendar-sources/<int:source_id>", methods=["PATCH"])
@login_required
@blp.arguments(SourceUpdateSchema)
@blp.response(200, SourceSchema)
def update_source(body: dict[str, Any], source_id: int) -> dict[str, Any]:
    """Rename a source, or change its URL or refresh interval."""
    source = source_service.update_source(db.session, current_actor(), source_id, body)
    return _source_body(source)


@blp.route("/me/calendar-sources/<int:source_id>", methods=["DELETE"])
@login_required
@blp.response(204)
def delete_source(source_id: int) -> None:
    """Remove a source; its events leave the personal feed."""
    source_service.delete_source(db.session, current_actor(), source_id)


@blp.route("/me/calendar-sources/<int:source_id>/refresh", methods=["POST"])
@login_required
@blp.response(200, SourceSchema)
def refresh_source(source_id: int) -> dict[str, Any]:
    """Fetch a URL source at the refresh job's next run."""
    return _source_body(source_service.refresh_soon(db.session, current_actor(), source_id))
