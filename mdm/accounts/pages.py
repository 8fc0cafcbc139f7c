"""The accounts' pages: log in and out (every role), one's own account (language, password)."""

import base64
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from itsdangerous import BadData, URLSafeTimedSerializer

from mdm.accounts import page_auth, service, user_import
from mdm.accounts.models import ROLES, School, User
from mdm.accounts.password_slips import Slip, password_slips_pdf
from mdm.extensions import db
from mdm.platform import audit as audit_log
from mdm.platform.dashboard import (
    SchoolRef,
    city_totals,
    dashboard_figures,
    figure_text,
    figure_url,
)
from mdm.platform.errors import Conflict, NotAuthenticated, RateLimited, ValidationFailed
from mdm.platform.http import PAGE_LANGUAGES, base_url
from mdm.platform.pages import (
    admin_language,
    audit_target_url,
    confirm_page,
    confirmed,
    error_page,
    listing,
    page_blueprint,
    paging,
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
    lang = admin_language()
    # Each figure's text and link, made once here: the city's table has 90 rows of them.
    cells = {
        school.id: [
            (figure, figure_text(figure, school.timezone, lang), figure_url(figure))
            for figure in figures[school.id]
        ]
        for school in schools
    }
    return render_admin(
        "accounts/dashboard.html",
        TEXTS,
        schools=schools,
        cells=cells,
        totals=city_totals(figures) if len(schools) > 1 else [],
        columns=figures[schools[0].id] if schools else [],
    )


# --- users and classes ---------------------------------------------------------------------

SLIPS_SALT = "mdm-password-slips"
SLIPS_MAX_AGE = 3600  # seconds the page of new passwords can still make their PDF
IMPORT_MAX_BYTES = 4 * 1024 * 1024
USER_TEXTS: dict[str, dict[str, str]] = {
    "de": {
        "users": "Benutzer",
        "users_title": "Benutzerinnen und Benutzer",
        "search_users": "Name oder Benutzername",
        "name": "Name",
        "username": "Benutzername",
        "role": "Rolle",
        "class": "Klasse",
        "school": "Schule",
        "all": "Alle",
        "last_login": "Zuletzt angemeldet",
        "active": "Aktiv",
        "yes": "ja",
        "no": "nein",
        "filter": "Filtern",
        "import": "Aus CSV-Datei importieren",
        "classes": "Klassen",
        "classes_title": "Klassen",
        "search_classes": "Klasse",
        "students": "Schülerinnen und Schüler",
        "class_reset": "Passwörter neu setzen und drucken",
        "class_reset_question": "Alle {count} Schülerinnen und Schüler der Klasse {name} "
        "bekommen ein neues erstes Passwort; ihre bisherigen Passwörter und Anmeldungen enden. "
        "Die neuen Passwörter werden nur einmal angezeigt.",
        "user_title": "Benutzer {name}",
        "email": "E-Mail",
        "created": "Angelegt",
        "password_changed": "Passwort zuletzt geändert",
        "events": "Ereignisse im Protokoll",
        "reset": "Passwort zurücksetzen",
        "reset_question": "{name} bekommt ein neues erstes Passwort; das bisherige Passwort und "
        "alle Anmeldungen enden. Das neue Passwort wird nur einmal angezeigt.",
        "passwords_title": "Neue Passwörter",
        "passwords_once": "Diese Passwörter werden nur jetzt angezeigt. Drucken Sie die Zettel "
        "jetzt aus (PDF, ein Zettel pro Person); sie können später nicht wieder erzeugt werden.",
        "password": "Erstes Passwort",
        "pdf": "Zettel als PDF herunterladen",
        "slips_expired": "Die Zettel können nicht mehr erzeugt werden: Setzen Sie die "
        "Passwörter neu, um neue Zettel zu drucken.",
        "import_title": "Benutzer importieren",
        "import_intro": "Eine CSV-Datei aus der Schulverwaltung (z. B. Vorname;Nachname;Klasse). "
        "Zuerst sehen Sie, was der Import anlegen und ändern wird; erst danach wird er "
        "ausgeführt. Enthält eine Zeile einen Fehler, wird nichts importiert.",
        "file": "CSV-Datei",
        "role_of_file": "Rolle der Personen in der Datei",
        "role_from_file": "steht in der Datei (Spalte Rolle)",
        "preview": "Vorschau anzeigen",
        "preview_title": "Vorschau des Imports",
        "preview_intro": "So würde der Import die Konten anlegen und ändern. Noch ist nichts "
        "geändert.",
        "line": "Zeile",
        "action": "Änderung",
        "created_action": "neu",
        "updated_action": "geändert",
        "generated": "(erzeugt)",
        "apply": "Import ausführen",
        "errors_title": "Fehler in der Datei: nichts wurde importiert",
        "where": "Wo",
        "error": "Fehler",
        "no_file": "Bitte wählen Sie eine Datei.",
        "too_large": "Die Datei ist zu groß (höchstens 4 MB).",
        "imported": "Import ausgeführt: {created} neu, {updated} geändert.",
        "counts": "{created} Konten neu, {updated} geändert.",
    },
    "en": {
        "users": "Users",
        "users_title": "Users",
        "search_users": "Name or username",
        "name": "Name",
        "username": "Username",
        "role": "Role",
        "class": "Class",
        "school": "School",
        "all": "All",
        "last_login": "Last login",
        "active": "Active",
        "yes": "yes",
        "no": "no",
        "filter": "Filter",
        "import": "Import from a CSV file",
        "classes": "Classes",
        "classes_title": "Classes",
        "search_classes": "Class",
        "students": "Students",
        "class_reset": "Reset and print passwords",
        "class_reset_question": "All {count} students of class {name} get a new initial "
        "password; their passwords and logins end. The new passwords are shown only once.",
        "user_title": "User {name}",
        "email": "E-mail",
        "created": "Created",
        "password_changed": "Password last changed",
        "events": "Events in the audit log",
        "reset": "Reset password",
        "reset_question": "{name} gets a new initial password; the password and every login "
        "end. The new password is shown only once.",
        "passwords_title": "New passwords",
        "passwords_once": "These passwords are shown only now. Print the slips now (PDF, one "
        "slip per person); they cannot be made again later.",
        "password": "Initial password",
        "pdf": "Download the slips as PDF",
        "slips_expired": "The slips can no longer be made: reset the passwords to print new slips.",
        "import_title": "Import users",
        "import_intro": "A CSV file from the school office (e.g. Vorname;Nachname;Klasse). You "
        "first see what the import will create and change; only then is it applied. If a line "
        "has an error, nothing is imported.",
        "file": "CSV file",
        "role_of_file": "Role of the people in the file",
        "role_from_file": "given in the file (column role)",
        "preview": "Show the preview",
        "preview_title": "Preview of the import",
        "preview_intro": "This is what the import would create and change. Nothing is changed yet.",
        "line": "Line",
        "action": "Change",
        "created_action": "new",
        "updated_action": "changed",
        "generated": "(generated)",
        "apply": "Apply the import",
        "errors_title": "Errors in the file: nothing was imported",
        "where": "Where",
        "error": "Error",
        "no_file": "Please choose a file.",
        "too_large": "The file is too large (4 MB at most).",
        "imported": "Import applied: {created} new, {updated} changed.",
        "counts": "{created} accounts new, {updated} changed.",
    },
}
ROLE_NAMES = {
    "de": {
        "it_admin": "IT der Stadt",
        "school_admin": "Schul-Admin",
        "teacher": "Lehrkraft",
        "student": "Schüler/in",
    },
    "en": {
        "it_admin": "City IT",
        "school_admin": "School admin",
        "teacher": "Teacher",
        "student": "Student",
    },
}
for _lang, _texts in USER_TEXTS.items():
    _texts.update({f"role_{role}": name for role, name in ROLE_NAMES[_lang].items()})
NAV.update(
    {
        "users": {"de": "Benutzer", "en": "Users"},
        "classes": {"de": "Klassen", "en": "Classes"},
    }
)


def _school_filter(actor_school: int | None) -> int | None:
    """The `school_id` of the query, for the city IT admin (others see their school)."""
    raw = request.args.get("school_id", "")
    if actor_school is not None or not raw.isdigit():
        return None
    return int(raw)


def _schools_by_id() -> dict[int, School]:
    return {
        school.id: school for school in service.list_schools(db.session, page_auth.page_actor())
    }


@pages.route("/admin/users")
@page_auth.admin_page
def users() -> ResponseReturnValue:
    """The users the admin manages, searched by name or username, filtered by role and class."""
    actor = page_auth.page_actor()
    page = paging()
    role = request.args.get("role", "")
    role = role if role in ROLES else ""
    class_name = request.args.get("class_name", "").strip()[:40]
    school_id = _school_filter(actor.school_id)
    rows, total = service.list_users(
        db.session,
        actor,
        school_id=school_id,
        role=role or None,
        class_name=class_name or None,
        search=page.search or None,
        limit=page.limit,
        offset=page.offset,
    )
    return render_admin(
        "accounts/users.html",
        USER_TEXTS,
        list=listing(rows, total, page, role=role, class_name=class_name, school_id=school_id),
        filters={"role": role, "class_name": class_name, "school_id": school_id or ""},
        roles=ROLES,
        schools=_schools_by_id(),
    )


@pages.route("/admin/users/<int:user_id>")
@page_auth.admin_page
def user(user_id: int) -> ResponseReturnValue:
    """One account, its events, and resetting its password."""
    found = service.get_user(db.session, page_auth.page_actor(), user_id)
    schools = _schools_by_id()
    home = schools.get(found.school_id) if found.school_id else None
    return render_admin(
        "accounts/user.html",
        USER_TEXTS,
        user=found,
        schools=schools,
        timezone=home.timezone if home else current_app.config["DEFAULT_TIMEZONE"],
    )


@pages.route("/admin/users/<int:user_id>/reset-password", methods=["POST"])
@page_auth.admin_page
def reset_password(user_id: int) -> ResponseReturnValue:
    """A new initial password for one account, after a confirmation; shown once, with its slip."""
    texts = USER_TEXTS[admin_language()]
    actor = page_auth.page_actor()
    found = service.get_user(db.session, actor, user_id)
    if not confirmed():
        return confirm_page(
            texts["reset_question"].format(name=found.display_name),
            texts["reset"],
            url_for("account_pages.user", user_id=user_id),
        )
    return _new_passwords(service.reset_passwords(db.session, actor, [found.id]))


@pages.route("/admin/classes")
@page_auth.admin_page
def classes() -> ResponseReturnValue:
    """The students' classes with their number of students."""
    actor = page_auth.page_actor()
    page = paging(per_page=100)
    school_id = _school_filter(actor.school_id)
    rows = service.list_classes(db.session, actor, school_id=school_id, search=page.search)
    shown = rows[page.offset : page.offset + page.limit]
    return render_admin(
        "accounts/classes.html",
        USER_TEXTS,
        list=listing(shown, len(rows), page, school_id=school_id),
        schools=_schools_by_id(),
    )


@pages.route("/admin/classes/reset-passwords", methods=["POST"])
@page_auth.admin_page
def reset_class_passwords() -> ResponseReturnValue:
    """New initial passwords for every student of a class, after a confirmation; shown once,
    with their slips."""
    texts = USER_TEXTS[admin_language()]
    actor = page_auth.page_actor()
    school_id = request.form.get("school_id", "")
    class_name = request.form.get("class_name", "")
    if not school_id.isdigit() or not class_name:
        return error_page(400)
    students, total = service.list_users(
        db.session,
        actor,
        school_id=int(school_id),
        role="student",
        class_name=class_name,
        limit=10_000,
    )
    if not students:
        return error_page(404)
    if not confirmed():
        return confirm_page(
            texts["class_reset_question"].format(count=total, name=class_name),
            texts["class_reset"],
            url_for("account_pages.classes"),
        )
    reset = service.reset_passwords(db.session, actor, [student.id for student in students])
    return _new_passwords(reset)


def _slips_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SLIPS_SALT)


def _new_passwords(
    reset: list[tuple[User, str]], heading: str | None = None, status: int = 200
) -> ResponseReturnValue:
    """The page of new passwords: shown once, with the form that makes their PDF slips (the
    passwords travel signed in the form, for an hour; they are stored nowhere)."""
    schools = _schools_by_id()
    school = schools.get(reset[0][0].school_id) if reset and reset[0][0].school_id else None
    signed = _slips_serializer().dumps(
        {
            "school": school.name if school else "",
            "slips": [
                [user.display_name, user.class_name or "", user.username, password]
                for user, password in reset
            ],
        }
    )
    return render_admin(
        "accounts/passwords.html",
        USER_TEXTS,
        status=status,
        reset=reset,
        signed=signed,
        heading=heading,
    )


@pages.route("/admin/users/password-slips.pdf", methods=["POST"])
@page_auth.admin_page
def password_slips() -> ResponseReturnValue:
    """The PDF of the slips of new passwords, from the page that showed them (within an hour)."""
    try:
        data = _slips_serializer().loads(request.form.get("slips", ""), max_age=SLIPS_MAX_AGE)
    except BadData:
        flash(USER_TEXTS[admin_language()]["slips_expired"], "error")
        return redirect(url_for("account_pages.users"))
    slips = [Slip(*entry) for entry in data["slips"]]
    pdf = password_slips_pdf(
        data["school"],
        f"{base_url()}{url_for('account_pages.login')}",
        slips,
        Path(current_app.config["PDF_FONT"]) if current_app.config["PDF_FONT"] else None,
        admin_language(),
    )
    classes = sorted({slip.class_name for slip in slips if slip.class_name})
    name = "passwoerter" + (f"-{classes[0]}" if len(classes) == 1 else "")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{safe}.pdf"',
            "Cache-Control": "no-store",
        },
    )


@pages.route("/admin/users/import", methods=["GET", "POST"])
@page_auth.admin_page
def import_users() -> ResponseReturnValue:
    """The CSV import: upload, a preview of what it will create and change (or each line's
    error), then apply; the new accounts' initial passwords are shown once, with their slips."""
    texts = USER_TEXTS[admin_language()]
    actor = page_auth.page_actor()
    schools = service.list_schools(db.session, actor)
    form = {
        "school_id": request.form.get("school_id", str(actor.school_id or "")),
        "role": request.form.get("role", "student"),
    }
    context: dict[str, Any] = {
        "schools": schools,
        "school_options": [(school.id, school.name) for school in schools],
        "form": form,
        "errors": {},
    }
    if request.method == "GET":
        return render_admin("accounts/import.html", USER_TEXTS, **context)
    role = form["role"] if form["role"] in ("student", "teacher") else None
    if not form["school_id"].isdigit():
        context["errors"] = {"school_id": ["?"]}
        return render_admin("accounts/import.html", USER_TEXTS, status=400, **context)
    school_id = int(form["school_id"])
    content = _uploaded_csv()
    if isinstance(content, str):
        context["errors"] = {"file": [texts[content]]}
        return render_admin("accounts/import.html", USER_TEXTS, status=400, **context)
    if request.form.get("step") != "apply":
        return _import_preview(school_id, role, content, context)
    try:
        result = user_import.import_users_csv(db.session, actor, school_id, content, role)
    except ValidationFailed as exc:
        context["file_errors"] = exc.errors or {"file": [exc.detail]}
        return render_admin("accounts/import.html", USER_TEXTS, status=400, **context)
    flash(texts["imported"].format(created=len(result.created), updated=len(result.updated)), "ok")
    created = [
        (user, result.initial_passwords[user.username])
        for user in result.created
        if user.username in result.initial_passwords
    ]
    if not created:
        return redirect(url_for("account_pages.users", school_id=school_id))
    return _new_passwords(created)


def _uploaded_csv() -> bytes | str:
    """The file of the form (uploaded, or carried from the preview), or the key of what is
    wrong with it."""
    carried = request.form.get("content")
    if carried:
        try:
            content = base64.b64decode(carried, validate=True)
        except ValueError:
            return "no_file"
    else:
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return "no_file"
        content = upload.read(IMPORT_MAX_BYTES + 1)
    if len(content) > IMPORT_MAX_BYTES:
        return "too_large"
    return content if content else "no_file"


def _import_preview(
    school_id: int, role: str | None, content: bytes, context: dict[str, Any]
) -> ResponseReturnValue:
    """Run the import in a savepoint that is rolled back: the service itself says what it would
    do, or which lines are wrong, and nothing is changed."""
    actor = page_auth.page_actor()
    savepoint = db.session.begin_nested()
    try:
        result = user_import.import_users_csv(db.session, actor, school_id, content, role)
        users_by_name = {user.username: user for user in (*result.created, *result.updated)}
        lines = [
            {
                "line": line.line,
                "username": line.username,
                "generated": line.username_generated,
                "action": line.action,
                "name": users_by_name[line.username].display_name,
                "class_name": users_by_name[line.username].class_name or "",
                "role": users_by_name[line.username].role,
            }
            for line in result.lines
        ]
        counts = {"created": len(result.created), "updated": len(result.updated)}
        context.update(lines=lines, counts=counts)
    except ValidationFailed as exc:
        context["file_errors"] = exc.errors or {"file": [exc.detail]}
    finally:
        savepoint.rollback()
    context["content"] = base64.b64encode(content).decode()
    status = 400 if "file_errors" in context else 200
    return render_admin("accounts/import.html", USER_TEXTS, status=status, **context)


# --- the audit log -------------------------------------------------------------------------

AUDIT_TEXTS: dict[str, dict[str, str]] = {
    "de": {
        "audit_title": "Protokoll",
        "who": "Wer (Benutzername)",
        "what": "Was (Aktion, z. B. user. oder device.lock)",
        "since": "Von (Tag)",
        "until": "Bis (Tag, einschließlich)",
        "object_type": "Objektart (z. B. user, device)",
        "object_id": "Objekt-Nr.",
        "school": "Schule",
        "all": "Alle",
        "filter": "Filtern",
        "when": "Wann",
        "object": "Objekt",
        "details": "Einzelheiten",
        "address": "Adresse",
        "bad_date": "Ein Tag als JJJJ-MM-TT.",
    },
    "en": {
        "audit_title": "Audit log",
        "who": "Who (username)",
        "what": "What (action, e.g. user. or device.lock)",
        "since": "From (day)",
        "until": "To (day, inclusive)",
        "object_type": "Kind of object (e.g. user, device)",
        "object_id": "Object no.",
        "school": "School",
        "all": "All",
        "filter": "Filter",
        "when": "When",
        "object": "Object",
        "details": "Details",
        "address": "Address",
        "bad_date": "A day as YYYY-MM-DD.",
    },
}
NAV["audit"] = {"de": "Protokoll", "en": "Audit log"}


def _day_start(raw: str, timezone: str) -> datetime | None:
    """The start of a day (YYYY-MM-DD) in the time zone, as UTC; None for no day."""
    if not raw:
        return None
    day = date.fromisoformat(raw)
    return datetime.combine(day, time(), ZoneInfo(timezone)).astimezone(UTC)


@pages.route("/admin/audit")
@page_auth.admin_page
def audit() -> ResponseReturnValue:
    """The audit log, newest first, filtered by who, what, when and object; an object's page
    links here with its kind and number."""
    actor = page_auth.page_actor()
    page = paging()
    args = {
        name: request.args.get(name, "").strip()[:80]
        for name in ("who", "what", "since", "until", "target_type", "target_id", "school_id")
    }
    schools = _schools_by_id()
    timezone = (
        schools[actor.school_id].timezone
        if actor.school_id in schools
        else current_app.config["DEFAULT_TIMEZONE"]
    )
    errors: dict[str, list[str]] = {}
    bounds: dict[str, datetime | None] = {}
    for name in ("since", "until"):
        try:
            bounds[name] = _day_start(args[name], timezone)
        except ValueError:
            errors[name] = [AUDIT_TEXTS[admin_language()]["bad_date"]]
            bounds[name] = None
    until = bounds["until"] + timedelta(days=1) if bounds["until"] else None
    rows, total = audit_log.list_events(
        db.session,
        actor,
        school_id=int(args["school_id"]) if args["school_id"].isdigit() else None,
        action=args["what"] or None,
        actor_name=args["who"].lower() or None,
        target_type=args["target_type"] or None,
        target_id=args["target_id"] or None,
        since=bounds["since"],
        until=until,
        limit=page.limit,
        offset=page.offset,
    )
    return render_admin(
        "accounts/audit.html",
        AUDIT_TEXTS,
        status=400 if errors else 200,
        list=listing(rows, total, page, **args),
        args=args,
        errors=errors,
        schools=schools,
        school_options=[(str(school.id), school.name) for school in schools.values()],
        timezone=timezone,
        target_url=audit_target_url,
    )


# --- schools (city IT admin) ---------------------------------------------------------------

SCHOOL_TEXTS: dict[str, dict[str, str]] = {
    "de": {
        "schools_title": "Schulen",
        "new_school": "Neue Schule",
        "slug": "Kurzname (für Adressen)",
        "slug_hint": "2 bis 63 Kleinbuchstaben, Ziffern oder Bindestriche, z. B. gymnasium-nord.",
        "name": "Name",
        "timezone": "Zeitzone",
        "create": "Anlegen",
        "created": "Die Schule {name} ist angelegt.",
        "school_title": "Schule {name}",
        "admins": "Schul-Admins",
        "new_admin": "Neue Schul-Admin",
        "username": "Benutzername",
        "first_name": "Vorname",
        "last_name": "Nachname",
        "email": "E-Mail",
        "admin_created": "Das Konto {username} ist angelegt.",
        "notices": "Datenschutzhinweise",
        "dashboard": "Übersicht der Schule",
        "events": "Ereignisse im Protokoll",
        "none": "Noch keine.",
    },
    "en": {
        "schools_title": "Schools",
        "new_school": "New school",
        "slug": "Short name (for addresses)",
        "slug_hint": "2 to 63 lower-case letters, digits or dashes, e.g. gymnasium-nord.",
        "name": "Name",
        "timezone": "Time zone",
        "create": "Create",
        "created": "The school {name} is created.",
        "school_title": "School {name}",
        "admins": "School admins",
        "new_admin": "New school admin",
        "username": "Username",
        "first_name": "First name",
        "last_name": "Last name",
        "email": "E-mail",
        "admin_created": "The account {username} is created.",
        "notices": "Privacy notices",
        "dashboard": "The school's overview",
        "events": "Events in the audit log",
        "none": "None yet.",
    },
}
NAV["schools"] = {"de": "Schulen", "en": "Schools"}
NOTICES_ENDPOINT = "notice_pages.notices"


@pages.route("/admin/schools", methods=["GET", "POST"])
@page_auth.city_admin_page
def schools() -> ResponseReturnValue:
    """Every school, and a form that creates one."""
    actor = page_auth.page_actor()
    errors: dict[str, Any] = {}
    form = {
        "slug": request.form.get("slug", ""),
        "name": request.form.get("name", ""),
        "timezone": request.form.get("timezone", current_app.config["DEFAULT_TIMEZONE"]),
    }
    if request.method == "POST":
        if not form["name"].strip():
            errors["name"] = ["?"]
        else:
            try:
                school = service.create_school(
                    db.session, actor, form["slug"], form["name"], form["timezone"]
                )
            except (ValidationFailed, Conflict) as exc:
                errors = exc.errors or {"slug": [exc.detail]}
            else:
                texts = SCHOOL_TEXTS[admin_language()]
                flash(texts["created"].format(name=school.name), "ok")
                return redirect(url_for("account_pages.school", school_id=school.id))
    return render_admin(
        "accounts/schools.html",
        SCHOOL_TEXTS,
        status=400 if errors else 200,
        schools=service.list_schools(db.session, actor),
        form=form,
        errors=errors,
    )


@pages.route("/admin/schools/<int:school_id>", methods=["GET", "POST"])
@page_auth.city_admin_page
def school(school_id: int) -> ResponseReturnValue:
    """One school: its admins and a form that creates one (with an initial password, shown
    once with its slip), its privacy notices, its overview and events."""
    actor = page_auth.page_actor()
    found = service.get_school(db.session, actor, school_id)
    errors: dict[str, Any] = {}
    form = {
        name: request.form.get(name, "")
        for name in ("username", "first_name", "last_name", "email")
    }
    if request.method == "POST":
        password = service.new_initial_password()
        try:
            admin = service.create_user(
                db.session,
                actor,
                username=form["username"],
                role="school_admin",
                password=password,
                school_id=found.id,
                first_name=form["first_name"],
                last_name=form["last_name"],
                email=form["email"] or None,
            )
        except (ValidationFailed, Conflict) as exc:
            errors = exc.errors or {"username": [exc.detail]}
        else:
            texts = SCHOOL_TEXTS[admin_language()]
            flash(texts["admin_created"].format(username=admin.username), "ok")
            return _new_passwords([(admin, password)])
    admins, _total = service.list_users(
        db.session, actor, school_id=found.id, role="school_admin", limit=200
    )
    notices_url = (
        url_for(NOTICES_ENDPOINT, school_id=found.id)
        if NOTICES_ENDPOINT in current_app.view_functions
        else None
    )
    return render_admin(
        "accounts/school.html",
        SCHOOL_TEXTS,
        status=400 if errors else 200,
        school=found,
        admins=admins,
        form=form,
        errors=errors,
        notices_url=notices_url,
    )
