"""HTTP helpers every API shares: the blueprint class, body types, paging, the client address,
the address links are made of, the language of a page, the pages' cookie session (never on
/api), and the request's one commit at its end."""

import io
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import flask_smorest
from flask import Flask, Request, Response, current_app, has_request_context, request
from flask.sessions import NullSession, SecureCookieSession, SecureCookieSessionInterface
from marshmallow import RAISE, Schema
from sqlalchemy.exc import IntegrityError
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from mdm.extensions import db
from mdm.platform import errors, text

F = TypeVar("F", bound=Callable[..., Any])
JSON_ONLY = ("application/json",)
# The languages of the pages, the first the default: German, and English for those who ask.
PAGE_LANGUAGES = ("de", "en")
# Where `mdm run` keeps the address it serves (app.extensions), for links made outside requests.
SERVED_URL = "mdm_served_url"
BODY_METHODS = {"POST", "PUT", "PATCH"}
log = logging.getLogger(__name__)


def accepts(*mimetypes: str) -> Callable[[F], F]:
    """Declare which request body types a view takes (others get 415); JSON by default."""

    def decorator(view: F) -> F:
        view.accepts = mimetypes  # type: ignore[attr-defined]
        return view

    return decorator


def page(items: list[Any], total: int, args: dict[str, Any]) -> dict[str, Any]:
    """The body of a paged list."""
    return {"items": items, "total": total, "page": args["page"], "per_page": args["per_page"]}


def limit_offset(args: dict[str, Any]) -> dict[str, int]:
    """limit/offset for a service from page/per_page query arguments."""
    return {"limit": args["per_page"], "offset": (args["page"] - 1) * args["per_page"]}


class BaseUrlMissing(RuntimeError):
    """A link is to be made outside a request, and BASE_URL does not say where the service is."""


def base_url() -> str:
    """The address the links the service hands out begin with (no trailing slash): BASE_URL
    when it is set; else the address the request came to (its Host, or behind
    TRUSTED_PROXY_HOPS proxies the forwarded one), so a phone that reached the service gets
    links it can open; else, outside a request, the address `mdm run` serves."""
    configured = str(current_app.config["BASE_URL"] or "").rstrip("/")
    if configured:
        return configured
    if has_request_context():
        return request.host_url.rstrip("/")
    served = current_app.extensions.get(SERVED_URL)
    if served:
        return str(served)
    raise BaseUrlMissing(
        "links made outside a request need BASE_URL: set MDM_BASE_URL to the address browsers "
        "and phones reach the service at, e.g. MDM_BASE_URL=http://192.168.1.20:5000"
    )


def page_language(languages: Sequence[str] = PAGE_LANGUAGES) -> str:
    """The language of a page: `?lang=` when it is one of `languages`, else the one the browser
    prefers (Accept-Language), else the first (German)."""
    asked = request.args.get("lang", "")
    if asked in languages:
        return asked
    return request.accept_languages.best_match(languages, default=languages[0])


def client_address() -> str | None:
    """The client's address: behind TRUSTED_PROXY_HOPS proxies, the one they forwarded."""
    return request.remote_addr


class ArgumentsParser(FlaskParser):
    """webargs' parser for our blueprints: invalid input is a 400 with field errors, and a
    schema class is made into an instance once, not on every request (webargs' default)."""

    DEFAULT_VALIDATION_STATUS = 400  # webargs: 422
    # A query parameter the operation does not declare is an error, as in a JSON body: a typo
    # (`?search=` for `?q=`) must not silently list everything (webargs: ignored).
    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": RAISE,
        "querystring": RAISE,
    }

    def __init__(self) -> None:
        super().__init__()
        self._schemas: dict[type[Schema], Schema] = {}

    def _get_schema(self, argmap: Any, req: Any) -> Schema:
        if isinstance(argmap, type) and issubclass(argmap, Schema):
            schema = self._schemas.get(argmap)
            if schema is None:
                schema = self._schemas.setdefault(argmap, argmap())
            return schema
        return super()._get_schema(argmap, req)


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's blueprint with our arguments parser; every API blueprint is one."""

    ARGUMENTS_PARSER = ArgumentsParser()


# Paths whose requests never open the pages' cookie session: the JSON API takes bearer tokens
# only, Apple's device protocols (SCEP, MDM check-in and commands, User Enrollment's request) a
# device's own challenge, signature or access token, well-known documents nothing at all, and
# calendar feeds the secret in their link, so a cookie a browser sends along is never a login
# there (and never a CSRF risk), and checking its signature costs them nothing.
NO_SESSION_PREFIXES = ("/api/", "/apple/", "/calendars/", "/.well-known/")


def opens_page_session(path: str) -> bool:
    """Whether a request to this path may use the pages' cookie session."""
    return not path.startswith(NO_SESSION_PREFIXES)


class PageSessions(SecureCookieSessionInterface):
    """Flask's signed cookie session, for the server-rendered pages only: on /api it is not
    opened at all (a null session, no cookie read or written)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | NullSession:
        if not opens_page_session(request.path):
            return self.make_null_session(app)
        opened = super().open_session(app, request)
        return self.make_null_session(app) if opened is None else opened

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        if isinstance(session, NullSession):
            return None
        return super().save_session(app, session, response)


def _view_function(endpoint: str | None) -> Any:
    view = current_app.view_functions.get(endpoint or "")
    while view is not None and not hasattr(view, "accepts") and hasattr(view, "__wrapped__"):
        view = view.__wrapped__
    return view


def read_streamed_body() -> None:
    """A body sent without a length (Transfer-Encoding: chunked) is read here, whole: one over
    MAX_CONTENT_LENGTH is a 413 before anything happens, never cut off silently at the limit."""
    if (
        request.content_length is not None
        or "chunked" not in request.headers.get("Transfer-Encoding", "").lower()
    ):
        return
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    stream = request.stream
    data = stream.read(limit) if limit is not None else stream.read()
    if limit is not None and len(data) >= limit and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()
    # From here on the body is an ordinary one of known length.
    request.environ["wsgi.input"] = io.BytesIO(data)
    request.environ["CONTENT_LENGTH"] = str(len(data))
    request.environ.pop("HTTP_TRANSFER_ENCODING", None)
    request.__dict__.pop("stream", None)


def _documented_arguments(endpoint: str | None) -> list[dict[str, Any]] | None:
    """The arguments (query, body) the OpenAPI document declares for the view, or None for a
    view it does not describe."""
    view = current_app.view_functions.get(endpoint or "")
    while view is not None:
        apidoc = getattr(view, "_apidoc", None)
        if apidoc is not None:
            return list(apidoc.get("arguments", {}).get("parameters", []))
        view = getattr(view, "__wrapped__", None)
    return None


def check_declared_input() -> None:
    """What the OpenAPI document promises about an operation's input holds: query parameters
    it does not declare are a 400 (not ignored), and so is a missing body it requires (a PATCH
    without one)."""
    if not request.path.startswith("/api/") or request.routing_exception is not None:
        return
    arguments = _documented_arguments(request.endpoint)
    if arguments is None:
        return
    if request.args and not any(a["in"] == "query" for a in arguments):
        raise errors.ValidationFailed(
            "The operation takes no query parameters.",
            errors={name: ["Unknown field."] for name in request.args},
        )
    body_required = any(a["in"] == "json" and a.get("required", True) for a in arguments)
    if (
        body_required
        and request.method in BODY_METHODS
        and not request.content_length
        and not request.headers.get("Transfer-Encoding")
    ):
        raise errors.ValidationFailed(
            "The request needs a JSON body.", errors={"_body": ["Missing; send a JSON object."]}
        )


def refuse_unstorable_text() -> None:
    """Text no database could hold (NUL, lone surrogates) in the query, the path or a JSON body
    is a 400 naming the fields, before anything reads it."""
    problems = text.unstorable_in_request(request)
    if problems:
        raise errors.ValidationFailed("Some text cannot be stored.", errors=problems)


def check_body_type() -> Response | None:
    """A body of a type the endpoint does not take is a 415, before anything else happens (a
    method the path does not have is left to the router's 405)."""
    if request.method not in BODY_METHODS or not request.path.startswith("/api/"):
        return None
    if request.routing_exception is not None:
        return None
    if not request.content_length and not request.headers.get("Transfer-Encoding"):
        return None
    view = request.url_rule and _view_function(request.endpoint)
    allowed = getattr(view, "accepts", JSON_ONLY)
    if request.mimetype not in allowed:
        return errors.problem(
            415,
            "unsupported-media-type",
            "Unsupported Media Type",
            f"send the body as {' or '.join(allowed)}",
        )
    return None


def finish_transaction(response: Response) -> Response:
    """Commit once at the end of a successful request; roll back otherwise."""
    # registry.has(): a request that never asked for a session gets none made here
    if not db.session.registry.has() or not db.session().in_transaction():
        return response  # the request did not touch the database
    if response.status_code >= 400:
        db.session.rollback()
        return response
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return errors.problem(
            409,
            "conflict",
            "Conflict",
            "The change conflicts with a concurrent change; nothing was saved.",
        )
    except Exception:
        db.session.rollback()
        log.exception("commit failed on %s %s", request.method, request.path)
        return errors.problem(
            500,
            "internal-error",
            "Internal server error",
            "The change could not be saved; nothing was changed.",
        )
    return response


def init_app(app: Flask) -> None:
    """Cookie sessions for pages only; the client address behind trusted proxies; the body
    checks before and the commit after every request."""
    hops = int(app.config["TRUSTED_PROXY_HOPS"])
    if hops > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )
    app.session_interface = PageSessions()
    app.before_request(read_streamed_body)
    app.before_request(check_body_type)
    app.before_request(refuse_unstorable_text)
    app.before_request(check_declared_input)
    app.after_request(finish_transaction)
