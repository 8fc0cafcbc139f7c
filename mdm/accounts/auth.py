"""Logins on every request: flask-jwt-extended wired to users and revocation, the login checks a
worker remembers, the role decorator and the actor of a request."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, has_app_context, request
from flask_jwt_extended import get_current_user, verify_jwt_in_request
from sqlalchemy import bindparam, event, exists, inspect, or_, select, update
from sqlalchemy.orm import Session, make_transient_to_detached

from mdm.accounts.models import RevokedToken, School, User
from mdm.extensions import db, jwt
from mdm.platform.actors import Actor
from mdm.platform.cache import Facts, Remembered, forget_after_commit, worker_cache
from mdm.platform.errors import problem
from mdm.platform.http import client_address
from mdm.platform.openapi import USER_LOGIN, problems, security
from mdm.platform.scoping import require_role

F = TypeVar("F", bound=Callable[..., Any])


def init_app(app: Flask) -> None:
    """Wire flask-jwt-extended to users, revocation and problem+json errors."""
    app.config["JWT_TOKEN_LOCATION"] = ["headers"]
    jwt.user_lookup_loader(_load_user)
    jwt.token_in_blocklist_loader(_is_revoked)

    def unauthorized(detail: str) -> Response:
        return problem(
            401,
            "unauthorized",
            "Authentication required",
            detail,
            headers={"WWW-Authenticate": "Bearer"},
        )

    jwt.unauthorized_loader(lambda reason: unauthorized(reason))
    jwt.invalid_token_loader(lambda reason: unauthorized(f"invalid token: {reason}"))
    jwt.expired_token_loader(lambda header, payload: unauthorized("the token has expired"))
    jwt.revoked_token_loader(lambda header, payload: unauthorized("the token was revoked"))
    jwt.user_lookup_error_loader(lambda header, payload: unauthorized("the account is disabled"))
    jwt.needs_fresh_token_loader(lambda header, payload: unauthorized("a fresh login is needed"))


# A logged-in request whose check the worker does not remember runs this: the user and whether
# the token (or the refresh token it came from) was revoked, in one query built once.
_USER_AND_REVOCATION = select(
    User,
    exists()
    .where(or_(RevokedToken.jti == bindparam("jti"), RevokedToken.jti == bindparam("rjti")))
    .label("revoked"),
).where(User.id == bindparam("user_id"))
# Fresh columns even when the session already holds the user (tests share one session).
_USER_AND_REVOCATION = _USER_AND_REVOCATION.execution_options(populate_existing=True)
_AUTH_VERSIONS = select(School.id, School.auth_version)
# Requests that only read may use a remembered login check; a change always asks the database.
READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Not remembered, so that no copy of a password hash lingers in memory.
_FORGOTTEN_COLUMNS = frozenset({"password_hash"})
# Changes of these columns do not touch a login: a login itself sets last_login_at.
_HARMLESS_COLUMNS = frozenset({"last_login_at"})
LOGIN_CHECKS = 20_000  # remembered per worker, about 2 KB each
GENERATION = "gen"  # the claim of a token that names its login's generation
_ALL_SCHOOLS = "all"


@dataclass(frozen=True)
class LoginCheck:
    """What the database said about one token: its user and whether it was revoked."""

    user: User  # a detached copy without the password hash; requests only read it
    revoked: bool
    school_id: int
    auth_version: int  # of the school when the check was made


# The login checks a worker remembers, for reading requests (see mdm.platform.cache). Every
# change that may end a login raises its school's auth_version (below); a remembered check is
# good while the version is what it was when the check was made. The versions of all schools are
# one remembered answer, read again after CACHE_CHECK_SECONDS. Users without a school (city IT
# admins) are always checked in the database.


def _auth_versions() -> Remembered[str, dict[int, int]]:
    return worker_cache().remembered("auth-versions", 1)


def _login_checks() -> Facts[str, LoginCheck] | None:
    """The remembered checks, when this request may use them."""
    if request.method not in READING_METHODS or worker_cache().check_seconds <= 0:
        return None
    return worker_cache().facts("login-checks", LOGIN_CHECKS)


def _read_auth_versions() -> dict[int, int]:
    rows = db.session.connection().execute(_AUTH_VERSIONS).all()
    return {row.id: row.auth_version for row in rows}


def _remember(
    checks: Facts[str, LoginCheck], jti: str, user: User, revoked: bool, versions: dict[int, int]
) -> None:
    """Remember a check made after `versions` were read (a change since raised a version)."""
    if user.school_id is None or user.school_id not in versions:
        return
    copy = User(
        **{
            attribute.key: getattr(user, attribute.key)
            for attribute in inspect(User).column_attrs
            if attribute.key not in _FORGOTTEN_COLUMNS
        }
    )
    make_transient_to_detached(copy)
    checks.put(jti, LoginCheck(copy, revoked, user.school_id, versions[user.school_id]))


def _is_revoked(header: dict[str, Any], payload: dict[str, Any]) -> bool:
    """Load the token's user (kept for _load_user) and tell whether the token was revoked."""
    checks = _login_checks()
    versions: dict[int, int] = {}
    if checks is not None:
        versions = _auth_versions().get_or_read(_ALL_SCHOOLS, _read_auth_versions)
        check = checks.get(payload["jti"])
        if check is not None and versions.get(check.school_id) == check.auth_version:
            g.mdm_token_user = check.user
            return check.revoked or _token_predates(check.user, payload)
    params = {
        "user_id": int(payload["sub"]),
        "jti": payload["jti"],
        "rjti": payload.get("rjti") or payload["jti"],
    }
    row = db.session.execute(_USER_AND_REVOCATION, params).first()
    g.mdm_token_user = row.User if row is not None else None
    if row is None:
        return False
    if checks is not None:
        _remember(checks, payload["jti"], row.User, bool(row.revoked), versions)
    return row.revoked or _token_predates(row.User, payload)


def _token_predates(user: User, payload: dict[str, Any]) -> bool:
    """Tell whether the token was issued before the account existed (an id SQLite gave again
    after a deletion) or for a login before its last password change (its generation)."""
    return payload["iat"] < int(user.created_at.timestamp()) or payload.get(GENERATION, 0) < (
        user.login_generation or 0
    )


def _load_user(header: dict[str, Any], payload: dict[str, Any]) -> User | None:
    """The active user the revocation check loaded (flask-jwt-extended asks after it)."""
    user = g.pop("mdm_token_user", None)
    return user if user is not None and user.active else None


@event.listens_for(Session, "before_flush")
def _raise_auth_versions(session: Session, _context: Any, _instances: Any) -> None:
    """Raise the auth version of the schools whose users' logins this flush may end; this
    worker reads the versions again right after the commit."""
    schools: set[int | None] = set()
    for obj in session.new:
        if isinstance(obj, RevokedToken) and obj.user_id is not None:
            owner = session.get(User, obj.user_id)
            schools.add(owner.school_id if owner is not None else None)
    for obj in session.dirty:
        if isinstance(obj, User):
            schools.update(_schools_of_changed_user(obj))
    for obj in session.deleted:
        if isinstance(obj, User):
            schools.add(obj.school_id)
    schools.discard(None)
    if not schools:
        return
    session.execute(
        update(School)
        .where(School.id.in_(sorted(schools)))  # type: ignore[arg-type]
        .values(auth_version=School.auth_version + 1)
        .execution_options(synchronize_session=False)
    )
    if has_app_context() and "mdm_cache" in current_app.extensions:
        versions = _auth_versions()
        forget_after_commit(session, lambda: versions.forget(_ALL_SCHOOLS))


def _schools_of_changed_user(user: User) -> set[int | None]:
    """The schools (before and after) of a user whose login-relevant columns changed."""
    state = inspect(user)
    changed = False
    schools: set[int | None] = set()
    for attribute in state.mapper.column_attrs:
        history = state.attrs[attribute.key].history
        if not history.has_changes() or attribute.key in _HARMLESS_COLUMNS:
            continue
        changed = True
        if attribute.key == "school_id":
            schools.update(history.deleted)  # the old school (school_id has active history)
    moved = state.attrs["school"].history
    if moved.has_changes():
        changed = True
        schools.update(school.id for school in (*moved.added, *moved.deleted) if school)
    if changed:
        schools.add(user.school_id)
    return schools


def user_of_login(claims: dict[str, Any]) -> User | None:
    """The active user of a login's claims (sub, jti, rjti, iat, gen), checked as every bearer
    token is: None when it was revoked, predates a password change, or the account is off.
    The pages' cookie session keeps its refresh token's claims and asks this on every page."""
    if _is_revoked({}, claims):
        g.pop("mdm_token_user", None)
        return None
    return _load_user({}, claims)


def actor_of(user: User, address: str | None) -> Actor:
    """A user as the actor of a service call."""
    return Actor(
        name=user.username,
        role=user.role,
        user_id=user.id,
        school_id=user.school_id,
        address=address,
    )


def current_actor() -> Actor:
    """The logged-in user of this request as an Actor."""
    # The user itself, not the proxy on every attribute.
    return actor_of(get_current_user(), client_address())


def roles_required(*roles: str) -> Callable[[F], F]:
    """Let only logged-in users with one of these roles through (401 without login, else 403)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            verify_jwt_in_request()
            if roles:
                require_role(
                    current_actor(), roles, f"this needs one of the roles: {', '.join(roles)}"
                )
            return view(*args, **kwargs)

        documented = problems(401, 403)(wrapper) if roles else problems(401)(wrapper)
        return security({USER_LOGIN: []})(documented)

    return decorator


login_required = roles_required()
