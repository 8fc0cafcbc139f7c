"""The frame of the server-rendered pages, knowing no users: the layout's texts, the viewer a
page is rendered for, CSRF tokens, the confirm step of dangerous actions, paging and search, the
admin navigation and HTML error pages. Who is logged in is mdm.accounts.page_auth's business."""

import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import HTTPException

from mdm.extensions import db
from mdm.platform.actors import Actor
from mdm.platform.errors import DomainError, NotAuthenticated, RateLimited
from mdm.platform.headers import csp_nonce
from mdm.platform.http import PAGE_LANGUAGES, opens_page_session, page_language
from mdm.platform.scoping import ADMINS

CSRF_FIELD = "csrf_token"
CSRF_SESSION_KEY = "csrf"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CONFIRM_FIELD = "confirmed"
ADMIN_LINKS = "mdm_admin_links"  # their key in app.extensions
AUDIT_TARGETS = "mdm_audit_targets"  # the pages of audited objects, by kind
LOGIN_ENDPOINT = "account_pages.login"
PER_PAGE = 50
MAX_SEARCH = 200

# What every page of the service's own layout (mdm/base.html) says, by language; the admin
# layout (mdm/admin/layout.html) adds its navigation, flashes, paging and confirm texts.
SITE: dict[str, dict[str, str]] = {
    "de": {
        "name": "Schul-MDM",
        "languages": "Sprache",
        "english_only": "Dieses Dokument gibt es nur auf Englisch.",
        "skip": "Zum Inhalt springen",
        "admin_nav": "Verwaltung",
        "account": "Mein Konto",
        "logout": "Abmelden",
        "messages": "Meldungen",
        "search": "Suchen",
        "pages": "Seiten",
        "previous": "Vorherige Seite",
        "next": "Nächste Seite",
        "page_of": "Seite {page} von {pages} ({total} Einträge)",
        "nothing_found": "Nichts gefunden.",
        "confirm_title": "Bitte bestätigen",
        "cancel": "Abbrechen",
        "form_errors": "Bitte prüfen Sie die markierten Felder.",
    },
    "en": {
        "name": "Schul-MDM",
        "languages": "Language",
        "english_only": "",
        "skip": "Skip to content",
        "admin_nav": "Administration",
        "account": "My account",
        "logout": "Log out",
        "messages": "Messages",
        "search": "Search",
        "pages": "Pages",
        "previous": "Previous page",
        "next": "Next page",
        "page_of": "Page {page} of {pages} ({total} entries)",
        "nothing_found": "Nothing found.",
        "confirm_title": "Please confirm",
        "cancel": "Cancel",
        "form_errors": "Please check the marked fields.",
    },
}
# The error pages, by status.
ERRORS: dict[str, dict[int | str, tuple[str, str]]] = {
    "de": {
        400: ("Ungültige Anfrage", "Die Anfrage war unvollständig oder fehlerhaft."),
        403: ("Kein Zugriff", "Diese Seite ist nur für Administratorinnen und Administratoren."),
        404: ("Nicht gefunden", "Diese Seite oder dieses Objekt gibt es nicht."),
        409: ("Konflikt", "Die Änderung widerspricht dem aktuellen Stand; nichts wurde geändert."),
        410: ("Nicht mehr vorhanden", "Dieses Objekt gibt es nicht mehr."),
        405: ("Nicht möglich", "Diese Seite nimmt diese Art Anfrage nicht an."),
        429: ("Zu viele Versuche", "Bitte warten Sie {retry} Sekunden und versuchen Sie es dann."),
        500: ("Fehler", "Auf unserer Seite ging etwas schief; es wurde protokolliert."),
        "csrf": (
            "Formular abgelaufen",
            "Das Formular war zu alt oder kam nicht von dieser Seite; nichts wurde geändert. "
            "Bitte laden Sie die Seite neu und senden Sie es noch einmal.",
        ),
    },
    "en": {
        400: ("Bad request", "The request was incomplete or malformed."),
        403: ("Not allowed", "This page is for administrators only."),
        404: ("Not found", "This page or object does not exist."),
        409: ("Conflict", "The change conflicts with the current state; nothing was changed."),
        410: ("Gone", "This object no longer exists."),
        405: ("Not possible", "This page does not take this kind of request."),
        429: ("Too many attempts", "Please wait {retry} seconds, then try again."),
        500: ("Error", "Something went wrong on our side; it has been logged."),
        "csrf": (
            "Form expired",
            "The form was too old or did not come from this site; nothing was changed. "
            "Please reload the page and send it again.",
        ),
    },
}


@dataclass(frozen=True)
class PageViewer:
    """Who a page is rendered for: the actor of its service calls, a name and a chosen language
    (None follows the browser)."""

    actor: Actor
    display_name: str
    language: str | None = None

    @property
    def role(self) -> str:
        """The viewer's role."""
        return self.actor.role


@dataclass(frozen=True)
class AdminLink:
    """An entry of the admin navigation: an endpoint, its text by language, who sees it."""

    endpoint: str
    texts: dict[str, str]
    roles: tuple[str, ...] = ADMINS
    order: int = 50


def register_admin_link(app: Flask, link: AdminLink) -> None:
    """Add an entry to the admin navigation (shown when its endpoint exists)."""
    app.extensions.setdefault(ADMIN_LINKS, []).append(link)


def admin_links(role: str) -> list[AdminLink]:
    """The navigation entries a role sees, in order."""
    links = current_app.extensions.get(ADMIN_LINKS, [])
    return sorted(
        (
            link
            for link in links
            if role in link.roles and link.endpoint in current_app.view_functions
        ),
        key=lambda link: (link.order, link.endpoint),
    )


def register_audit_target(app: Flask, target_type: str, endpoint: str, argument: str) -> None:
    """Let the audit log link the objects of a kind ("device") to their page: the endpoint
    and the name of its argument that takes the object's number ("device_id")."""
    app.extensions.setdefault(AUDIT_TARGETS, {})[target_type] = (endpoint, argument)


def audit_target_url(target_type: str, target_id: str | None) -> str | None:
    """The page of an audited object, when its kind has one and it is installed."""
    endpoint, argument = current_app.extensions.get(AUDIT_TARGETS, {}).get(
        target_type, (None, None)
    )
    if endpoint is None or endpoint not in current_app.view_functions:
        return None
    if target_id is None or not target_id.isdigit():
        return None
    return url_for(endpoint, **{argument: int(target_id)})


def page_viewer() -> PageViewer | None:
    """The viewer of this request, once a page decorator has let them in."""
    return g.get("page_viewer")


def admin_language() -> str:
    """The language of an admin page: `?lang=`, else the viewer's setting, else the browser's
    (Accept-Language), else German."""
    viewer = page_viewer()
    if "lang" not in request.args and viewer is not None and viewer.language in PAGE_LANGUAGES:
        return str(viewer.language)
    return page_language()


def render_admin(
    template: str,
    texts: dict[str, dict[str, Any]],
    status: int = 200,
    **context: Any,
) -> Response:
    """An admin page in the viewer's language (mdm/admin/layout.html), its texts as `t`, never
    cached (it shows one person's view)."""
    lang = admin_language()
    viewer = page_viewer()
    nav = admin_links(viewer.role) if viewer is not None else []
    html = render_template(
        template,
        lang=lang,
        site=SITE[lang],
        t=texts[lang],
        viewer=viewer,
        nav=[(url_for(link.endpoint), link.texts[lang], link.endpoint) for link in nav],
        nonce=csp_nonce(),
        **context,
    )
    response = make_response(html, status)
    response.headers["Content-Language"] = lang
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(status: int, detail: str | None = None, *, key: int | str | None = None) -> Response:
    """An HTML error page in the page's language; `detail` adds the service's own words."""
    lang = admin_language()
    title, text = ERRORS[lang].get(key or status, ERRORS[lang][400])
    retry = ""
    if status == 429 and detail and detail.isdigit():
        retry, detail = detail, None
    return render_admin(
        "mdm/admin/error.html",
        {lang: {}},
        status=status,
        title=title,
        text=text.format(retry=retry or "60"),
        detail=detail,
    )


# CSRF: written here rather than taken from Flask-WTF, whose CSRFProtect needs WTForms (which
# the pages do not use) and exempts by view, while our rule is by path: every unsafe request
# outside /api carries the session's token, and /api never opens the cookie session at all.


def csrf_token() -> str:
    """The session's CSRF token (made on first use); every page form sends it back."""
    token = session.get(CSRF_SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return str(token)


def renew_csrf_token() -> None:
    """A new token, at every login and logout (one made before a login never serves after it)."""
    session[CSRF_SESSION_KEY] = secrets.token_urlsafe(32)


def check_csrf() -> Response | None:
    """Refuse an unsafe page request without the session's CSRF token (a page saying so, 400,
    nothing changed)."""
    if request.method not in UNSAFE_METHODS or not opens_page_session(request.path):
        return None
    if request.routing_exception is not None:
        return None
    expected = session.get(CSRF_SESSION_KEY)
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if expected and sent and hmac.compare_digest(str(sent), str(expected)):
        return None
    return error_page(400, key="csrf")


# The confirm step of dangerous actions, without JavaScript: the action's form posts to the
# action; without `confirmed=yes` the action answers a page that asks, repeating the form's
# fields, and its button posts them again with `confirmed=yes`.


def confirmed() -> bool:
    """Whether this POST is the confirmation of a dangerous action."""
    return request.form.get(CONFIRM_FIELD) == "yes"


def confirm_page(question: str, button: str, back: str) -> Response:
    """The page that asks before a dangerous action: `question`, a `button` that does it, and a
    link back to `back` that does not."""
    fields = [
        (name, value)
        for name, value in request.form.items(multi=True)
        if name not in (CSRF_FIELD, CONFIRM_FIELD)
    ]
    lang = admin_language()
    return render_admin(
        "mdm/admin/confirm.html",
        {lang: {}},
        question=question,
        button=button,
        back=back,
        action=request.path,
        fields=fields,
    )


@dataclass(frozen=True)
class Paging:
    """Which page of a list is asked for, and the search text (`?page=`, `?q=`)."""

    page: int = 1
    per_page: int = PER_PAGE
    search: str = ""

    @property
    def limit(self) -> int:
        """Rows per page, for a service's `limit`."""
        return self.per_page

    @property
    def offset(self) -> int:
        """Rows before this page, for a service's `offset`."""
        return (self.page - 1) * self.per_page


def paging(per_page: int = PER_PAGE) -> Paging:
    """The paging and search of this request; a page number that is not one is page 1."""
    raw = request.args.get("page", "1")
    number = int(raw) if raw.isdigit() and 0 < int(raw) < 1_000_000 else 1
    search = " ".join(request.args.get("q", "").split())[:MAX_SEARCH]
    return Paging(page=number, per_page=per_page, search=search)


@dataclass(frozen=True)
class Listing:
    """One page of a list: its rows, the total and links to the neighbouring pages."""

    items: Sequence[Any]
    total: int
    paging: Paging
    args: dict[str, str] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        """How many pages the list has (at least one)."""
        return max(1, -(-self.total // self.paging.per_page))

    def url(self, number: int) -> str:
        """This list at another page, with the same search and filters."""
        query = {**self.args, "page": str(number)}
        if self.paging.search:
            query["q"] = self.paging.search
        return f"{request.path}?{urlencode(query)}"

    @property
    def previous_url(self) -> str | None:
        """The page before, if any."""
        return self.url(self.paging.page - 1) if self.paging.page > 1 else None

    @property
    def next_url(self) -> str | None:
        """The page after, if any."""
        return self.url(self.paging.page + 1) if self.paging.page < self.pages else None


def listing(items: Sequence[Any], total: int, page: Paging, **filters: str | int | None) -> Listing:
    """A Listing of a service's rows and total; `filters` are kept in the paging links."""
    args = {name: str(value) for name, value in filters.items() if value not in (None, "")}
    return Listing(list(items), total, page, args)


def _domain_error(exc: DomainError) -> Response:
    db.session.rollback()
    if isinstance(exc, NotAuthenticated):
        return redirect_to_login()
    if isinstance(exc, RateLimited):
        response = error_page(429, exc.headers.get("Retry-After"))
        response.headers.update(exc.headers)
        return response
    return error_page(exc.status, exc.detail if exc.status == 409 else None)


def _http_error(exc: HTTPException) -> Response:
    return error_page(exc.code or 500)


def page_blueprint(name: str, import_name: str, url_prefix: str | None = None) -> Blueprint:
    """A blueprint of server-rendered pages: templates in the package's templates/, and errors
    as HTML pages (a domain error's status, 404 for what is out of the viewer's scope)."""
    blueprint = Blueprint(name, import_name, template_folder="templates", url_prefix=url_prefix)
    blueprint.register_error_handler(DomainError, _domain_error)
    blueprint.register_error_handler(HTTPException, _http_error)
    return blueprint


def redirect_to_login() -> Response:
    """To the login page, coming back here afterwards."""
    return redirect(url_for(LOGIN_ENDPOINT, next=request.full_path.rstrip("?")))


def local_time(value: datetime | None, timezone: str, lang: str) -> str:
    """A UTC time as the school reads it, in its time zone ("03.12.2026 07:05" in German)."""
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(timezone))
    return local.strftime("%d.%m.%Y %H:%M" if lang == "de" else "%Y-%m-%d %H:%M")


def init_app(app: Flask) -> None:
    """CSRF checks before every page request; the token and local times in templates."""
    app.before_request(check_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["CSRF_FIELD"] = CSRF_FIELD
    app.jinja_env.filters["local_time"] = local_time
