"""Schools and users: the domain operations. They flush, never commit."""

import re
import secrets
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, current_app, has_app_context
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from mdm.accounts.models import ROLES, School, User
from mdm.accounts.user_csv import USERNAME_RE
from mdm.platform import audit
from mdm.platform.actors import Actor
from mdm.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from mdm.platform.scoping import (
    ADMINS,
    CITY_ADMINS,
    may_touch_school,
    require_role,
    require_school,
    scoped,
)
from mdm.platform.types import utcnow

# The languages of the admin pages a user may choose.
LANGUAGES = ("de", "en")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
MIN_PASSWORD = 8
# Roles each role may create and manage.
MANAGES = {
    "it_admin": set(ROLES),
    "school_admin": {"teacher", "student"},
}
# Other packages that keep things of a user (a personal device) may refuse the user's deletion:
# a check answers why, or None (register_deletion_check).
DeletionCheck = Callable[[Session, User], str | None]
DELETION_CHECKS = "mdm_user_deletion_checks"  # their key in app.extensions
# Other packages that follow the students' classes (the class groups of devices) are told when
# they may have changed; a listener answers what it changed, for reports.
ClassListener = Callable[[Session, Actor, int], dict[str, Any]]
CLASS_LISTENERS = "mdm_class_listeners"  # their key in app.extensions
# A hash per method, made once, to check against when there is nothing (or something else) to
# check: every login attempt costs the same (`verify_password`).
_DUMMY_HASHES: dict[str, str] = {}


def hash_password(password: str) -> str:
    """A scrypt hash of the password (cost from PASSWORD_HASH_METHOD; tests make it cheaper)."""
    method = current_app.config["PASSWORD_HASH_METHOD"] if has_app_context() else "scrypt"
    return generate_password_hash(password, method=method)


def set_password(user: User, password: str, *, initial: bool = False) -> None:
    """Set a new password (a generated `initial` one at its lower cost); every earlier login
    (its access and refresh tokens, its page sessions) stops working."""
    user.password_hash = initial_password_hash(password) if initial else hash_password(password)
    user.password_changed_at = utcnow()
    user.login_generation = (user.login_generation or 0) + 1


def new_initial_password() -> str:
    """A generated initial password: 72 random bits, 12 URL-safe characters."""
    return secrets.token_urlsafe(9)


def initial_password_hash(password: str) -> str:
    """Hash of a generated initial password: 72 random bits need far less work than a chosen
    password (INITIAL_PASSWORD_HASH_METHOD), which keeps a school's import of a thousand
    students within a request."""
    return generate_password_hash(
        password, method=current_app.config["INITIAL_PASSWORD_HASH_METHOD"]
    )


def _dummy_hash(method: str) -> str:
    dummy = _DUMMY_HASHES.get(method)
    if dummy is None:
        dummy = _DUMMY_HASHES.setdefault(
            method, generate_password_hash("not-a-real-password", method=method)
        )
    return dummy


def _method_of(password_hash: str) -> str:
    """The method with its parameters a hash was made with ("scrypt:32768:8:1")."""
    return password_hash.split("$", 1)[0]


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether the password matches the hash, at the same cost whatever is stored.

    Every check does the work of one hash at the configured cost and one at the initial
    passwords' cost: the stored hash's own, and a stand-in for the other. So an account still on
    its cheap initial password, one with a chosen password and an unknown username (no hash)
    take the same time, and answer nothing by it."""
    full = _method_of(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]))
    initial = _method_of(_dummy_hash(current_app.config["INITIAL_PASSWORD_HASH_METHOD"]))
    stand_ins = [full, initial]
    stored = _method_of(password_hash) if password_hash else full
    stand_ins.remove(stored if stored in stand_ins else full)
    matches = check_password_hash(password_hash or _dummy_hash(full), password)
    for method in stand_ins:
        check_password_hash(_dummy_hash(method), password)
    return matches and password_hash is not None


def register_deletion_check(app: Flask, check: DeletionCheck) -> None:
    """Let a package refuse the deletion of a user it keeps something of."""
    app.extensions.setdefault(DELETION_CHECKS, []).append(check)


def register_class_listener(app: Flask, listener: ClassListener) -> None:
    """Let a package follow the classes of a school's students."""
    app.extensions.setdefault(CLASS_LISTENERS, []).append(listener)


def classes_changed(session: Session, actor: Actor, school_id: int) -> dict[str, Any]:
    """Tell the listeners that students of the school may have changed class; what they did."""
    changes: dict[str, Any] = {}
    for listener in current_app.extensions.get(CLASS_LISTENERS, []):
        changes.update(listener(session, actor, school_id))
    return changes


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(errors={"timezone": [f"unknown time zone {name!r}"]}) from exc


def _require_city_admin(actor: Actor) -> None:
    require_role(actor, CITY_ADMINS, "only the city IT admin manages schools")


def create_school(session: Session, actor: Actor, slug: str, name: str, timezone: str) -> School:
    """Create a school (city IT admin only)."""
    _require_city_admin(actor)
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug):
        raise ValidationFailed(errors={"slug": ["2-63 lower-case letters, digits or dashes"]})
    _check_timezone(timezone)
    if session.scalar(select(School.id).where(School.slug == slug)):
        raise Conflict(f"a school with slug {slug!r} exists")
    school = School(slug=slug, name=name.strip(), timezone=timezone)
    session.add(school)
    session.flush()
    audit.record(
        session,
        actor,
        "school.create",
        "school",
        school.id,
        school_id=school.id,
        details={"slug": slug, "name": school.name},
    )
    return school


def update_school(
    session: Session, actor: Actor, school_id: int, changes: dict[str, Any]
) -> School:
    """Rename a school or change its time zone (city IT admin only)."""
    _require_city_admin(actor)
    school = session.get(School, school_id)
    if school is None:
        raise NotFound(f"school {school_id} not found")
    if "timezone" in changes:
        _check_timezone(changes["timezone"])
        school.timezone = changes["timezone"]
    if "name" in changes:
        school.name = changes["name"].strip()
    session.flush()
    audit.record(
        session, actor, "school.update", "school", school.id, school_id=school.id, details=changes
    )
    return school


def list_schools(session: Session, actor: Actor) -> list[School]:
    """All schools for the city admin; one's own school for everybody else."""
    stmt = select(School).order_by(School.name)
    if not actor.is_city_admin:
        stmt = stmt.where(School.id == actor.school_id)
    return list(session.scalars(stmt))


def get_school(session: Session, actor: Actor, school_id: int) -> School:
    """One school, if the actor may see it."""
    require_school(actor, school_id)
    school = session.get(School, school_id)
    if school is None:
        raise NotFound(f"school {school_id} not found")
    return school


def _check_may_manage(actor: Actor, role: str, school_id: int | None) -> None:
    if role not in ROLES:
        raise ValidationFailed(errors={"role": [f"must be one of {', '.join(ROLES)}"]})
    allowed = MANAGES.get(actor.role if actor.role != "system" else "it_admin", set())
    if role not in allowed:
        raise PermissionDenied(f"a {actor.role} may not manage {role} accounts")
    require_school(actor, school_id)


def _check_username(session: Session, username: str) -> str:
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise ValidationFailed(errors={"username": ["2-120 letters, digits, '.', '_', '@' or '-'"]})
    if session.scalar(select(User.id).where(User.username == username)):
        raise Conflict(f"the username {username!r} is taken")
    return username


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(errors={"password": [f"at least {MIN_PASSWORD} characters"]})


def create_user(
    session: Session,
    actor: Actor,
    *,
    username: str,
    role: str,
    password: str | None,
    school_id: int | None = None,
    first_name: str = "",
    last_name: str = "",
    email: str | None = None,
    class_name: str | None = None,
) -> User:
    """Create an account; a school admin creates teachers and students of their own school."""
    if actor.role == "school_admin" and school_id is None:
        school_id = actor.school_id
    if role == "it_admin":
        school_id = None
    elif school_id is None:
        raise ValidationFailed(errors={"school_id": ["required for this role"]})
    elif session.get(School, school_id) is None:
        raise ValidationFailed(errors={"school_id": [f"no school {school_id}"]})
    if role == "it_admin":
        require_role(actor, CITY_ADMINS, "only the city IT admin creates IT admins")
    else:
        _check_may_manage(actor, role, school_id)
    username = _check_username(session, username)
    if password is not None:
        _check_password(password)
    user = User(
        username=username,
        role=role,
        school_id=school_id,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        email=email,
        class_name=class_name,
        password_hash=hash_password(password) if password else None,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "user.create",
        "user",
        user.id,
        school_id=school_id,
        details={"username": username, "role": role},
    )
    if role == "student" and class_name and school_id is not None:
        classes_changed(session, actor, school_id)
    return user


def get_user(session: Session, actor: Actor, user_id: int) -> User:
    """One user the actor may manage (404 outside the actor's school)."""
    user = session.get(User, user_id)
    if user is None or not may_touch_school(actor, user.school_id):
        raise NotFound(f"user {user_id} not found")
    return user


def update_user(session: Session, actor: Actor, user_id: int, changes: dict[str, Any]) -> User:
    """Change names, class, e-mail, active flag or password of a user the actor manages."""
    user = get_user(session, actor, user_id)
    if user.role == "it_admin":
        _require_city_admin(actor)
    else:
        _check_may_manage(actor, user.role, user.school_id)
    recorded = {k: v for k, v in changes.items() if k != "password"}
    for name in ("first_name", "last_name", "email", "class_name", "active"):
        if name in changes:
            setattr(user, name, changes[name])
    if "password" in changes:
        _check_password(changes["password"])
        set_password(user, changes["password"])
        recorded["password"] = "changed"
    session.flush()
    audit.record(
        session, actor, "user.update", "user", user.id, school_id=user.school_id, details=recorded
    )
    if user.role == "student" and "class_name" in changes and user.school_id is not None:
        classes_changed(session, actor, user.school_id)
    return user


def delete_user(session: Session, actor: Actor, user_id: int) -> None:
    """Delete an account the actor manages; one cannot delete oneself."""
    user = get_user(session, actor, user_id)
    if user.id == actor.user_id:
        raise Conflict("you cannot delete your own account")
    if user.role == "it_admin":
        _require_city_admin(actor)
    else:
        _check_may_manage(actor, user.role, user.school_id)
    for check in current_app.extensions.get(DELETION_CHECKS, []):
        refusal = check(session, user)
        if refusal:
            raise Conflict(refusal)
    audit.record(
        session,
        actor,
        "user.delete",
        "user",
        user.id,
        school_id=user.school_id,
        details={"username": user.username, "role": user.role},
    )
    session.delete(user)
    session.flush()


def list_users(
    session: Session,
    actor: Actor,
    *,
    school_id: int | None = None,
    role: str | None = None,
    class_name: str | None = None,
    search: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[User], int]:
    """Users the actor may see, filtered, with the total count."""
    require_role(actor, ADMINS, "only admins list users")
    stmt = scoped(select(User), User, actor)
    if school_id is not None:
        stmt = stmt.where(User.school_id == school_id)
    if role:
        stmt = stmt.where(User.role == role)
    if class_name:
        stmt = stmt.where(User.class_name == class_name)
    if search:
        pattern = f"%{search.lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(User.username).like(pattern),
                func.lower(User.first_name).like(pattern),
                func.lower(User.last_name).like(pattern),
            )
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(User.last_name, User.first_name, User.id).limit(limit).offset(offset)
    )
    return list(rows), total


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this username and password, or None; every attempt costs the same
    work, whether the account exists, is active, or is on its initial password."""
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    matches = verify_password(user.password_hash if user else None, password)
    if user is None or not matches or not user.active:
        return None
    user.last_login_at = utcnow()
    return user


def change_own_password(session: Session, actor: Actor, current: str, new: str) -> None:
    """A logged-in user changes their own password."""
    user = session.get(User, actor.user_id)
    if user is None or not verify_password(user.password_hash, current):
        raise ValidationFailed(errors={"current_password": ["is not your current password"]})
    _check_password(new)
    set_password(user, new)
    session.flush()
    audit.record(session, actor, "user.password", "user", user.id, school_id=user.school_id)


def set_language(session: Session, actor: Actor, language: str | None) -> None:
    """Set the language of one's own admin pages ("de", "en"; None follows the browser)."""
    if language is not None and language not in LANGUAGES:
        raise ValidationFailed(errors={"language": [f"one of {', '.join(LANGUAGES)}"]})
    user = session.get(User, actor.user_id)
    if user is None:
        raise NotFound("no such user")
    user.language = language
    session.flush()
    audit.record(
        session,
        actor,
        "user.language",
        "user",
        user.id,
        school_id=user.school_id,
        details={"language": language},
    )


def list_classes(
    session: Session, actor: Actor, *, school_id: int | None = None, search: str | None = None
) -> list[tuple[int, str, int]]:
    """The students' classes the actor may see: (school id, class, number of students)."""
    require_role(actor, ADMINS, "only admins list classes")
    stmt = scoped(
        select(User.school_id, User.class_name, func.count())
        .where(User.role == "student", User.class_name.is_not(None))
        .group_by(User.school_id, User.class_name),
        User,
        actor,
    )
    if school_id is not None:
        stmt = stmt.where(User.school_id == school_id)
    if search:
        stmt = stmt.where(func.lower(User.class_name).like(f"%{search.lower()}%"))
    rows = session.execute(stmt.order_by(User.school_id, User.class_name)).all()
    return [(row[0], row[1], row[2]) for row in rows]


def reset_passwords(session: Session, actor: Actor, user_ids: list[int]) -> list[tuple[User, str]]:
    """New initial passwords for accounts the actor manages (shown once, to print); every
    login of theirs ends."""
    reset: list[tuple[User, str]] = []
    for user_id in user_ids:
        user = get_user(session, actor, user_id)
        if user.role == "it_admin":
            _require_city_admin(actor)
        else:
            _check_may_manage(actor, user.role, user.school_id)
        password = new_initial_password()
        set_password(user, password, initial=True)
        reset.append((user, password))
    session.flush()
    for user, _password in reset:
        audit.record(
            session, actor, "user.password_reset", "user", user.id, school_id=user.school_id
        )
    return reset
