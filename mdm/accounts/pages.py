"""The accounts' pages: log in and out (every role), one's own account (language, password)."""

from typing import Any

from flask import current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from mdm.accounts import page_auth, service
from mdm.accounts.models import User
from mdm.extensions import db
from mdm.platform.dashboard import SchoolRef, city_totals, dashboard_figures, figure_url
from mdm.platform.errors import NotAuthenticated, RateLimited, ValidationFailed
from mdm.platform.http import PAGE_LANGUAGES
from mdm.platform.pages import (
    admin_language,
    error_page,
    page_blueprint,
    render_admin,
)
from mdm.platform.scoping import ADMINS, require_school
from mdm.platform.types import utcnow

pages = page_blueprint("account_pages", __name__)
# Where teachers and students land after a login: their panel (schedules' page, when installed).
PANEL_ENDPOINT = "panel_pages.panel_page"
# The panel keeps its login in the browser's localStorage under this key (schedules' panel.html).
PANEL_TOKENS_KEY = "mdm.panel.tokens"
DASHBOARD_ENDPOINT = "account_pages.dashboard"

TEXTS: dict[str, dict[str, str]] = {
    "de": {
        "login_title": "Anmelden",
        "login_intro": "Mit dem Schulkonto anmelden. Lehrkräfte und Schülerinnen und Schüler "
        "kommen danach zu ihrem Vertretungsplan, Administratorinnen und Administratoren zur "
        "Übersicht ihrer Schule.",
        "username": "Benutzername",
        "password": "Passwort",
        "login": "Anmelden",
        "login_failed": "Benutzername oder Passwort ist falsch.",
        "logged_out": "Sie sind abgemeldet.",
        "to_panel_title": "Angemeldet",
        "to_panel": "Weiter zum Vertretungsplan",
        "account_title": "Mein Konto",
        "language": "Sprache der Verwaltungsseiten",
        "language_browser": "Wie im Browser eingestellt",
        "save": "Speichern",
        "saved": "Gespeichert.",
        "password_title": "Passwort ändern",
        "current_password": "Jetzt gültiges Passwort",
        "new_password": "Neues Passwort",
        "new_password_hint": "Mindestens 8 Zeichen. Danach melden Sie sich neu an; jede andere "
        "Anmeldung mit dem alten Passwort endet.",
        "change_password": "Passwort ändern",
        "password_changed": "Das Passwort ist geändert. Bitte melden Sie sich neu an.",
        "dashboard": "Übersicht",
        "dashboard_title": "Übersicht",
        "city_sum": "Alle Schulen zusammen",
        "per_school": "Nach Schule",
        "school": "Schule",
        "show_list": "Liste anzeigen",
        "no_value": "–",
    },
    "en": {
        "login_title": "Log in",
        "login_intro": "Log in with your school account. Teachers and students then see their "
        "substitution plan, admins the overview of their school.",
        "username": "Username",
        "password": "Password",
        "login": "Log in",
        "login_failed": "Wrong username or password.",
        "logged_out": "You are logged out.",
        "to_panel_title": "Logged in",
        "to_panel": "Go to the substitution plan",
        "account_title": "My account",
        "language": "Language of the admin pages",
        "language_browser": "As the browser is set",
        "save": "Save",
        "saved": "Saved.",
        "password_title": "Change password",
        "current_password": "Current password",
        "new_password": "New password",
        "new_password_hint": "At least 8 characters. You then log in again; every other login "
        "with the old password ends.",
        "change_password": "Change password",
        "password_changed": "The password is changed. Please log in again.",
        "dashboard": "Overview",
        "dashboard_title": "Overview",
        "city_sum": "All schools together",
        "per_school": "By school",
        "school": "School",
        "show_list": "Show the list",
        "no_value": "–",
    },
}
LANGUAGE_NAMES = {"de": "Deutsch", "en": "English"}
# The accounts' entries of the admin navigation.
NAV = {"dashboard": {"de": "Übersicht", "en": "Overview"}}


def _safe_next(target: str | None) -> str | None:
    """A path of this site to go back to after the login, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def landing_url(role: str) -> str:
    """Where a role lands after logging in: admins on the dashboard, the others on the panel."""
    if role in ADMINS:
        return url_for(DASHBOARD_ENDPOINT)
    if PANEL_ENDPOINT in current_app.view_functions:
        return url_for(PANEL_ENDPOINT)
    return url_for("pages.start")


@pages.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """The login page of every role."""
    texts = TEXTS[admin_language()]
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        user = page_auth.page_user()
        if user is not None:
            return redirect(next_url or landing_url(user.role))
        return render_admin("accounts/login.html", TEXTS, next_url=next_url, username="")
    username = request.form.get("username", "")
    try:
        user, tokens = page_auth.log_in(db.session, username, request.form.get("password", ""))
    except NotAuthenticated:
        return render_admin(
            "accounts/login.html",
            TEXTS,
            status=401,
            next_url=next_url,
            username=username,
            failed=texts["login_failed"],
        )
    except RateLimited as exc:
        response = error_page(429, exc.headers.get("Retry-After"))
        response.headers.update(exc.headers)
        return response
    if user.role in ADMINS:
        return redirect(next_url or landing_url(user.role))
    if PANEL_ENDPOINT not in current_app.view_functions:
        return redirect(landing_url(user.role))
    # The panel keeps its own login (tokens in localStorage): this one login serves both.
    return render_admin(
        "accounts/to_panel.html",
        TEXTS,
        panel_url=url_for(PANEL_ENDPOINT),
        panel_key=PANEL_TOKENS_KEY,
        tokens=tokens | {"expires_in": current_app.config["ACCESS_TOKEN_SECONDS"]},
    )


@pages.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    """End the login of these pages (and of the panel it served)."""
    page_auth.log_out(db.session)
    flash(TEXTS[admin_language()]["logged_out"], "ok")
    return redirect(url_for("account_pages.login"))


@pages.route("/account", methods=["GET", "POST"])
@page_auth.logged_in_page
def account() -> ResponseReturnValue:
    """One's own account: the pages' language, and a new password."""
    texts = TEXTS[admin_language()]
    user = db.session.get(User, page_auth.page_actor().user_id)
    errors: dict[str, Any] = {}
    if request.method == "POST" and request.form.get("form") == "language":
        language = request.form.get("language") or None
        if language is not None and language not in PAGE_LANGUAGES:
            return error_page(400)
        service.set_language(db.session, page_auth.page_actor(), language)
        flash(TEXTS[language or admin_language()]["saved"], "ok")
        return redirect(url_for("account_pages.account"))
    if request.method == "POST" and request.form.get("form") == "password":
        try:
            service.change_own_password(
                db.session,
                page_auth.page_actor(),
                request.form.get("current_password", ""),
                request.form.get("new_password", ""),
            )
        except ValidationFailed as exc:
            errors = exc.errors or {}
        else:
            page_auth.forget_login()
            flash(texts["password_changed"], "ok")
            return redirect(url_for("account_pages.login"))
    return render_admin(
        "accounts/account.html",
        TEXTS,
        status=400 if errors else 200,
        user=user,
        errors=errors,
        languages=[("", texts["language_browser"]), *LANGUAGE_NAMES.items()],
    )


@pages.route("/admin")
@page_auth.admin_page
def dashboard() -> ResponseReturnValue:
    """A school's figures with links to their lists; for the city IT admin every school's and
    their sum (`?school_id=` shows one school)."""
    actor = page_auth.page_actor()
    schools = service.list_schools(db.session, actor)
    school_id = request.args.get("school_id", "")
    if school_id:
        if not school_id.isdigit():
            return error_page(404)
        require_school(actor, int(school_id))
        schools = [school for school in schools if school.id == int(school_id)]
    refs = [SchoolRef(school.id, school.timezone) for school in schools]
    figures = dashboard_figures(db.session, refs, utcnow())
    return render_admin(
        "accounts/dashboard.html",
        TEXTS,
        schools=schools,
        figures=figures,
        totals=city_totals(figures) if len(schools) > 1 else [],
        columns=figures[schools[0].id] if schools else [],
        by_key={sid: {f.key: f for f in found} for sid, found in figures.items()},
        figure_url=figure_url,
    )
