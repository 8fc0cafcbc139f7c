"""The panel page: for students and teachers (log in, pick once, see today and the next day),
and the read-only page of the school's link, also as the entrance-hall screen."""

import secrets
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, current_app, render_template, request

from mdm.extensions import db
from mdm.platform.errors import NotFound
from schedules import panel_service
from schedules.panel_texts import LANGUAGES, TEXTS

pages = Blueprint("panel_pages", __name__, template_folder="templates")


@dataclass(frozen=True)
class PanelSection:
    """A section another package adds to the logged-in panel page: a template, rendered with the
    page's `lang` and `nonce` and its own texts as `s`. Its script learns who is logged in from
    the document's `panel:viewer` event ({me, call, selection}, or null after a logout)."""

    template: str
    texts: dict[str, dict[str, str]]


def register_panel_section(app: Flask, section: PanelSection) -> None:
    """Let a package add a section to the panel page (schedules imports no such package)."""
    app.extensions.setdefault("mdm_panel_sections", []).append(section)


def _language() -> str:
    asked = request.args.get("lang", "")
    if asked in LANGUAGES:
        return asked
    return request.accept_languages.best_match(LANGUAGES, default=LANGUAGES[0])


def _page(**context: Any) -> tuple[str, int, dict[str, str]]:
    """The panel page with its inline style and script allowed by a per-response nonce."""
    nonce = secrets.token_urlsafe(16)
    lang = _language()
    html = render_template(
        "schedules/panel.html",
        lang=lang,
        t=TEXTS[lang],
        nonce=nonce,
        sections=current_app.extensions.get("mdm_panel_sections", []),
        **context,
    )
    headers = {
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Content-Language": lang,
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            "connect-src 'self'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'"
        ),
    }
    return html, 200, headers


@pages.route("/panel")
def panel_page() -> tuple[str, int, dict[str, str]]:
    """The panel for students and teachers: log in, pick once, see today and the next day."""
    return _page(link=None, screen=False)


@pages.route("/panel/<secret>")
def link_page(secret: str) -> tuple[str, int, dict[str, str]]:
    """The read-only panel of the school's link; `?screen=1` for the entrance-hall screen."""
    try:
        panel_service.state_for_link(db.session, secret)
    except NotFound:
        html, _status, headers = _page(link=None, screen=False, invalid_link=True)
        return html, 404, headers
    return _page(link=secret, screen=request.args.get("screen") == "1")
