"""The service's own pages: the start page, the favicon, the API docs (Swagger UI from the
flask-swagger-ui package, so they work without internet) and the documents of docs/ that users
are sent to (the agent protocol)."""

from importlib.resources import files
from pathlib import Path
from typing import Any

import markdown
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    send_from_directory,
    url_for,
)
from markupsafe import Markup

from mdm.platform.http import page_language
from mdm.platform.pages import SITE

pages = Blueprint("pages", __name__)
# Swagger UI's files, as the flask-swagger-ui package ships them; only these two are served.
SWAGGER_UI = files("flask_swagger_ui") / "dist"
SWAGGER_UI_ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css")
# The documents served at /docs/<name>, from the docs/ folder of the clone the service runs from.
DOCS = Path(__file__).resolve().parents[1] / "docs"
DOCUMENTS = {"agent-protocol": "agent-protocol.md"}


START: dict[str, dict[str, str]] = {
    "de": {
        "intro": "Geräteverwaltung und Vertretungspläne der Schulen.",
        "panel": "Vertretungsplan",
        "panel_what": "Für Schülerinnen, Schüler und Lehrkräfte: mit dem Schulkonto anmelden.",
        "admin": "Verwaltung",
        "admin_what": "Für Administratorinnen und Administratoren: Übersicht der Schule, "
        "Benutzer und Klassen, Import aus der Schulverwaltung, Protokoll.",
        "api_docs": "API-Dokumentation",
        "api_docs_what": "Für Administratorinnen und Administratoren: Benutzer, Einschreibungen, "
        "Geräte und Gruppen, Stundenplan-Importe, Einstellungen und Protokoll werden über diese "
        "API verwaltet.",
        "agent_protocol": "Agent-Protokoll",
        "agent_protocol_what": "Für Entwicklerinnen und Entwickler von Agent-Software: wie sich "
        "Android-, Windows- und Linux-Geräte einschreiben und melden (auf Englisch).",
    },
    "en": {
        "intro": "Device management and substitution plans of the schools.",
        "panel": "Substitution plan",
        "panel_what": "For students and teachers: log in with your school account.",
        "admin": "Administration",
        "admin_what": "For admins: the school's overview, users and classes, the import from "
        "the school office, the audit log.",
        "api_docs": "API documentation",
        "api_docs_what": "For admins: users, enrollment, devices and groups, timetable imports, "
        "settings and the audit log are managed through this API.",
        "agent_protocol": "Agent protocol",
        "agent_protocol_what": "For developers of agent software: how Android, Windows and "
        "Linux devices enroll and check in.",
    },
}


def render_page(template: str, texts: dict[str, dict[str, Any]], **context: Any) -> str:
    """A page of the service's own layout in the request's language (German by default), with
    its texts as `t`."""
    lang = page_language()
    return render_template(template, lang=lang, site=SITE[lang], t=texts[lang], **context)


# The start page's links: endpoint and the key of its texts (a link whose package is not
# installed is left out: mdm never depends on the other packages).
START_LINKS = (
    ("panel_pages.panel_page", {}, "panel"),
    ("account_pages.login", {}, "admin"),
    ("pages.api_docs", {}, "api_docs"),
    ("pages.document", {"name": "agent-protocol"}, "agent_protocol"),
)


@pages.route("/")
def start() -> tuple[str, dict[str, str]]:
    """The start page: where to find the panel, the API docs and the agent protocol."""
    links = [
        (url_for(endpoint, **values), key)
        for endpoint, values, key in START_LINKS
        if endpoint in current_app.view_functions
    ]
    html = render_page("mdm/start.html", START, links=links)
    return html, {"Content-Language": page_language()}


@pages.route("/favicon.ico")
def favicon() -> Response:
    """The icon browsers ask for (the pages also name favicon.svg)."""
    return send_from_directory(str(current_app.static_folder), "favicon.ico")


@pages.route("/api/docs")
def api_docs() -> str:
    """The API's documentation: Swagger UI reading /api/openapi.json."""
    return render_template("mdm/api_docs.html")


@pages.route("/api/docs/assets/<name>")
def api_docs_asset(name: str) -> Response:
    """One of Swagger UI's files."""
    if name not in SWAGGER_UI_ASSETS:
        abort(404)
    return send_from_directory(str(SWAGGER_UI), name)


@pages.route("/docs/<name>")
def document(name: str) -> str:
    """A document of docs/ as a page (in English, as it is written)."""
    if name not in DOCUMENTS:
        abort(404)
    path = DOCS / DOCUMENTS[name]
    if not path.is_file():
        abort(404, f"{DOCUMENTS[name]} is in the repository's docs/ folder")
    text = path.read_text(encoding="utf-8")
    title = text.splitlines()[0].lstrip("# ").strip()
    # Our own file: its Markdown may hold HTML, which is trusted like the code. A code block
    # wider than a phone scrolls: keyboard users reach it (WCAG 2.1.1) by tabindex.
    body = markdown.markdown(text, extensions=["tables", "fenced_code"])
    body = body.replace("<pre>", '<pre tabindex="0">')
    return render_page("mdm/document.html", SITE, title=title, body=Markup(body))
