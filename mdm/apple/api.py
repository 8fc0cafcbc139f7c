"""Apple's MDM endpoints: the check-in URL and the server (command) URL of the enrollment
profile. Property lists in and out, not JSON: they are not part of the OpenAPI document
(docs/apple.md describes them)."""

from cryptography import x509
from flask import Blueprint, Response, current_app, request

from mdm.apple import plist, service
from mdm.devices.check_ins import check_in_connection
from mdm.extensions import db
from mdm.platform.errors import DomainError
from mdm.platform.types import utcnow

blp = Blueprint("apple_mdm", __name__, url_prefix="/apple/mdm")
CLIENT_CERT_HEADER = "X-SSL-Client-Cert"
SIGNATURE_HEADER = "Mdm-Signature"
# Devices send check-ins with their own type, and command requests with theirs or with none at
# all: the body itself is checked either way.
CHECK_IN_TYPES = ("application/x-apple-aspen-mdm-checkin", "")
COMMAND_TYPES = ("application/x-apple-aspen-mdm", "")
PLIST_MIMETYPE = "application/xml"


class UnsupportedType(DomainError):
    status = 415
    type = "unsupported-media-type"
    title = "Unsupported Media Type"


class MessageTooLarge(DomainError):
    status = 413
    type = "apple-message-too-large"
    title = "MDM message too large"


class MalformedMessage(DomainError):
    status = 400
    type = "apple-malformed-message"
    title = "Malformed MDM message"


def _limit() -> int:
    return int(current_app.config["APPLE_MAX_MESSAGE_BYTES"])


def _body(allowed: tuple[str, ...]) -> bytes:
    """The request's body, of an allowed type and within the size limit."""
    if request.mimetype not in allowed:
        types = " or ".join(kind for kind in allowed if kind)
        raise UnsupportedType(f"send the property list as {types}")
    limit = _limit()
    if request.content_length is not None and request.content_length > limit:
        raise MessageTooLarge(f"an MDM message may have at most {limit} bytes")
    return request.get_data(cache=True)


def _certificate(body: bytes) -> x509.Certificate:
    """The request's identity: its Mdm-Signature, or a trusted proxy's client certificate."""
    forwarded = (
        request.headers.get(CLIENT_CERT_HEADER)
        if current_app.config["AGENT_TRUST_CLIENT_CERT_HEADER"]
        else None
    )
    return service.request_certificate(body, request.headers.get(SIGNATURE_HEADER), forwarded)


def _message(body: bytes) -> dict:
    try:
        return plist.load_message(body, _limit())
    except plist.PlistRefused as exc:
        raise MalformedMessage(str(exc)) from exc


@blp.route("/checkin", methods=["PUT", "POST"])
def check_in() -> Response:
    """Authenticate, TokenUpdate, CheckOut (UserAuthenticate is declined): an empty 200;
    DeclarativeManagement: its JSON answer (mdm/apple/ddm.py)."""
    body = _body(CHECK_IN_TYPES)
    cert = _certificate(body)
    with check_in_connection() as connection:
        who = service.check_identity(connection, cert, utcnow())
    reply = service.check_in(db.session, service.identify(db.session, who), _message(body))
    if reply is not None and reply.body is not None:
        return Response(reply.json(), 200, mimetype="application/json")
    return Response(b"", 200)


@blp.route("/connect", methods=["PUT", "POST"])
def connect() -> Response:
    """A device's Idle or result; the answer is its next command, or an empty 200."""
    body = _body(COMMAND_TYPES)
    cert = _certificate(body)
    now = utcnow()
    # Identity and, for the commonest request (an Idle with nothing due), the whole answer on a
    # check-in connection: no transaction to wait for (mdm/devices/check_ins.py).
    with check_in_connection() as connection:
        who = service.check_identity(connection, cert, now)
        message = _message(body)
        if service.idle_without_work(connection, who, message, now):
            return Response(b"", 200)
    answer = service.connect(db.session, service.identify(db.session, who), message, now)
    if answer.command is None:
        return Response(b"", 200)
    return Response(plist.dump(answer.command), 200, mimetype=PLIST_MIMETYPE)
