"""Domain errors and the application/problem+json (RFC 9457) rendering of every API error."""

import logging
from typing import Any

from flask import Flask, Response, json, request
from sqlalchemy.exc import DataError, IntegrityError
from werkzeug.exceptions import HTTPException

from mdm.extensions import db

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


class DomainError(Exception):
    """A domain rule said no. Subclasses carry the HTTP status and a stable problem type."""

    status = 400
    type = "bad-request"
    title = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors
        self.headers = headers or {}


class ValidationFailed(DomainError):
    """Input broke a rule; `errors` maps each field to its reasons."""

    status = 400
    type = "validation"
    title = "Validation failed"


class NotAuthenticated(DomainError):
    status = 401
    type = "unauthorized"
    title = "Authentication required"


class PermissionDenied(DomainError):
    status = 403
    type = "forbidden"
    title = "Not allowed"


class NotFound(DomainError):
    status = 404
    type = "not-found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    type = "conflict"
    title = "Conflict"


class Gone(DomainError):
    status = 410
    type = "gone"
    title = "Gone"


class RateLimited(DomainError):
    status = 429
    type = "rate-limited"
    title = "Too many attempts"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(
            detail or f"Too many attempts; try again in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )


HTTP_TYPES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation",
    429: "rate-limited",
    500: "internal-error",
}


def problem(
    status: int,
    type_: str,
    title: str,
    detail: str | None = None,
    *,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A problem+json response."""
    body: dict[str, Any] = {"type": f"/problems/{type_}", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body["instance"] = request.path
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _field_errors(messages: Any) -> dict[str, Any]:
    """Flatten webargs' {location: {field: [msgs]}} into {field: [msgs]}."""
    if not isinstance(messages, dict):
        return {"_body": messages}
    locations = {"json", "query", "form", "files", "headers", "view_args", "path", "querystring"}
    if messages and set(messages) <= locations:
        merged: dict[str, Any] = {}
        for value in messages.values():
            merged.update(value if isinstance(value, dict) else {"_body": value})
        return merged
    return messages


def _handle_http(exc: HTTPException) -> Response:
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages")
    if messages is not None:
        errors = _field_errors(messages)
        if "_schema" in errors and list(errors) == ["_schema"]:
            errors = {"_body": errors["_schema"]}
        return problem(
            400, "validation", "Validation failed", "The request has invalid fields.", errors=errors
        )
    headers = {}
    if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    detail = data.get("message") or exc.description
    return problem(status, HTTP_TYPES.get(status, "http-error"), exc.name, detail, headers=headers)


def _handle_domain(exc: DomainError) -> Response:
    db.session.rollback()
    return problem(
        exc.status, exc.type, exc.title, exc.detail, errors=exc.errors, headers=exc.headers
    )


def _handle_integrity(exc: IntegrityError) -> Response:
    db.session.rollback()
    log.info("integrity error: %s", exc.orig)
    return problem(
        409,
        "conflict",
        "Conflict",
        "The change conflicts with existing data (a duplicate or a missing reference).",
    )


def _handle_out_of_range(exc: Exception) -> Response:
    db.session.rollback()
    log.info("value out of range: %s", exc)
    return problem(
        400,
        "bad-request",
        "Bad request",
        "A value in the request does not fit (a number too large or a text too long).",
    )


def _handle_too_deep(exc: RecursionError) -> Response:
    db.session.rollback()
    return problem(400, "bad-request", "Bad request", "The JSON body is nested too deeply.")


def _handle_unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return _handle_http(exc)
    db.session.rollback()
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem(
        500,
        "internal-error",
        "Internal server error",
        "Something went wrong on our side; it has been logged.",
    )


def init_app(app: Flask) -> None:
    """Register the problem+json handlers for every error."""
    app.register_error_handler(HTTPException, _handle_http)
    app.register_error_handler(DomainError, _handle_domain)
    app.register_error_handler(IntegrityError, _handle_integrity)
    # A path id or a number beyond the database's integers, a text beyond its column.
    app.register_error_handler(OverflowError, _handle_out_of_range)
    app.register_error_handler(DataError, _handle_out_of_range)
    app.register_error_handler(RecursionError, _handle_too_deep)
    app.register_error_handler(Exception, _handle_unexpected)
