"""Which rows of a user file are accounts the school has already: the rule that keeps a
re-imported school office export from making duplicates (docs/user-import.md). Pure."""

from collections import defaultdict
from dataclasses import dataclass

from mdm.accounts.names import class_key, name_key
from mdm.accounts.user_csv import UserRow


@dataclass(frozen=True)
class Account:
    """An existing account of the school, as the matching sees it."""

    id: int
    username: str
    role: str
    first_name: str
    last_name: str
    class_name: str | None
    external_id: str | None


@dataclass
class Matches:
    """line -> the account a row is (rows absent are new), and errors by "line N"."""

    accounts: dict[int, Account]
    errors: dict[str, list[str]]


def _person(role: str, first_name: str, last_name: str) -> tuple[str, str, str]:
    return role, name_key(first_name), name_key(last_name)


def match_rows(rows: list[UserRow], accounts: list[Account]) -> Matches:
    """Match each row to at most one account of the school, in this order:

    1. its id (`external_id`, e.g. the Schüler-ID of the office software), same role;
    2. its username, when the file gives one;
    3. otherwise its role, first and last name (compared as name_key: case, accents and
       spaces do not matter) among accounts without a different id: one such account is it;
       several are narrowed to those of the row's class; still several is ambiguous.

    An ambiguous row, and every row of an account that several rows would be, is an error:
    the rule never guesses which person is which.
    """
    by_id = {(a.role, a.external_id): a for a in accounts if a.external_id}
    by_username = {a.username: a for a in accounts}
    by_person: dict[tuple[str, str, str], list[Account]] = defaultdict(list)
    for account in accounts:
        by_person[_person(account.role, account.first_name, account.last_name)].append(account)
    found: dict[int, Account] = {}
    errors: dict[str, list[str]] = {}
    by_name: list[UserRow] = []
    for row in rows:
        account = by_id.get((row.role, row.external_id)) if row.external_id else None
        if account is not None and row.username not in (None, account.username):
            errors[f"line {row.line}"] = [
                f"id {row.external_id!r} is the account {account.username}, not {row.username}"
            ]
            continue
        if account is None and row.username is not None:
            account = by_username.get(row.username)
        if account is not None:
            found[row.line] = account
        elif row.username is None:
            by_name.append(row)
    claimed = {account.id for account in found.values()}
    for row in by_name:
        candidates = [
            account
            for account in by_person[_person(row.role, row.first_name, row.last_name)]
            if account.id not in claimed
            and (account.external_id is None or row.external_id is None)
        ]
        if len(candidates) > 1:
            same_class = [
                account
                for account in candidates
                if class_key(account.class_name) == class_key(row.class_name)
            ]
            candidates = same_class if len(same_class) == 1 else candidates
        if len(candidates) == 1:
            found[row.line] = candidates[0]
        elif candidates:
            names = ", ".join(
                f"{account.username} ({account.class_name or 'no class'})" for account in candidates
            )
            errors[f"line {row.line}"] = [
                f"{row.first_name} {row.last_name} could be any of the accounts {names}: "
                "give this line its username (or the office software's id) to say which"
            ]
    lines_of: dict[int, list[int]] = defaultdict(list)
    for line, account in found.items():
        lines_of[account.id].append(line)
    for line, account in list(found.items()):
        if len(lines_of[account.id]) > 1:
            others = ", ".join(str(other) for other in lines_of[account.id] if other != line)
            errors[f"line {line}"] = [
                f"this line and line(s) {others} are all the account {account.username}: "
                "give each its username (or the office software's id)"
            ]
    for line in [line for line in found if f"line {line}" in errors]:
        del found[line]
    return Matches(found, errors)
