"""Text the database can hold, the same on SQLite as on PostgreSQL.

PostgreSQL refuses NUL characters in text and in JSON, and neither database (nor the UTF-8
encoder in front of them) takes a lone UTF-16 surrogate, which JSON can carry as an escape
(`"\\ud800"`). SQLite would store text of any length; PostgreSQL refuses text longer than its
column. Such text is a 400 that names the field, found before anything is written: in the
request (`unstorable_in_request`), in what a service is about to flush (`check_before_flush`),
and in files and inventories by their own parsers (`find_unstorable`).
"""

import re
from collections.abc import Iterator
from typing import Any

from flask import Request
from sqlalchemy import JSON, String, event
from sqlalchemy.orm import Session

from mdm.platform.errors import ValidationFailed

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
NUL_REASON = "contains a NUL character, which cannot be stored"
SURROGATE_REASON = "contains a lone UTF-16 surrogate (\\ud800-\\udfff), which is not text"
# A JSON body can carry NUL or a surrogate only as a \u escape (raw ones are invalid JSON or
# invalid UTF-8): bodies without such an escape need no closer look.
_SUSPICIOUS_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


def unstorable_reason(text: str) -> str | None:
    """Why the text cannot be stored, or None."""
    found = UNSTORABLE.search(text)
    if found is None:
        return None
    return NUL_REASON if found.group() == "\x00" else SURROGATE_REASON


def find_unstorable(value: Any, path: str) -> dict[str, list[str]]:
    """The fields (dotted paths from `path`) of a JSON-like value whose keys or text cannot be
    stored, with the reason."""
    return {where: [reason] for where, reason in _walk(value, path)}


def _walk(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        reason = unstorable_reason(value)
        if reason:
            yield path, reason
    elif isinstance(value, dict):
        for key, item in value.items():
            key_text = str(key)
            reason = unstorable_reason(key_text)
            where = f"{path}.{UNSTORABLE.sub('?', key_text)}" if path else key_text
            if reason:
                yield where, reason
            else:
                yield from _walk(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}.{index}" if path else str(index))


def unstorable_in_request(request: Request) -> dict[str, list[str]]:
    """Fields of the request's query, path and JSON body that cannot be stored."""
    problems: dict[str, list[str]] = {}
    for name, value in [*request.args.items(multi=True), *(request.view_args or {}).items()]:
        reason = unstorable_reason(name) or (isinstance(value, str) and unstorable_reason(value))
        if reason:
            problems[UNSTORABLE.sub("?", name)] = [reason]
    if request.is_json and _SUSPICIOUS_ESCAPE.search(request.get_data(cache=True)):
        problems.update(find_unstorable(request.get_json(silent=True), ""))
    return {name: reasons for name, reasons in problems.items() if reasons}


def _column_problems(obj: Any) -> dict[str, list[str]]:
    """What of an object about to be written its columns cannot hold."""
    problems: dict[str, list[str]] = {}
    state = obj.__mapper__
    for column in state.columns:
        key = state.get_property_by_column(column).key
        value = obj.__dict__.get(key)
        if value is None:
            continue
        if isinstance(column.type, String) and isinstance(value, str):
            reason = unstorable_reason(value)
            if reason:
                problems[key] = [reason]
            elif column.type.length is not None and len(value) > column.type.length:
                problems[key] = [f"at most {column.type.length} characters, got {len(value)}"]
        elif isinstance(column.type, JSON):
            problems.update(find_unstorable(value, key))
    return problems


@event.listens_for(Session, "before_flush")
def check_before_flush(session: Session, _context: Any, _instances: Any) -> None:
    """Refuse, before the database sees it, text that one of the databases could not hold."""
    problems: dict[str, list[str]] = {}
    for obj in (*session.new, *session.dirty):
        if hasattr(obj, "__mapper__"):
            problems.update(_column_problems(obj))
    if problems:
        raise ValidationFailed("Some text cannot be stored.", errors=problems)
