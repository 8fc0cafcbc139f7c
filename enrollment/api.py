"""Enrollment API for admins and owners, the agent's enroll request, and the enrollment page a
person opens."""

from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint as PageBlueprint
from flask import Response, url_for
from flask_jwt_extended import get_current_user, verify_jwt_in_request

from enrollment import apple_profile as apple_profiles
from enrollment import mobileconfig, qr, service
from enrollment import page as enrollment_page
from enrollment.page import DATE_FORMATS, TEXTS
from enrollment.schemas import (
    EnrollRequestSchema,
    EnrollResponseSchema,
    IssuedTokenSchema,
    NoticeCreateSchema,
    NoticeSchema,
    OwnDeviceSchema,
    TokenCreateSchema,
    TokenEnrollmentSchema,
    TokenQueryArgs,
    TokenSchema,
)
from mdm.accounts.auth import current_actor, login_required, roles_required
from mdm.accounts.models import School
from mdm.agent.service import PROTOCOL_VERSION
from mdm.devices.service import DeviceFacts
from mdm.extensions import db
from mdm.pages import render_page
from mdm.platform.errors import DomainError
from mdm.platform.http import Blueprint, client_address, page_language
from mdm.platform.openapi import USER_LOGIN, problems, security
from mdm.platform.scoping import ADMINS

blp = Blueprint(
    "enrollment",
    __name__,
    url_prefix="/api/v1",
    description="Enrollment tokens, privacy notices, and one's own devices",
)
# The agent protocol's enroll request keeps the protocol's URL.
agent_blp = Blueprint(
    "agent_enrollment",
    __name__,
    url_prefix="/api/agent/v1",
    description="JSON agent protocol v1: a device enrolls with a token",
)
pages = PageBlueprint("enrollment_pages", __name__, template_folder="templates")
# The page's URL carries the token's secret: keep it out of caches (and, as every answer does,
# out of Referer headers: mdm.platform.headers).
PAGE_HEADERS = {"Cache-Control": "no-store"}


@blp.route("/enrollment-tokens", methods=["GET"])
@roles_required(*ADMINS)
@blp.arguments(TokenQueryArgs, location="query")
@blp.response(200, TokenSchema(many=True))
def list_tokens(args: dict[str, Any]) -> Any:
    """Enrollment tokens, newest first (the secrets are never shown again)."""
    return service.list_tokens(db.session, current_actor(), **args)


@blp.route("/enrollment-tokens", methods=["POST"])
@roles_required(*ADMINS)
@blp.arguments(TokenCreateSchema)
@blp.response(201, IssuedTokenSchema)
def create_token(body: dict[str, Any]) -> Any:
    """Create an enrollment token; the answer holds its secret, enrollment URL and QR links."""
    return service.create_token(db.session, current_actor(), **body)


@blp.route("/enrollment-tokens/<int:token_id>", methods=["GET"])
@roles_required(*ADMINS)
@blp.response(200, TokenSchema)
def get_token(token_id: int) -> Any:
    """One enrollment token."""
    return service.get_token(db.session, current_actor(), token_id)


@blp.route("/enrollment-tokens/<int:token_id>/devices", methods=["GET"])
@roles_required(*ADMINS)
@blp.response(200, TokenEnrollmentSchema(many=True))
def token_devices(token_id: int) -> Any:
    """The devices enrolled with a token, with their users, in the order they enrolled."""
    return service.token_enrollments(db.session, current_actor(), token_id)


@blp.route("/enrollment-tokens/<int:token_id>/revoke", methods=["POST"])
@roles_required(*ADMINS)
@blp.response(200, TokenSchema)
def revoke_token(token_id: int) -> Any:
    """Revoke an enrollment token; devices already enrolled stay enrolled. Revoking a revoked
    token again answers it as it is."""
    return service.revoke_token(db.session, current_actor(), token_id)


@blp.route("/privacy-notices", methods=["GET"])
@roles_required(*ADMINS)
@blp.arguments(TokenQueryArgs, location="query")
@blp.response(200, NoticeSchema(many=True))
def list_notices(args: dict[str, Any]) -> Any:
    """Versions of the privacy notice shown to BYOD owners, newest first."""
    return service.list_notices(db.session, current_actor(), **args)


@blp.route("/privacy-notices", methods=["POST"])
@roles_required(*ADMINS)
@blp.arguments(NoticeCreateSchema)
@blp.response(201, NoticeSchema)
def create_notice(body: dict[str, Any]) -> Any:
    """Publish a new version of the school's privacy notice; new BYOD enrollments consent to it."""
    return service.create_notice(
        db.session, current_actor(), body["text"], school_id=body["school_id"]
    )


@blp.route("/me/devices", methods=["GET"])
@login_required
@blp.response(200, OwnDeviceSchema(many=True))
def my_devices() -> Any:
    """Exactly what the school stores about each of one's devices, what it keeps of their
    inventories (its inventory policy, or the BYOD allow-list), and the consent given."""
    return service.own_devices(db.session, current_actor())


@blp.route("/me/devices/<int:device_id>/remove-management", methods=["POST"])
@login_required
@blp.response(204)
@problems(403, 409)
def remove_management(device_id: int) -> None:
    """End the school's management of one's own BYOD device: it is retired and what was stored
    about it is deleted; a personal iPhone or iPad is told on its next connect (docs/apple.md)."""
    service.remove_own_device(db.session, current_actor(), device_id)


@agent_blp.route("/enroll", methods=["POST"])
@agent_blp.arguments(EnrollRequestSchema)
@agent_blp.response(201, EnrollResponseSchema)
@security({}, {USER_LOGIN: []})
@problems(401, 403, 404, 409, 410, 429)
def enroll(body: dict[str, Any]) -> dict[str, Any]:
    """Enroll with a token and the device's facts; a BYOD device also sends its owner's login."""
    verify_jwt_in_request(optional=True)
    result = service.enroll(
        db.session,
        secret=body["token"],
        facts=DeviceFacts(
            platform=body["platform"],
            model=body["model"],
            os_version=body["os_version"],
            name=body["name"],
            inventory=body["inventory"],
        ),
        csr_pem=body["csr"],
        owner=get_current_user(),
        privacy_notice_version=body["privacy_notice_version"],
        address=client_address(),
    )
    return {
        "protocol": PROTOCOL_VERSION,
        "device_id": result.device.id,
        "credential": result.credential,
        "configuration": result.configuration,
    }


@pages.route("/enroll/<secret>")
def enroll_page(secret: str) -> tuple[str, int, dict[str, str]]:
    """What enrolling with this token means and how it is done on the token's platform, in
    German (or English); for a personal device what the school may see and do, and the
    privacy notice."""
    lang = page_language()
    headers = {**PAGE_HEADERS, "Content-Language": lang}
    try:
        token = service.usable_token(db.session, secret, client_address())
    except DomainError as exc:
        title, reasons = enrollment_page.error_text(lang, exc.type)
        html = render_page("enrollment/enroll.html", TEXTS, title=title, reasons=reasons)
        return html, exc.status, {**headers, **exc.headers}
    school = db.session.get(School, token.school_id)
    assert school is not None
    notice = service.current_notice(db.session, token.school_id)
    facts = service.token_facts(db.session, token, school, notice)
    page = enrollment_page.describe(
        lang,
        facts,
        url_for("pages.document", name="agent-protocol"),
        url_for("enrollment_pages.apple_profile", secret=secret),
    )
    until = token.expires_at.astimezone(ZoneInfo(school.timezone))
    html = render_page(
        "enrollment/enroll.html",
        TEXTS,
        title=page.title,
        page=page,
        notice=notice,
        secret=secret,
        qr_url=url_for("enrollment_pages.enroll_qr_svg", secret=secret),
        valid_until=TEXTS[lang]["valid_until"].format(
            until=until.strftime(DATE_FORMATS[lang]),
            timezone=school.timezone,
            left=token.max_uses - token.uses,
            uses=token.max_uses,
        ),
    )
    return html, 200, headers


@pages.route("/enroll/<secret>/qr.svg")
def enroll_qr_svg(secret: str) -> Response:
    """The QR code of the enrollment URL, as SVG."""
    service.usable_token(db.session, secret, client_address())
    svg = qr.qr_svg(service.enrollment_url(secret))
    return Response(svg, mimetype="image/svg+xml", headers=PAGE_HEADERS)


@pages.route("/enroll/<secret>/qr.png")
def enroll_qr_png(secret: str) -> Response:
    """The QR code of the enrollment URL, as PNG."""
    service.usable_token(db.session, secret, client_address())
    png = qr.qr_png(service.enrollment_url(secret))
    return Response(png, mimetype="image/png", headers=PAGE_HEADERS)


@pages.route("/enroll/<secret>/apple.mobileconfig")
def apple_profile(secret: str) -> Response:
    """The signed Apple enrollment profile of a school-owned token: opening it on an iPad (or
    iPhone, Mac) installs management; each fetch is one use of the token."""
    profile = apple_profiles.fetch_profile(db.session, secret, client_address())
    return Response(
        profile,
        mimetype=mobileconfig.MIMETYPE,
        headers={
            **PAGE_HEADERS,
            "Content-Disposition": 'attachment; filename="enrollment.mobileconfig"',
        },
    )
