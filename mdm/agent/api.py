"""The JSON agent protocol v1 for Android, Windows and Linux agents (docs/agent-protocol.md).

Enrolling (`POST /api/agent/v1/enroll`) is the enrollment package's route; everything a device
does once enrolled is here.
"""

from typing import Any

from flask import current_app, request

from mdm.agent import service as agent
from mdm.agent.schemas import (
    CheckInRequestSchema,
    CheckInResponseSchema,
    ConfigurationSchema,
    ResultRequestSchema,
    RotateRequestSchema,
    RotateResponseSchema,
)
from mdm.extensions import db
from mdm.platform.http import Blueprint, client_address
from mdm.platform.openapi import problems

blp = Blueprint(
    "agent",
    __name__,
    url_prefix="/api/agent/v1",
    description="JSON agent protocol v1: enrolled devices check in, fetch their configuration, "
    "report results, rotate their credential, unenroll",
)
DEVICE_AUTH = [{"deviceSecret": []}]
CLIENT_CERT_HEADER = "X-SSL-Client-Cert"


def _credential() -> agent.CredentialLookup:
    """How to find the credential of this request: its device secret, or the client certificate
    a trusted proxy forwards."""
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    secret = credential.strip() if scheme.lower() == "bearer" else None
    certificate = (
        request.headers.get(CLIENT_CERT_HEADER)
        if current_app.config["AGENT_TRUST_CLIENT_CERT_HEADER"]
        else None
    )
    return agent.credential_lookup(secret, certificate)


def _device() -> agent.AgentDevice:
    """The device this request authenticates as."""
    return agent.authenticate(db.session.connection(), _credential(), client_address())


@blp.route("/checkin", methods=["POST"])
@blp.arguments(CheckInRequestSchema, required=False)
@blp.response(200, CheckInResponseSchema)
@blp.doc(security=DEVICE_AUTH)
@problems(401, 410)
def check_in(body: dict[str, Any]) -> dict[str, Any]:
    """Report that the device is alive (and its inventory); answers with the pending work."""
    return agent.check_in_request(
        _credential(),  # before taking a connection: nonsense costs no database work
        client_address(),
        inventory=body.get("inventory"),
        os_version=body.get("os_version"),
    )


@blp.route("/configuration", methods=["GET"])
@blp.response(200, ConfigurationSchema)
@blp.doc(security=DEVICE_AUTH)
@problems(401, 410)
def configuration() -> dict[str, Any]:
    """The device's current configuration (fetch it when the check-in's config_version rose)."""
    return agent.current_configuration(db.session, _device())


@blp.route("/results", methods=["POST"])
@blp.arguments(ResultRequestSchema)
@blp.response(204)
@blp.doc(security=DEVICE_AUTH)
@problems(401, 404, 409, 410)
def result(body: dict[str, Any]) -> None:
    """Report the result of a piece of work from a check-in answer (a policy: the applied hash
    and the settings that could not be applied in `data`); sending it again changes nothing."""
    agent.record_result(
        db.session, _device(), body["work_id"], body["status"], body["detail"], body["data"]
    )


@blp.route("/credential", methods=["POST"])
@blp.arguments(RotateRequestSchema, required=False)
@blp.response(200, RotateResponseSchema)
@blp.doc(security=DEVICE_AUTH)
@problems(401, 410)
def rotate_credential(body: dict[str, Any]) -> dict[str, Any]:
    """Replace the device's credential (and certificate, with a CSR); the old one stops working."""
    return {"credential": agent.rotate_credential(db.session, _device(), body["csr"])}


@blp.route("/unenroll", methods=["POST"])
@blp.response(204)
@blp.doc(security=DEVICE_AUTH)
@problems(401, 410)
def unenroll() -> None:
    """The agent removes itself: the device is retired and its credentials revoked."""
    agent.unenroll(db.session, _device())
