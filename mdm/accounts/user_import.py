"""The CSV import of teachers and students: all rows, or none (docs/user-import.md). It
flushes, never commits."""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mdm.accounts import names
from mdm.accounts.models import User
from mdm.accounts.service import (
    classes_changed,
    get_school,
    hash_password,
    initial_password_hash,
    new_initial_password,
    set_password,
)
from mdm.accounts.user_csv import USERNAME_RE, UserFile, UserRow, parse_user_csv
from mdm.accounts.user_matching import Account, match_rows
from mdm.platform import audit
from mdm.platform.actors import Actor
from mdm.platform.errors import ValidationFailed
from mdm.platform.scoping import ADMINS, require_role

# Usernames are looked up this many at a time.
CHUNK = 500


@dataclass(frozen=True)
class ImportedLine:
    """What became of one line of the file."""

    line: int
    username: str
    action: str  # created or updated
    username_generated: bool


@dataclass
class ImportResult:
    """What a CSV import did; initial passwords are shown once, to the admin who imported."""

    created: list[User] = field(default_factory=list)
    updated: list[User] = field(default_factory=list)
    initial_passwords: dict[str, str] = field(default_factory=dict)
    lines: list[ImportedLine] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    # What following the students' classes changed (the class groups of devices).
    class_groups: dict[str, Any] = field(default_factory=dict)


def _existing_usernames(session: Session, candidates: set[str]) -> set[str]:
    """Which of these usernames exist, in any school (usernames are unique city-wide)."""
    ordered = sorted(candidates)
    taken: set[str] = set()
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        taken.update(session.scalars(select(User.username).where(User.username.in_(chunk))))
    return taken


def _school_accounts(session: Session, school_id: int, roles: set[str]) -> list[User]:
    return list(
        session.scalars(select(User).where(User.school_id == school_id, User.role.in_(roles)))
    )


def _account(user: User) -> Account:
    return Account(
        id=user.id,
        username=user.username,
        role=user.role,
        first_name=user.first_name,
        last_name=user.last_name,
        class_name=user.class_name,
        external_id=user.external_id,
    )


def _check_usernames(
    session: Session, school_id: int, rows: list[UserRow], errors: dict[str, list[str]]
) -> None:
    """Usernames the file gives must not be another school's or another role's account."""
    given = sorted({row.username for row in rows if row.username})
    existing: dict[str, User] = {}
    for start in range(0, len(given), CHUNK):
        chunk = given[start : start + CHUNK]
        existing.update(
            (user.username, user)
            for user in session.scalars(select(User).where(User.username.in_(chunk)))
        )
    for row in rows:
        other = existing.get(row.username or "")
        if other is not None and (other.school_id != school_id or other.role != row.role):
            errors[f"line {row.line}"] = [
                f"username {row.username!r} belongs to another account (other school or role)"
            ]


def _new_usernames(
    session: Session, rows: list[UserRow], reserved: set[str], errors: dict[str, list[str]]
) -> dict[int, str]:
    """line -> a generated username, free city-wide and not `reserved` (the usernames the file
    gives), for new rows without one."""
    bases = {row.line: names.username_base(row.first_name, row.last_name) for row in rows}
    for line, base in bases.items():
        if not USERNAME_RE.match(base):
            errors[f"line {line}"] = [
                "the name has too few letters for a username: give this line a username"
            ]
    wanted = [(line, base) for line, base in bases.items() if USERNAME_RE.match(base)]
    assigned = names.assign_usernames(
        [base for _line, base in wanted],
        lambda candidates: _existing_usernames(session, candidates),
        reserved,
    )
    return {line: username for (line, _base), username in zip(wanted, assigned, strict=True)}


def import_users_csv(
    session: Session, actor: Actor, school_id: int, content: bytes, role: str | None = None
) -> ImportResult:
    """Create or update the teachers and students in a CSV file: all rows, or none.

    Rows are matched to the school's accounts by user_matching.match_rows; new rows without a
    username get one made of their names (docs/user-import.md). `role` is the role of rows
    without one. Columns the file lacks are left as they are on existing accounts."""
    require_role(actor, ADMINS, "only admins import users")
    school = get_school(session, actor, school_id)
    parsed: UserFile = parse_user_csv(content, role)
    if "role" in parsed.errors or "file" in parsed.errors:
        # Without the role (or a readable file) the lines cannot be matched to anybody.
        raise ValidationFailed("The file has errors; nothing was imported.", errors=parsed.errors)
    errors = dict(parsed.errors)
    rows = parsed.rows
    _check_usernames(session, school.id, rows, errors)
    school_users = _school_accounts(session, school.id, {row.role for row in rows})
    users = {user.id: user for user in school_users}
    matches = match_rows(rows, [_account(user) for user in school_users])
    errors.update(matches.errors)
    generated = _new_usernames(
        session,
        [row for row in rows if row.line not in matches.accounts and row.username is None],
        {row.username for row in rows if row.username},
        errors,
    )
    if errors:
        raise ValidationFailed("The file has errors; nothing was imported.", errors=errors)
    result = ImportResult(columns=parsed.columns, ignored_columns=parsed.ignored_columns)
    for row in rows:
        account = matches.accounts.get(row.line)
        if account is None:
            user = _create(session, school.id, row, generated.get(row.line), result)
        else:
            user = users[account.id]
            if row.password:
                set_password(user, row.password)
            result.updated.append(user)
        _set_fields(user, row, parsed)
        result.lines.append(
            ImportedLine(
                line=row.line,
                username=user.username,
                action="updated" if account else "created",
                username_generated=row.line in generated,
            )
        )
    session.flush()
    audit.record(
        session,
        actor,
        "user.import",
        "school",
        school.id,
        school_id=school.id,
        details={
            "created": len(result.created),
            "updated": len(result.updated),
            "generated_usernames": len(generated),
        },
    )
    result.class_groups = classes_changed(session, actor, school.id)
    return result


def _create(
    session: Session, school_id: int, row: UserRow, generated: str | None, result: ImportResult
) -> User:
    username = row.username or generated
    assert username is not None
    if row.password is None:
        initial = new_initial_password()
        result.initial_passwords[username] = initial
        password_hash = initial_password_hash(initial)
    else:
        password_hash = hash_password(row.password)
    user = User(username=username, role=row.role, school_id=school_id, password_hash=password_hash)
    session.add(user)
    result.created.append(user)
    return user


def _set_fields(user: User, row: UserRow, parsed: UserFile) -> None:
    """Take the row's values for the columns the file has; leave the others."""
    values: dict[str, Any] = {
        "first_name": row.first_name,
        "last_name": row.last_name,
        "email": row.email,
        "class_name": row.class_name,
        "external_id": row.external_id,
    }
    for name, value in values.items():
        if parsed.has(name) or user.id is None:
            setattr(user, name, value)
