"""The policy pages' section forms: from a submitted form to a part of a policy document, and
from a document's part to the form's values. Pure: no Flask, no session. What a document may
hold is decided by the schema (mdm/policies/document.py) the page loads the result with; this
module only reads the form's fields."""

from collections.abc import Mapping
from typing import Any

from mdm.policies.document import RESTRICTIONS, WEEKDAYS

SECTIONS = ("passcode", "restrictions", "wifi", "apps", "web_filter", "single_app", "windows")
NEW_ROWS = 1  # empty rows a list section offers for adding one
MAX_ROWS = 40
Form = Mapping[str, str]


def _boolean(value: str | None) -> bool | None:
    """A select of "", "true" and "false": not set, yes, no."""
    return {"true": True, "false": False}.get(value or "")


def _lines(value: str | None) -> list[str]:
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


def _set(part: dict[str, Any], name: str, value: Any) -> None:
    if value not in (None, ""):
        part[name] = value


def _rows(form: Form, prefix: str) -> list[int]:
    """The row numbers of a list section's fields in the form (`wifi-0-ssid`, ...)."""
    found = set()
    for name in form:
        if name.startswith(prefix + "-"):
            number = name.split("-")[1]
            if number.isdigit() and int(number) < MAX_ROWS:
                found.add(int(number))
    return sorted(found)


def read_section(section: str, form: Form, getlist: Any) -> Any:
    """The part of the document this section's form describes; None when the form leaves the
    section unset. `getlist(name)` reads the values of a repeated field (checkboxes)."""
    if section == "passcode":
        part: dict[str, Any] = {}
        _set(part, "required", _boolean(form.get("passcode.required")))
        for name in ("min_length", "complexity", "auto_lock_minutes"):
            _set(part, name, form.get(f"passcode.{name}", "").strip())
        return part or None
    if section == "restrictions":
        part = {}
        for name in RESTRICTIONS:
            _set(part, name, _boolean(form.get(f"restrictions.{name}")))
        return part or None
    if section == "wifi":
        networks = []
        for row in _rows(form, "wifi"):
            ssid = form.get(f"wifi-{row}-ssid", "")
            if not ssid.strip() or form.get(f"wifi-{row}-remove"):
                continue
            network: dict[str, Any] = {"ssid": ssid, "security": form.get(f"wifi-{row}-security")}
            _set(network, "password", form.get(f"wifi-{row}-password", ""))
            network["hidden"] = bool(form.get(f"wifi-{row}-hidden"))
            network["auto_join"] = bool(form.get(f"wifi-{row}-auto_join"))
            networks.append(network)
        return networks or None
    if section == "apps":
        part = {
            mode: _lines(form.get(f"apps.{mode}")) for mode in ("required", "allowed", "blocked")
        }
        return {mode: apps for mode, apps in part.items() if apps} or None
    if section == "web_filter":
        part = {action: _lines(form.get(f"web_filter.{action}")) for action in ("allow", "deny")}
        part = {action: sites for action, sites in part.items() if sites}
        _set(part, "allow_listed_only", _boolean(form.get("web_filter.allow_listed_only")))
        return part or None
    if section == "single_app":
        app = form.get("single_app.app", "").strip()
        if not app:
            return None
        return {"app": app, "exam": bool(form.get("single_app.exam"))}
    if section == "windows":
        windows = []
        for row in _rows(form, "windows"):
            kind = form.get(f"windows-{row}-kind", "")
            if not kind or form.get(f"windows-{row}-remove"):
                continue
            window: dict[str, Any] = {"kind": kind}
            if kind == "weekly":
                window["days"] = [day for day in getlist(f"windows-{row}-days") if day]
                _set(window, "start", form.get(f"windows-{row}-start", "").strip())
                _set(window, "end", form.get(f"windows-{row}-end", "").strip())
                _set(
                    window, "except_holidays", _boolean(form.get(f"windows-{row}-except_holidays"))
                )
            else:
                for name in ("first_period", "last_period"):
                    _set(window, name, form.get(f"windows-{row}-{name}", "").strip())
            windows.append(window)
        return windows or None
    raise ValueError(f"no section {section}")


def with_section(document: Mapping[str, Any], section: str, part: Any) -> dict[str, Any]:
    """The document with this section replaced (or left out when `part` is None)."""
    changed = {name: value for name, value in document.items() if name != section}
    if part is not None:
        changed[section] = part
    return changed


def form_rows(section: str, part: Any) -> list[dict[str, Any]]:
    """The rows a list section's form shows: the document's, then empty ones for adding."""
    rows = [dict(row) for row in (part or [])] if section in ("wifi", "windows") else []
    blank: dict[str, Any] = {"auto_join": True} if section == "wifi" else {"days": []}
    return rows + [dict(blank) for _ in range(NEW_ROWS)]


def field_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """A schema's nested error messages as {"passcode.min_length": [...], "wifi-0-ssid": [...]}:
    the names of the form's fields."""
    found: dict[str, list[str]] = {}
    if isinstance(messages, list):
        found[prefix or "_form"] = [str(message) for message in messages]
        return found
    for key, value in messages.items():
        if isinstance(key, int) or "-" in prefix or prefix in ("wifi", "windows"):
            name = f"{prefix}-{key}"
        else:
            name = f"{prefix}.{key}" if prefix else str(key)
        for field, errors in field_errors(value, name).items():
            found.setdefault(field, []).extend(errors)
    return found


WEEKDAY_NAMES = {
    "de": dict(zip(WEEKDAYS, ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"), strict=True)),
    "en": dict(zip(WEEKDAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True)),
}
