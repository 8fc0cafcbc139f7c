"""Account-driven User Enrollment's endpoints: the well-known service discovery document, the
device's enrollment request (401 to the login page, or its profile for a valid access token),
and the login page the device's web view shows the owner (German and English, no JavaScript,
CSRF on its forms). Apple's endpoints never open the pages' cookie session
(mdm.platform.http.NO_SESSION_PREFIXES); the login page is a page like any other."""

import json
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, redirect, request, session

from enrollment import apple_account, mobileconfig
from enrollment.apple_account import AccountMismatch, NotOffered, Offer
from mdm.accounts.models import User
from mdm.apple.api import MessageTooLarge, UnsupportedType
from mdm.extensions import db
from mdm.pages import render_page
from mdm.platform.errors import NotAuthenticated, RateLimited, ValidationFailed
from mdm.platform.headers import allow_form_action
from mdm.platform.http import client_address, page_language
from mdm.platform.pages import renew_csrf_token
from mdm.platform.types import utcnow

pages = Blueprint("apple_account", __name__, template_folder="templates")
# The device's enrollment request: its device information, CMS-signed (accepted, not read).
REQUEST_TYPES = ("application/pkcs7-signature", "")
# The page session's entry of a login that has yet to consent: who, for which device account,
# until when.
PENDING_KEY = "apple_account_login"
IDENTIFIER_LENGTH = 254
NO_STORE = {"Cache-Control": "no-store"}

TEXTS: dict[str, dict[str, str]] = {
    "de": {
        "title": "Eigenes iPhone oder iPad bei der Schule anmelden",
        "intro": "Sie melden Ihr eigenes iPhone oder iPad mit Ihrem Schulkonto bei der "
        "Geräteverwaltung Ihrer Schule an (Apples Benutzerregistrierung). Melden Sie sich mit "
        "dem Benutzernamen und Passwort Ihres Schulkontos an; danach lesen Sie, was die Schule "
        "auf Ihrem Gerät kann, und stimmen dem Datenschutzhinweis zu.",
        "account": "Apple-Account auf dem Gerät: {identifier}",
        "username": "Benutzername",
        "password": "Passwort",
        "login": "Anmelden",
        "login_failed": "Benutzername oder Passwort ist falsch.",
        "rate_limited": "Zu viele Versuche. Bitte warten Sie {retry} Sekunden und versuchen Sie "
        "es dann noch einmal.",
        "again": "Die Anmeldung ist abgelaufen. Bitte melden Sie sich noch einmal an.",
        "mismatch": "Dieses Schulkonto gehört nicht zum Apple-Account, mit dem sich das Gerät "
        "angemeldet hat ({identifier}): Die E-Mail-Adresse des Schulkontos muss dieser "
        "Apple-Account sein. Melden Sie sich mit Ihrem eigenen Schulkonto an, oder bitten Sie "
        "die IT Ihrer Schule, die E-Mail-Adresse Ihres Kontos zu prüfen.",
        "no_identifier": "Diese Seite öffnet das iPhone oder iPad selbst, wenn Sie sich in "
        "Einstellungen › Allgemein › VPN und Geräteverwaltung mit dem Apple-Account Ihres "
        "Schulkontos anmelden.",
        "not_offered": "Ihre Schule bietet das nicht an.",
        "not_offered_role": "Eigene Geräte schreiben nur Schülerinnen, Schüler und Lehrkräfte ein.",
        "not_offered_notice": "Die Schule hat noch keinen Datenschutzhinweis veröffentlicht.",
        "not_offered_push": "Apples Geräteverwaltung ist für Ihre Schule noch nicht eingerichtet "
        "(es fehlt ihr Push-Zertifikat von Apple).",
        "not_offered_token": "Die Schule hat keine Einschreibung eigener Geräte für Sie "
        "freigegeben (kein gültiger Einschreibelink für eigene Geräte).",
        "ask_it": "Fragen Sie bei Bedarf die IT Ihrer Schule.",
        "consent_title": "Ihr iPhone oder iPad bei {school} einschreiben",
        "can_heading": "Was die Schule auf Ihrem Gerät kann",
        "can_separate": "Die Schule verwaltet nur einen eigenen, getrennten Bereich für ihre "
        "Apps, Daten und Einstellungen. Ihre eigenen Apps, Fotos, Nachrichten und Daten bleiben "
        "Ihre; die Schule sieht sie nicht.",
        "can_manage": "Sie darf dort nur ihre eigenen Einstellungen und Apps verwalten: eine "
        "Code-Sperre verlangen, WLAN-Netze einrichten und die Apps der Schule installieren und "
        "entfernen.",
        "can_sees": "Die Schule speichert: Modell und Systemversion des Geräts, Ihr Schulkonto "
        "als Besitzer, wann es eingeschrieben wurde (und von welcher Netzwerkadresse), wann es "
        "sich zuletzt gemeldet hat, und dass Sie diesem Hinweis zugestimmt haben.",
        "cannot_heading": "Was die Schule nicht kann",
        "cannot": "Die Schule kann Ihr Gerät nie löschen, sperren, orten oder seinen Code "
        "zurücksetzen. Seriennummer, Gerätekennung (UDID), IMEI, Telefonnummer, Standort und "
        "die Liste Ihrer eigenen Apps erhält sie nicht.",
        "end": "Die Verwaltung beenden Sie jederzeit selbst: in Einstellungen › Allgemein › VPN "
        "und Geräteverwaltung das Schulkonto abmelden. Dann entfernt das Gerät die Apps und "
        "Daten der Schule. Was die Schule über Ihre Geräte speichert, sehen Sie mit Ihrem "
        "Schulkonto (GET /api/v1/me/devices).",
        "notice_heading": "Datenschutzhinweis der Schule (Version {version})",
        "accept": "Ich habe den Datenschutzhinweis (Version {version}) gelesen und stimme ihm zu.",
        "accept_missing": "Bitte stimmen Sie dem Datenschutzhinweis zu, um fortzufahren.",
        "notice_changed": "Die Schule hat inzwischen einen neuen Datenschutzhinweis "
        "veröffentlicht. Bitte lesen Sie ihn und stimmen Sie erneut zu.",
        "enroll": "Zustimmen und Gerät einschreiben",
    },
    "en": {
        "title": "Sign in your own iPhone or iPad with the school",
        "intro": "You sign in your own iPhone or iPad with your school account to your "
        "school's device management (Apple's User Enrollment). Log in with your school "
        "account's username and password; you then read what the school can do on your device "
        "and agree to the privacy notice.",
        "account": "Apple Account on the device: {identifier}",
        "username": "Username",
        "password": "Password",
        "login": "Log in",
        "login_failed": "Wrong username or password.",
        "rate_limited": "Too many attempts. Please wait {retry} seconds, then try again.",
        "again": "The login has expired. Please log in again.",
        "mismatch": "This school account does not belong to the Apple Account the device "
        "signed in with ({identifier}): the school account's email address must be that Apple "
        "Account. Log in with your own school account, or ask your school's IT to check your "
        "account's email address.",
        "no_identifier": "The iPhone or iPad opens this page itself when you sign in with your "
        "school account's Apple Account in Settings › General › VPN & Device Management.",
        "not_offered": "Your school does not offer this.",
        "not_offered_role": "Only students and teachers enroll their own devices.",
        "not_offered_notice": "The school has not published a privacy notice yet.",
        "not_offered_push": "Apple's device management is not set up for your school yet (its "
        "push certificate from Apple is missing).",
        "not_offered_token": "The school has not opened the enrollment of personal devices to "
        "you (no valid enrollment link for personal devices).",
        "ask_it": "Ask your school's IT if you need it.",
        "consent_title": "Enroll your iPhone or iPad at {school}",
        "can_heading": "What the school can do on your device",
        "can_separate": "The school manages only a separate area of its own for its apps, data "
        "and settings. Your own apps, photos, messages and data stay yours; the school does not "
        "see them.",
        "can_manage": "It may only manage its own settings and apps there: require a passcode, "
        "set up Wi-Fi networks, and install and remove the school's apps.",
        "can_sees": "The school stores: the device's model and system version, your school "
        "account as its owner, when it was enrolled (and from which network address), when it "
        "last checked in, and that you agreed to this notice.",
        "cannot_heading": "What the school cannot do",
        "cannot": "The school can never erase, lock or locate your device or reset its "
        "passcode. It never gets the serial number, the device identifier (UDID), the IMEI, "
        "the phone number, the location or the list of your own apps.",
        "end": "You end the management yourself at any time: sign out of the school account in "
        "Settings › General › VPN & Device Management. The device then removes the school's "
        "apps and data. You can see what the school stores about your devices with your school "
        "account (GET /api/v1/me/devices).",
        "notice_heading": "The school's privacy notice (version {version})",
        "accept": "I have read the privacy notice (version {version}) and agree to it.",
        "accept_missing": "Please agree to the privacy notice to go on.",
        "notice_changed": "The school has published a new privacy notice meanwhile. Please read "
        "it and agree again.",
        "enroll": "Agree and enroll the device",
    },
}


@pages.route("/.well-known/com.apple.remotemanagement")
def discovery() -> Response:
    """Service discovery of account-driven enrollment: the same document for every
    user-identifier and model-family (the school's mail domain serves it, docs/apple.md)."""
    return Response(
        json.dumps(apple_account.discovery_document()),
        mimetype="application/json",
    )


@pages.route("/apple/account-enrollment", methods=["POST"])
def enrollment_request() -> Response:
    """The device asks for its enrollment profile: without a valid access token a 401 that
    sends it to the login page; with one, the profile (once)."""
    if request.mimetype not in REQUEST_TYPES:
        raise UnsupportedType("send the device information as application/pkcs7-signature")
    limit = apple_account.MAX_REQUEST_BYTES
    if request.content_length is not None and request.content_length > limit:
        raise MessageTooLarge(f"an enrollment request may have at most {limit} bytes")
    request.get_data(cache=False)
    profile = apple_account.fetch_profile(
        db.session, request.headers.get("Authorization"), client_address()
    )
    return Response(
        profile,
        mimetype=mobileconfig.MIMETYPE,
        headers={
            **NO_STORE,
            "Content-Disposition": 'attachment; filename="user-enrollment.mobileconfig"',
        },
    )


def _render(lang: str, status: int, **context: Any) -> tuple[str, int, dict[str, str]]:
    context.setdefault("title", TEXTS[lang]["title"])
    html = render_page("enrollment/apple_account.html", TEXTS, **context)
    return html, status, {**NO_STORE, "Content-Language": lang}


def _login_form(
    lang: str, identifier: str, status: int = 200, failed: str = "", username: str = ""
) -> tuple[str, int, dict[str, str]]:
    return _render(
        lang, status, step="login", identifier=identifier, failed=failed, username=username
    )


def _not_offered(lang: str, reason: str) -> tuple[str, int, dict[str, str]]:
    t = TEXTS[lang]
    return _render(
        lang,
        409,
        step="message",
        reasons=[t["not_offered"], t[f"not_offered_{reason}"], t["ask_it"]],
    )


def _consent_form(
    lang: str, identifier: str, offer: Offer, status: int = 200, failed: str = ""
) -> tuple[str, int, dict[str, str]]:
    # The answer to this form sends the web view on to the device's own URL scheme.
    allow_form_action(apple_account.RESULT_URL.split("//", 1)[0])
    t = TEXTS[lang]
    return _render(
        lang,
        status,
        step="consent",
        title=t["consent_title"].format(school=offer.school.name),
        identifier=identifier,
        notice=offer.notice,
        failed=failed,
    )


@pages.route("/enroll/apple-account/login", methods=["GET", "POST"])
def login() -> Any:
    """The owner logs in (the platform's login rules), then reads what the school can do on
    a personal device and consents to its privacy notice; the device gets its access token."""
    lang = page_language()
    identifier = " ".join(request.values.get("user-identifier", "").split())[:IDENTIFIER_LENGTH]
    if not identifier:
        return _render(lang, 400, step="message", reasons=[TEXTS[lang]["no_identifier"]])
    if request.method == "GET":
        return _login_form(lang, identifier)
    if request.form.get("step") == "consent":
        return _consent(lang, identifier)
    return _log_in(lang, identifier)


def _log_in(lang: str, identifier: str) -> Any:
    t = TEXTS[lang]
    username = request.form.get("username", "")
    try:
        offer = apple_account.check_owner(
            db.session, username, request.form.get("password", ""), identifier
        )
    except RateLimited as exc:
        retry = exc.headers.get("Retry-After", "60")
        page = _login_form(lang, identifier, 429, t["rate_limited"].format(retry=retry), username)
        return page[0], page[1], {**page[2], **exc.headers}
    except NotAuthenticated:
        return _login_form(lang, identifier, 401, t["login_failed"], username)
    except AccountMismatch:
        return _login_form(lang, identifier, 403, t["mismatch"].format(identifier=identifier))
    except NotOffered as exc:
        return _not_offered(lang, exc.reason)
    seconds = int(current_app.config["APPLE_ACCOUNT_TOKEN_SECONDS"])
    session[PENDING_KEY] = {
        "user_id": offer.user.id,
        "generation": offer.user.login_generation or 0,
        # This login's id: it makes one access token, even if this cookie is sent again.
        "login": secrets.token_urlsafe(16),
        "identifier": identifier,
        "until": (utcnow() + timedelta(seconds=seconds)).timestamp(),
    }
    # A token made before the login never serves after it (as at every page login).
    renew_csrf_token()
    return _consent_form(lang, identifier, offer)


def _consent(lang: str, identifier: str) -> Any:
    t = TEXTS[lang]
    pending = session.get(PENDING_KEY)
    if (
        not isinstance(pending, dict)
        or pending.get("identifier") != identifier
        or pending.get("until", 0) <= utcnow().timestamp()
    ):
        session.pop(PENDING_KEY, None)
        return _login_form(lang, identifier, 401, t["again"])
    version = request.form.get("notice_version", "")
    try:
        token = apple_account.grant_access(
            db.session,
            user_id=int(pending["user_id"]),
            login_generation=int(pending["generation"]),
            login_id=str(pending.get("login", "")),
            user_identifier=identifier,
            notice_version=int(version) if version.isdigit() else None,
            accepted=request.form.get("accept") == "yes",
            address=client_address(),
        )
    except NotAuthenticated:
        session.pop(PENDING_KEY, None)
        return _login_form(lang, identifier, 401, t["again"])
    except NotOffered as exc:
        session.pop(PENDING_KEY, None)
        return _not_offered(lang, exc.reason)
    except ValidationFailed as exc:
        user = db.session.get(User, int(pending["user_id"]))
        assert user is not None
        offer = apple_account.offer_for(db.session, user)
        changed = "notice_version" in (exc.errors or {})
        failed = t["notice_changed"] if changed else t["accept_missing"]
        return _consent_form(lang, identifier, offer, 400, failed)
    session.pop(PENDING_KEY, None)
    query = urlencode({"access-token": token})
    response = redirect(f"{apple_account.RESULT_URL}?{query}", code=303)
    # It carries the access token: kept by no cache (as OAuth's token answers).
    response.headers.update(NO_STORE)
    return response
