"""The SCEP endpoint of a school (RFC 8894): GetCACaps, GetCACert and PKIOperation by GET and
POST on one URL. Not JSON, so not in the OpenAPI document; refusals that cannot be a CertRep are
problem+json."""

import base64
import binascii

from flask import Blueprint, Response, request

from mdm.apple.scep import message, service
from mdm.extensions import db
from mdm.platform.errors import ValidationFailed

blp = Blueprint("apple_scep", __name__)
PKI_MESSAGE = "application/x-pki-message"
CA_RA_CERT = "application/x-x509-ca-ra-cert"
OPERATIONS = ("GetCACaps", "GetCACert", "PKIOperation")


@blp.route("/apple/scep/<int:school_id>", methods=["GET", "POST"])
def scep(school_id: int) -> Response:
    """Serve one SCEP operation (`?operation=...`, and `&message=...` for a GET PKIOperation)."""
    operation = request.args.get("operation", "")
    if operation not in OPERATIONS:
        raise ValidationFailed(
            "Unknown SCEP operation.",
            errors={"operation": [f"must be one of {', '.join(OPERATIONS)}"]},
        )
    if request.method == "POST" and operation != "PKIOperation":
        raise ValidationFailed(
            "Only PKIOperation is sent by POST.", errors={"operation": ["use GET"]}
        )
    school = service.get_school(db.session, school_id)
    if operation == "GetCACaps":
        return Response("\n".join(service.CAPABILITIES) + "\n", mimetype="text/plain")
    if operation == "GetCACert":
        return Response(service.ca_certificates(db.session, school), mimetype=CA_RA_CERT)
    data = request.get_data() if request.method == "POST" else _query_message()
    try:
        reply = service.pki_operation(db.session, school, data)
    except message.MalformedMessage as exc:
        raise ValidationFailed(
            "The SCEP message was refused.", errors={"message": [str(exc)]}
        ) from exc
    return Response(reply, mimetype=PKI_MESSAGE)


def _query_message() -> bytes:
    """The base64 pkiMessage of a GET PKIOperation (a '+' left unescaped arrives as a space)."""
    text = request.args.get("message", "").replace(" ", "+")
    if not text:
        raise ValidationFailed("The SCEP message is missing.", errors={"message": ["missing"]})
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationFailed(
            "The SCEP message was refused.", errors={"message": ["not base64"]}
        ) from exc
