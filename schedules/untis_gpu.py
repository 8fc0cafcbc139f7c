"""Untis GPU text exports (GPU001-GPU006, GPU013, GPU014) into import dataclasses.

Separator, quoting and encoding are chosen by whoever exported the file, so all of them are
detected here. A line that cannot be read is skipped with a warning; a file in which no line can
be read is not the export it was given as, and raises ImportFormatError.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import PurePosixPath
from typing import TypeVar

from schedules.import_data import (
    ABSENT_CLASS,
    ABSENT_ROOM,
    ABSENT_TEACHER,
    BREAK_SUPERVISION,
    CANCELLATION,
    EXAM,
    FLAG_BREAK_SUPERVISION,
    FLAG_CANCELLED,
    FLAG_DO_NOT_PRINT,
    FLAG_LESSON_FREE,
    FLAG_MOVED_AWAY,
    FLAG_MOVED_IN,
    FLAG_NEW,
    FLAG_PARTIAL,
    FLAG_PLUS_AS_SUBSTITUTE,
    FLAG_ROOM_SUBSTITUTION,
    FLAG_SPECIAL_DUTY,
    FLAG_SUPERVISION,
    FLAG_TEACHER_FREED,
    FLAG_TEACHER_SWAP,
    MAX_NUMBER,
    MAX_PERIOD,
    MOVED,
    RELEASED,
    ROOM_CHANGE,
    SPECIAL_DUTY,
    SUBSTITUTION,
    SUPERVISION,
    SWAP,
    Absence,
    Course,
    ImportBatch,
    ImportFormatError,
    Lesson,
    ParseWarning,
    Room,
    SchoolClass,
    Subject,
    Substitution,
    Teacher,
)

T = TypeVar("T")
Warn = Callable[[str], None]

SOURCE = "untis-gpu"
SEPARATORS = (",", ";", "\t")
LIST_SEPARATOR = "~"

# GPU014 field 18: bit number -> flag.
ART_BITS: dict[int, str] = {
    0: FLAG_CANCELLED,
    1: FLAG_SUPERVISION,
    2: FLAG_SPECIAL_DUTY,
    3: FLAG_MOVED_AWAY,
    4: FLAG_TEACHER_FREED,
    5: FLAG_PLUS_AS_SUBSTITUTE,
    6: FLAG_PARTIAL,
    7: FLAG_MOVED_IN,
    16: FLAG_ROOM_SUBSTITUTION,
    17: FLAG_BREAK_SUPERVISION,
    18: FLAG_LESSON_FREE,
    20: FLAG_DO_NOT_PRINT,
    21: FLAG_NEW,
}

# GPU014 field 20; an empty letter is a plain substitution.
TYPE_LETTERS: dict[str, str] = {
    "T": MOVED,
    "F": MOVED,
    "W": SWAP,
    "S": SUPERVISION,
    "A": SPECIAL_DUTY,
    "C": CANCELLATION,
    "L": RELEASED,
    "P": SUBSTITUTION,
    "R": ROOM_CHANGE,
    "B": BREAK_SUPERVISION,
    "~": SWAP,
    "E": EXAM,
}
TYPE_LETTER_FLAGS = {
    "T": FLAG_MOVED_AWAY,
    "F": FLAG_MOVED_IN,
    "P": FLAG_PARTIAL,
    "~": FLAG_TEACHER_SWAP,
}

# Without a type letter the Art bits decide, the first match wins.
ART_BIT_KINDS = (
    (FLAG_CANCELLED, CANCELLATION),
    (FLAG_BREAK_SUPERVISION, BREAK_SUPERVISION),
    (FLAG_SUPERVISION, SUPERVISION),
    (FLAG_SPECIAL_DUTY, SPECIAL_DUTY),
    (FLAG_TEACHER_FREED, RELEASED),
    (FLAG_MOVED_AWAY, MOVED),
    (FLAG_MOVED_IN, MOVED),
    (FLAG_ROOM_SUBSTITUTION, ROOM_CHANGE),
)

ABSENCE_TYPES = {"L": ABSENT_TEACHER, "K": ABSENT_CLASS, "R": ABSENT_ROOM}

_FILE_NAME = re.compile(r"gpu(\d{3})(?!\d)", re.IGNORECASE)


class _RowError(ValueError):
    """A line whose fields do not fit the file type."""


def gpu_file_type(name: str) -> str | None:
    """Return the GPU type ("GPU001" ... "GPU014") a file name stands for, or None."""
    base = PurePosixPath(name.replace("\\", "/")).name
    match = _FILE_NAME.match(base)
    return f"GPU{match.group(1)}" if match else None


def decode_gpu_text(data: bytes, file: str) -> str:
    """Decode a GPU export: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    if b"\x00" in data:
        raise ImportFormatError(file, None, "binary data, not a GPU text export")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        # ISO-8859-1 text only differs from Windows-1252 in C1 control bytes cp1252 lacks.
        return data.decode("latin-1")


def detect_separator(text: str) -> str:
    """Return the field separator of a GPU export: the candidate seen most outside quotes."""
    counts = dict.fromkeys(SEPARATORS, 0)
    sample = [line for line in text.splitlines() if line.strip()][:20]
    for line in sample:
        quoted = False
        for char in line:
            if char == '"':
                quoted = not quoted
            elif not quoted and char in counts:
                counts[char] += 1
    best = max(SEPARATORS, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _rows(text: str, file: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=detect_separator(text),
        quotechar='"',
        skipinitialspace=True,
    )
    try:
        for fields in reader:
            stripped = [value.strip() for value in fields]
            if any(stripped):
                yield reader.line_num, stripped
    except csv.Error as exc:
        raise ImportFormatError(file, reader.line_num, f"unreadable CSV: {exc}") from exc


def _parse_rows(
    data: bytes,
    file: str,
    gpu_type: str,
    min_fields: int,
    parse_row: Callable[[list[str], Warn], T],
) -> tuple[list[T], list[ParseWarning]]:
    items: list[T] = []
    warnings: list[ParseWarning] = []
    for line, fields in _rows(decode_gpu_text(data, file), file):

        def warn(message: str, line: int = line) -> None:
            warnings.append(ParseWarning(file, line, message))

        if len(fields) < min_fields:
            warn(f"truncated line: {len(fields)} fields, {gpu_type} needs {min_fields}; skipped")
            continue
        try:
            items.append(parse_row(fields, warn))
        except _RowError as exc:
            warn(f"{exc}; line skipped")
    if not items and warnings:
        first = warnings[0]
        raise ImportFormatError(file, first.line, f"not a {gpu_type} export: {first.message}")
    return items, warnings


def _field(fields: list[str], number: int) -> str:
    """Field by its 1-based number as the Untis documentation counts; missing trailing = ''."""
    return fields[number - 1] if number <= len(fields) else ""


_INTEGER = re.compile(r"-?[0-9]+")


def _int(
    fields: list[str], number: int, what: str, low: int = -MAX_NUMBER, high: int = MAX_NUMBER
) -> int:
    """The field as a whole number in low..high; anything else skips the line."""
    value = _field(fields, number)
    if not _INTEGER.fullmatch(value):
        raise _RowError(f"field {number} ({what}) is {value!r}, not a number")
    # Compare digit counts first: int() of a huge digit string is slow and pointless.
    if len(value.lstrip("-")) > len(str(MAX_NUMBER)) or not low <= int(value) <= high:
        raise _RowError(f"field {number} ({what}) is {value!r}, not within {low} to {high}")
    return int(value)


def _optional_int(
    fields: list[str], number: int, what: str, low: int = -MAX_NUMBER, high: int = MAX_NUMBER
) -> int | None:
    return _int(fields, number, what, low, high) if _field(fields, number) else None


def _optional_float(fields: list[str], number: int, what: str) -> float | None:
    value = _field(fields, number)
    if not value:
        return None
    try:
        return float(value.replace(",", "."))
    except ValueError as exc:
        raise _RowError(f"field {number} ({what}) is {value!r}, not a number") from exc


def _date(fields: list[str], number: int, what: str) -> date:
    value = _field(fields, number)
    try:
        if len(value) != 8:
            raise ValueError(value)
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError as exc:
        raise _RowError(f"field {number} ({what}) is {value!r}, not a YYYYMMDD date") from exc


def _optional_date(fields: list[str], number: int, what: str) -> date | None:
    return _date(fields, number, what) if _field(fields, number) else None


def _timestamp(fields: list[str], number: int, warn: Warn) -> datetime | None:
    value = _field(fields, number)
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y%m%d%H%M")
    except ValueError:
        warn(f"field {number} (last change) is {value!r}, not YYYYMMDDHHMM; ignored")
        return None


def _list(fields: list[str], number: int) -> tuple[str, ...]:
    return tuple(
        item.strip() for item in _field(fields, number).split(LIST_SEPARATOR) if item.strip()
    )


def _merge(values: tuple[str, ...], extra: tuple[str, ...]) -> tuple[str, ...]:
    return values + tuple(value for value in extra if value not in values)


def _timetable_row(fields: list[str], warn: Warn) -> Lesson:
    weekday = _int(fields, 6, "day")
    period = _int(fields, 7, "period")
    if not 1 <= weekday <= 7:
        raise _RowError(f"day {weekday} is not 1 (Monday) to 7")
    if not 0 <= period <= MAX_PERIOD:
        raise _RowError(f"period {period} is not 0 to {MAX_PERIOD}")
    return Lesson(
        lesson_number=_int(fields, 1, "lesson number", 0),
        weekday=weekday,
        period=period,
        subject=_field(fields, 4),
        classes=_list(fields, 2),
        teachers=_list(fields, 3),
        rooms=_list(fields, 5),
    )


def parse_timetable(
    data: bytes, file: str = "GPU001.TXT"
) -> tuple[list[Lesson], list[ParseWarning]]:
    """Parse GPU001: the rows of one coupling line (lesson, day, period, subject and teacher: one
    row per class and room) become one Lesson; parallel lines (religion groups, a class split
    for sport, team teaching) stay apart, as in GPU002 and GPU014."""
    rows, warnings = _parse_rows(data, file, "GPU001", 7, _timetable_row)
    merged: dict[tuple[int | None, int, int, str, tuple[str, ...]], Lesson] = {}
    for row in rows:
        key = (row.lesson_number, row.weekday, row.period, row.subject, row.teachers)
        known = merged.get(key)
        merged[key] = (
            row
            if known is None
            else replace(
                known,
                classes=_merge(known.classes, row.classes),
                teachers=_merge(known.teachers, row.teachers),
                rooms=_merge(known.rooms, row.rooms),
            )
        )
    return list(merged.values()), warnings


def _course_row(fields: list[str], warn: Warn) -> Course:
    return Course(
        lesson_number=_int(fields, 1, "lesson number", 0),
        hours_per_week=_optional_float(fields, 2, "hours per week"),
        classes=_list(fields, 5),
        teacher=_field(fields, 6),
        subject=_field(fields, 7),
        room=_field(fields, 8),
        week_type=_field(fields, 12),
        valid_from=_optional_date(fields, 15, "valid from"),
        valid_to=_optional_date(fields, 16, "valid to"),
        name=_field(fields, 42),
    )


def parse_courses(data: bytes, file: str = "GPU002.TXT") -> tuple[list[Course], list[ParseWarning]]:
    """Parse GPU002 lessons (Unterricht): one Course per lesson number, teacher and subject."""
    rows, warnings = _parse_rows(data, file, "GPU002", 7, _course_row)
    merged: dict[tuple[int, str, str], Course] = {}
    for row in rows:
        key = (row.lesson_number, row.teacher, row.subject)
        known = merged.get(key)
        merged[key] = (
            row
            if known is None
            else replace(
                known,
                classes=_merge(known.classes, row.classes),
                room=known.room or row.room,
                name=known.name or row.name,
            )
        )
    return list(merged.values()), warnings


def _required(fields: list[str], number: int, what: str) -> str:
    value = _field(fields, number)
    if not value:
        raise _RowError(f"field {number} ({what}) is empty")
    return value


def parse_classes(
    data: bytes, file: str = "GPU003.TXT"
) -> tuple[list[SchoolClass], list[ParseWarning]]:
    """Parse GPU003 classes: name, long name, home room (4), class teacher (30)."""

    def row(fields: list[str], warn: Warn) -> SchoolClass:
        return SchoolClass(
            name=_required(fields, 1, "name"),
            long_name=_field(fields, 2),
            room=_field(fields, 4),
            teacher=_field(fields, 30),
        )

    return _parse_rows(data, file, "GPU003", 2, row)


def parse_teachers(
    data: bytes, file: str = "GPU004.TXT"
) -> tuple[list[Teacher], list[ParseWarning]]:
    """Parse GPU004 teachers: abbreviation, last name (2), first name (29), title, e-mail (33)."""

    def row(fields: list[str], warn: Warn) -> Teacher:
        return Teacher(
            abbreviation=_required(fields, 1, "abbreviation"),
            last_name=_field(fields, 2),
            first_name=_field(fields, 29),
            title=_field(fields, 30),
            email=_field(fields, 33),
        )

    return _parse_rows(data, file, "GPU004", 2, row)


def parse_rooms(data: bytes, file: str = "GPU005.TXT") -> tuple[list[Room], list[ParseWarning]]:
    """Parse GPU005 rooms: name, long name, capacity (8)."""

    def row(fields: list[str], warn: Warn) -> Room:
        return Room(
            name=_required(fields, 1, "name"),
            long_name=_field(fields, 2),
            capacity=_optional_int(fields, 8, "capacity", 0),
        )

    return _parse_rows(data, file, "GPU005", 2, row)


def parse_subjects(
    data: bytes, file: str = "GPU006.TXT"
) -> tuple[list[Subject], list[ParseWarning]]:
    """Parse GPU006 subjects: name and long name."""

    def row(fields: list[str], warn: Warn) -> Subject:
        return Subject(name=_required(fields, 1, "name"), long_name=_field(fields, 2))

    return _parse_rows(data, file, "GPU006", 2, row)


def _absence_row(fields: list[str], warn: Warn) -> Absence:
    letter = _field(fields, 2).upper()
    if letter not in ABSENCE_TYPES:
        raise _RowError(f"field 2 (type) is {letter!r}, not L, K or R")
    return Absence(
        external_id=_field(fields, 1),
        kind=ABSENCE_TYPES[letter],
        name=_required(fields, 3, "element"),
        from_date=_date(fields, 4, "from date"),
        to_date=_date(fields, 5, "to date"),
        first_period=_optional_int(fields, 6, "first period", 0, MAX_PERIOD),
        last_period=_optional_int(fields, 7, "last period", 0, MAX_PERIOD),
        reason=_field(fields, 8),
        text=_field(fields, 9),
    )


def parse_absences(
    data: bytes, file: str = "GPU013.TXT"
) -> tuple[list[Absence], list[ParseWarning]]:
    """Parse GPU013 absences of teachers (L), classes (K) and rooms (R)."""
    return _parse_rows(data, file, "GPU013", 5, _absence_row)


def decode_art(art: int, type_letter: str) -> tuple[str, frozenset[str]]:
    """Turn the GPU014 Art bit field and type letter into a kind and flags."""
    flags = {flag for bit, flag in ART_BITS.items() if art & (1 << bit)}
    letter = type_letter.strip()
    if letter in TYPE_LETTER_FLAGS:
        flags.add(TYPE_LETTER_FLAGS[letter])
    if letter in TYPE_LETTERS:
        return TYPE_LETTERS[letter], frozenset(flags)
    kind = next((kind for flag, kind in ART_BIT_KINDS if flag in flags), SUBSTITUTION)
    return kind, frozenset(flags)


def _substitution_row(fields: list[str], warn: Warn) -> Substitution:
    art = _optional_int(fields, 18, "Art", 0) or 0
    letter = _field(fields, 20).strip()
    if letter and letter not in TYPE_LETTERS:
        warn(f"unknown substitution type {letter!r}; read as a substitution")
    kind, flags = decode_art(art, letter)
    period = _int(fields, 3, "period", 0, MAX_PERIOD)
    substitution = Substitution(
        external_id=_required(fields, 1, "number"),
        date=_date(fields, 2, "date"),
        period=period,
        period_to=period,
        kind=kind,
        lesson_number=_optional_int(fields, 5, "lesson number", 0),
        original_teachers=_list(fields, 6),
        new_teachers=_list(fields, 7),
        original_subject=_field(fields, 8),
        new_subject=_field(fields, 10),
        original_rooms=_list(fields, 12),
        new_rooms=_list(fields, 13),
        original_classes=_list(fields, 15),
        reason=_field(fields, 16),
        text=_field(fields, 17),
        new_classes=_list(fields, 19),
        flags=flags,
        last_change=_timestamp(fields, 21, warn),
    )
    return _fill_unchanged(substitution)


def _fill_unchanged(sub: Substitution) -> Substitution:
    """GPU014 leaves a new value empty when it did not change; the other formats spell it out."""
    moved_away = FLAG_MOVED_AWAY in sub.flags and FLAG_MOVED_IN not in sub.flags
    if sub.kind in (CANCELLATION, RELEASED) or moved_away:
        return replace(sub, new_subject="", new_teachers=(), new_rooms=(), new_classes=())
    return replace(
        sub,
        new_subject=sub.new_subject or sub.original_subject,
        new_rooms=sub.new_rooms or sub.original_rooms,
        new_classes=sub.new_classes or sub.original_classes,
        new_teachers=sub.new_teachers or (sub.original_teachers if sub.kind == ROOM_CHANGE else ()),
    )


def parse_substitutions(
    data: bytes, file: str = "GPU014.TXT"
) -> tuple[list[Substitution], list[ParseWarning]]:
    """Parse GPU014 substitutions, decoding the Art bits and type letter into kind and flags."""
    return _parse_rows(data, file, "GPU014", 20, _substitution_row)


def apply_courses(lessons: list[Lesson], courses: list[Course]) -> list[Lesson]:
    """Give GPU001 lessons the validity, course name and week type of their GPU002 lines."""
    by_number: dict[int, list[Course]] = {}
    for course in courses:
        by_number.setdefault(course.lesson_number, []).append(course)
    enriched = []
    for lesson in lessons:
        lines = by_number.get(lesson.lesson_number or 0)
        if not lines:
            enriched.append(lesson)
            continue
        line = _matching_line(lesson, lines)
        enriched.append(
            replace(
                lesson,
                valid_from=line.valid_from,
                valid_to=line.valid_to,
                course=line.name,
                week_type=line.week_type,
            )
        )
    return enriched


def _matching_line(lesson: Lesson, lines: list[Course]) -> Course:
    for line in lines:
        if line.subject == lesson.subject and line.teacher in lesson.teachers:
            return line
    return next((line for line in lines if line.subject == lesson.subject), lines[0])


_READERS: dict[str, Callable[[bytes, str], tuple[list, list[ParseWarning]]]] = {
    "GPU001": parse_timetable,
    "GPU002": parse_courses,
    "GPU003": parse_classes,
    "GPU004": parse_teachers,
    "GPU005": parse_rooms,
    "GPU006": parse_subjects,
    "GPU013": parse_absences,
    "GPU014": parse_substitutions,
}
_BATCH_FIELDS = {
    "GPU001": "lessons",
    "GPU002": "courses",
    "GPU003": "classes",
    "GPU004": "teachers",
    "GPU005": "rooms",
    "GPU006": "subjects",
    "GPU013": "absences",
    "GPU014": "substitutions",
}


def parse_gpu_files(files: dict[str, bytes]) -> ImportBatch:
    """Parse a set of GPU files (named by file name) into one ImportBatch."""
    batch = ImportBatch(source=SOURCE)
    named: dict[str, tuple[str, bytes]] = {}
    for name, data in sorted(files.items()):
        gpu_type = gpu_file_type(name)
        if gpu_type not in _READERS:
            batch.warnings.append(ParseWarning(name, None, "not a GPU file this importer reads"))
        elif gpu_type in named:
            raise ImportFormatError(
                name, None, f"second {gpu_type} file next to {named[gpu_type][0]}"
            )
        else:
            named[gpu_type] = (name, data)
    for gpu_type, (name, data) in named.items():
        items, warnings = _READERS[gpu_type](data, name)
        getattr(batch, _BATCH_FIELDS[gpu_type]).extend(items)
        batch.warnings.extend(warnings)
    if batch.courses:
        batch.lessons = apply_courses(batch.lessons, batch.courses)
    batch.covered_dates = {substitution.date for substitution in batch.substitutions}
    return batch
