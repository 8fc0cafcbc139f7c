"""Indiware VpMobil class plans (PlanKl*.xml) into import dataclasses.

A plan covers one date. Each class lists that day's periods; entries with a change marker (FaAe,
LeAe, RaAe) or an info text differ from the timetable and become substitutions, the others
become lessons of that date. The class's lesson list (Unterricht) names the planned teacher and
subject of a lesson number, which the day entries only give after the change.

A plan is the complete word on its date: its substitutions, dated lessons and day messages
(ZusatzInfo) replace the date's. So a plan that is not well-formed (cut off) or lists no class is
refused. The XML goes through defusedxml, which refuses DTDs, entity declarations and external
references in any encoding the XML declaration names.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from xml.parsers import expat

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import fromstring

from schedules.import_data import (
    CANCELLATION,
    FLAG_ROOM_CHANGED,
    FLAG_SUBJECT_CHANGED,
    FLAG_TEACHER_CHANGED,
    MAX_NUMBER,
    MAX_PERIOD,
    ROOM_CHANGE,
    SUBSTITUTION,
    DayMessage,
    ImportBatch,
    ImportFormatError,
    Lesson,
    ParseWarning,
    Period,
    Substitution,
)

SOURCE = "indiware"

GERMAN_MONTHS = {
    "januar": 1,
    "jänner": 1,
    "februar": 2,
    "märz": 3,
    "april": 4,
    "mai": 5,
    "juni": 6,
    "juli": 7,
    "august": 8,
    "september": 9,
    "oktober": 10,
    "november": 11,
    "dezember": 12,
}
CANCELLATION_WORDS = ("fällt aus", "entfällt")
_EMPTY_VALUES = {"", "&nbsp;", "---"}
_NUMBER = re.compile(r"[0-9]{1,10}")
# What expat reports when the document ends before its root element is closed.
_ENDS_EARLY = {
    expat.errors.codes[expat.errors.XML_ERROR_NO_ELEMENTS],
    expat.errors.codes[expat.errors.XML_ERROR_UNCLOSED_TOKEN],
    expat.errors.codes[expat.errors.XML_ERROR_PARTIAL_CHAR],
}
CUT_OFF = "the file looks cut off (a download or copy that stopped early?); nothing was imported"


@dataclass(frozen=True, slots=True)
class _PlannedLesson:
    teacher: str
    subject: str
    group: str


@dataclass(frozen=True, slots=True)
class _Entry:
    class_name: str
    period: int
    subject: str
    teacher: str
    room: str
    lesson_number: int | None
    info: str
    course: str
    flags: frozenset[str]


def parse_indiware(data: bytes, file: str = "PlanKl.xml") -> ImportBatch:
    """Parse an Indiware VpMobil class plan (PlanKl*.xml) into an ImportBatch for its date."""
    root = _parse_xml(data, file)
    head = root.find("Kopf")
    if head is None:
        raise ImportFormatError(file, None, "no Kopf: not an Indiware plan")
    day = _plan_date(head, file)
    if root.find("Klassen/Kl") is None:
        message = f"the plan for {day} lists no classes: it looks incomplete; nothing was imported"
        raise ImportFormatError(file, None, message)
    batch = ImportBatch(source=SOURCE, covered_dates={day}, message_dates={day})
    batch.generated_at = _timestamp(head.findtext("zeitstempel", ""), file, batch)
    batch.holidays = {_short_date(ft.text or "", file) for ft in root.iterfind("FreieTage/ft")}
    entries: list[_Entry] = []
    for klass in root.iterfind("Klassen/Kl"):
        entries.extend(_class_entries(klass, file, batch))
        batch.periods.extend(_periods(klass, file, batch))
    batch.periods = sorted(set(batch.periods), key=lambda period: period.number)
    planned = _planned_lessons(root, file, batch)
    for entry in entries:
        if entry.flags or entry.info and _is_cancellation(entry):
            batch.substitutions.append(_substitution(entry, day, planned))
        else:
            batch.lessons.append(_lesson(entry, day))
    batch.lessons = _merge_lessons(batch.lessons)
    batch.substitutions = _merge_substitutions(batch.substitutions)
    batch.day_messages = [
        DayMessage(day, text)
        for line in root.iterfind("ZusatzInfo/ZiZeile")
        if (text := " ".join((line.text or "").split()))
    ]
    return batch


def _parse_xml(data: bytes, file: str) -> ET.Element:
    """The root element; DTDs (and so entity bombs) and external references are refused."""
    if not data.strip():
        raise ImportFormatError(file, None, "the file is empty; nothing was imported")
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden) as exc:
        message = (
            "a DTD (<!DOCTYPE ...>), entity declarations and references to other files are not "
            "accepted: Indiware plans have none; nothing was imported"
        )
        raise ImportFormatError(file, None, message) from exc
    except ET.ParseError as exc:
        line = exc.position[0]
        if exc.code in _ENDS_EARLY:
            message = f"the XML ends before the plan does: {CUT_OFF}"
            raise ImportFormatError(file, line, message) from exc
        raise ImportFormatError(file, line, f"not well-formed XML: {exc}") from exc
    except (LookupError, ValueError) as exc:
        # pyexpat reads only single-byte encodings it does not know itself (UTF-8, UTF-16, ...).
        message = f"the encoding its XML declaration names is not readable ({exc})"
        raise ImportFormatError(file, None, f"{message}; nothing was imported") from exc
    if root.tag != "VpMobil":
        raise ImportFormatError(file, None, f"root element {root.tag!r}, expected VpMobil")
    return root


def _plan_date(head: ET.Element, file: str) -> date:
    """The date from DatumPlan ("Mittwoch, 21. Juni 2017"), else from the file name in datei."""
    text = head.findtext("DatumPlan", "")
    match = re.search(r"(\d{1,2})\.\s*([^\W\d_]+)\s+(\d{4})", text)
    if match and match.group(2).lower() in GERMAN_MONTHS:
        parts = (int(match.group(3)), GERMAN_MONTHS[match.group(2).lower()], int(match.group(1)))
        return _valid_date(*parts, file=file, what=f"plan date (DatumPlan {text!r})")
    datei = head.findtext("datei", "")
    match = re.search(r"(\d{4})(\d{2})(\d{2})", datei)
    if match:
        parts = (int(match.group(1)), int(match.group(2)), int(match.group(3)))
        return _valid_date(*parts, file=file, what=f"plan date (datei {datei!r})")
    raise ImportFormatError(file, None, f"no plan date in Kopf (DatumPlan {text!r})")


def _valid_date(year: int, month: int, day: int, *, file: str, what: str) -> date:
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise ImportFormatError(file, None, f"{what} is not a valid date") from exc


def _timestamp(text: str, file: str, batch: ImportBatch) -> datetime | None:
    match = re.search(r"(\d{1,2})\.(\d{1,2})\.(\d{4}),?\s+(\d{1,2}):(\d{2})", text)
    if not match:
        return None
    day, month, year, hour, minute = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute)
    except ValueError:
        message = f"zeitstempel {text.strip()!r} is not a valid date and time; ignored"
        batch.warnings.append(ParseWarning(file, None, message))
        return None


def _short_date(text: str, file: str) -> date:
    """FreieTage use YYMMDD."""
    value = text.strip()
    if not (len(value) == 6 and value.isascii() and value.isdigit()):
        raise ImportFormatError(file, None, f"free day {value!r} is not YYMMDD")
    parts = (2000 + int(value[:2]), int(value[2:4]), int(value[4:]))
    return _valid_date(*parts, file=file, what=f"free day {value!r}")


def _number(text: str, high: int = MAX_NUMBER) -> int | None:
    """A whole number 0..high written in ASCII digits, else None."""
    if not _NUMBER.fullmatch(text) or int(text) > high:
        return None
    return int(text)


def _value(element: ET.Element | None) -> str:
    text = " ".join((element.text or "").split()) if element is not None else ""
    return "" if text in _EMPTY_VALUES else text


def _class_entries(klass: ET.Element, file: str, batch: ImportBatch) -> list[_Entry]:
    name = _value(klass.find("Kurz"))
    entries = []
    for std in klass.iterfind("Pl/Std"):
        period_text = _value(std.find("St"))
        period = _number(period_text, MAX_PERIOD)
        if period is None:
            message = (
                f"class {name}: period {period_text!r} is not a number from 0 to {MAX_PERIOD}; "
                "entry skipped"
            )
            batch.warnings.append(ParseWarning(file, None, message))
            continue
        number = _value(std.find("Nr"))
        lesson_number = _number(number)
        if number and lesson_number is None:
            message = f"class {name}: lesson number {number!r} is not readable; ignored"
            batch.warnings.append(ParseWarning(file, None, message))
        entries.append(
            _Entry(
                class_name=name,
                period=period,
                subject=_value(std.find("Fa")),
                teacher=_value(std.find("Le")),
                room=_value(std.find("Ra")),
                lesson_number=lesson_number,
                info=_value(std.find("If")),
                course=_value(std.find("Ku2")),
                flags=_changes(std),
            )
        )
    return entries


def _changes(std: ET.Element) -> frozenset[str]:
    markers = (("Fa", "FaAe", FLAG_SUBJECT_CHANGED), ("Le", "LeAe", FLAG_TEACHER_CHANGED))
    markers += (("Ra", "RaAe", FLAG_ROOM_CHANGED),)
    return frozenset(
        flag for tag, attribute, flag in markers if std.find(f"{tag}[@{attribute}]") is not None
    )


def _periods(klass: ET.Element, file: str, batch: ImportBatch) -> list[Period]:
    """Newer plans carry the class's time grid in KlStunden/KlSt (ZeitVon, ZeitBis)."""
    periods = []
    for slot in klass.iterfind("KlStunden/KlSt"):
        starts, ends = _clock(slot.get("ZeitVon", "")), _clock(slot.get("ZeitBis", ""))
        text = _value(slot)
        number = _number(text, MAX_PERIOD)
        if starts and ends and number is not None:
            periods.append(Period(number, starts, ends))
        elif slot.get("ZeitVon") or slot.get("ZeitBis") or text:
            times = f"{slot.get('ZeitVon', '')}-{slot.get('ZeitBis', '')}"
            message = f"period {text!r} ({times}) is not readable; left out of the time grid"
            batch.warnings.append(ParseWarning(file, None, message))
    return periods


def _clock(text: str) -> time | None:
    match = re.fullmatch(r"\s*([0-9]{1,2}):([0-9]{2})\s*", text)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        return None
    return time(int(match.group(1)), int(match.group(2)))


def _planned_lessons(root: ET.Element, file: str, batch: ImportBatch) -> dict[int, _PlannedLesson]:
    planned = {}
    for element in root.iterfind("Klassen/Kl/Unterricht/Ue/UeNr"):
        text = _value(element)
        number = _number(text)
        if number is None:
            if text:
                message = f"lesson number {text!r} is not readable; lesson list entry skipped"
                batch.warnings.append(ParseWarning(file, None, message))
            continue
        planned[number] = _PlannedLesson(
            teacher=element.get("UeLe", "").strip(),
            subject=element.get("UeFa", "").strip(),
            group=element.get("UeGr", "").strip(),
        )
    return planned


def _is_cancellation(entry: _Entry) -> bool:
    info = entry.info.lower()
    return entry.subject == "" or any(word in info for word in CANCELLATION_WORDS)


def _substitution(entry: _Entry, day: date, planned: dict[int, _PlannedLesson]) -> Substitution:
    plan = planned.get(entry.lesson_number or 0)
    subject_changed = FLAG_SUBJECT_CHANGED in entry.flags
    teacher_changed = FLAG_TEACHER_CHANGED in entry.flags
    # A changed value's original is only known from the lesson list; unknown stays empty.
    original_subject = (plan.subject if plan else "") if subject_changed else entry.subject
    original_teacher = (plan.teacher if plan else "") if teacher_changed else entry.teacher
    if _is_cancellation(entry):
        kind = CANCELLATION
    elif entry.flags == {FLAG_ROOM_CHANGED}:
        kind = ROOM_CHANGE
    else:
        kind = SUBSTITUTION
    cancelled = kind == CANCELLATION
    return Substitution(
        external_id="",
        date=day,
        period=entry.period,
        period_to=entry.period,
        kind=kind,
        lesson_number=entry.lesson_number,
        # Indiware does not say which room was planned when the room changed.
        original_subject=original_subject,
        original_teachers=_names(original_teacher),
        original_rooms=() if FLAG_ROOM_CHANGED in entry.flags else _names(entry.room),
        original_classes=(entry.class_name,),
        new_subject="" if cancelled else entry.subject,
        new_teachers=() if cancelled else _names(entry.teacher),
        new_rooms=() if cancelled else _names(entry.room),
        new_classes=() if cancelled else (entry.class_name,),
        course=entry.course or (plan.group if plan else ""),
        text=entry.info,
        flags=entry.flags,
    )


def _lesson(entry: _Entry, day: date) -> Lesson:
    return Lesson(
        lesson_number=entry.lesson_number,
        weekday=day.isoweekday(),
        period=entry.period,
        subject=entry.subject,
        classes=(entry.class_name,),
        teachers=_names(entry.teacher),
        rooms=_names(entry.room),
        valid_from=day,
        valid_to=day,
        course=entry.course,
        text=entry.info,
    )


def _names(text: str) -> tuple[str, ...]:
    return tuple(name for name in (part.strip() for part in text.split(",")) if name)


def _merge_lessons(lessons: list[Lesson]) -> list[Lesson]:
    """One course taught to several classes appears under each class; keep it once."""
    merged: dict[Lesson, Lesson] = {}
    for lesson in lessons:
        key = replace(lesson, classes=())
        known = merged.get(key)
        merged[key] = (
            lesson if known is None else replace(known, classes=known.classes + lesson.classes)
        )
    return list(merged.values())


def _merge_substitutions(substitutions: list[Substitution]) -> list[Substitution]:
    """Like _merge_lessons, for the changed entries."""
    merged: dict[Substitution, Substitution] = {}
    for sub in substitutions:
        key = replace(sub, original_classes=(), new_classes=())
        known = merged.get(key)
        merged[key] = (
            sub
            if known is None
            else replace(
                known,
                original_classes=known.original_classes + sub.original_classes,
                new_classes=known.new_classes + sub.new_classes,
            )
        )
    return list(merged.values())
