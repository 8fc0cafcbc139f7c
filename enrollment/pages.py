"""The enrollment pages for admins: the school's tokens, a form for a new token (for a class,
a group, personal devices, or a trolley of shared tablets with one token per slot), the token
shown once with its printable sheet (PDF, made right then: the secret is never shown again),
a token's enrolled devices, and revoking it."""

import base64
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from enrollment import page as enrollment_page
from enrollment import qr, service, sheet
from enrollment.models import EnrollmentToken
from mdm.accounts.models import School
from mdm.accounts.page_auth import admin_page, page_actor
from mdm.devices import groups as group_service
from mdm.devices.models import PLATFORMS, Group
from mdm.extensions import db
from mdm.platform.actors import Actor
from mdm.platform.errors import NotFound, ValidationFailed
from mdm.platform.pages import (
    admin_language,
    confirm_page,
    confirmed,
    listing,
    page_blueprint,
    paging,
    render_admin,
)
from mdm.platform.types import utcnow

pages = page_blueprint("enrollment_admin_pages", __name__, url_prefix="/admin/enrollment")
NAV = {"de": "Einschreibung", "en": "Enrollment"}
PURPOSES = ("class", "group", "byod", "trolley")
TEXTS: dict[str, dict[str, Any]] = {
    "de": {
        "title": "Einschreibung",
        "intro": "Mit einem Einschreibe-Code (Link und QR-Code) schreiben sich Geräte bei der "
        "Schule ein. Der Code wird nur einmal angezeigt, gleich nach dem Anlegen: Drucken Sie "
        "dann das Blatt.",
        "tokens": "Einschreibe-Codes",
        "label": "Bezeichnung",
        "for": "Für",
        "uses": "Genutzt",
        "state": "Status",
        "expires": "Gültig bis",
        "states": {
            "active": "gültig",
            "revoked": "zurückgezogen",
            "expired": "abgelaufen",
            "exhausted": "aufgebraucht",
        },
        "create_heading": "Neuer Einschreibe-Code",
        "purpose": "Wofür?",
        "purposes": {
            "class": "Geräte einer Klasse",
            "group": "Geräte einer Gruppe",
            "byod": "Private Geräte (BYOD) von Schülerinnen, Schülern oder Lehrkräften",
            "trolley": "Ein Koffer gemeinsam genutzter Tablets: ein QR-Code je Platz",
        },
        "school": "Schule",
        "class": "Klasse",
        "group": "Gruppe",
        "user_role": "Wer nutzt die Geräte?",
        "roles": {
            "student": "Schülerinnen und Schüler",
            "teacher": "Lehrkräfte",
            "shared": "gemeinsam genutzt",
        },
        "platform": "Plattform",
        "any_platform": "jede Plattform",
        "max_uses": "Wie viele Geräte höchstens?",
        "valid_days": "Gültig für (Tage)",
        "label_hint": "Zum Wiedererkennen, z. B. „iPads 7a“.",
        "trolley": "Name des Koffers",
        "trolley_hint": "z. B. „Koffer 3“; jeder Platz heißt dann „Koffer 3 – iPad 1“ usw.",
        "device_word": "Gerät",
        "slots": "Anzahl der Plätze",
        "first_slot": "Erster Platz",
        "trolley_only": "Nur für einen Koffer:",
        "choose_group": "Bitte wählen Sie eine Klasse oder Gruppe der Schule.",
        "class_group_only": "Nur für eine Klasse oder Gruppe:",
        "create": "Anlegen",
        "created_title": "Einschreibe-Code angelegt",
        "created_trolley_title": "{count} Einschreibe-Codes für {trolley} angelegt",
        "shown_once": "Dieser Code wird nur jetzt angezeigt. Laden Sie das Blatt herunter und "
        "drucken Sie es, bevor Sie die Seite verlassen.",
        "download": "Blatt zum Drucken herunterladen (PDF)",
        "enrollment_link": "Einschreibe-Link",
        "qr_alt": "QR-Code des Einschreibe-Links",
        "slot_list": "Plätze",
        "to_token": "Zum Code",
        "to_list": "Zur Liste der Codes",
        "detail_heading": "Einschreibe-Code {key}",
        "device_name": "Gerätename",
        "groups": "Gruppen",
        "created": "Angelegt",
        "enrolled_heading": "Eingeschriebene Geräte",
        "nothing_enrolled": "Mit diesem Code hat sich noch kein Gerät eingeschrieben.",
        "device": "Gerät",
        "user": "Benutzer",
        "enrolled_at": "Eingeschrieben",
        "revoke": "Zurückziehen",
        "audit": "Ereignisse im Protokoll",
        "revoke_question": "Den Code {key} zurückziehen? Danach kann sich damit kein Gerät "
        "mehr einschreiben; eingeschriebene Geräte bleiben es.",
        "revoked": "Der Code ist zurückgezogen.",
        "ownerships": {"school": "schuleigen", "byod": "privat"},
        "sheet_summary_code": "Einschreibe-Code {key}",
        "sheet_secret_note": "Dieses Blatt ist der Schlüssel zur Einschreibung: Wer es hat, "
        "kann damit Geräte bei der Schule einschreiben. Bewahren Sie es sicher auf und ziehen "
        "Sie den Code zurück, wenn es verloren geht.",
        "sheet_slots": "QR-Codes: je einer für ein Gerät (zum Ausschneiden)",
        "sheet_slot_note": "Jeder QR-Code unten schreibt genau ein Gerät ein, das den Namen über "
        "dem Code bekommt.",
    },
    "en": {
        "title": "Enrollment",
        "intro": "Devices enroll at the school with an enrollment code (a link and its QR "
        "code). The code is shown only once, right after it is made: print the sheet then.",
        "tokens": "Enrollment codes",
        "label": "Label",
        "for": "For",
        "uses": "Used",
        "state": "State",
        "expires": "Valid until",
        "states": {
            "active": "active",
            "revoked": "revoked",
            "expired": "expired",
            "exhausted": "used up",
        },
        "create_heading": "New enrollment code",
        "purpose": "What for?",
        "purposes": {
            "class": "Devices of a class",
            "group": "Devices of a group",
            "byod": "Personal devices (BYOD) of students or teachers",
            "trolley": "A trolley of shared tablets: one QR code per slot",
        },
        "school": "School",
        "class": "Class",
        "group": "Group",
        "user_role": "Who uses the devices?",
        "roles": {"student": "students", "teacher": "teachers", "shared": "shared"},
        "platform": "Platform",
        "any_platform": "any platform",
        "max_uses": "How many devices at most?",
        "valid_days": "Valid for (days)",
        "label_hint": "To tell it apart, e.g. “iPads 7a”.",
        "trolley": "Name of the trolley",
        "trolley_hint": "e.g. “Koffer 3”; each slot is then named “Koffer 3 – iPad 1” etc.",
        "device_word": "Device",
        "slots": "Number of slots",
        "first_slot": "First slot",
        "trolley_only": "Only for a trolley:",
        "choose_group": "Please choose a class or group of the school.",
        "class_group_only": "Only for a class or a group:",
        "create": "Create",
        "created_title": "Enrollment code created",
        "created_trolley_title": "{count} enrollment codes for {trolley} created",
        "shown_once": "This code is shown only now. Download the sheet and print it before "
        "you leave this page.",
        "download": "Download the sheet to print (PDF)",
        "enrollment_link": "Enrollment link",
        "qr_alt": "QR code of the enrollment link",
        "slot_list": "Slots",
        "to_token": "To the code",
        "to_list": "To the list of codes",
        "detail_heading": "Enrollment code {key}",
        "device_name": "Device name",
        "groups": "Groups",
        "created": "Created",
        "enrolled_heading": "Enrolled devices",
        "nothing_enrolled": "No device has enrolled with this code yet.",
        "device": "Device",
        "user": "User",
        "enrolled_at": "Enrolled",
        "revoke": "Revoke",
        "audit": "Events in the audit log",
        "revoke_question": "Revoke the code {key}? No device can enroll with it afterwards; "
        "enrolled devices stay enrolled.",
        "revoked": "The code is revoked.",
        "ownerships": {"school": "school-owned", "byod": "personal"},
        "sheet_summary_code": "Enrollment code {key}",
        "sheet_secret_note": "This sheet is the key to enrolling: whoever has it can enroll "
        "devices at the school. Keep it safe, and revoke the code if it is lost.",
        "sheet_slots": "QR codes: one per device (to cut out)",
        "sheet_slot_note": "Each QR code below enrolls exactly one device, which gets the name "
        "above the code.",
    },
}


def _school_id(actor: Actor) -> int | None:
    """The school a new token is for: the admin's, or the one a city IT admin chose."""
    if not actor.is_city_admin:
        return actor.school_id
    raw = request.form.get("school_id", "")
    return int(raw) if raw.isdigit() else None


def _groups(actor: Actor) -> list[tuple[Group, str]]:
    """The groups the form offers, with the school's name for a city IT admin."""
    schools = {school.id: school.name for school in db.session.query(School)}
    return [
        (group, f"{group.name} ({schools[group.school_id]})" if actor.is_city_admin else group.name)
        for group in group_service.list_groups(db.session, actor)
    ]


def _is_class(group: Group) -> bool:
    """A group kept in sync with a class of the school (mdm/devices/class_groups.py)."""
    return group.class_key is not None and group.class_gone_at is None


def _form_page(errors: dict[str, list[str]], form: dict[str, str], status: int = 200) -> Any:
    actor = page_actor()
    page = paging()
    tokens = service.list_tokens(db.session, actor)
    shown = tokens[page.offset : page.offset + page.limit]
    schools = {school.id: school for school in db.session.query(School).order_by(School.name)}
    groups = _groups(actor)
    return render_admin(
        "enrollment/admin_list.html",
        TEXTS,
        status=status,
        tokens=listing(shown, len(tokens), page),
        now=utcnow(),
        schools=schools,
        school_options=[(school.id, school.name) for school in schools.values()],
        classes=[(group.id, name) for group, name in groups if _is_class(group)],
        groups=[(group.id, name) for group, name in groups if not _is_class(group)],
        platforms=[("", TEXTS[admin_language()]["any_platform"])]
        + [(code, enrollment_page.PLATFORM_NAMES[code]) for code in PLATFORMS],
        errors=errors,
        form=form,
    )


@pages.route("")
@admin_page
def token_list() -> ResponseReturnValue:
    """The tokens, newest first, and the form for a new one."""
    return _form_page(
        {},
        {
            "purpose": "class",
            "max_uses": "30",
            "valid_days": "14",
            "device_word": "iPad",
            "slots": "16",
            "first_slot": "1",
        },
    )


def _chosen_group(actor: Actor, purpose: str, form: dict[str, str]) -> Group:
    """The class or group the form names; a form error when it names none the admin sees."""
    field, raw = (
        ("class_name", form["class_id"]) if purpose == "class" else ("group_ids", form["group_id"])
    )
    try:
        return group_service.get_group(db.session, actor, int(raw) if raw.isdigit() else 0)
    except NotFound as missing:
        raise ValidationFailed(
            errors={field: [TEXTS[admin_language()]["choose_group"]]}
        ) from missing


def _number(name: str, default: int) -> int:
    raw = request.form.get(name, "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 7 else default


def _font_paths() -> tuple[Path | None, Path | None]:
    config = current_app.config
    return (
        Path(config["PDF_FONT"]) if config["PDF_FONT"] else None,
        Path(config["PDF_FONT_BOLD"]) if config["PDF_FONT_BOLD"] else None,
    )


def sheet_pdf(issued: list[service.IssuedToken], lang: str) -> bytes:
    """The printable sheet of freshly issued tokens (one, or a trolley's slots)."""
    t = TEXTS[lang]
    first = issued[0].token
    school = db.session.get(School, first.school_id)
    assert school is not None
    notice = service.current_notice(db.session, first.school_id)
    facts = service.token_facts(db.session, first, school, notice)
    described = enrollment_page.describe(
        lang, facts, url_for("pages.document", name="agent-protocol", _external=True)
    )
    texts = enrollment_page.TEXTS[lang]
    until = first.expires_at.astimezone(ZoneInfo(school.timezone))
    slots = [
        sheet.Slot(
            item.token.device_name
            or item.token.label
            or t["sheet_summary_code"].format(key=item.token.lookup_key),
            item.enrollment_url,
        )
        for item in issued
    ]
    text = sheet.SheetText(
        title=described.title,
        summary=described.summary + ([t["sheet_slot_note"]] if len(issued) > 1 else []),
        how_heading=described.how.heading,
        how=described.how.paragraphs,
        steps=described.how.items,
        closing=described.how.closing,
        valid_until=texts["valid_until"].format(
            until=until.strftime(enrollment_page.DATE_FORMATS[lang]),
            timezone=school.timezone,
            left=first.max_uses - first.uses,
            uses=first.max_uses,
        ),
        secret_note=t["sheet_secret_note"],
        code_label=texts["code"],
        slots_heading=t["sheet_slots"],
        notes=[t["sheet_secret_note"]] if len(issued) > 1 else [],
    )
    font, bold = _font_paths()
    return sheet.token_sheet(text, slots, [item.secret for item in issued], font, bold)


@pages.route("", methods=["POST"])
@admin_page
def create() -> ResponseReturnValue:
    """Make a token (or a trolley's tokens) and show it once, with its sheet."""
    actor = page_actor()
    lang = admin_language()
    form = {
        name: request.form.get(name, "")
        for name in (
            "purpose",
            "school_id",
            "class_id",
            "group_id",
            "user_role",
            "platform",
            "max_uses",
            "valid_days",
            "label",
            "trolley",
            "device_word",
            "slots",
            "first_slot",
        )
    }
    purpose = form["purpose"] if form["purpose"] in PURPOSES else "class"
    platform = form["platform"] if form["platform"] in PLATFORMS else None
    expires_at = utcnow() + timedelta(days=_number("valid_days", 14) or 14)
    school_id = _school_id(actor)
    try:
        if purpose == "trolley":
            issued = service.create_trolley_tokens(
                db.session,
                actor,
                trolley=form["trolley"],
                device_word=form["device_word"],
                slots=_number("slots", 0),
                first_slot=_number("first_slot", 1),
                school_id=school_id,
                platform=platform,
                expires_at=expires_at,
            )
        else:
            fields: dict[str, Any] = {}
            role = form["user_role"] or "student"
            if purpose in ("class", "group"):
                group = _chosen_group(actor, purpose, form)
                school_id = group.school_id
                if purpose == "class":
                    fields["class_name"] = group.name
                else:
                    fields["group_ids"] = [group.id]
            issued = [
                service.create_token(
                    db.session,
                    actor,
                    ownership="byod" if purpose == "byod" else "school",
                    user_role=role,
                    school_id=school_id,
                    platform=platform,
                    expires_at=expires_at,
                    max_uses=_number("max_uses", 1),
                    label=form["label"],
                    **fields,
                )
            ]
    except ValidationFailed as refused:
        db.session.rollback()
        errors = {
            name: list(map(str, value)) if isinstance(value, list) else [str(value)]
            for name, value in (refused.errors or {}).items()
        }
        return _form_page(errors, form, 400)
    pdf = sheet_pdf(issued, lang)
    first = issued[0]
    return render_admin(
        "enrollment/admin_created.html",
        TEXTS,
        issued=issued,
        trolley=purpose == "trolley",
        pdf=base64.b64encode(pdf).decode(),
        pdf_name=f"einschreibung-{first.token.lookup_key}.pdf",
        qr=base64.b64encode(qr.qr_svg(first.enrollment_url)).decode(),
    )


@pages.route("/<int:token_id>")
@admin_page
def token_detail(token_id: int) -> ResponseReturnValue:
    """A token: what it is for, its state, who enrolled what with it."""
    actor = page_actor()
    token = service.get_token(db.session, actor, token_id)
    school = db.session.get(School, token.school_id)
    return render_admin(
        "enrollment/admin_detail.html",
        TEXTS,
        token=token,
        school=school,
        state=token.state(utcnow()),
        enrollments=service.token_enrollments(db.session, actor, token.id),
        platforms=enrollment_page.PLATFORM_NAMES,
    )


@pages.route("/<int:token_id>/revoke", methods=["POST"])
@admin_page
def revoke(token_id: int) -> ResponseReturnValue:
    """Revoke a token, after the admin confirmed it."""
    actor = page_actor()
    t = TEXTS[admin_language()]
    token: EnrollmentToken = service.get_token(db.session, actor, token_id)
    back = url_for("enrollment_admin_pages.token_detail", token_id=token.id)
    if not confirmed():
        return confirm_page(t["revoke_question"].format(key=token.lookup_key), t["revoke"], back)
    service.revoke_token(db.session, actor, token.id)
    flash(t["revoked"], "ok")
    return redirect(back)
