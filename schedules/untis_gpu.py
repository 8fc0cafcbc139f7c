"""Untis GPU text exports (GPU001-GPU006, GPU013, GPU014) into import dataclasses.

Separator, quoting and encoding are chosen by whoever exported the file, so all of them are
detected here. A line that cannot be read is skipped with a warning, and so are column headers
at the top of a file (Untis writes none, spreadsheets do). A file in which no line can be read is
not the export it was given as, a file whose last line is cut off is an incomplete download or
copy, and a file with more than max_rows lines is too large: each raises ImportFormatError, so
that nothing of the export is imported.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, datetime
from itertools import islice
from pathlib import PurePosixPath
from typing import Any, TypeVar

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

# Lines of one file imported in one go unless the caller allows another number; a large school's
# GPU001 has a few thousand, a GPU014 of a whole school year some tens of thousands.
MAX_ROWS = 200_000

CUT_OFF = "the file looks cut off (a download or copy that stopped early?); nothing was imported"

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

# Column names a header line may hold, English and German, folded by _column_name (lower case,
# umlauts spelled out, no spaces, dots, hyphens or trailing numbers: "E-Mail", "Statistik 1").
COLUMN_NAMES = frozenset(
    {
        # names
        "abbr", "abbreviation", "abk", "abkuerzung", "alias", "bezeichnung", "beschreibung",
        "description", "fullname", "id", "kuerzel", "kurzbezeichnung", "kurzform", "kurzname",
        "langform", "langname", "longname", "name", "namen", "nr", "number", "nummer",
        "shortname",
        # classes, rooms, teachers, subjects
        "ausweichraum", "building", "capacity", "class", "classes", "classteacher", "course",
        "email", "emailadresse", "fach", "faecher", "fachgruppe", "familienname", "firstname",
        "gebaeude", "gender", "geschlecht", "givenname", "group", "gruppe", "homeroom",
        "kapazitaet", "klasse", "klassen", "klassenlehrer", "klassenlehrkraft", "klassenleitung",
        "kurs", "lastname", "lehrer", "lehrerin", "lehrkraft", "lehrkraefte", "mail", "nachname",
        "personalnummer", "plaetze", "raeume", "raum", "room", "rooms", "schueler", "schuelerzahl",
        "stammraum", "students", "subject", "subjects", "surname", "teacher", "teachers", "title",
        "titel", "vorname",
        # time
        "beginn", "bis", "date", "datum", "day", "ende", "from", "hour", "hours",
        "jahresstunden", "period", "periods", "start", "std", "stunde", "stunden", "tag", "time",
        "to", "von", "week", "weekday", "woche", "wochenstunden", "wochentag", "zeit",
        # lessons, substitutions, absences
        "absence", "absenz", "absenzgrund", "abwesenheit", "art", "element", "grund", "lastchange",
        "lesson", "lessonnumber", "letzteaenderung", "reason", "substitution", "text",
        "timestamp", "typ", "type", "unr", "unterricht", "unterrichtsnummer", "vertreter",
        "vertretung", "vertretungsnummer", "vtrnr", "zeitstempel",
        # other columns
        "background", "color", "colour", "column", "farbe", "feld", "field", "flag", "flags",
        "foreground", "hintergrund", "kennzeichen", "spalte", "statistik", "statistikkennzeichen",
        "vordergrund",
    }
)  # fmt: skip
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})
_NOT_A_LETTER = re.compile(r"[^a-z0-9]+|[0-9]+$")
_NUMBER_LIKE = re.compile(r"[-+]?[0-9]+(?:[.,][0-9]+)?")

_FILE_NAME = re.compile(r"gpu(\d{3})(?!\d)", re.IGNORECASE)
_LINE_BREAK = re.compile(r"\r\n?|\n")
_DATE = re.compile(r"(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])")
_HOURS = re.compile(r"[0-9]{1,3}(?:[.,][0-9]+)?")
# Content detection reads the first _SNIFF_ROWS lines within the first _SNIFF_BYTES bytes.
_SNIFF_BYTES = 65_536
_SNIFF_ROWS = 20


class _RowError(ValueError):
    """A line whose fields do not fit the file type."""


def gpu_file_type(name: str, data: bytes | None = None) -> str | None:
    """Return the GPU type ("GPU001" ... "GPU014") of a file from its name, else from its data.

    The name decides when its base name holds one GPU number anywhere (GPU014.TXT,
    Export_GPU014.TXT, 2026-12-03_GPU014.TXT, gpu014 (1).txt). Otherwise, given the data, its first
    lines tell GPU001 (lesson number, day 1-7 and period in fields 1, 6, 7), GPU002 (lesson
    number, hours per week, validity dates in 15-16), GPU013 (L, K or R in field 2, dates in 4-5)
    and GPU014 (20 fields or more, a date in 2, a period in 3) apart. GPU003-GPU006 hold only
    names and texts, which look alike in every one of them: those are known only by their name.
    """
    base = PurePosixPath(name.replace("\\", "/")).name
    numbers = set(_FILE_NAME.findall(base))
    if len(numbers) == 1:
        return f"GPU{numbers.pop()}"
    return _type_from_content(data) if data is not None else None


def _type_from_content(data: bytes) -> str | None:
    """The one type most of the first lines fit, if at least half of them do."""
    text = _sample_text(data)
    if not text:
        return None
    records = _records(text, "", detect_separator(text))
    try:
        rows = [fields for _, fields, _ in islice(records, _SNIFF_ROWS)]
    except ImportFormatError:
        return None
    counts = Counter(gpu_type for fields in rows for gpu_type in _content_types(fields))
    ranked = counts.most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return None
    best, hits = ranked[0]
    return best if hits * 2 >= len(rows) else None


def _sample_text(data: bytes) -> str | None:
    """The complete lines at the start of data, decoded; None for binary data."""
    head = data[:_SNIFF_BYTES]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # The sample may end inside a character: that part goes with the last line anyway.
        text = head.decode("utf-16", errors="replace")
    else:
        try:
            text = decode_gpu_text(head, "")
        except ImportFormatError:
            return None
    if len(head) < len(data):
        text = text[: max(text.rfind("\n"), text.rfind("\r")) + 1]
    return text


def _content_types(fields: list[str]) -> set[str]:
    """The GPU types whose numbers and dates a line's fields fit."""

    def number(value: str, low: int = 0, high: int = MAX_NUMBER) -> bool:
        return bool(_INTEGER.fullmatch(value)) and len(value) <= 10 and low <= int(value) <= high

    def dates(*numbers: int) -> bool:
        return all(_DATE.fullmatch(_field(fields, n)) for n in numbers)

    def field(number: int) -> str:
        return _field(fields, number)

    types = set()
    if len(fields) >= 20 and field(1) and dates(2) and number(field(3), 0, MAX_PERIOD):
        types.add("GPU014")
    if len(fields) >= 5 and field(2).upper() in ABSENCE_TYPES and dates(4, 5):
        types.add("GPU013")
    if (
        len(fields) >= 7
        and number(field(1))
        and number(field(6), 1, 7)
        and number(field(7), 0, MAX_PERIOD)
        and not dates(4)
    ):
        # Field 4 is the subject: GPU013 has a date there and numbers in 6 and 7 as well.
        types.add("GPU001")
    if (
        len(fields) >= 16
        and number(field(1))
        and (not field(2) or _HOURS.fullmatch(field(2)))
        and all(not field(n) or dates(n) for n in (15, 16))
        and not number(field(7))
    ):
        types.add("GPU002")
    return types


def decode_gpu_text(data: bytes, file: str) -> str:
    """Decode a GPU export: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            if exc.end >= len(data):
                raise ImportFormatError(
                    file, None, f"the UTF-16 text ends in the middle of a character: {CUT_OFF}"
                ) from exc
            raise ImportFormatError(file, None, f"not readable as UTF-16: {exc.reason}") from exc
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
    for line in islice((line for line in _Lines(text) if line.strip()), 20):
        quoted = False
        for char in line:
            if char == '"':
                quoted = not quoted
            elif not quoted and char in counts:
                counts[char] += 1
    best = max(SEPARATORS, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _line_count(data: bytes) -> int:
    """The number of lines of a GPU export, counted without decoding it."""
    breaks = max(data.count(b"\n"), data.count(b"\r"))
    # UTF-16 puts a zero byte next to a line break's byte.
    unterminated = bool(data) and not data.rstrip(b"\x00").endswith((b"\n", b"\r"))
    return breaks + unterminated


def check_row_limit(data: bytes, file: str, max_rows: int = MAX_ROWS) -> None:
    """Refuse a file of more than max_rows lines, before any of it is parsed."""
    lines = _line_count(data)
    if lines > max_rows:
        message = f"the file has {lines:,} lines; at most {max_rows:,} are imported in one go"
        raise ImportFormatError(file, None, message)


class _Lines:
    """A text's lines with their line breaks, one at a time; end is where the last one read ends.

    csv reads a file object's lines the same way, but a StringIO would copy the whole text.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.end = 0

    def __iter__(self) -> Iterator[str]:
        self.end = 0
        for match in _LINE_BREAK.finditer(self.text):
            start, self.end = self.end, match.end()
            yield self.text[start : self.end]
        if self.end < len(self.text):
            start, self.end = self.end, len(self.text)
            yield self.text[start:]


def _records(text: str, file: str, separator: str) -> Iterator[tuple[int, list[str], int]]:
    """The non-blank CSV records: the line each ends on, its stripped fields, where it starts."""
    lines = _Lines(text)
    reader = csv.reader(lines, delimiter=separator, quotechar='"', skipinitialspace=True)
    start = 0
    try:
        for fields in reader:
            stripped = [value.strip() for value in fields]
            if any(stripped):
                yield reader.line_num, stripped, start
            # csv reads no further than the record it returns.
            start = lines.end
    except csv.Error as exc:
        raise ImportFormatError(file, reader.line_num, f"unreadable CSV: {exc}") from exc


def _ends_inside_quotes(text: str, separator: str) -> bool:
    """Whether CSV text, read as _records reads it, ends inside a quoted field."""
    state = "start"
    for char in text:
        if state == "quoted":
            if char == '"':
                state = "quote in quoted"
        elif state == "quote in quoted":
            # A doubled quote is a quote in the field; a lone one closed it.
            if char == '"':
                state = "quoted"
            else:
                state = "start" if char == separator or char in "\r\n" else "field"
        elif char == separator or char in "\r\n":
            state = "start"
        elif state == "start" and char == '"':
            state = "quoted"
        elif state != "start" or char != " ":
            state = "field"
    return state == "quoted"


def _column_name(value: str) -> str:
    return _NOT_A_LETTER.sub("", value.casefold().translate(_UMLAUTS))


def _is_header(fields: list[str]) -> bool:
    """A line of column names: no field is a number, the first one and another are known names."""
    values = [value for value in fields if value]
    if not values or any(_NUMBER_LIKE.fullmatch(value) for value in values):
        return False
    names = {_column_name(value) for value in values} & COLUMN_NAMES
    return _column_name(values[0]) in names and len(names) >= 2


def _check_complete(
    text: str,
    file: str,
    separator: str,
    last: tuple[int, int, int],
    field_counts: Counter[int],
    min_fields: int,
) -> None:
    """Refuse a file whose last line was cut off: exports end every line with a line break.

    A last line without one is complete only when it has as many fields as the file's other lines
    mostly have, and as its type needs; a quoted field still open at the end is cut off.
    """
    line, fields, start = last
    tail = text[start:]
    if _ends_inside_quotes(tail, separator):
        message = f"the file ends in the middle of line {line} (inside a quoted field): {CUT_OFF}"
        raise ImportFormatError(file, line, message)
    if tail.rstrip(" \t").endswith(("\n", "\r")):
        return
    others = field_counts - Counter({fields: 1})
    usual = max(others, key=lambda count: (others[count], count), default=0)
    expected = max(usual, min_fields)
    if fields < expected:
        message = (
            f"the file ends in the middle of line {line} ({fields} of {expected} fields, "
            f"no line break): {CUT_OFF}"
        )
        raise ImportFormatError(file, line, message)


def _parse_rows(
    data: bytes,
    file: str,
    gpu_type: str,
    min_fields: int,
    parse_row: Callable[[list[str], Warn], T],
    warnings: list[ParseWarning],
    max_rows: int,
) -> Iterator[T]:
    """The parsed lines of one file, one at a time; what is skipped goes to warnings.

    Header lines before the first parsed line are skipped with one warning. Raises
    ImportFormatError, after the last line, when the file is cut off or no line was readable.
    """
    check_row_limit(data, file, max_rows)
    text = decode_gpu_text(data, file)
    separator = detect_separator(text)
    field_counts: Counter[int] = Counter()
    headers: list[int] = []
    header_warning_at = 0
    first_problem: ParseWarning | None = None
    parsed = 0
    last: tuple[int, int, int] | None = None
    for line, fields, start in _records(text, file, separator):
        last = (line, len(fields), start)
        field_counts[len(fields)] += 1
        if not parsed and _is_header(fields):
            header_warning_at = header_warning_at if headers else len(warnings)
            headers.append(line)
            continue

        def warn(message: str, line: int = line) -> None:
            warnings.append(ParseWarning(file, line, message))

        if len(fields) < min_fields:
            warn(f"truncated line: {len(fields)} fields, {gpu_type} needs {min_fields}; skipped")
            first_problem = first_problem or warnings[-1]
            continue
        try:
            item = parse_row(fields, warn)
        except _RowError as exc:
            warn(f"{exc}; line skipped")
            first_problem = first_problem or warnings[-1]
            continue
        parsed += 1
        yield item
    if headers:
        skipped = f"{len(headers)} header lines skipped" if headers[1:] else "header line skipped"
        warnings.insert(header_warning_at, ParseWarning(file, headers[0], skipped))
    if last is not None:
        _check_complete(text, file, separator, last, field_counts, min_fields)
    if not parsed and first_problem is not None:
        raise ImportFormatError(
            file, first_problem.line, f"not a {gpu_type} export: {first_problem.message}"
        )


def _read_all(
    data: bytes,
    file: str,
    gpu_type: str,
    min_fields: int,
    parse_row: Callable[[list[str], Warn], T],
    max_rows: int,
) -> tuple[list[T], list[ParseWarning]]:
    warnings: list[ParseWarning] = []
    items = list(_parse_rows(data, file, gpu_type, min_fields, parse_row, warnings, max_rows))
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
    data: bytes, file: str = "GPU001.TXT", *, max_rows: int = MAX_ROWS
) -> tuple[list[Lesson], list[ParseWarning]]:
    """Parse GPU001: the rows of one coupling line (lesson, day, period, subject and teacher: one
    row per class and room) become one Lesson; parallel lines (religion groups, a class split
    for sport, team teaching) stay apart, as in GPU002 and GPU014."""
    warnings: list[ParseWarning] = []
    merged: dict[tuple[int | None, int, int, str, tuple[str, ...]], Lesson] = {}
    for row in _parse_rows(data, file, "GPU001", 7, _timetable_row, warnings, max_rows):
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


def parse_courses(
    data: bytes, file: str = "GPU002.TXT", *, max_rows: int = MAX_ROWS
) -> tuple[list[Course], list[ParseWarning]]:
    """Parse GPU002 lessons (Unterricht): one Course per lesson number, teacher and subject."""
    warnings: list[ParseWarning] = []
    merged: dict[tuple[int, str, str], Course] = {}
    for row in _parse_rows(data, file, "GPU002", 7, _course_row, warnings, max_rows):
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
    data: bytes, file: str = "GPU003.TXT", *, max_rows: int = MAX_ROWS
) -> tuple[list[SchoolClass], list[ParseWarning]]:
    """Parse GPU003 classes: name, long name, home room (4), class teacher (30)."""

    def row(fields: list[str], warn: Warn) -> SchoolClass:
        return SchoolClass(
            name=_required(fields, 1, "name"),
            long_name=_field(fields, 2),
            room=_field(fields, 4),
            teacher=_field(fields, 30),
        )

    return _read_all(data, file, "GPU003", 2, row, max_rows)


def parse_teachers(
    data: bytes, file: str = "GPU004.TXT", *, max_rows: int = MAX_ROWS
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

    return _read_all(data, file, "GPU004", 2, row, max_rows)


def parse_rooms(
    data: bytes, file: str = "GPU005.TXT", *, max_rows: int = MAX_ROWS
) -> tuple[list[Room], list[ParseWarning]]:
    """Parse GPU005 rooms: name, long name, capacity (8)."""

    def row(fields: list[str], warn: Warn) -> Room:
        return Room(
            name=_required(fields, 1, "name"),
            long_name=_field(fields, 2),
            capacity=_optional_int(fields, 8, "capacity", 0),
        )

    return _read_all(data, file, "GPU005", 2, row, max_rows)


def parse_subjects(
    data: bytes, file: str = "GPU006.TXT", *, max_rows: int = MAX_ROWS
) -> tuple[list[Subject], list[ParseWarning]]:
    """Parse GPU006 subjects: name and long name."""

    def row(fields: list[str], warn: Warn) -> Subject:
        return Subject(name=_required(fields, 1, "name"), long_name=_field(fields, 2))

    return _read_all(data, file, "GPU006", 2, row, max_rows)


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
    data: bytes, file: str = "GPU013.TXT", *, max_rows: int = MAX_ROWS
) -> tuple[list[Absence], list[ParseWarning]]:
    """Parse GPU013 absences of teachers (L), classes (K) and rooms (R)."""
    return _read_all(data, file, "GPU013", 5, _absence_row, max_rows)


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
    data: bytes, file: str = "GPU014.TXT", *, max_rows: int = MAX_ROWS
) -> tuple[list[Substitution], list[ParseWarning]]:
    """Parse GPU014 substitutions, decoding the Art bits and type letter into kind and flags."""
    return _read_all(data, file, "GPU014", 20, _substitution_row, max_rows)


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


_READERS: dict[str, Callable[..., tuple[list[Any], list[ParseWarning]]]] = {
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


def parse_gpu_files(files: dict[str, bytes], *, max_rows: int = MAX_ROWS) -> ImportBatch:
    """Parse a set of GPU files (named by file name) into one ImportBatch, with its coverage.

    Each file's type comes from gpu_file_type(name, data); two files of one type, a file cut off
    and a file of more than max_rows lines are refused. The batch replaces the weekly plan when
    the GPU001 has lessons, the substitutions on the dates of the GPU014 lines, and the absences
    on those dates only when a GPU013 came with it.
    """
    batch = ImportBatch(source=SOURCE)
    named: dict[str, tuple[str, bytes]] = {}
    for name, data in sorted(files.items()):
        gpu_type = gpu_file_type(name, data)
        if gpu_type not in _READERS:
            batch.warnings.append(ParseWarning(name, None, "not a GPU file this importer reads"))
        elif gpu_type in named:
            raise ImportFormatError(
                name, None, f"second {gpu_type} file next to {named[gpu_type][0]}"
            )
        else:
            named[gpu_type] = (name, data)
            if gpu_file_type(name) is None:
                message = f"read as {gpu_type} (recognised by its content)"
                batch.warnings.append(ParseWarning(name, None, message))
    for name, data in named.values():
        check_row_limit(data, name, max_rows)
    for gpu_type, (name, data) in named.items():
        items, warnings = _READERS[gpu_type](data, name, max_rows=max_rows)
        getattr(batch, _BATCH_FIELDS[gpu_type]).extend(items)
        batch.warnings.extend(warnings)
    if batch.courses:
        batch.lessons = apply_courses(batch.lessons, batch.courses)
    if "GPU001" in named:
        batch.weekly_plan = bool(batch.lessons)
        if not batch.lessons:
            message = "no lessons: the weekly plan was left as it is"
            batch.warnings.append(ParseWarning(named["GPU001"][0], None, message))
    batch.covered_dates = {substitution.date for substitution in batch.substitutions}
    if "GPU013" in named:
        batch.absence_dates = set(batch.covered_dates)
    return batch
