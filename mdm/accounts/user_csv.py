"""Parsing a CSV list of users (teachers and students) as schools export them. Pure."""

import csv
import io
import re
from dataclasses import dataclass

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,119}$")
COLUMN_ALIASES = {
    "username": ("username", "benutzername", "login", "kennung"),
    "first_name": ("first_name", "vorname", "firstname"),
    "last_name": ("last_name", "nachname", "lastname", "name"),
    "role": ("role", "rolle"),
    "email": ("email", "e-mail", "mail"),
    "class_name": ("class", "class_name", "klasse"),
    "password": ("password", "passwort", "kennwort"),
}
# Column sizes of the users table.
FIELD_LIMITS = {
    "first_name": 100,
    "last_name": 100,
    "email": 254,
    "class_name": 40,
    "password": 200,
}
ROLE_ALIASES = {
    "teacher": "teacher",
    "lehrer": "teacher",
    "lehrkraft": "teacher",
    "student": "student",
    "schüler": "student",
    "schueler": "student",
    "schülerin": "student",
}


@dataclass(frozen=True)
class UserRow:
    """One valid row of the file."""

    line: int
    username: str
    first_name: str
    last_name: str
    role: str
    email: str | None
    class_name: str | None
    password: str | None


def decode_text(content: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252 as German spreadsheet programs write."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")


def parse_user_csv(content: bytes) -> tuple[list[UserRow], dict[str, list[str]]]:
    """Rows and per-row errors keyed "line N" (plus "file" for problems with the whole file)."""
    text = decode_text(content)
    if not text.strip():
        return [], {"file": ["the file is empty"]}
    first_line = text.splitlines()[0]
    delimiter = max((";", ",", "\t"), key=first_line.count)
    try:
        table = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:
        return [], {"file": [f"the file is not readable as CSV: {exc}"]}
    reader = iter(table)
    header = [cell.strip().lower() for cell in next(reader)]
    columns: dict[str, int] = {}
    for field, aliases in COLUMN_ALIASES.items():
        for index, name in enumerate(header):
            if name in aliases:
                columns[field] = index
                break
    missing = [f for f in ("username", "first_name", "last_name", "role") if f not in columns]
    if missing:
        return [], {"file": [f"missing column(s): {', '.join(missing)}; header was {header}"]}

    rows: list[UserRow] = []
    errors: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    for line_number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue

        def cell(field: str, cells: list[str] = cells) -> str:
            index = columns.get(field)
            return cells[index].strip() if index is not None and index < len(cells) else ""

        problems: list[str] = []
        username = cell("username").lower()
        if not USERNAME_RE.match(username):
            problems.append(f"username {username!r} is not valid (letters, digits, . _ @ -)")
        elif username in seen:
            problems.append(f"username {username!r} repeats line {seen[username]}")
        else:
            seen[username] = line_number
        role = ROLE_ALIASES.get(cell("role").lower())
        if role is None:
            problems.append(f"role {cell('role')!r} is not teacher or student")
        if not cell("last_name"):
            problems.append("last name is empty")
        password = cell("password") or None
        if password is not None and len(password) < 8:
            problems.append("password is shorter than 8 characters")
        email = cell("email") or None
        if email is not None and "@" not in email:
            problems.append(f"email {email!r} is not an address")
        for field, limit in FIELD_LIMITS.items():
            if len(cell(field)) > limit:
                problems.append(f"{field} is longer than {limit} characters")
        if problems:
            errors[f"line {line_number}"] = problems
            continue
        rows.append(
            UserRow(
                line=line_number,
                username=username,
                first_name=cell("first_name"),
                last_name=cell("last_name"),
                role=role or "",
                email=email,
                class_name=cell("class_name") or None,
                password=password,
            )
        )
    if not rows and not errors:
        errors["file"] = ["the file has a header but no users"]
    return rows, errors
