"""The commands on the device pages: the actions a device's platform and ownership allow (by
the same rule as the API: mdm.commands.rules), each confirmed before it is queued, on one
device, a selection or a group; and a device's command history."""

from datetime import datetime, timedelta
from typing import Any

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from mdm.accounts.page_auth import admin_page, page_actor
from mdm.commands import rules, service
from mdm.commands.models import OPEN_STATUSES, Command
from mdm.devices import groups as device_groups
from mdm.devices import service as devices
from mdm.devices.models import Device
from mdm.devices.pages import BulkActions, DeviceFilter, DeviceSection
from mdm.extensions import db
from mdm.platform.actors import Actor
from mdm.platform.errors import DomainError
from mdm.platform.pages import admin_language, confirm_page, confirmed, page_blueprint

pages = page_blueprint("command_pages", __name__, url_prefix="/admin/devices")
# The actions the device pages offer (the others are for the API: apps, profiles, passcode).
DEVICE_ACTIONS = (
    "lock",
    "restart",
    "enable_lost_mode",
    "disable_lost_mode",
    "refresh_inventory",
    "erase",
)
BULK_ACTIONS = ("lock", "restart", "refresh_inventory", "erase")
HISTORY_LENGTH = 20
TEXTS: dict[str, dict[str, Any]] = {
    "de": {
        "actions_heading": "Aktionen",
        "no_actions": "Dieses Gerät ist nicht mehr in Verwaltung: Es nimmt keine Befehle an.",
        "not_offered": "Nicht möglich bei diesem Gerät:",
        "history_heading": "Befehle",
        "no_history": "Noch keine Befehle.",
        "message": "Nachricht auf dem Sperrbildschirm",
        "message_optional": "Nachricht auf dem Sperrbildschirm (freiwillig)",
        "phone_number": "Telefonnummer (freiwillig)",
        "type": "Befehl",
        "state": "Status",
        "created": "Gesendet am",
        "result": "Ergebnis",
        "actions": {
            "lock": "Sperren",
            "restart": "Neu starten",
            "enable_lost_mode": "Verloren-Modus einschalten",
            "disable_lost_mode": "Verloren-Modus beenden",
            "refresh_inventory": "Inventar jetzt abfragen",
            "erase": "Löschen (auf Werkseinstellungen)",
            "clear_passcode": "Code entfernen",
            "install_app": "App installieren",
            "remove_app": "App entfernen",
            "install_profile": "Profil installieren",
            "remove_profile": "Profil entfernen",
        },
        "reasons": {
            "platform": "gibt es auf dieser Plattform nicht",
            "personal_device": "bei einem privaten Gerät nicht erlaubt",
            "not_supervised": "braucht ein betreutes (supervised) bzw. vollständig verwaltetes "
            "Gerät",
        },
        "statuses": {
            "queued": "wartet",
            "sent": "gesendet",
            "acknowledged": "ausgeführt",
            "error": "Fehler",
            "not_now": "später",
            "expired": "abgelaufen",
            "cancelled": "abgebrochen",
        },
        "confirm_device": "„{action}“ an das Gerät {name} senden?",
        "confirm_devices": "„{action}“ an {count} ausgewählte Geräte senden?",
        "confirm_group": "„{action}“ an alle Geräte der Gruppe {name} senden, die ihn annehmen?",
        "erase_warning": "Alle Daten auf dem Gerät gehen verloren.",
        "queued": "„{action}“ wartet auf {queued} Gerät(e); es holt ihn bei der nächsten "
        "Meldung ab.",
        "skipped": "Übersprungen: {skipped}.",
        "refused": "Nicht gesendet: {reason}",
        "nothing_selected": "Bitte wählen Sie mindestens ein Gerät aus.",
    },
    "en": {
        "actions_heading": "Actions",
        "no_actions": "This device is retired: it takes no commands.",
        "not_offered": "Not possible on this device:",
        "history_heading": "Commands",
        "no_history": "No commands yet.",
        "message": "Message on the lock screen",
        "message_optional": "Message on the lock screen (optional)",
        "phone_number": "Phone number (optional)",
        "type": "Command",
        "state": "Status",
        "created": "Sent",
        "result": "Result",
        "actions": {
            "lock": "Lock",
            "restart": "Restart",
            "enable_lost_mode": "Enable lost mode",
            "disable_lost_mode": "End lost mode",
            "refresh_inventory": "Refresh inventory now",
            "erase": "Erase (factory reset)",
            "clear_passcode": "Clear passcode",
            "install_app": "Install app",
            "remove_app": "Remove app",
            "install_profile": "Install profile",
            "remove_profile": "Remove profile",
        },
        "reasons": {
            "platform": "does not exist on this platform",
            "personal_device": "not allowed on a personal device",
            "not_supervised": "needs a supervised (Apple) or fully managed (Android) device",
        },
        "statuses": {
            "queued": "queued",
            "sent": "sent",
            "acknowledged": "done",
            "error": "error",
            "not_now": "not now",
            "expired": "expired",
            "cancelled": "cancelled",
        },
        "confirm_device": "Send “{action}” to the device {name}?",
        "confirm_devices": "Send “{action}” to {count} selected devices?",
        "confirm_group": "Send “{action}” to every device of the group {name} that takes it?",
        "erase_warning": "Everything on the device is lost.",
        "queued": "“{action}” is queued for {queued} device(s); each fetches it at its next "
        "check-in.",
        "skipped": "Skipped: {skipped}.",
        "refused": "Not sent: {reason}",
        "nothing_selected": "Please select at least one device.",
    },
}


def allowed_actions(device: Device) -> tuple[list[str], list[tuple[str, str]]]:
    """The page's actions this device may take, and the others with the reason key why not."""
    offered: list[str] = []
    refused: list[tuple[str, str]] = []
    supervised = rules.supervised(device.inventory or {})
    for type_ in DEVICE_ACTIONS:
        reason = rules.refusal(type_, device.platform, device.ownership, supervised)
        if reason is None:
            offered.append(type_)
        else:
            refused.append((type_, reason))
    return offered, refused


def device_section(
    session: Session, actor: Actor, device: Device, lang: str
) -> DeviceSection | None:
    """The device page's actions and command history."""
    offered, refused = allowed_actions(device)
    history, _ = service.list_commands(
        session, actor, service.CommandFilters(device_id=device.id), limit=HISTORY_LENGTH
    )
    return DeviceSection(
        "commands/device_section.html",
        order=20,
        context={
            "t": TEXTS[lang],
            "offered": offered if device.status == "enrolled" else [],
            "refused": refused,
            "history": [command for command, _device in history],
        },
    )


def bulk_actions(lang: str) -> BulkActions:
    """The device list's bulk actions."""
    names = TEXTS[lang]["actions"]
    return BulkActions("command_pages.send_bulk", [(name, names[name]) for name in BULK_ACTIONS])


def _parameters(type_: str) -> dict[str, Any]:
    """The command's parameters from the form: what the admin typed, empty fields left out."""
    names = {"lock": ("message",), "enable_lost_mode": ("message", "phone_number")}
    return {
        name: request.form[name].strip()
        for name in names.get(type_, ())
        if request.form.get(name, "").strip()
    }


def _queue(target: service.Target, type_: str, back: str) -> ResponseReturnValue:
    """Queue the command, say what happened, and go back; a refusal changes nothing."""
    t = TEXTS[admin_language()]
    action = t["actions"].get(type_, type_)
    try:
        batch = service.queue(
            db.session, page_actor(), type=type_, target=target, parameters=_parameters(type_)
        )
    except DomainError as refused:
        if refused.status == 404:
            raise
        db.session.rollback()
        reasons = [
            f"{name}: {', '.join(map(str, value)) if isinstance(value, list) else value}"
            for name, value in (refused.errors or {}).items()
        ]
        flash(t["refused"].format(reason="; ".join(reasons) or refused.detail), "error")
        return redirect(back)
    message = t["queued"].format(action=action, queued=batch.queued)
    if batch.skipped:
        skipped = ", ".join(
            f"{count} ({t['reasons'].get(reason, reason)})"
            for reason, count in sorted(batch.skipped.items())
        )
        message += " " + t["skipped"].format(skipped=skipped)
    flash(message, "ok")
    return redirect(back)


def _type() -> str:
    type_ = request.form.get("type", "")
    return type_ if type_ in DEVICE_ACTIONS else ""


@pages.route("/<int:device_id>/commands", methods=["POST"])
@admin_page
def send_to_device(device_id: int) -> ResponseReturnValue:
    """One action on one device, after the admin confirmed it."""
    t = TEXTS[admin_language()]
    device = devices.get_device(db.session, page_actor(), device_id)
    back = url_for("device_pages.device_detail", device_id=device.id)
    type_ = _type()
    if not type_:
        flash(t["refused"].format(reason=t["type"]), "error")
        return redirect(back)
    if not confirmed():
        question = t["confirm_device"].format(action=t["actions"][type_], name=device.name)
        if type_ == "erase":
            question += " " + t["erase_warning"]
        return confirm_page(question, t["actions"][type_], back)
    return _queue(service.Target(device_ids=[device.id]), type_, back)


@pages.route("/commands", methods=["POST"])
@admin_page
def send_bulk() -> ResponseReturnValue:
    """One action on the selected devices or on a group, after the admin confirmed it."""
    t = TEXTS[admin_language()]
    back = url_for("device_pages.device_list")
    type_ = request.form.get("type", "")
    ids = [int(value) for value in request.form.getlist("device_ids") if value.isdigit()]
    group_raw = request.form.get("group_id", "")
    group_id = int(group_raw) if group_raw.isdigit() else None
    if type_ not in BULK_ACTIONS or not (ids or group_id):
        flash(t["nothing_selected"], "error")
        return redirect(back)
    action = t["actions"][type_]
    if ids:
        target = service.Target(device_ids=ids)
        question = t["confirm_devices"].format(action=action, count=len(set(ids)))
    else:
        group = device_groups.get_group(db.session, page_actor(), group_id or 0)
        target = service.Target(group_id=group.id)
        question = t["confirm_group"].format(action=action, name=group.name)
    if not confirmed():
        if type_ == "erase":
            question += " " + t["erase_warning"]
        return confirm_page(question, action, back)
    return _queue(target, type_, back)


# Failed commands count for a week, as the dashboard's figure counts them.
FAILED_DAYS = 7
COMMAND_FILTER_TEXTS = {
    "pending": {"de": "mit Befehlen unterwegs", "en": "with commands pending"},
    "error": {
        "de": f"mit fehlgeschlagenen Befehlen (letzte {FAILED_DAYS} Tage)",
        "en": f"with failed commands (last {FAILED_DAYS} days)",
    },
}


def _command_condition(value: str, now: datetime) -> Any:
    """Devices with a command on its way (queued, sent, not now), or one failed this week."""
    commands = select(Command.device_id)
    if value == "pending":
        return Device.id.in_(commands.where(Command.status.in_(OPEN_STATUSES)))
    failed = (Command.status == "error") & (
        Command.finished_at >= now - timedelta(days=FAILED_DAYS)
    )
    return Device.id.in_(commands.where(failed))


COMMAND_FILTER = DeviceFilter("command_status", COMMAND_FILTER_TEXTS, _command_condition)
