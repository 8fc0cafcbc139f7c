"""The panel page: for students and teachers (log in, pick once, see today and the next day),
and the read-only page of the school's link, also as the entrance-hall screen."""

from typing import Any

from flask import Blueprint, render_template, request

from mdm.extensions import db
from mdm.platform.errors import NotFound
from mdm.platform.headers import csp_nonce
from mdm.platform.http import page_language
from schedules import panel_service
from schedules.panel_texts import LANGUAGES, TEXTS

pages = Blueprint("panel_pages", __name__, template_folder="templates")


def _page(lang: str | None = None, **context: Any) -> tuple[str, int, dict[str, str]]:
    """The panel page in `lang` (else the browser's language); its inline style and script are
    allowed by the request's nonce."""
    lang = lang or page_language(LANGUAGES)
    html = render_template(
        "schedules/panel.html", lang=lang, t=TEXTS[lang], nonce=csp_nonce(), **context
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
