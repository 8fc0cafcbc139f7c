"""Login tokens (flask-jwt-extended), revocation, rate limits, and the actor of a request."""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, has_app_context, request
from flask_jwt_extended import (
    create_access_token,
    create_refresh_token,
    current_user,
    decode_token,
    get_current_user,
    get_jwt,
    verify_jwt_in_request,
)
from sqlalchemy import bindparam, delete, event, exists, inspect, or_, select, update
from sqlalchemy.orm import Session, make_transient_to_detached

from mdm import audit, freshness, users
from mdm.actors import Actor
from mdm.errors import NotAuthenticated, PermissionDenied, RateLimited, problem
from mdm.extensions import db, jwt
from mdm.models import RevokedToken, School, User
from mdm.ratelimit import FailureCounter, make_counter
from mdm.types import utcnow

F = TypeVar("F", bound=Callable[..., Any])


def init_app(app: Flask) -> None:
    """Wire flask-jwt-extended to users, revocation and problem+json errors."""
    app.config["JWT_TOKEN_LOCATION"] = ["headers"]
    app.extensions["mdm_login_checks"] = LoginChecks()
    app.extensions["mdm_login_failures"] = make_counter(
        app.config["RATELIMIT_STORAGE_URL"], int(app.config["LOGIN_FAILURE_WINDOW_SECONDS"])
    )
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


@dataclass(frozen=True)
class LoginCheck:
    """What the database said about one token: its user and whether it was revoked."""

    user: User  # a detached copy without the password hash; requests only read it
    revoked: bool
    school_id: int
    auth_version: int


class LoginChecks:
    """The login checks this worker remembers for reading requests (see mdm.freshness).

    A check is good while its school's auth_version is what it was when the check was made; the
    versions of all schools are looked up again when older than CACHE_CHECK_SECONDS, and at once
    after this worker committed a change that raised one. Users without a school (city IT
    admins) are always checked in the database.
    """

    size = 20_000

    def __init__(self) -> None:
        self._checks: freshness.LRUCache[str, LoginCheck] = freshness.LRUCache(self.size)
        self._versions: dict[int, int] = {}
        self._looked_at = float("-inf")
        self._lock = threading.Lock()

    def versions(self, session: Session) -> dict[int, int]:
        """The auth version of every school, looked up again when too old."""
        started = freshness.now()
        if started - self._looked_at > freshness.check_seconds():
            with self._lock:
                if started - self._looked_at > freshness.check_seconds():
                    rows = session.connection().execute(_AUTH_VERSIONS).all()
                    self._versions = {row.id: row.auth_version for row in rows}
                    self._looked_at = started
        return self._versions

    def get(self, jti: str, versions: dict[int, int]) -> LoginCheck | None:
        """The remembered check of a token, if its school has not changed since."""
        check = self._checks.get(jti)
        if check is None or versions.get(check.school_id) != check.auth_version:
            return None
        return check

    def remember(self, jti: str, user: User, revoked: bool, versions: dict[int, int]) -> None:
        """Remember a check made after `versions` were looked up."""
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
        version = versions[user.school_id]
        self._checks.put(jti, LoginCheck(copy, revoked, user.school_id, version))

    def look_again(self) -> None:
        """Make the next request look up the versions (after this worker changed one).

        Waits for a lookup in progress, which may have read the versions before the change."""
        with self._lock:
            self._looked_at = float("-inf")


def _login_checks() -> LoginChecks | None:
    """The remembered checks, when this request may use them."""
    if request.method not in READING_METHODS or freshness.check_seconds() <= 0:
        return None
    return current_app.extensions["mdm_login_checks"]


def _is_revoked(header: dict[str, Any], payload: dict[str, Any]) -> bool:
    """Load the token's user (kept for _load_user) and tell whether the token was revoked."""
    checks = _login_checks()
    versions: dict[int, int] = {}
    if checks is not None:
        versions = checks.versions(db.session)
        check = checks.get(payload["jti"], versions)
        if check is not None:
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
        checks.remember(payload["jti"], row.User, bool(row.revoked), versions)
    return row.revoked or _token_predates(row.User, payload)


def _token_predates(user: User, payload: dict[str, Any]) -> bool:
    """Tell whether the token was issued before the account existed (an id SQLite gave again
    after a deletion) or before its last password change."""
    issued = payload["iat"]
    changed = user.password_changed_at
    return issued < int(user.created_at.timestamp()) or (
        changed is not None and issued < changed.timestamp()
    )


def _load_user(header: dict[str, Any], payload: dict[str, Any]) -> User | None:
    """The active user the revocation check loaded (flask-jwt-extended asks after it)."""
    user = g.pop("mdm_token_user", None)
    return user if user is not None and user.active else None


@event.listens_for(Session, "before_flush")
def _raise_auth_versions(session: Session, _context: Any, _instances: Any) -> None:
    """Raise the auth version of the schools whose users' logins this flush may end."""
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
    checks = current_app.extensions.get("mdm_login_checks") if has_app_context() else None
    if checks is not None:
        freshness.after_commit(session, checks.look_again)


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


def client_address() -> str | None:
    """The client's address (behind a proxy, gunicorn's forwarded_allow_ips decides trust)."""
    return request.remote_addr


def current_actor() -> Actor:
    """The logged-in user of this request as an Actor."""
    user: User = get_current_user()  # the user itself, not the proxy on every attribute
    return Actor(
        name=user.username,
        role=user.role,
        user_id=user.id,
        school_id=user.school_id,
        address=client_address(),
    )


def roles_required(*roles: str) -> Callable[[F], F]:
    """Let only logged-in users with one of these roles through (401 without login, else 403)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            verify_jwt_in_request()
            if roles and current_user.role not in roles:
                raise PermissionDenied(f"this needs one of the roles: {', '.join(roles)}")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


login_required = roles_required()


def _failures() -> FailureCounter:
    return current_app.extensions["mdm_login_failures"]


def _limited_keys(username: str, address: str | None) -> list[tuple[str, int]]:
    """The failure counters of a login attempt and their limits.

    One address guessing one account is stopped early; the account's own limit over all
    addresses is higher, so a classmate guessing cannot lock its owner out; the address limit is
    highest, because a whole school logs in from behind one address.
    """
    config = current_app.config
    return [
        (f"account:{username}:{address}", int(config["LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS"])),
        (f"account:{username}", int(config["LOGIN_FAILURES_PER_ACCOUNT"])),
        (f"address:{address}", int(config["LOGIN_FAILURES_PER_ADDRESS"])),
    ]


def _check_limits(keys: list[tuple[str, int]]) -> None:
    for key, limit in keys:
        count, retry_after = _failures().count(key)
        if count >= limit:
            raise RateLimited(retry_after)


def login(session: Session, username: str, password: str) -> tuple[User, dict[str, str]]:
    """Check the password under the rate limits and hand out an access and a refresh token."""
    username = username.strip().lower()
    address = client_address()
    keys = _limited_keys(username, address)
    _check_limits(keys)
    user = users.authenticate(session, username, password)
    if user is None:
        for key, _limit in keys:
            _failures().add(key)
        current_app.logger.info("failed login for %r from %s", username, address)
        raise NotAuthenticated("wrong username or password")
    _failures().clear(f"account:{username}:{address}")
    refresh = create_refresh_token(identity=str(user.id))
    rjti = decode_token(refresh)["jti"]
    access = create_access_token(identity=str(user.id), additional_claims={"rjti": rjti})
    actor = Actor(
        name=user.username,
        role=user.role,
        user_id=user.id,
        school_id=user.school_id,
        address=address,
    )
    audit.record(session, actor, "auth.login", "user", user.id, school_id=user.school_id)
    return user, {"access_token": access, "refresh_token": refresh, "token_type": "Bearer"}


def refresh_access_token() -> str:
    """A new access token for the refresh token of this request, tied to it for logout."""
    claims = get_jwt()
    return create_access_token(identity=claims["sub"], additional_claims={"rjti": claims["jti"]})


def logout(session: Session) -> None:
    """Revoke the access token of this request and the refresh token it came from."""
    claims = get_jwt()
    user_id = int(claims["sub"])
    session.add(
        RevokedToken(
            jti=claims["jti"],
            user_id=user_id,
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )
    )
    if claims.get("rjti") and session.get(RevokedToken, claims["rjti"]) is None:
        lifetime = timedelta(seconds=int(current_app.config["REFRESH_TOKEN_SECONDS"]))
        session.add(
            RevokedToken(jti=claims["rjti"], user_id=user_id, expires_at=utcnow() + lifetime)
        )
    session.flush()
    audit.record(
        session, current_actor(), "auth.logout", "user", user_id, school_id=current_user.school_id
    )


def prune_revoked_tokens(session: Session) -> int:
    """Forget revocations of tokens that have expired anyway."""
    result = session.execute(delete(RevokedToken).where(RevokedToken.expires_at < utcnow()))
    return result.rowcount or 0
