"""Push settings API for admins: a school's webhook and MDM push certificate."""

from typing import Any

from mdm.accounts.auth import current_actor, roles_required
from mdm.extensions import db
from mdm.platform.http import Blueprint
from mdm.platform.scoping import ADMINS
from mdm.push import service
from mdm.push.schemas import ApnsCertificateSchema, PushSettingsSchema, WebhookSchema

blp = Blueprint(
    "push",
    __name__,
    url_prefix="/api/v1",
    description="How a school's devices are woken up: APNs, a webhook, or the log (admins)",
)


@blp.route("/schools/<int:school_id>/push", methods=["GET"])
@roles_required(*ADMINS)
@blp.response(200, PushSettingsSchema)
def get_settings(school_id: int) -> dict[str, Any]:
    """The school's push settings and its waiting and given-up wake-ups."""
    return service.settings_summary(service.get_settings(db.session, current_actor(), school_id))


@blp.route("/schools/<int:school_id>/push/webhook", methods=["PUT"])
@roles_required(*ADMINS)
@blp.arguments(WebhookSchema)
@blp.response(200, PushSettingsSchema)
def set_webhook(body: dict[str, Any], school_id: int) -> dict[str, Any]:
    """Wake the school's agents by a signed POST to this URL (its MQTT or FCM bridge)."""
    overview, secret = service.set_webhook(
        db.session, current_actor(), school_id, body["url"], body["rotate_secret"]
    )
    summary = service.settings_summary(overview)
    return summary if secret is None else {**summary, "webhook_secret": secret}


@blp.route("/schools/<int:school_id>/push/webhook", methods=["DELETE"])
@roles_required(*ADMINS)
@blp.response(204)
def remove_webhook(school_id: int) -> None:
    """Stop using the webhook (wake-ups go to the log)."""
    service.remove_webhook(db.session, current_actor(), school_id)


@blp.route("/schools/<int:school_id>/push/apns", methods=["PUT"])
@roles_required(*ADMINS)
@blp.arguments(ApnsCertificateSchema)
@blp.response(200, PushSettingsSchema)
def set_apns(body: dict[str, Any], school_id: int) -> dict[str, Any]:
    """Wake the school's Apple devices through APNs with its MDM push certificate."""
    overview = service.set_apns_certificate(
        db.session,
        current_actor(),
        school_id,
        body["certificate"],
        body["private_key"],
        body["private_key_password"],
    )
    return service.settings_summary(overview)


@blp.route("/schools/<int:school_id>/push/apns", methods=["DELETE"])
@roles_required(*ADMINS)
@blp.response(204)
def remove_apns(school_id: int) -> None:
    """Stop pushing through APNs."""
    service.remove_apns_certificate(db.session, current_actor(), school_id)
