"""Untis HTML substitution pages (Info-Stundenplan subst_NNN.htm, monitor pages).

A page holds one or more days, each a title (`mon_title`), a "Nachrichten zum Tag" table
(`info`) and a substitution table (`mon_list`). Which columns the table has is the school's
choice, so columns are mapped by their header text. Struck-through content is the original value.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from html.parser import HTMLParser

from schedules.import_data import (
    ABSENT_CLASS,
    ABSENT_ROOM,
    ABSENT_TEACHER,
    BREAK_SUPERVISION,
    CANCELLATION,
    EXAM,
    MAX_PERIOD,
    MOVED,
    RELEASED,
    ROOM_CHANGE,
    SPECIAL_DUTY,
    SUBSTITUTION,
    SUPERVISION,
    SWAP,
    Absence,
    DayMessage,
    ImportBatch,
    ImportFormatError,
    ParseWarning,
    Substitution,
)

SOURCE = "untis-html"

# Art texts as Untis prints them (lower case, German defaults and common abbreviations).
ART_KINDS: dict[str, str] = {
    "vertretung": SUBSTITUTION,
    "vertr.": SUBSTITUTION,
    "statt-vertretung": SUBSTITUTION,
    "teil-vertretung": SUBSTITUTION,
    "absenz": SUBSTITUTION,
    "trotz absenz": SUBSTITUTION,
    "entfall": CANCELLATION,
    "ausfall": CANCELLATION,
    "raum-vtr.": ROOM_CHANGE,
    "raumvertretung": ROOM_CHANGE,
    "raumänderung": ROOM_CHANGE,
    "raum-änderung": ROOM_CHANGE,
    "raumtausch": ROOM_CHANGE,
    "tausch": SWAP,
    "lehrertausch": SWAP,
    "verlegung": MOVED,
    "verlegt": MOVED,
    "verlegt von": MOVED,
    "betreuung": SUPERVISION,
    "mitbetreuung": SUPERVISION,
    "pausenaufsicht": BREAK_SUPERVISION,
    "pausenaufsichtsvertretung": BREAK_SUPERVISION,
    "pausenaufsichtsvertr.": BREAK_SUPERVISION,
    "klausur": EXAM,
    "prüfung": EXAM,
    "sondereins.": SPECIAL_DUTY,
    "sondereinsatz": SPECIAL_DUTY,
    "veranst.": SPECIAL_DUTY,
    "veranstaltung": SPECIAL_DUTY,
    "freisetzung": RELEASED,
}
# "-> 02.01. / 3" and "<- ..." name where a moved lesson went or came from.
_ARROWS = ("->", "<-", "→", "←")

# Header text (lower case) -> field. "(X)" columns hold the original value of column X.
COLUMNS: dict[str, str] = {
    "vtr-nr.": "id",
    "vtr-nr": "id",
    "nr.": "id",
    "datum": "date",
    "stunde": "period",
    "std": "period",
    "std.": "period",
    "klasse(n)": "classes",
    "klasse": "classes",
    "klassen": "classes",
    "(klasse(n))": "original_classes",
    "(klasse)": "original_classes",
    "vertreter": "teachers",
    "lehrer": "teachers",
    "(lehrer)": "original_teachers",
    "fach": "subject",
    "(fach)": "original_subject",
    "raum": "rooms",
    "(raum)": "original_rooms",
    "art": "art",
    "vertretungs-text": "text",
    "vertretungstext": "text",
    "text": "text",
    "bemerkung": "text",
    "info": "text",
    "vertr. von": "text",
    "(le.) nach": "text",
    "entfall": "cancelled",
    "grund": "reason",
    "schülergruppe": "course",
}
_IGNORED_COLUMNS = {"tag", "wochentag", "letzte änderung"}

INFO_ABSENCES = {
    "abwesende lehrer": ABSENT_TEACHER,
    "abwesende klassen": ABSENT_CLASS,
    "abwesende räume": ABSENT_ROOM,
    "blockierte räume": ABSENT_ROOM,
}
# Derived from the substitutions themselves, so not worth a message.
_INFO_IGNORED = {"betroffene klassen", "betroffene lehrer", "betroffene räume"}

_EMPTY_VALUES = {"", "---", "+"}
_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})?")
_STAND = re.compile(r"Stand:\s*(\d{1,2}\.\d{1,2}\.\d{4}\s+\d{1,2}:\d{2})")
_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


@dataclass
class _Cell:
    plain: list[str] = field(default_factory=list)
    struck: list[str] = field(default_factory=list)
    colspan: int = 1
    css_class: str = ""
    header: bool = False

    @property
    def text(self) -> str:
        return _clean("".join(self.plain) + " " + "".join(self.struck))


@dataclass
class _Table:
    css_class: str
    rows: list[list[_Cell]] = field(default_factory=list)


@dataclass
class _Day:
    title: str
    tables: list[_Table] = field(default_factory=list)


class _PageReader(HTMLParser):
    """Collects day titles and their tables; tolerant of unclosed cells and rows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.days: list[_Day] = []
        self.text: list[str] = []
        self._tables: list[_Table] = []
        self._cell: _Cell | None = None
        self._struck = 0
        self._title: list[str] | None = None
        self._title_tag = ""
        self._title_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        css_class = attributes.get("class", "")
        if self._title is not None and tag == self._title_tag:
            self._title_depth += 1
        elif "mon_title" in css_class.split():
            self._title, self._title_tag, self._title_depth = [], tag, 1
        elif tag == "table":
            self._tables.append(_Table(css_class))
        elif tag == "tr" and self._tables:
            self._close_cell()
            self._tables[-1].rows.append([])
        elif tag in ("td", "th") and self._tables:
            self._open_cell(tag, css_class, attributes.get("colspan", "1"))
        elif tag in ("s", "strike", "del"):
            self._struck += 1
        elif tag == "br":
            self.handle_data("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._title is not None and tag == self._title_tag:
            self._title_depth -= 1
            if not self._title_depth:
                self.days.append(_Day(_clean("".join(self._title))))
                self._title = None
        elif tag in ("td", "th"):
            self._close_cell()
        elif tag == "table" and self._tables:
            self._close_cell()
            table = self._tables.pop()
            if self.days:
                self.days[-1].tables.append(table)
        elif tag in ("s", "strike", "del"):
            self._struck = max(0, self._struck - 1)

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._title is not None:
            self._title.append(data)
        elif self._cell is not None:
            (self._cell.struck if self._struck else self._cell.plain).append(data)

    def _open_cell(self, tag: str, css_class: str, colspan: str) -> None:
        self._close_cell()
        rows = self._tables[-1].rows
        if not rows:
            rows.append([])
        span = int(colspan) if colspan.isdigit() else 1
        self._cell = _Cell(colspan=span, css_class=css_class, header=tag == "th")
        rows[-1].append(self._cell)

    def _close_cell(self) -> None:
        self._cell = None
        self._struck = 0


def _clean(text: str) -> str:
    """Collapse whitespace (including &nbsp;) per line and drop empty lines."""
    lines = (" ".join(line.replace("\xa0", " ").split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def decode_html(data: bytes) -> str:
    """Decode a page: valid UTF-8 wins over the meta charset, which defaults to ISO-8859-1."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    try:
        # Pages re-saved as UTF-8 keep their old iso-8859-1 meta tag; Latin-1 German text is
        # practically never valid UTF-8, so a clean UTF-8 decode is the stronger signal.
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    match = _CHARSET.search(data[:4096])
    charset = match.group(1).decode("ascii").lower() if match else "iso-8859-1"
    if charset in ("iso-8859-1", "latin1", "latin-1", "us-ascii"):
        charset = "cp1252"  # as browsers do: cp1252 is a superset for printable text
    try:
        return data.decode(charset, errors="replace")
    except LookupError:
        return data.decode("cp1252", errors="replace")


def parse_untis_html(data: bytes, file: str = "subst_001.htm") -> ImportBatch:
    """Parse one Untis HTML substitution page into an ImportBatch."""
    reader = _PageReader()
    reader.feed(decode_html(data))
    reader.close()
    if not reader.days:
        raise ImportFormatError(file, None, "not an Untis substitution page: no day title")
    batch = ImportBatch(source=SOURCE)
    stand = _STAND.search("".join(reader.text))
    if stand:
        stamp = " ".join(stand.group(1).split())
        try:
            batch.generated_at = datetime.strptime(stamp, "%d.%m.%Y %H:%M")
        except ValueError:
            message = f"Stand {stamp!r} is not a valid date and time; ignored"
            batch.warnings.append(ParseWarning(file, None, message))
    for day in reader.days:
        _read_day(day, file, batch)
    batch.substitutions = _unique_substitutions(batch.substitutions)
    return batch


def parse_untis_html_pages(pages: dict[str, bytes]) -> ImportBatch:
    """Parse several pages of one export (subst_001.htm, subst_002.htm, ...) into one batch."""
    batch = ImportBatch(source=SOURCE)
    for name, data in sorted(pages.items()):
        page = parse_untis_html(data, name)
        batch.substitutions.extend(page.substitutions)
        batch.absences.extend(page.absences)
        batch.day_messages.extend(page.day_messages)
        batch.covered_dates |= page.covered_dates
        batch.warnings.extend(page.warnings)
        batch.generated_at = max(
            filter(None, (batch.generated_at, page.generated_at)), default=None
        )
    # Monitor pages repeat the day's news and absences on every page.
    batch.absences = list(dict.fromkeys(batch.absences))
    batch.day_messages = list(dict.fromkeys(batch.day_messages))
    batch.substitutions = _unique_substitutions(batch.substitutions)
    return batch


def _read_day(day: _Day, file: str, batch: ImportBatch) -> None:
    match = _DATE.search(day.title)
    if not match or not match.group(3):
        batch.warnings.append(ParseWarning(file, None, f"day title {day.title!r} has no date"))
        return
    try:
        page_date = date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
    except ValueError as exc:
        message = f"day title {day.title!r}: {match.group(0)!r} is not a valid date"
        raise ImportFormatError(file, None, message) from exc
    batch.covered_dates.add(page_date)
    for table in day.tables:
        classes = table.css_class.split()
        if "info" in classes:
            _read_info(table, page_date, batch)
        elif "mon_list" in classes:
            _read_list(table, page_date, file, batch)


def _read_info(table: _Table, day: date, batch: ImportBatch) -> None:
    for row in table.rows:
        if not row or any(cell.header for cell in row):
            continue
        if len(row) == 1:
            text = row[0].text
            if text:
                batch.day_messages.append(DayMessage(day, text))
            continue
        label, value = row[0].text.rstrip(":").strip(), " ".join(cell.text for cell in row[1:])
        if label.lower() in INFO_ABSENCES:
            batch.absences.extend(parse_absent_list(value, INFO_ABSENCES[label.lower()], day))
        elif label.lower() not in _INFO_IGNORED:
            batch.day_messages.append(DayMessage(day, f"{label}: {value}" if value else label))


def parse_absent_list(value: str, kind: str, day: date) -> list[Absence]:
    """Read "Neudecker, Winter (3-4)" into absences; periods in brackets, else the whole day."""
    absences = []
    for item in re.findall(r"[^,(]+(?:\([^)]*\))?", value):
        match = re.fullmatch(r"\s*(.*?)\s*(?:\(([^)]*)\))?\s*", item)
        name, inside = (match.group(1), match.group(2) or "") if match else (item.strip(), "")
        if not name:
            continue
        ranges = _period_ranges(inside)
        if ranges:
            absences.extend(Absence(kind, name, day, day, first, last) for first, last in ranges)
        else:
            absences.append(Absence(kind, name, day, day, text=inside.strip()))
    return absences


def _period_ranges(text: str) -> list[tuple[int, int]]:
    ranges = []
    for part in text.replace("Std.", "").split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+))?\s*", part)
        if not match:
            return []
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if not (0 <= first <= MAX_PERIOD and 0 <= last <= MAX_PERIOD):
            return []
        ranges.append((first, last))
    return ranges


def _read_list(table: _Table, day: date, file: str, batch: ImportBatch) -> None:
    columns: list[str] = []
    group = ""
    for row in table.rows:
        if not row:
            continue
        if all(cell.header for cell in row):
            columns = _map_columns(row, file, batch)
            continue
        if len(row) == 1 and row[0].colspan > 1:
            if "inline_header" in row[0].css_class.split():
                group = row[0].text
            elif row[0].text:
                batch.day_messages.append(DayMessage(day, row[0].text, audience=group))
            continue
        if len(row) != len(columns):
            message = f"row with {len(row)} cells under {len(columns)} columns; skipped"
            batch.warnings.append(ParseWarning(file, None, message))
            continue
        values = _row_values(columns, row)
        substitution = _row_substitution(values, day, group, file, batch)
        if substitution is not None:
            batch.substitutions.append(substitution)


def _map_columns(row: list[_Cell], file: str, batch: ImportBatch) -> list[str]:
    columns = []
    for cell in row:
        header = cell.text.replace("\n", " ").lower()
        column = COLUMNS.get(header, "")
        if not column and header not in _IGNORED_COLUMNS:
            batch.warnings.append(ParseWarning(file, None, f"column {cell.text!r} not read"))
        columns.append(column)
    return columns


@dataclass
class _Value:
    plain: str = ""
    struck: str = ""


def _row_values(columns: list[str], row: list[_Cell]) -> dict[str, _Value]:
    values: dict[str, _Value] = {}
    for column, cell in zip(columns, row, strict=True):
        if not column:
            continue
        plain, struck = _clean("".join(cell.plain)), _clean("".join(cell.struck))
        # Untis brackets a value that no longer applies, e.g. the classes of a cancellation.
        if plain.startswith("(") and plain.endswith(")"):
            plain, struck = "", _clean(f"{struck} {plain[1:-1]}")
        known = values.setdefault(column, _Value())
        known.plain = _clean(f"{known.plain}\n{plain}")
        known.struck = _clean(f"{known.struck}\n{struck}")
    return values


def _row_substitution(
    values: dict[str, _Value], day: date, group: str, file: str, batch: ImportBatch
) -> Substitution | None:
    period_text = values.get("period", _Value()).plain
    periods = parse_periods(period_text)
    if periods is None:
        batch.warnings.append(ParseWarning(file, None, f"period {period_text!r} not readable"))
        return None
    date_text = values.get("date", _Value()).plain
    row_date = _row_date(date_text, day)
    if row_date is None:
        message = f"date {date_text!r} is not a valid date; row skipped"
        batch.warnings.append(ParseWarning(file, None, message))
        return None
    art = values.get("art", _Value()).plain
    kind = _kind(art, values.get("cancelled", _Value()).plain, file, batch)
    classes, original_classes = _pair(values, "classes", _split)
    if "classes" not in values and "original_classes" not in values and group:
        classes = original_classes = (group,)
    teachers, original_teachers = _pair(values, "teachers", _split)
    rooms, original_rooms = _pair(values, "rooms", _split)
    subjects, original_subjects = _pair(values, "subject", _single)
    texts = [values.get("text", _Value()).plain, art if art.startswith(_ARROWS) else ""]
    substitution = Substitution(
        external_id=values.get("id", _Value()).plain,
        date=row_date,
        period=periods[0],
        period_to=periods[1],
        kind=kind,
        original_subject=" ".join(original_subjects),
        original_teachers=original_teachers,
        original_rooms=original_rooms,
        original_classes=original_classes,
        new_subject=" ".join(subjects),
        new_teachers=teachers,
        new_rooms=rooms,
        new_classes=classes,
        course=values.get("course", _Value()).plain,
        text="\n".join(text for text in texts if text),
        reason=values.get("reason", _Value()).plain,
    )
    if kind in (CANCELLATION, RELEASED):
        return replace(substitution, new_subject="", new_teachers=(), new_rooms=(), new_classes=())
    return substitution


def _pair(
    values: dict[str, _Value], column: str, split: Callable[[str], tuple[str, ...]]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return the (new, original) values of a column and its "(column)" twin."""
    value = values.get(column, _Value())
    twin = f"original_{column}"
    new = split(value.plain)
    found = split(value.struck) + split(values[twin].plain if twin in values else "")
    found += split(values[twin].struck if twin in values else "")
    original = tuple(dict.fromkeys(found))
    if original or twin in values:
        return new, original
    # Without a struck value or a "(column)" twin, what the row shows is also what was planned.
    return new, new


def _split(text: str) -> tuple[str, ...]:
    names = (name.strip().lstrip("?→").strip() for name in re.split(r"[,\n]", text))
    return tuple(name for name in names if name not in _EMPTY_VALUES)


def _single(text: str) -> tuple[str, ...]:
    value = _clean(text).replace("\n", " ")
    return () if value in _EMPTY_VALUES else (value,)


def parse_periods(text: str) -> tuple[int, int] | None:
    """Read "3", "1 - 2" or a break "0/1" (the period the break comes before) into a range.

    None when unreadable or beyond MAX_PERIOD."""
    match = re.fullmatch(r"([0-9]{1,3})\s*(?:([-/])\s*([0-9]{1,3}))?", text.strip())
    if not match or any(int(part) > MAX_PERIOD for part in (match.group(1), match.group(3) or 0)):
        return None
    first, sign, second = int(match.group(1)), match.group(2), match.group(3)
    if sign == "/":
        return int(second), int(second)
    return first, int(second) if second else first


def _kind(art: str, cancelled: str, file: str, batch: ImportBatch) -> str:
    if cancelled.lower() == "x":
        return CANCELLATION
    if not art:
        return SUBSTITUTION
    if art.startswith(_ARROWS):
        return MOVED
    kind = ART_KINDS.get(art.lower())
    if kind is None:
        message = f"unknown Art {art!r}; read as a substitution"
        batch.warnings.append(ParseWarning(file, None, message))
        return SUBSTITUTION
    return kind


def _row_date(text: str, day: date) -> date | None:
    """A row date "10.6." has no year: take the one that puts it nearest to the page's day.

    No date means the page's day; an impossible one (31.2.) is None."""
    match = _DATE.search(text)
    if not match:
        return day
    dd, mm = int(match.group(1)), int(match.group(2))
    if match.group(3):
        try:
            return date(int(match.group(3)), mm, dd)
        except ValueError:
            return None
    candidates = []
    for year in (day.year - 1, day.year, day.year + 1):
        try:
            candidates.append(date(year, mm, dd))
        except ValueError:
            continue
    return min(candidates, key=lambda candidate: abs(candidate - day), default=None)


def _unique_substitutions(substitutions: list[Substitution]) -> list[Substitution]:
    """Drop rows shown once per involved teacher or class (monitor pages group by element)."""
    seen: dict[tuple, Substitution] = {}
    for sub in substitutions:
        key = (
            sub.external_id,
            sub.date,
            sub.period,
            sub.period_to,
            sub.original_subject,
            sub.original_teachers,
            sub.original_rooms,
            sub.original_classes,
            sub.new_subject,
            sub.new_teachers,
            sub.new_rooms,
            sub.new_classes,
        )
        seen.setdefault(key, sub)
    return list(seen.values())
