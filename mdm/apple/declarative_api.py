"""The legacy profiles of declarative devices (mdm/apple/ddm.py): a capability URL per device
and server token, named in the device's legacy-profile declaration. Not part of the OpenAPI
document (docs/apple.md describes it)."""

from flask import Blueprint, Response

from mdm.apple import ddm, plist
from mdm.extensions import db
from mdm.platform.types import utcnow

blp = Blueprint("apple_ddm", __name__, url_prefix="/apple/ddm")
PROFILE_MIMETYPE = "application/x-apple-aspen-config"


@blp.route("/profiles/<int:device_id>/<string:server_token>/<string:mac>", methods=["GET"])
def legacy_profile(device_id: int, server_token: str, mac: str) -> Response:
    """The profile of a device's current legacy-profile declaration; 404 for any other."""
    profile = ddm.legacy_profile(db.session, device_id, server_token, mac, utcnow())
    response = Response(plist.dump(profile), 200, mimetype=PROFILE_MIMETYPE)
    response.headers["Cache-Control"] = "no-store"
    return response
