"""Apple's property lists as the MDM protocol sends them: XML only, bounded, no entities. Pure."""

import base64
import math
import plistlib
from datetime import datetime
from typing import Any
from xml.parsers.expat import ExpatError

# Nested deeper than this, a message is not one Apple sends (DeviceInformation is three deep).
MAX_DEPTH = 12


class PlistRefused(ValueError):
    """A body that is not a property list the service reads; the message says why."""


def _depth(value: Any, level: int = 1) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(item, level + 1) for item in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(item, level + 1) for item in value), default=level)
    return level


def _finite(value: Any) -> bool:
    """Whether every real in the value is a number JSON can hold (no inf or nan)."""
    if isinstance(value, dict):
        return all(_finite(item) for item in value.values())
    if isinstance(value, list):
        return all(_finite(item) for item in value)
    return not isinstance(value, float) or math.isfinite(value)


def load_message(body: bytes, max_bytes: int) -> dict[str, Any]:
    """The dictionary of an XML property list of at most `max_bytes`; PlistRefused otherwise.

    plistlib's parser (expat) refuses entity declarations, so no entity can expand; an internal
    DTD subset is refused before parsing too, and binary property lists are not taken."""
    if not body:
        raise PlistRefused("the body is empty; send an XML property list")
    if len(body) > max_bytes:
        raise PlistRefused(f"the body is larger than {max_bytes} bytes")
    head = body[:4096]
    if b"<!ENTITY" in body or (b"<!DOCTYPE" in head and b"[" in head.split(b"<plist", 1)[0]):
        raise PlistRefused("DTD subsets and entities are not allowed in a property list")
    try:
        message = plistlib.loads(body, fmt=plistlib.FMT_XML)
    # plistlib raises AttributeError for a <date> its pattern does not match.
    except (
        plistlib.InvalidFileException,
        ExpatError,
        ValueError,
        TypeError,
        AttributeError,
    ) as exc:
        raise PlistRefused("not an XML property list") from exc
    if not isinstance(message, dict):
        raise PlistRefused("the property list is not a dictionary")
    if _depth(message) > MAX_DEPTH:
        raise PlistRefused(f"the property list nests deeper than {MAX_DEPTH}")
    if not _finite(message):
        raise PlistRefused("a <real> of the property list is not a finite number")
    return message


def dump(value: dict[str, Any]) -> bytes:
    """An XML property list of the dictionary."""
    return plistlib.dumps(value, fmt=plistlib.FMT_XML, sort_keys=True)


def jsonable(value: Any) -> Any:
    """A property list value as JSON can store it: data as base64, dates as ISO 8601."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.isoformat()
    return value
