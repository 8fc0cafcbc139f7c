"""The API's error answers in the OpenAPI document: every error is application/problem+json, and
every operation declares the problems it can answer.

What follows from an operation's shape is declared for it (`ProblemsPlugin`): invalid input
(400) where it takes a body or query parameters, an unknown id in its path (404), a body too
large or of the wrong type (413, 415) where it takes one. What depends on the view is declared
by its decorators (`problems`): a login (401) and a role (403) by `roles_required`, a conflict
(409), a gone token or device (410), too many attempts (429) by the view itself. The login an
operation needs is declared by `security` (`roles_required` declares the user login).

Two answers come from the HTTP server in front of the service (gunicorn), not from the service,
and are short HTML pages: headers too large (431); every operation declares it as it is. A
request line over MAX_REQUEST_LINE_BYTES is the service's own 414.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from apispec import APISpec, BasePlugin

F = TypeVar("F", bound=Callable[..., Any])
PROBLEM_JSON = "application/problem+json"
# Response components by status: name (fixed here, so the document is the same on every Python)
# and what the problem means.
PROBLEM_RESPONSES = {
    400: ("BAD_REQUEST", "Invalid input; `errors` names each field and its reasons"),
    401: ("UNAUTHORIZED", "No valid login or device credential"),
    403: ("FORBIDDEN", "The login may not do this"),
    404: ("NOT_FOUND", "No such object, or not one the login may see"),
    405: ("METHOD_NOT_ALLOWED", "The path does not have this method"),
    409: ("CONFLICT", "The change conflicts with the data as it is"),
    410: ("GONE", "The token or device is no longer usable"),
    413: ("CONTENT_TOO_LARGE", "The body is larger than the service takes"),
    414: ("URI_TOO_LONG", "The request line (path and query) is over MAX_REQUEST_LINE_BYTES"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "The body is not of a type the operation takes"),
    429: ("TOO_MANY_REQUESTS", "Too many attempts; Retry-After says when to try again"),
    503: ("SERVICE_UNAVAILABLE", "The database does not answer"),
}
BODY_METHODS = ("post", "put", "patch")
# Answers of the HTTP server itself (limits in config/gunicorn.conf.py), by status.
SERVER_RESPONSES = {
    431: ("HEADER_FIELDS_TOO_LARGE", "A header is over 8190 bytes, or there are over 100"),
}
# The security schemes of user logins (registered by mdm.accounts).
USER_LOGIN = "userLogin"
REFRESH_TOKEN = "refreshToken"


def problems(*statuses: int) -> Callable[[F], F]:
    """Declare problem answers a view gives beyond those its shape implies (see above)."""

    def decorator(view: F) -> F:
        manual = view.__dict__.setdefault("_apidoc", {}).setdefault("manual_doc", {})
        responses = manual.setdefault("responses", {})
        for status in statuses:
            responses[str(status)] = PROBLEM_RESPONSES[status][0]
        return view

    return decorator


def security(*requirements: dict[str, list[str]]) -> Callable[[F], F]:
    """Declare the logins an operation takes (OpenAPI security requirements; `{}`: none)."""

    def decorator(view: F) -> F:
        manual = view.__dict__.setdefault("_apidoc", {}).setdefault("manual_doc", {})
        manual["security"] = list(requirements)
        return view

    return decorator


def register_problem_responses(spec: APISpec, error_schema: Any) -> None:
    """Register a problem+json response component for each status (lazily: those used only),
    and the HTTP server's own answers."""
    for name, description in PROBLEM_RESPONSES.values():
        spec.components.response(
            name,
            {"description": description, "content": {PROBLEM_JSON: {"schema": error_schema}}},
            lazy=True,
        )
    for name, description in SERVER_RESPONSES.values():
        spec.components.response(
            name,
            {
                "description": f"{description}: answered by the HTTP server, as a short HTML page",
                "content": {"text/html": {"schema": {"type": "string"}}},
            },
            lazy=True,
        )


class ProblemsPlugin(BasePlugin):
    """Adds to every operation the problems that its shape implies."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        for method, operation in (operations or {}).items():
            responses = operation.setdefault("responses", {})
            implied = []
            parameters = operation.get("parameters", [])
            if operation.get("requestBody") or any(p.get("in") == "query" for p in parameters):
                implied.append(400)
            if path and "{" in path:
                implied.append(404)
            if method in BODY_METHODS and operation.get("requestBody"):
                implied += [413, 415]
            for status in (*implied, 414):
                responses.setdefault(str(status), PROBLEM_RESPONSES[status][0])
            for status, (name, _description) in SERVER_RESPONSES.items():
                responses.setdefault(str(status), name)
