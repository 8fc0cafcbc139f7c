"""Parsing a CSV list of users (teachers and students) as schools export them: from this
platform's own layout to the school office's `Vorname;Nachname;Klasse`. Pure.

What is read (docs/user-import.md): UTF-8 (with or without BOM), UTF-16 with BOM (Excel's
"Unicode text") or Windows-1252; `;`, `,`, tab or `|` between fields; title lines before the
header and Excel's `sep=;` line are skipped; headers are recognised by their aliases (case,
umlauts, spaces and punctuation do not matter); columns nobody asked for are ignored and named.
"""

import csv
import io
import re
from dataclasses import dataclass, field

from mdm.accounts.names import ascii_letters, class_key, name_key

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,119}$")
# Header aliases, compared by header_key: `Schüler-ID`, `Schueler ID` and `schueler_id` are one.
COLUMN_ALIASES = {
    "username": (
        "username",
        "user",
        "benutzername",
        "benutzer",
        "login",
        "loginname",
        "anmeldename",
        "kennung",
        "account",
    ),
    "first_name": ("first_name", "firstname", "given_name", "vorname", "vornamen", "rufname"),
    "last_name": ("last_name", "lastname", "surname", "family_name", "nachname", "familienname"),
    # One column with both names, "Schmidt, Lena" (a plain `Name` is one too when the file has
    # no first-name column; beside `Vorname` it is the last name).
    "full_name": (
        "full_name",
        "fullname",
        "vollständiger name",
        "schülername",
        "schüler",
        "schülerin",
        "lehrer",
        "lehrkraft",
        "nachname, vorname",
        "name, vorname",
    ),
    "role": ("role", "rolle", "benutzertyp", "typ", "type", "personengruppe"),
    "email": ("email", "e-mail", "mail", "e-mail-adresse", "email address", "e-mail (dienstlich)"),
    "class_name": (
        "class",
        "class_name",
        "klasse",
        "klassen",
        "klassenname",
        "klassenbezeichnung",
        "klasse kurz",
        "kl",
        "stammklasse",
        "stammgruppe",
        "lerngruppe",
    ),
    "password": ("password", "passwort", "kennwort"),
    # An id the school office software gives each person, kept to recognise them next time.
    "external_id": (
        "external_id",
        "id",
        "schüler-id",
        "schülerid",
        "schüler-nr",
        "schülernummer",
        "lehrer-id",
        "lehrer-nr",
        "personalnummer",
        "personal-nr",
        "interne id",
        "interne id-nummer",
        "id-nummer",
        "identnummer",
        "guid",
        "uuid",
    ),
}
# A plain `Name` column: the last name beside a first-name column, else both names.
PLAIN_NAME = "name"
# Column sizes of the users table.
FIELD_LIMITS = {
    "first_name": 100,
    "last_name": 100,
    "email": 254,
    "class_name": 40,
    "password": 200,
    "external_id": 64,
}
ROLE_ALIASES = {
    "student": ("student", "students", "pupil", "schüler", "schülerin", "schüler/in", "sus", "s"),
    "teacher": ("teacher", "teachers", "lehrer", "lehrerin", "lehrer/in", "lehrkraft", "lul", "l"),
}
ROLES = tuple(ROLE_ALIASES)
DELIMITERS = (";", ",", "\t", "|")
# Title lines before the header are skipped; the header is among the first rows.
HEADER_SEARCH_ROWS = 10


def header_key(text: str) -> str:
    """What headers and role names are compared by: ASCII letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", ascii_letters(text))


_FIELD_OF_HEADER = {
    header_key(alias): name for name, aliases in COLUMN_ALIASES.items() for alias in aliases
}
_ROLE_OF_VALUE = {
    header_key(alias): role for role, aliases in ROLE_ALIASES.items() for alias in aliases
}


@dataclass(frozen=True)
class UserRow:
    """One valid row of the file; username None when the file gives none for it."""

    line: int
    username: str | None
    first_name: str
    last_name: str
    role: str
    email: str | None
    class_name: str | None
    password: str | None
    external_id: str | None = None


@dataclass
class UserFile:
    """A parsed file: its valid rows, errors by "line N" ("file" and "role" for the whole
    file), which header each field was read from, and the columns ignored."""

    rows: list[UserRow] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)

    def has(self, name: str) -> bool:
        """Whether the file has a column for this field (a file without one leaves it alone)."""
        return name in self.columns or (
            name in ("first_name", "last_name") and "full_name" in self.columns
        )


def decode_text(content: bytes) -> str:
    """UTF-16 with a BOM (Excel's "Unicode text"), UTF-8 (with or without BOM), else
    Windows-1252 as German spreadsheet programs and office software write."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return content.decode("utf-16", errors="replace")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")


def _delimiter(lines: list[str]) -> str:
    """Excel's `sep=;` line, else the separator most frequent in the first lines."""
    if lines and lines[0].strip().lower().startswith("sep=") and len(lines[0].strip()) == 5:
        return lines[0].strip()[4]
    sample = lines[:HEADER_SEARCH_ROWS]
    return max(DELIMITERS, key=lambda d: sum(line.count(d) for line in sample))


def _columns(header: list[str]) -> dict[str, int]:
    """field -> column index of a header row (the first column of a field wins)."""
    keys = [header_key(cell) for cell in header]
    columns: dict[str, int] = {}
    for index, key in enumerate(keys):
        name = _FIELD_OF_HEADER.get(key)
        if name is not None and name not in columns:
            columns[name] = index
    if PLAIN_NAME in keys:
        index = keys.index(PLAIN_NAME)
        if "first_name" in columns and "last_name" not in columns:
            columns["last_name"] = index
        elif not {"first_name", "last_name", "full_name"} & set(columns):
            columns["full_name"] = index
    if {"first_name", "last_name"} & set(columns):
        # Separate name columns win: a `Lehrer` column beside them is the class teacher.
        columns.pop("full_name", None)
    return columns


def _is_header(columns: dict[str, int]) -> bool:
    return bool({"last_name", "full_name", "username"} & set(columns)) and len(columns) >= 2


def _cell(value: str) -> str:
    """A cell without spaces around it, and without Excel's `="007"` quoting of leading zeros."""
    value = value.strip()
    if value.startswith('="') and value.endswith('"'):
        value = value[2:-1]
    return value


def split_full_name(value: str) -> tuple[str, str] | None:
    """(first, last) of "Schmidt, Lena"; None when there is no comma to tell them apart."""
    last, comma, first = value.partition(",")
    if not comma or not last.strip():
        return None
    return first.strip(), last.strip()


def parse_user_csv(content: bytes, role: str | None = None) -> UserFile:
    """The rows of a user file. `role` (student or teacher) is the role of rows without one
    (all rows, when the file has no role column)."""
    result = UserFile()
    text = decode_text(content)
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        result.errors["file"] = ["the file is empty"]
        return result
    delimiter = _delimiter(lines)
    try:
        table = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:
        result.errors["file"] = [f"the file is not readable as CSV: {exc}"]
        return result
    header_index = next(
        (
            index
            for index, cells in enumerate(table[:HEADER_SEARCH_ROWS])
            if _is_header(_columns(cells))
        ),
        None,
    )
    if header_index is None:
        first = next((cells for cells in table if any(cell.strip() for cell in cells)), [])
        result.errors["file"] = [
            "no header row with the users' names: name the columns, e.g. "
            f"Vorname;Nachname;Klasse or username;first_name;last_name;role (found {first})"
        ]
        return result
    header = [cell.strip() for cell in table[header_index]]
    columns = _columns(header)
    result.columns = {name: header[index] for name, index in columns.items()}
    result.ignored_columns = [
        name for index, name in enumerate(header) if name and index not in columns.values()
    ]
    if "role" not in columns and role is None:
        result.errors["role"] = [
            "the file has no role column: import it with role=student or role=teacher"
        ]
    seen_usernames: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    seen_people: dict[tuple[str, str, str, str], int] = {}
    for line_number, cells in enumerate(table[header_index + 1 :], start=header_index + 2):
        if not any(cell.strip() for cell in cells):
            continue

        def cell(name: str, cells: list[str] = cells) -> str:
            index = columns.get(name)
            return _cell(cells[index]) if index is not None and index < len(cells) else ""

        problems: list[str] = []
        first_name, last_name = cell("first_name"), cell("last_name")
        if "full_name" in columns:
            names = split_full_name(cell("full_name"))
            if names is None:
                problems.append(
                    f"name {cell('full_name')!r} does not say which is the last name: "
                    "write 'Nachname, Vorname' or use separate columns"
                )
            else:
                first_name, last_name = names
        elif not last_name:
            problems.append("last name is empty")
        username = cell("username").lower() or None
        if username is not None:
            if not USERNAME_RE.match(username):
                problems.append(f"username {username!r} is not valid (letters, digits, . _ @ -)")
            elif username in seen_usernames:
                problems.append(f"username {username!r} repeats line {seen_usernames[username]}")
            else:
                seen_usernames[username] = line_number
        row_role = role
        if cell("role"):
            row_role = _ROLE_OF_VALUE.get(header_key(cell("role")))
            if row_role is None:
                problems.append(f"role {cell('role')!r} is not teacher or student")
        elif "role" in columns and role is None:
            problems.append("role is empty (or import the file with role=student or role=teacher)")
        external_id = cell("external_id") or None
        if external_id is not None:
            if external_id in seen_ids:
                problems.append(f"id {external_id!r} repeats line {seen_ids[external_id]}")
            else:
                seen_ids[external_id] = line_number
        password = cell("password") or None
        if password is not None and len(password) < 8:
            problems.append("password is shorter than 8 characters")
        email = cell("email") or None
        if email is not None and "@" not in email:
            problems.append(f"email {email!r} is not an address")
        values = {"first_name": first_name, "last_name": last_name}
        for name, limit in FIELD_LIMITS.items():
            if len(values.get(name, cell(name))) > limit:
                problems.append(f"{name} is longer than {limit} characters")
        class_name = cell("class_name") or None
        if username is None and external_id is None and last_name:
            person = (
                row_role or "",
                name_key(first_name),
                name_key(last_name),
                class_key(class_name),
            )
            if person in seen_people:
                problems.append(
                    f"{first_name} {last_name} ({class_name or 'no class'}) repeats line "
                    f"{seen_people[person]}"
                )
            else:
                seen_people[person] = line_number
        if problems:
            result.errors[f"line {line_number}"] = problems
            continue
        result.rows.append(
            UserRow(
                line=line_number,
                username=username,
                first_name=first_name,
                last_name=last_name,
                role=row_role or "",
                email=email,
                class_name=class_name,
                password=password,
                external_id=external_id,
            )
        )
    if not result.rows and not result.errors:
        result.errors["file"] = ["the file has a header but no users"]
    return result
