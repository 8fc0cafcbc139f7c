"""The device pages: the list with filters, search and a selection for bulk actions, and a
device's detail (inventory, groups, user, last seen). The parts built on devices add their
sections to the detail (the effective policy, the commands) and their bulk actions to the list
through the registries here: mdm.devices imports neither policies nor commands."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from mdm.accounts.models import School
from mdm.accounts.page_auth import admin_page, page_actor
from mdm.devices import groups as group_service
from mdm.devices import service
from mdm.devices.models import DEVICE_STATUSES, OWNERSHIPS, PLATFORMS, Device
from mdm.extensions import db
from mdm.platform.actors import Actor
from mdm.platform.pages import admin_language, listing, page_blueprint, paging, render_admin
from mdm.platform.types import utcnow

pages = page_blueprint("device_pages", __name__, url_prefix="/admin/devices")
SECTIONS = "mdm_device_page_sections"  # their key in app.extensions
BULK_ACTIONS = "mdm_device_page_bulk_actions"
FILTERS = "mdm_device_page_filters"

NAV = {"de": "Geräte", "en": "Devices"}
PLATFORM_NAMES = {
    "ios": "iPhone (iOS)",
    "ipados": "iPad (iPadOS)",
    "macos": "Mac (macOS)",
    "android": "Android",
    "windows": "Windows",
    "linux": "Linux",
}
TEXTS: dict[str, dict[str, Any]] = {
    "de": {
        "title": "Geräte",
        "search_label": "Suche: Name, Benutzer, Klasse, Seriennummer oder IMEI",
        "filters": "Filter",
        "school": "Schule",
        "group": "Gruppe oder Klasse",
        "ownership": "Besitz",
        "platform": "Plattform",
        "status": "Status",
        "any": "alle",
        "apply_filters": "Filtern",
        "name": "Name",
        "user": "Benutzer",
        "groups": "Gruppen",
        "last_seen": "Zuletzt gemeldet",
        "never": "nie",
        "select": "Auswählen",
        "select_device": "{name} auswählen",
        "bulk_heading": "Aktion für die ausgewählten Geräte",
        "bulk_group_heading": "Aktion für eine ganze Gruppe",
        "action": "Aktion",
        "do": "Weiter",
        "ownerships": {"school": "schuleigen", "byod": "privat (BYOD)"},
        "statuses": {"enrolled": "eingeschrieben", "retired": "außer Verwaltung"},
        "roles": {"student": "Schüler/in", "teacher": "Lehrkraft", "shared": "gemeinsam genutzt"},
        "detail_facts": "Gerät",
        "model": "Modell",
        "os_version": "Systemversion",
        "role": "Genutzt von",
        "serial_number": "Seriennummer",
        "imei": "IMEI",
        "enrolled_at": "Eingeschrieben",
        "nobody": "niemand",
        "none": "keine",
        "inventory": "Inventar",
        "inventory_empty": "Das Gerät hat noch kein Inventar gemeldet.",
        "byod_inventory": "Ein privates Gerät meldet nur, was die BYOD-Regel erlaubt.",
        "field": "Angabe",
        "value": "Wert",
        "back": "Zurück zur Geräteliste",
        "audit": "Ereignisse im Protokoll",
        "filtered": "Nur Geräte: {what}.",
        "not_seen": "seit {days} Tagen nicht gemeldet",
        "all_devices": "Alle Geräte zeigen",
    },
    "en": {
        "title": "Devices",
        "search_label": "Search: name, user, class, serial number or IMEI",
        "filters": "Filters",
        "school": "School",
        "group": "Group or class",
        "ownership": "Ownership",
        "platform": "Platform",
        "status": "Status",
        "any": "any",
        "apply_filters": "Filter",
        "name": "Name",
        "user": "User",
        "groups": "Groups",
        "last_seen": "Last seen",
        "never": "never",
        "select": "Select",
        "select_device": "Select {name}",
        "bulk_heading": "Action for the selected devices",
        "bulk_group_heading": "Action for a whole group",
        "action": "Action",
        "do": "Continue",
        "ownerships": {"school": "school-owned", "byod": "personal (BYOD)"},
        "statuses": {"enrolled": "enrolled", "retired": "retired"},
        "roles": {"student": "student", "teacher": "teacher", "shared": "shared"},
        "detail_facts": "Device",
        "model": "Model",
        "os_version": "OS version",
        "role": "Used by",
        "serial_number": "Serial number",
        "imei": "IMEI",
        "enrolled_at": "Enrolled",
        "nobody": "nobody",
        "none": "none",
        "inventory": "Inventory",
        "inventory_empty": "The device has not reported an inventory yet.",
        "byod_inventory": "A personal device reports only what the BYOD rule allows.",
        "field": "Item",
        "value": "Value",
        "back": "Back to the device list",
        "audit": "Events in the audit log",
        "filtered": "Only devices: {what}.",
        "not_seen": "not seen for {days} days",
        "all_devices": "Show all devices",
    },
}


@dataclass(frozen=True)
class DeviceSection:
    """A part of a device's page added by another package: a template and its context."""

    template: str
    order: int
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BulkActions:
    """Actions on several devices: the endpoint the list's forms post to (with `device_ids` or
    `group_id`, and `type`) and the actions by (value, text)."""

    endpoint: str
    options: list[tuple[str, str]]


@dataclass(frozen=True)
class DeviceFilter:
    """A filter of the device list added by another package: a query argument, its values
    with their texts by language, and the condition on Device of a value."""

    name: str
    values: dict[str, dict[str, str]]
    condition: Callable[[str, datetime], Any]


SectionProvider = Callable[[Session, Actor, Device, str], DeviceSection | None]
BulkProvider = Callable[[str], BulkActions]


def register_device_section(app: Flask, provider: SectionProvider) -> None:
    """Add a section to every device's page: `provider(session, actor, device, lang)`."""
    app.extensions.setdefault(SECTIONS, []).append(provider)


def register_bulk_actions(app: Flask, provider: BulkProvider) -> None:
    """Offer bulk actions on the device list: `provider(lang)` (one package does: commands)."""
    app.extensions[BULK_ACTIONS] = provider


def register_device_filter(app: Flask, device_filter: DeviceFilter) -> None:
    """Let the device list filter by `?{name}=value` (the dashboard's figures link so)."""
    app.extensions.setdefault(FILTERS, []).append(device_filter)


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def _choice(name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.args.get(name, "")
    return value if value in allowed else None


def school_names(session: Session) -> dict[int, School]:
    """The schools by id (for their names and time zones)."""
    return {school.id: school for school in session.scalars(select(School).order_by(School.name))}


@pages.route("")
@admin_page
def device_list() -> ResponseReturnValue:
    """Devices with filters, search, paging and a selection for bulk actions."""
    actor = page_actor()
    lang = admin_language()
    page = paging()
    school_id = _int_arg("school_id") if actor.is_city_admin else None
    now = utcnow()
    not_seen_days = _int_arg("not_seen_days")
    chosen_extra: dict[str, str] = {}
    conditions = []
    for extra in current_app.extensions.get(FILTERS, []):
        value = request.args.get(extra.name, "")
        if value in extra.values:
            chosen_extra[extra.name] = value
            conditions.append(extra.condition(value, now))
    filters = service.DeviceFilters(
        school_id=school_id,
        group_id=_int_arg("group"),
        ownership=_choice("ownership", OWNERSHIPS),
        platform=_choice("platform", PLATFORMS),
        status=_choice("status", DEVICE_STATUSES),
        search=page.search or None,
        last_seen_before=now - timedelta(days=not_seen_days) if not_seen_days else None,
        conditions=tuple(conditions),
    )
    rows, total = service.list_devices(
        db.session, actor, filters, limit=page.limit, offset=page.offset
    )
    schools = school_names(db.session)
    group_school = school_id if actor.is_city_admin else actor.school_id
    groups = (
        group_service.list_groups(db.session, actor, school_id=group_school)
        if group_school is not None
        else []
    )
    chosen = {
        "school_id": school_id,
        "group": filters.group_id,
        "ownership": filters.ownership,
        "platform": filters.platform,
        "status": filters.status,
        "not_seen_days": not_seen_days,
        **chosen_extra,
    }
    extra_texts = [
        extra.values[chosen_extra[extra.name]][lang]
        for extra in current_app.extensions.get(FILTERS, [])
        if extra.name in chosen_extra
    ]
    bulk_provider = current_app.extensions.get(BULK_ACTIONS)
    bulk = bulk_provider(lang) if bulk_provider is not None else None
    return render_admin(
        "devices/list.html",
        TEXTS,
        devices=listing(rows, total, page, **chosen),
        chosen=chosen,
        schools=schools,
        options={
            "school": [(school.id, school.name) for school in schools.values()],
            "group": [(group.id, group.name) for group in groups],
        },
        platforms=PLATFORM_NAMES,
        bulk=bulk,
        extra_texts=extra_texts
        + ([TEXTS[lang]["not_seen"].format(days=not_seen_days)] if not_seen_days else []),
    )


def inventory_rows(inventory: dict[str, Any]) -> list[tuple[str, str]]:
    """A stored inventory as (item, value) rows: nested values as compact JSON."""
    return [
        (name, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
        for name, value in sorted(inventory.items())
    ]


@pages.route("/<int:device_id>")
@admin_page
def device_detail(device_id: int) -> ResponseReturnValue:
    """A device: its facts, user, groups, inventory, and the other packages' sections."""
    actor = page_actor()
    lang = admin_language()
    device = service.get_device(db.session, actor, device_id)
    school = db.session.get(School, device.school_id)
    sections = [
        section
        for provider in current_app.extensions.get(SECTIONS, [])
        if (section := provider(db.session, actor, device, lang)) is not None
    ]
    return render_admin(
        "devices/detail.html",
        TEXTS,
        device=device,
        school=school,
        inventory=inventory_rows(device.inventory or {}),
        platforms=PLATFORM_NAMES,
        sections=sorted(sections, key=lambda section: section.order),
    )
