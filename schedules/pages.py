"""The panel page: for students and teachers (log in, pick once, see today and the next day),
and the read-only page of the school's link, also as the entrance-hall screen."""

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, current_app, render_template, request

from mdm.extensions import db
from mdm.platform.errors import NotFound
from mdm.platform.headers import csp_nonce
from mdm.platform.http import page_language
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


def _page(lang: str | None = None, **context: Any) -> tuple[str, int, dict[str, str]]:
    """The panel page in `lang` (else the browser's language); its inline style and script are
    allowed by the request's nonce."""
    lang = lang or page_language(LANGUAGES)
    html = render_template(
        "schedules/panel.html",
        lang=lang,
        t=TEXTS[lang],
        nonce=csp_nonce(),
        sections=current_app.extensions.get("mdm_panel_sections", []),
        **context,
    )
    return html, 200, {"Cache-Control": "no-store", "Content-Language": lang}


@pages.route("/panel")
def panel_page() -> tuple[str, int, dict[str, str]]:
    """The panel for students and teachers: log in, pick once, see today and the next day."""
    return _page(link=None, screen=False)


@pages.route("/panel/<secret>")
def link_page(secret: str) -> tuple[str, int, dict[str, str]]:
    """The read-only panel of the school's link; `?screen=1` for the entrance-hall screen,
    which speaks the school's language (its panel setting), not the browser's."""
    try:
        state = panel_service.state_for_link(db.session, secret)
    except NotFound:
        html, _status, headers = _page(link=None, screen=False, invalid_link=True)
        return html, 404, headers
    if request.args.get("screen") == "1":
        return _page(state.screen_language, link=secret, screen=True)
    return _page(link=secret, screen=False)
