"""Untis HTML substitution pages (Info-Stundenplan subst_NNN.htm, monitor pages).

A page holds one or more days, each a title (`mon_title`), a "Nachrichten zum Tag" table
(`info`) and a substitution table (`mon_list`). Which columns the table has is the school's
choice, so columns are mapped by their header text. Struck-through content is the original value.

The monitor export is a chain of pages, each refreshing to the next (`subst_001.htm` ->
`subst_002.htm` -> ... -> back to `subst_001.htm`), a day's title saying "Seite 2 / 5"; Untis
2025 puts one chain per folder (`f1/`, `f2/`) behind a frameset page. A day is listed completely
only when every page of its chain is in the export; a page that is cut off is refused.
"""

from __future__ import annotations

import codecs
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from html.parser import HTMLParser
from urllib.parse import unquote

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
# Words that head a group of columns in a second header row ("statt" over "Lehrer | Fach | Raum")
# or prefix one header ("statt Fach", "alter Raum"): the planned value, or the new one.
ORIGINAL_GROUPS = {
    "statt",
    "anstatt",
    "für",
    "bisher",
    "vorher",
    "alt",
    "alte",
    "alter",
    "altes",
    "ursprünglich",
    "geplant",
    "plan",
    "regulär",
    "eigentlich",
}
NEW_GROUPS = {
    "vertretung",
    "vertreter",
    "neu",
    "neue",
    "neuer",
    "neues",
    "jetzt",
    "aktuell",
    "nachher",
}
# The columns that have an "original_" twin.
_PAIRED_COLUMNS = ("classes", "teachers", "subject", "rooms")
# A cell spanning more columns or rows than this is not a real table's.
_MAX_SPAN = 100

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
# "Seite 2 / 5" in a day title: page 2 of the 5 pages of that day.
_PAGE_OF = re.compile(r"\b(?:Seite|Page)\s*(\d{1,3})\s*/\s*(\d{1,3})", re.IGNORECASE)
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
# Where a page's declarations are: its head, well before the first day.
_HEAD_BYTES = 16384
_REFRESH_URL = re.compile(r"^\s*\d*(?:\.\d*)?\s*[;,]?\s*(?:url\s*=\s*)?(['\"]?)(.*?)\1\s*$", re.I)
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# A numbered page of a chain, as Untis names them: subst_001.htm.
_NUMBERED = re.compile(r"^(?P<stem>.*?)(?P<number>\d+)(?P<suffix>\.html?)$", re.IGNORECASE)
_HTML_SUFFIXES = (".htm", ".html")
# Windows-1252 as browsers read it: the five bytes it leaves undefined stay C1 control characters.
_WINDOWS_1252 = {
    byte: bytes([byte]).decode("cp1252")
    for byte in range(0x80, 0xA0)
    if byte not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
}


@dataclass
class _Cell:
    plain: list[str] = field(default_factory=list)
    struck: list[str] = field(default_factory=list)
    colspan: int = 1
    rowspan: int = 1
    css_class: str = ""
    header: bool = False

    @property
    def text(self) -> str:
        return _clean("".join(self.plain) + " " + "".join(self.struck))


@dataclass
class _Table:
    css_class: str
    line: int
    rows: list[list[_Cell]] = field(default_factory=list)


@dataclass
class _Day:
    title: str
    tables: list[_Table] = field(default_factory=list)


class _PageReader(HTMLParser):
    """Collects day titles and their tables, the refresh link and frames, and where it ends.

    Tolerant of unclosed cells and rows; a table left open is how a cut-off page shows.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.days: list[_Day] = []
        self.text: list[str] = []
        self.refresh = ""
        self.frames: list[str] = []
        # </body>, </html> or </frameset> seen: the page was written to its end.
        self.ended = False
        self.open_tables: list[_Table] = []
        self._cell: _Cell | None = None
        self._struck = 0
        self._title: list[str] | None = None
        self._title_tag = ""
        self._title_depth = 0

    @property
    def title_open(self) -> bool:
        return self._title is not None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        css_class = attributes.get("class", "")
        if self._title is not None and tag == self._title_tag:
            self._title_depth += 1
        elif "mon_title" in css_class.split():
            self._title, self._title_tag, self._title_depth = [], tag, 1
        elif tag == "table":
            self.open_tables.append(_Table(css_class, self.getpos()[0]))
        elif tag == "tr" and self.open_tables:
            self._close_cell()
            self.open_tables[-1].rows.append([])
        elif tag in ("td", "th") and self.open_tables:
            self._open_cell(tag, css_class, attributes)
        elif tag in ("s", "strike", "del"):
            self._struck += 1
        elif tag == "br":
            self.handle_data("\n")
        elif tag == "meta" and attributes.get("http-equiv", "").lower() == "refresh":
            self.refresh = attributes.get("content", "")
        elif tag in ("frame", "iframe") and attributes.get("src"):
            self.frames.append(attributes["src"])

    def handle_endtag(self, tag: str) -> None:
        if self._title is not None and tag == self._title_tag:
            self._title_depth -= 1
            if not self._title_depth:
                self.days.append(_Day(_clean("".join(self._title))))
                self._title = None
        elif tag in ("td", "th"):
            self._close_cell()
        elif tag == "table" and self.open_tables:
            self._close_cell()
            table = self.open_tables.pop()
            if self.days:
                self.days[-1].tables.append(table)
        elif tag in ("s", "strike", "del"):
            self._struck = max(0, self._struck - 1)
        elif tag in ("body", "html", "frameset"):
            self.ended = True

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._title is not None:
            self._title.append(data)
        elif self._cell is not None:
            (self._cell.struck if self._struck else self._cell.plain).append(data)

    def _open_cell(self, tag: str, css_class: str, attributes: dict[str, str]) -> None:
        self._close_cell()
        rows = self.open_tables[-1].rows
        if not rows:
            rows.append([])
        self._cell = _Cell(
            colspan=_span(attributes.get("colspan", "")),
            rowspan=_span(attributes.get("rowspan", "")),
            css_class=css_class,
            header=tag == "th",
        )
        rows[-1].append(self._cell)

    def _close_cell(self) -> None:
        self._cell = None
        self._struck = 0


def _span(value: str) -> int:
    value = value.strip()
    return min(int(value), _MAX_SPAN) if value.isdigit() and int(value) > 0 else 1


def _clean(text: str) -> str:
    """Collapse whitespace (including &nbsp;) per line and drop empty lines."""
    lines = (" ".join(line.replace("\xa0", " ").split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _windows_1252(data: bytes) -> str:
    return data.decode("latin-1").translate(_WINDOWS_1252)


def decode_html(data: bytes, file: str = "subst_001.htm") -> tuple[str, list[ParseWarning]]:
    """Decode a page strictly as it declares, else as Windows-1252 with a warning.

    Valid UTF-8 wins over a declared single-byte charset: pages re-saved as UTF-8 keep their old
    iso-8859-1 meta tag, and German text in Windows-1252 is practically never valid UTF-8.
    """
    if data.startswith(codecs.BOM_UTF8):
        data, declared = data[len(codecs.BOM_UTF8) :], "utf-8"
    else:
        match = _CHARSET.search(data[:_HEAD_BYTES])
        declared = match.group(1).decode("ascii").lower() if match else ""
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        utf8_error = exc
    if not declared:
        return _windows_1252(data), []
    try:
        codec = codecs.lookup(declared).name
    except LookupError:
        message = f"declares the unknown charset {declared!r}; read as Windows-1252"
        return _windows_1252(data), [ParseWarning(file, None, message)]
    if codec in ("iso8859-1", "ascii", "cp1252"):
        # As browsers do: Windows-1252 is a superset of these for printable text.
        return _windows_1252(data), []
    error = utf8_error
    if not codec.startswith(("utf-8", "utf-16", "utf-32")):
        try:
            return data.decode(codec), []
        except UnicodeDecodeError as exc:
            error = exc
    line = data.count(b"\n", 0, error.start) + 1
    message = (
        f"declares charset {declared!r} but is not written in it; read as Windows-1252 "
        "(check names with umlauts)"
    )
    return _windows_1252(data), [ParseWarning(file, line, message)]


@dataclass(frozen=True)
class _Title:
    """A day a page shows; page and pages from "Seite 2 / 5", None when the title lacks it."""

    day: date
    page: int | None = None
    pages: int | None = None


@dataclass
class _Page:
    file: str
    batch: ImportBatch
    titles: list[_Title]
    refresh: str = ""
    frames: list[str] = field(default_factory=list)


def parse_untis_html(data: bytes, file: str = "subst_001.htm") -> ImportBatch:
    """Parse one Untis HTML substitution page into an ImportBatch covering its days."""
    page = _read_page(data, file)
    if not page.titles and page.frames:
        message = "a frameset page: import it together with the folders of its frames"
        raise ImportFormatError(file, None, message)
    _settle(page.batch, {title.day for title in page.titles}, set())
    return page.batch


def parse_untis_html_pages(pages: dict[str, bytes]) -> ImportBatch:
    """Parse the pages of one export, by path ("subst_001.htm", "f1/subst_001.htm"), as one batch.

    A day of a chain whose pages are not all in the export is partial, not covered.
    """
    read = [_read_page(data, name) for name, data in sorted(pages.items())]
    batch = ImportBatch(source=SOURCE)
    for page in read:
        batch.substitutions.extend(page.batch.substitutions)
        batch.absences.extend(page.batch.absences)
        batch.day_messages.extend(page.batch.day_messages)
        batch.warnings.extend(page.batch.warnings)
        batch.generated_at = max(
            filter(None, (batch.generated_at, page.batch.generated_at)), default=None
        )
    chains = _Chains(read)
    batch.missing_pages = chains.missing_pages()
    batch.warnings.extend(chains.warnings())
    days = {title.day for page in read for title in page.titles}
    _settle(batch, days - set(chains.gaps), set(chains.gaps))
    return batch


def _settle(batch: ImportBatch, complete: set[date], partial: set[date]) -> None:
    """Set what the batch is authoritative for; days with entries but not complete are partial."""
    # Monitor pages repeat the day's news and absences on every page.
    batch.absences = list(dict.fromkeys(batch.absences))
    batch.day_messages = list(dict.fromkeys(batch.day_messages))
    batch.substitutions = _unique_substitutions(batch.substitutions)
    batch.covered_dates = set(complete)
    batch.absence_dates = set(complete)
    batch.message_dates = set(complete)
    entry_dates = {sub.date for sub in batch.substitutions}
    entry_dates |= {message.date for message in batch.day_messages}
    entry_dates |= {
        day for absence in batch.absences for day in (absence.from_date, absence.to_date)
    }
    batch.partial_dates = (partial | entry_dates) - complete


def _read_page(data: bytes, file: str) -> _Page:
    text, warnings = decode_html(data, file)
    reader = _PageReader()
    reader.feed(text)
    reader.close()
    _refuse_cut_off(reader, file, text.count("\n") + 1)
    batch = ImportBatch(source=SOURCE, warnings=warnings)
    stand = _STAND.search("".join(reader.text))
    if stand:
        stamp = " ".join(stand.group(1).split())
        try:
            batch.generated_at = datetime.strptime(stamp, "%d.%m.%Y %H:%M")
        except ValueError:
            message = f"Stand {stamp!r} is not a valid date and time; ignored"
            batch.warnings.append(ParseWarning(file, None, message))
    titles = [title for day in reader.days if (title := _read_day(day, file, batch))]
    return _Page(file, batch, titles, reader.refresh, reader.frames)


def _refuse_cut_off(reader: _PageReader, file: str, lines: int) -> None:
    """A page whose export or download stopped early would drop the rest of its day: refuse it."""
    stopped = "the export or its download stopped early; import the complete page"
    if reader.open_tables:
        table = reader.open_tables[0]
        name = f"the table {table.css_class!r}" if table.css_class else "a table"
        message = f"the page is cut off: {name} that begins here is never closed ({stopped})"
        raise ImportFormatError(file, table.line, message)
    if reader.title_open:
        raise ImportFormatError(file, lines, f"the page is cut off in a day title ({stopped})")
    if not reader.days and not reader.frames:
        message = "not an Untis substitution page: no day title"
        if not reader.ended:
            message += ", and it does not end with </html> (cut off?)"
        raise ImportFormatError(file, None, message)
    if not reader.ended:
        message = f"the page is cut off: it does not end with </html> ({stopped})"
        raise ImportFormatError(file, lines, message)


def _read_day(day: _Day, file: str, batch: ImportBatch) -> _Title | None:
    match = _DATE.search(day.title)
    if not match or not match.group(3):
        batch.warnings.append(ParseWarning(file, None, f"day title {day.title!r} has no date"))
        return None
    try:
        page_date = date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
    except ValueError as exc:
        message = f"day title {day.title!r}: {match.group(0)!r} is not a valid date"
        raise ImportFormatError(file, None, message) from exc
    title = _Title(page_date)
    page_of = _PAGE_OF.search(day.title)
    if page_of:
        number, pages = int(page_of.group(1)), int(page_of.group(2))
        if 1 <= number <= pages:
            title = _Title(page_date, number, pages)
        else:
            # Unreadable numbering: the day cannot be known complete.
            title = _Title(page_date, 0, 0)
            message = f"day title {day.title!r}: {page_of.group(0)!r} is not a page of the day"
            batch.warnings.append(ParseWarning(file, None, message))
    for table in day.tables:
        classes = table.css_class.split()
        if "info" in classes:
            _read_info(table, page_date, batch)
        elif "mon_list" in classes:
            _read_list(table, page_date, file, batch)
    return title


@dataclass
class _Gap:
    """Why a day of a chain is not complete: its missing page numbers, the missing files."""

    file: str
    numbers: str = ""
    pages: set[str] = field(default_factory=set)


class _Chains:
    """What the refresh links, frames and "Seite x / y" of an export's pages say is missing.

    A chain is a folder's pages linked by their refresh links; frames name each chain's first
    page. "Seite x / y" tells which pages of a day are there. Where a title lacks it, the day on
    the page before a missing one may continue there, and the one on the page after it may begin
    there.
    """

    def __init__(self, pages: list[_Page]) -> None:
        self.pages = pages
        self.present = {_path_key(page.file) for page in pages}
        # Missing pages by path key: the name as the export spells it, the page that names it.
        self.missing: dict[str, tuple[str, str]] = {}
        self.linked: set[str] = set()
        self.next_missing: dict[str, str] = {}
        self.gaps: dict[date, _Gap] = {}
        self._follow_links()
        self._count_pages()
        self._look_beside_missing_pages()

    def missing_pages(self) -> list[str]:
        return sorted(name for name, _ in self.missing.values())

    def warnings(self) -> list[ParseWarning]:
        warnings = []
        for day, gap in sorted(self.gaps.items()):
            reasons = [gap.numbers] if gap.numbers else []
            if gap.pages:
                reasons.append(f"not in the export: {', '.join(sorted(gap.pages))}")
            message = (
                f"{day:%d.%m.%Y} is not complete ({'; '.join(reasons)}): its substitutions, "
                "absences and messages are added or updated, none are removed"
            )
            warnings.append(ParseWarning(gap.file, None, message))
        told = {_path_key(name) for gap in self.gaps.values() for name in gap.pages}
        for key, (name, referrer) in sorted(self.missing.items()):
            if key not in told:
                message = (
                    f"{name} is not in the export (named by {referrer}): the days on it are not "
                    "known and keep their substitutions"
                )
                warnings.append(ParseWarning(referrer, None, message))
        return warnings

    def _add_missing(self, name: str, referrer: str) -> None:
        self.missing.setdefault(_path_key(name), (name, referrer))

    def _follow_links(self) -> None:
        for page in self.pages:
            # Frames name the chains of an index page; a frame on a day's page is something else.
            links = [] if page.titles else [(url, False) for url in page.frames]
            links += [(_refresh_url(page.refresh), True)] if page.refresh else []
            for url, refresh in links:
                target = _link(page.file, url)
                if target is None or not target.lower().endswith(_HTML_SUFFIXES):
                    continue
                if _path_key(target) in self.present:
                    self.linked.add(_path_key(target))
                elif not refresh or _NUMBERED.match(posixpath.basename(target)):
                    # A refresh to another name ("next.htm") leaves the export: not a gap.
                    self._add_missing(target, page.file)
                    if refresh:
                        self.next_missing[page.file] = target

    def _count_pages(self) -> None:
        """Days whose "Seite x / y" pages are not all there, with their files where known."""
        shown: dict[tuple[str, date], list[tuple[_Page, _Title]]] = {}
        for page in self.pages:
            for title in page.titles:
                if title.pages is not None:
                    key = (_folder_key(page.file), title.day)
                    shown.setdefault(key, []).append((page, title))
        for (_, day), showing in shown.items():
            total = max(title.pages or 0 for _, title in showing)
            numbers = sorted(set(range(1, total + 1)) - {title.page for _, title in showing})
            if total and not numbers:
                continue
            gap = self.gaps.setdefault(day, _Gap(showing[0][0].file))
            gap.numbers = (
                f"pages {_ranges(numbers)} of {total} are missing"
                if numbers
                else "its page numbers are not readable"
            )
            for name in _guess_pages(showing, numbers):
                if _path_key(name) not in self.present:
                    self._add_missing(name, showing[0][0].file)
                    gap.pages.add(name)

    def _look_beside_missing_pages(self) -> None:
        """Days without page numbers that may continue on, or begin on, a missing page."""
        broken = {_folder_key(name) for name, _ in self.missing.values()}
        for page in self.pages:
            if not page.titles:
                continue
            last, first = page.titles[-1], page.titles[0]
            after = self.next_missing.get(page.file)
            if after and (last.pages is None or last.day in self.gaps):
                self.gaps.setdefault(last.day, _Gap(page.file)).pages.add(after)
            folder = _folder_key(page.file)
            if folder in broken and _path_key(page.file) not in self.linked and not first.pages:
                before = {name for name, _ in self.missing.values() if _folder_key(name) == folder}
                self.gaps.setdefault(first.day, _Gap(page.file)).pages.update(before)


def _guess_pages(showing: list[tuple[_Page, _Title]], numbers: list[int]) -> list[str]:
    """The files of a day's missing pages, from a numbered page showing only that day."""
    for page, title in showing:
        match = _NUMBERED.match(posixpath.basename(page.file))
        if match and len(page.titles) == 1 and title.page:
            offset = int(match["number"]) - title.page
            folder, width = posixpath.dirname(page.file), len(match["number"])
            stem, suffix = match["stem"], match["suffix"]
            return [
                posixpath.join(folder, f"{stem}{offset + number:0{width}d}{suffix}")
                for number in numbers
                if offset + number >= 1
            ]
    return []


def _ranges(numbers: list[int]) -> str:
    """Write [2, 3, 4, 7] as "2-4, 7"."""
    parts: list[list[int]] = []
    for number in numbers:
        if parts and parts[-1][-1] == number - 1:
            parts[-1].append(number)
        else:
            parts.append([number])
    return ", ".join(f"{part[0]}-{part[-1]}" if len(part) > 1 else str(part[0]) for part in parts)


def _refresh_url(content: str) -> str:
    """The URL of a refresh meta tag's content, "8; URL=subst_002.htm"."""
    match = _REFRESH_URL.match(content)
    return match.group(2).strip() if match else ""


def _link(file: str, url: str) -> str | None:
    """The export path a link on a page names; None when it leads out of the export."""
    url = unquote(url.split("#")[0].split("?")[0].strip()).replace("\\", "/")
    if not url or url.startswith("/") or _URL_SCHEME.match(url):
        return None
    path = posixpath.normpath(posixpath.join(posixpath.dirname(file.replace("\\", "/")), url))
    return None if path == ".." or path.startswith("../") else path


def _path_key(path: str) -> str:
    """Compare paths as the Windows file systems Untis writes to do: ignoring case."""
    return posixpath.normpath(path.replace("\\", "/")).lower()


def _folder_key(path: str) -> str:
    return _path_key(posixpath.dirname(path.replace("\\", "/")))


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
    headers: list[list[_Cell]] = []
    group = ""
    for row in [*table.rows, []]:
        if row and all(cell.header for cell in row):
            headers.append(row)
            continue
        if headers:
            columns = _map_columns(headers, file, batch)
            headers = []
        if not row:
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


def _map_columns(rows: list[list[_Cell]], file: str, batch: ImportBatch) -> list[str]:
    """Map header rows to fields; a cell of an upper row ("statt") heads the columns below it."""
    columns = []
    for labels in _header_labels(rows):
        column = _column(labels)
        if column is None:
            label = " ".join(labels)
            batch.warnings.append(ParseWarning(file, None, f"column {label!r} not read"))
        columns.append(column or "")
    for paired in _PAIRED_COLUMNS:
        for name in (paired, f"original_{paired}"):
            if columns.count(name) > 1:
                message = f"{columns.count(name)} columns read as {name}; their values are joined"
                batch.warnings.append(ParseWarning(file, None, message))
    return columns


def _header_labels(rows: list[list[_Cell]]) -> list[list[str]]:
    """Each column's header texts from the top row down, colspan and rowspan spread out."""
    grid: dict[tuple[int, int], str] = {}
    for top, row in enumerate(rows):
        column = 0
        for cell in row:
            while (top, column) in grid:
                column += 1
            for below in range(top, min(top + cell.rowspan, len(rows))):
                for right in range(column, column + cell.colspan):
                    grid[below, right] = cell.text.replace("\n", " ")
            column += cell.colspan
    width = 1 + max((column for _, column in grid), default=-1)
    labels: list[list[str]] = []
    for column in range(width):
        texts: list[str] = []
        for top in range(len(rows)):
            text = grid.get((top, column), "")
            if text and text not in texts:
                texts.append(text)
        labels.append(texts)
    return labels


def _column(labels: list[str]) -> str | None:
    """The field a column's header texts name: "" for an ignored column, None when unknown.

    A group word ("statt", "alt") above or before a paired column makes it the original value.
    """
    column: str | None = None
    original = False
    for depth, label in enumerate(labels, start=1):
        text = " ".join(label.lower().rstrip(":").split())
        word, _, rest = text.partition(" ")
        if text in COLUMNS:
            column = COLUMNS[text]
        elif text in _IGNORED_COLUMNS:
            column = ""
        elif text in ORIGINAL_GROUPS:
            original = True
        elif word in ORIGINAL_GROUPS and rest in COLUMNS:
            column, original = COLUMNS[rest], True
        elif word in NEW_GROUPS and rest in COLUMNS:
            column = COLUMNS[rest]
        elif text not in NEW_GROUPS and depth == len(labels):
            # An unknown group above a known header is a heading; an unknown header is not read.
            return None
    if not original or not column or column.startswith("original_"):
        return column
    # A planned period or date ("statt Stunde") has no field of its own.
    return f"original_{column}" if column in _PAIRED_COLUMNS else None


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
