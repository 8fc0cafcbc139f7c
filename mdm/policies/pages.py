"""The policy pages: the school's policies, a form per section of a document validated by the
policy schema, the versions with a diff between two, the assignments with their priorities, a
preview of the devices a change reaches before it is saved; and the effective policy on each
device's page (which assignment set each setting)."""

import json
from datetime import datetime
from typing import Any

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from mdm.accounts.models import School
from mdm.accounts.page_auth import admin_page, page_actor
from mdm.devices import groups as group_service
from mdm.devices.models import OWNERSHIPS, Device
from mdm.devices.pages import DeviceFilter, DeviceSection
from mdm.extensions import db
from mdm.platform.actors import Actor
from mdm.platform.errors import ValidationFailed
from mdm.platform.pages import (
    admin_language,
    confirm_page,
    confirmed,
    page_blueprint,
    render_admin,
)
from mdm.policies import forms, service
from mdm.policies.document import (
    COMPLEXITIES,
    PASSWORD_REF,
    RESTRICTIONS,
    WEEKDAYS,
    WIFI_SECURITIES,
    PolicyDocumentSchema,
    public_document,
)
from mdm.policies.merge import document_changes, settings_of
from mdm.policies.models import DevicePolicyState, Policy, PolicyAssignment

pages = page_blueprint("policy_pages", __name__, url_prefix="/admin/policies")
NAV = {"de": "Richtlinien", "en": "Policies"}
DOCUMENT = PolicyDocumentSchema()
TEXTS: dict[str, dict[str, Any]] = {
    "de": {
        "title": "Richtlinien",
        "intro": "Eine Richtlinie legt Einstellungen der Geräte fest; sie gilt für die Geräte, "
        "denen sie zugewiesen ist. Setzen zwei Zuweisungen dieselbe Einstellung, gewinnt die "
        "höhere Priorität.",
        "name": "Name",
        "description": "Beschreibung",
        "version": "Version",
        "assignments": "Zuweisungen",
        "city": "für alle Schulen",
        "create_heading": "Neue Richtlinie",
        "create": "Anlegen",
        "created": "Die Richtlinie ist angelegt. Legen Sie jetzt ihre Einstellungen fest.",
        "sections_heading": "Einstellungen",
        "edit": "Bearbeiten",
        "not_set": "nicht festgelegt",
        "yes": "ja",
        "no": "nein",
        "sections": {
            "passcode": "Code-Sperre",
            "restrictions": "Einschränkungen",
            "wifi": "WLAN",
            "apps": "Apps",
            "web_filter": "Webfilter",
            "single_app": "Prüfungsmodus und Einzel-App",
            "windows": "Zeitfenster",
        },
        "fields": {
            "passcode.required": "Code verlangt",
            "passcode.min_length": "Mindestlänge",
            "passcode.complexity": "Art des Codes",
            "passcode.auto_lock_minutes": "Automatisch sperren nach (Minuten)",
            "restrictions.allow_camera": "Kamera erlaubt",
            "restrictions.allow_screenshots": "Bildschirmfotos erlaubt",
            "restrictions.allow_app_installation": "Apps installieren erlaubt",
            "restrictions.allow_app_removal": "Apps entfernen erlaubt",
            "restrictions.allow_app_store": "App Store erlaubt",
            "restrictions.allow_nearby_sharing": "AirDrop, Bluetooth-Teilen erlaubt",
            "restrictions.allow_explicit_content": "Inhalte für Erwachsene erlaubt",
            "restrictions.allow_account_changes": "Konten ändern erlaubt",
            "apps.required": "Pflicht-Apps (installiert), eine App-Kennung je Zeile",
            "apps.allowed": "Erlaubte Apps, eine je Zeile",
            "apps.blocked": "Gesperrte Apps, eine je Zeile",
            "web_filter.allow": "Erlaubte Seiten, eine je Zeile (z. B. *.schule.de)",
            "web_filter.deny": "Gesperrte Seiten, eine je Zeile",
            "web_filter.allow_listed_only": "Nur erlaubte Seiten öffnen",
            "single_app.app": "App (App-Kennung); leer: kein Einzel-App-Modus",
            "single_app.exam": "Prüfungsmodus (keine Bildschirmfotos, Mitteilungen, Diktat, "
            "Autokorrektur)",
            "ssid": "Netzwerkname (SSID)",
            "security": "Sicherheit",
            "password": "Passwort",
            "password_hint": "Leer lassen: das bisherige Passwort bleibt.",
            "hidden": "Verstecktes Netz",
            "auto_join": "Automatisch verbinden",
            "remove": "Entfernen",
            "kind": "Art",
            "days": "Tage",
            "start": "Von (HH:MM)",
            "end": "Bis (HH:MM)",
            "except_holidays": "Nicht in den Ferien",
            "first_period": "Ab Stunde",
            "last_period": "Bis Stunde",
        },
        "complexities": {
            "any": "beliebig",
            "alphanumeric": "Buchstaben und Ziffern",
            "complex": "Buchstaben, Ziffern und Sonderzeichen",
        },
        "securities": {"open": "offen", "wpa2": "WPA2", "wpa3": "WPA3"},
        "window_kinds": {
            "": "– (keins)",
            "weekly": "wöchentlich zu festen Zeiten",
            "periods": "während der Unterrichtsstunden",
            "breaks": "in den Pausen",
        },
        "network": "Netz {number}",
        "new_network": "Neues Netz",
        "window": "Zeitfenster {number}",
        "new_window": "Neues Zeitfenster",
        "windows_hint": "Ohne Zeitfenster gilt die Richtlinie immer; mit Zeitfenstern nur, "
        "während eines offen ist (in der Zeitzone der Schule).",
        "preview": "Vorschau: welche Geräte ändern sich?",
        "save": "Speichern",
        "preview_heading": "Vorschau",
        "preview_reached": "Die Richtlinie erreicht {reached} eingeschriebene Geräte.",
        "preview_changed": "{changed} davon bekommen eine neue wirksame Richtlinie:",
        "preview_none": "Keines davon bekommt eine neue wirksame Richtlinie.",
        "preview_more": "… und {more} weitere.",
        "preview_same": "Diese Einstellungen sind schon gespeichert: Es entstünde keine neue "
        "Version.",
        "saved": "Gespeichert als Version {version}.",
        "unchanged": "Nichts geändert.",
        "versions_heading": "Versionen",
        "compare": "Vergleichen",
        "from": "Version",
        "to": "mit Version",
        "restore": "Wiederherstellen",
        "restore_question": "Version {version} wiederherstellen? Sie wird als neue Version "
        "gespeichert, und die Geräte bekommen sie.",
        "restored": "Version {number} ist wiederhergestellt (als Version {version}).",
        "created_by": "von",
        "diff_title": "{name}: Version {a} und {b}",
        "setting": "Einstellung",
        "value": "Wert",
        "before": "Version {version}",
        "after": "Version {version}",
        "no_diff": "Die beiden Versionen setzen dasselbe.",
        "target": "Gilt für",
        "priority": "Priorität",
        "priority_hint": "Höhere Priorität gewinnt (0 bis 1000).",
        "change_priority": "Priorität ändern",
        "priority_of": "Priorität von {target}",
        "unassign": "Entfernen",
        "unassign_question": "Die Zuweisung an {target} entfernen? Die Geräte bekommen ihre "
        "neue wirksame Richtlinie.",
        "unassigned": "Die Zuweisung ist entfernt.",
        "assign_heading": "Zuweisen",
        "assign_target": "Zuweisen an",
        "targets": {
            "school": "die ganze Schule",
            "group": "eine Gruppe oder Klasse",
            "ownership": "alle Geräte eines Besitzes",
        },
        "group": "Gruppe oder Klasse",
        "ownership": "Besitz",
        "ownerships": {"school": "schuleigene Geräte", "byod": "private Geräte (BYOD)"},
        "assign_preview": "Vorschau",
        "assign": "Zuweisen",
        "assign_question": "Die Richtlinie {name} mit Priorität {priority} zuweisen an {target}?",
        "assigned": "Zugewiesen an {target}.",
        "target_school": "die Schule",
        "target_every_school": "alle Schulen",
        "target_group": "Gruppe {name}",
        "target_ownership": "{ownership}",
        "target_device": "Gerät {name}",
        "no_assignments": "Noch keiner Gruppe zugewiesen: Sie gilt für kein Gerät.",
        "back": "Zurück zur Richtlinie",
        "all_policies": "Alle Richtlinien",
        "audit": "Ereignisse im Protokoll",
        "effective_heading": "Wirksame Richtlinie",
        "compliance": "Stand",
        "compliances": {
            "compliant": "angewendet",
            "non_compliant": "teilweise nicht anwendbar",
            "pending": "noch nicht angewendet",
        },
        "set_by": "Gesetzt von",
        "overrides": "überstimmt",
        "no_settings": "Keine Richtlinie legt für dieses Gerät etwas fest.",
        "left_out": "Bei diesem privaten Gerät weggelassen:",
        "inactive": "Gerade außerhalb ihrer Zeitfenster:",
        "failed": "Konnte das Gerät nicht anwenden:",
    },
    "en": {
        "title": "Policies",
        "intro": "A policy sets settings of devices; it applies to the devices it is assigned "
        "to. Where two assignments set the same setting, the higher priority wins.",
        "name": "Name",
        "description": "Description",
        "version": "Version",
        "assignments": "Assignments",
        "city": "for every school",
        "create_heading": "New policy",
        "create": "Create",
        "created": "The policy is created. Now set its settings.",
        "sections_heading": "Settings",
        "edit": "Edit",
        "not_set": "not set",
        "yes": "yes",
        "no": "no",
        "sections": {
            "passcode": "Passcode",
            "restrictions": "Restrictions",
            "wifi": "Wi-Fi",
            "apps": "Apps",
            "web_filter": "Web filter",
            "single_app": "Exam mode and single app",
            "windows": "Time windows",
        },
        "fields": {
            "passcode.required": "Passcode required",
            "passcode.min_length": "Minimum length",
            "passcode.complexity": "Kind of passcode",
            "passcode.auto_lock_minutes": "Auto-lock after (minutes)",
            "restrictions.allow_camera": "Camera allowed",
            "restrictions.allow_screenshots": "Screenshots allowed",
            "restrictions.allow_app_installation": "Installing apps allowed",
            "restrictions.allow_app_removal": "Removing apps allowed",
            "restrictions.allow_app_store": "App store allowed",
            "restrictions.allow_nearby_sharing": "AirDrop, Bluetooth sharing allowed",
            "restrictions.allow_explicit_content": "Explicit content allowed",
            "restrictions.allow_account_changes": "Account changes allowed",
            "apps.required": "Required apps (installed), one app id per line",
            "apps.allowed": "Allowed apps, one per line",
            "apps.blocked": "Blocked apps, one per line",
            "web_filter.allow": "Allowed sites, one per line (e.g. *.school.org)",
            "web_filter.deny": "Denied sites, one per line",
            "web_filter.allow_listed_only": "Open only allowed sites",
            "single_app.app": "App (app id); empty: no single-app mode",
            "single_app.exam": "Exam mode (no screenshots, notifications, dictation, "
            "autocorrection)",
            "ssid": "Network name (SSID)",
            "security": "Security",
            "password": "Password",
            "password_hint": "Leave empty to keep the current password.",
            "hidden": "Hidden network",
            "auto_join": "Join automatically",
            "remove": "Remove",
            "kind": "Kind",
            "days": "Days",
            "start": "From (HH:MM)",
            "end": "Until (HH:MM)",
            "except_holidays": "Not in the holidays",
            "first_period": "From period",
            "last_period": "Until period",
        },
        "complexities": {
            "any": "any",
            "alphanumeric": "letters and digits",
            "complex": "letters, digits and a symbol",
        },
        "securities": {"open": "open", "wpa2": "WPA2", "wpa3": "WPA3"},
        "window_kinds": {
            "": "– (none)",
            "weekly": "weekly at fixed times",
            "periods": "during the periods",
            "breaks": "in the breaks",
        },
        "network": "Network {number}",
        "new_network": "New network",
        "window": "Time window {number}",
        "new_window": "New time window",
        "windows_hint": "Without time windows the policy always applies; with them only while "
        "one is open (in the school's time zone).",
        "preview": "Preview: which devices change?",
        "save": "Save",
        "preview_heading": "Preview",
        "preview_reached": "The policy reaches {reached} enrolled devices.",
        "preview_changed": "{changed} of them get a new effective policy:",
        "preview_none": "None of them gets a new effective policy.",
        "preview_more": "… and {more} more.",
        "preview_same": "These settings are saved already: no new version would be made.",
        "saved": "Saved as version {version}.",
        "unchanged": "Nothing changed.",
        "versions_heading": "Versions",
        "compare": "Compare",
        "from": "Version",
        "to": "with version",
        "restore": "Restore",
        "restore_question": "Restore version {version}? It is saved as a new version, and the "
        "devices get it.",
        "restored": "Version {number} is restored (as version {version}).",
        "created_by": "by",
        "diff_title": "{name}: versions {a} and {b}",
        "setting": "Setting",
        "value": "Value",
        "before": "Version {version}",
        "after": "Version {version}",
        "no_diff": "Both versions set the same.",
        "target": "Applies to",
        "priority": "Priority",
        "priority_hint": "The higher priority wins (0 to 1000).",
        "change_priority": "Change priority",
        "priority_of": "Priority of {target}",
        "unassign": "Remove",
        "unassign_question": "Remove the assignment to {target}? The devices get their new "
        "effective policy.",
        "unassigned": "The assignment is removed.",
        "assign_heading": "Assign",
        "assign_target": "Assign to",
        "targets": {
            "school": "the whole school",
            "group": "a group or class",
            "ownership": "all devices of an ownership",
        },
        "group": "Group or class",
        "ownership": "Ownership",
        "ownerships": {"school": "school-owned devices", "byod": "personal devices (BYOD)"},
        "assign_preview": "Preview",
        "assign": "Assign",
        "assign_question": "Assign the policy {name} with priority {priority} to {target}?",
        "assigned": "Assigned to {target}.",
        "target_school": "the school",
        "target_every_school": "every school",
        "target_group": "group {name}",
        "target_ownership": "{ownership}",
        "target_device": "device {name}",
        "no_assignments": "Not assigned yet: it applies to no device.",
        "back": "Back to the policy",
        "all_policies": "All policies",
        "audit": "Events in the audit log",
        "effective_heading": "Effective policy",
        "compliance": "State",
        "compliances": {
            "compliant": "applied",
            "non_compliant": "partly not applicable",
            "pending": "not applied yet",
        },
        "set_by": "Set by",
        "overrides": "overrides",
        "no_settings": "No policy sets anything for this device.",
        "left_out": "Left out on this personal device:",
        "inactive": "Outside their time windows now:",
        "failed": "The device could not apply:",
    },
}


def shown_value(value: Any, t: dict[str, Any]) -> str:
    """A setting's value as the page shows it (a network without its password reference)."""
    if value is True:
        return str(t["yes"])
    if value is False:
        return str(t["no"])
    if value is None:
        return str(t["not_set"])
    if isinstance(value, dict):
        value = {name: item for name, item in value.items() if name != PASSWORD_REF}
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _target_name(assignment: PolicyAssignment, session: Session, t: dict[str, Any]) -> str:
    if assignment.target == "group":
        group = group_service.get_group(session, page_actor(), assignment.group_id or 0)
        return str(t["target_group"].format(name=group.name))
    if assignment.target == "device":
        device = session.get(Device, assignment.device_id)
        return str(t["target_device"].format(name=device.name if device else assignment.device_id))
    if assignment.target == "ownership":
        return str(t["ownerships"][assignment.ownership])
    return str(t["target_school"] if assignment.school_id is not None else t["target_every_school"])


@pages.route("", methods=["GET", "POST"])
@admin_page
def policy_list() -> ResponseReturnValue:
    """The policies the admin may see, and a form for a new one."""
    actor = page_actor()
    t = TEXTS[admin_language()]
    errors: dict[str, list[str]] = {}
    form = {"name": "", "description": ""}
    if request.method == "POST":
        form = {
            "name": request.form.get("name", ""),
            "description": request.form.get("description", ""),
        }
        try:
            policy = service.create_policy(
                db.session,
                actor,
                name=form["name"][:120],
                description=form["description"][:500],
                document={},
            )
        except ValidationFailed as refused:
            db.session.rollback()
            errors = {name: list(map(str, value)) for name, value in (refused.errors or {}).items()}
        else:
            flash(t["created"], "ok")
            return redirect(url_for("policy_pages.policy_detail", policy_id=policy.id))
    policies = service.list_policies(db.session, actor)
    counts: dict[int, int] = {}
    for assignment in service.list_assignments(db.session, actor):
        counts[assignment.policy_id] = counts.get(assignment.policy_id, 0) + 1
    return render_admin(
        "policies/list.html",
        TEXTS,
        policies=policies,
        counts=counts,
        errors=errors,
        form=form,
        status=400 if errors else 200,
    )


def _may_change(actor: Actor, policy: Policy) -> bool:
    return policy.school_id is not None or actor.is_city_admin


@pages.route("/<int:policy_id>")
@admin_page
def policy_detail(policy_id: int) -> ResponseReturnValue:
    """A policy: its settings by section, assignments, versions."""
    actor = page_actor()
    lang = admin_language()
    t = TEXTS[lang]
    policy = service.get_policy(db.session, actor, policy_id)
    current = public_document(service.get_version(db.session, actor, policy.id).document)
    assignments = service.list_assignments(db.session, actor, policy_id=policy.id)
    school_id = policy.school_id if policy.school_id is not None else actor.school_id
    groups = (
        group_service.list_groups(db.session, actor, school_id=school_id)
        if school_id is not None
        else []
    )
    return render_admin(
        "policies/detail.html",
        TEXTS,
        policy=policy,
        sections=[
            (
                section,
                list(settings_of({section: current[section]}).items())
                if section in current
                else [],
            )
            for section in forms.SECTIONS
        ],
        show=lambda value: shown_value(value, t),
        assignments=[(a, _target_name(a, db.session, t)) for a in assignments],
        versions=service.list_versions(db.session, actor, policy.id),
        groups=[(group.id, group.name) for group in groups],
        may_change=_may_change(actor, policy),
        may_assign_school=school_id is not None,
        timezone=_timezone(school_id),
    )


def _timezone(school_id: int | None) -> str:
    school = db.session.get(School, school_id) if school_id is not None else None
    return school.timezone if school is not None else "Europe/Berlin"


def _load(document: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """The document loaded by the policy schema, or the errors by form field."""
    try:
        return DOCUMENT.load(document), {}
    except ValidationError as exc:
        return None, forms.field_errors(exc.messages)


@pages.route("/<int:policy_id>/sections/<section>", methods=["GET", "POST"])
@admin_page
def edit_section(policy_id: int, section: str) -> ResponseReturnValue:
    """A section's form; a preview of the devices the change reaches; saving it makes a new
    version."""
    if section not in forms.SECTIONS:
        return redirect(url_for("policy_pages.policy_detail", policy_id=policy_id))
    actor = page_actor()
    lang = admin_language()
    t = TEXTS[lang]
    policy = service.get_policy(db.session, actor, policy_id)
    current = public_document(service.get_version(db.session, actor, policy.id).document)
    part = current.get(section)
    errors: dict[str, list[str]] = {}
    preview = None
    if request.method == "POST":
        part = forms.read_section(section, request.form, request.form.getlist)
        loaded, errors = _load(forms.with_section(current, section, part))
        if loaded is not None:
            try:
                if request.form.get("do") == "save":
                    before = policy.current_version
                    service.update_policy(db.session, actor, policy.id, {"document": loaded})
                    changed = policy.current_version != before
                    flash(
                        t["saved"].format(version=policy.current_version)
                        if changed
                        else t["unchanged"],
                        "ok",
                    )
                    return redirect(url_for("policy_pages.policy_detail", policy_id=policy.id))
                preview = service.preview_update(db.session, actor, policy.id, loaded)
            except ValidationFailed as refused:
                db.session.rollback()
                errors = forms.field_errors(
                    (refused.errors or {}).get("document", refused.errors or {})
                )
    return render_admin(
        "policies/section.html",
        TEXTS,
        status=400 if errors else 200,
        policy=policy,
        section=section,
        part=part or {},
        rows=forms.form_rows(section, part),
        errors=errors,
        preview=preview,
        restrictions=RESTRICTIONS,
        complexities=COMPLEXITIES,
        securities=WIFI_SECURITIES,
        weekdays=[(day, forms.WEEKDAY_NAMES[lang][day]) for day in WEEKDAYS],
    )


@pages.route("/<int:policy_id>/diff")
@admin_page
def version_diff(policy_id: int) -> ResponseReturnValue:
    """What two versions of a policy set differently."""
    actor = page_actor()
    t = TEXTS[admin_language()]
    policy = service.get_policy(db.session, actor, policy_id)
    raw_a, raw_b = request.args.get("a", ""), request.args.get("b", "")
    a = int(raw_a) if raw_a.isdigit() else max(policy.current_version - 1, 1)
    b = int(raw_b) if raw_b.isdigit() else policy.current_version
    first = service.get_version(db.session, actor, policy.id, a)
    second = service.get_version(db.session, actor, policy.id, b)
    changes = document_changes(public_document(first.document), public_document(second.document))
    return render_admin(
        "policies/diff.html",
        TEXTS,
        policy=policy,
        a=first.version,
        b=second.version,
        changes=[(name, shown_value(old, t), shown_value(new, t)) for name, old, new in changes],
    )


@pages.route("/<int:policy_id>/versions/<int:number>/restore", methods=["POST"])
@admin_page
def restore(policy_id: int, number: int) -> ResponseReturnValue:
    """Make an earlier version the current one, after the admin confirmed it."""
    actor = page_actor()
    t = TEXTS[admin_language()]
    back = url_for("policy_pages.policy_detail", policy_id=policy_id)
    policy = service.get_policy(db.session, actor, policy_id)
    if not confirmed():
        return confirm_page(t["restore_question"].format(version=number), t["restore"], back)
    service.restore_version(db.session, actor, policy.id, number)
    flash(t["restored"].format(number=number, version=policy.current_version), "ok")
    return redirect(back)


def _assignment_fields() -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The assign form's fields as the service takes them, or the errors by field."""
    target = request.form.get("target", "")
    raw_priority = request.form.get("priority", "100").strip()
    errors: dict[str, list[str]] = {}
    if target not in ("school", "group", "ownership"):
        errors["target"] = ["school, group or ownership"]
    if not raw_priority.isdigit() or int(raw_priority) > 1000:
        errors["priority"] = ["0 … 1000"]
    fields: dict[str, Any] = {
        "target": target,
        "priority": int(raw_priority) if not errors.get("priority") else 100,
    }
    if target == "group":
        raw = request.form.get("group_id", "")
        fields["group_id"] = int(raw) if raw.isdigit() else 0
    if target == "ownership":
        ownership = request.form.get("ownership", "")
        fields["ownership"] = ownership if ownership in OWNERSHIPS else None
        if fields["ownership"] is None:
            errors["ownership"] = [", ".join(OWNERSHIPS)]
    return fields, errors


@pages.route("/<int:policy_id>/assignments", methods=["POST"])
@admin_page
def assign(policy_id: int) -> ResponseReturnValue:
    """Assign the policy: first a preview of the devices it reaches and changes, then, when
    the admin confirms, the assignment."""
    actor = page_actor()
    t = TEXTS[admin_language()]
    back = url_for("policy_pages.policy_detail", policy_id=policy_id)
    policy = service.get_policy(db.session, actor, policy_id)
    fields, errors = _assignment_fields()
    if errors:
        flash("; ".join(f"{name}: {', '.join(value)}" for name, value in errors.items()), "error")
        return redirect(back)
    target = _form_target_name(fields, t)
    try:
        if confirmed():
            service.assign(db.session, actor, policy.id, **fields)
            flash(t["assigned"].format(target=target), "ok")
            return redirect(back)
        preview = service.preview_assign(db.session, actor, policy.id, **fields)
    except ValidationFailed as refused:
        db.session.rollback()
        flash(refused.detail + " " + json.dumps(refused.errors or {}, ensure_ascii=False), "error")
        return redirect(back)
    return render_admin(
        "policies/assign_preview.html",
        TEXTS,
        policy=policy,
        preview=preview,
        question=t["assign_question"].format(
            name=policy.name, priority=fields["priority"], target=target
        ),
        fields=[
            (name, value)
            for name, value in request.form.items()
            if name not in ("csrf_token", "confirmed")
        ],
        back=back,
    )


def _form_target_name(fields: dict[str, Any], t: dict[str, Any]) -> str:
    if fields["target"] == "group":
        group = group_service.get_group(db.session, page_actor(), fields["group_id"])
        return str(t["target_group"].format(name=group.name))
    if fields["target"] == "ownership":
        return str(t["ownerships"][fields["ownership"]])
    return str(t["target_school"])


@pages.route("/assignments/<int:assignment_id>/priority", methods=["POST"])
@admin_page
def change_priority(assignment_id: int) -> ResponseReturnValue:
    """Change an assignment's priority."""
    actor = page_actor()
    t = TEXTS[admin_language()]
    assignment = service.get_assignment(db.session, actor, assignment_id)
    back = url_for("policy_pages.policy_detail", policy_id=assignment.policy_id)
    raw = request.form.get("priority", "").strip()
    if not raw.isdigit() or int(raw) > 1000:
        flash(f"{t['priority']}: 0 … 1000", "error")
        return redirect(back)
    service.update_assignment(db.session, actor, assignment.id, int(raw))
    flash(
        t["saved"].format(
            version=service.get_policy(db.session, actor, assignment.policy_id).current_version
        ),
        "ok",
    )
    return redirect(back)


@pages.route("/assignments/<int:assignment_id>/remove", methods=["POST"])
@admin_page
def unassign(assignment_id: int) -> ResponseReturnValue:
    """Remove an assignment, after the admin confirmed it."""
    actor = page_actor()
    t = TEXTS[admin_language()]
    assignment = service.get_assignment(db.session, actor, assignment_id)
    back = url_for("policy_pages.policy_detail", policy_id=assignment.policy_id)
    if not confirmed():
        target = _target_name(assignment, db.session, t)
        return confirm_page(t["unassign_question"].format(target=target), t["unassign"], back)
    service.unassign(db.session, actor, assignment.id)
    flash(t["unassigned"], "ok")
    return redirect(back)


def device_section(session: Session, actor: Actor, device: Device, lang: str) -> DeviceSection:
    """The effective policy on a device's page: each setting, the assignment that set it and
    those it overrode; what a personal device does not get; inactive assignments; failures."""
    t = TEXTS[lang]
    effective = service.effective_policy(session, actor, device.id)
    merged = effective.merged
    return DeviceSection(
        "policies/device_section.html",
        order=10,
        context={
            "t": t,
            "effective": effective,
            "settings": [
                (
                    s.name,
                    shown_value(s.value, t),
                    s.layer,
                    [layer for layer, _value in s.overridden],
                )
                for s in merged.settings
            ],
            "left_out": [(item.setting.name, item.reason) for item in merged.left_out],
            "inactive": merged.inactive,
        },
    )


def _compliance_condition(value: str, now: datetime) -> Any:
    """Enrolled devices of this compliance (the rule of mdm.policies.service.compliance_of)."""
    states = select(DevicePolicyState.device_id)
    if value == "pending":
        applied = states.where(DevicePolicyState.applied_hash == DevicePolicyState.desired_hash)
        reached = Device.id.not_in(applied)
    else:
        reached = Device.id.in_(states.where(service.compliance_column == value))
    return (Device.status == "enrolled") & reached


COMPLIANCE_FILTER = DeviceFilter(
    "compliance",
    {
        status: {lang: TEXTS[lang]["compliances"][status] for lang in TEXTS}
        for status in service.COMPLIANCE
    },
    _compliance_condition,
)
