"""Login tokens (flask-jwt-extended), revocation, rate limits, and the actor of a request."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from flask_jwt_extended import (
    create_access_token,
    create_refresh_token,
    current_user,
    decode_token,
    get_jwt,
    verify_jwt_in_request,
)
from sqlalchemy import bindparam, delete, exists, or_, select
from sqlalchemy.orm import Session

from mdm import audit, users
from mdm.actors import Actor
from mdm.errors import NotAuthenticated, PermissionDenied, RateLimited, problem
from mdm.extensions import db, jwt
from mdm.models import RevokedToken, User
from mdm.ratelimit import FailureCounter, make_counter
from mdm.types import utcnow

F = TypeVar("F", bound=Callable[..., Any])


def init_app(app: Flask) -> None:
    """Wire flask-jwt-extended to users, revocation and problem+json errors."""
    app.config["JWT_TOKEN_LOCATION"] = ["headers"]
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


# Every logged-in request runs this: the user and whether the token (or the refresh token it
# came from) was revoked, in one query built once.
_USER_AND_REVOCATION = select(
    User,
    exists()
    .where(or_(RevokedToken.jti == bindparam("jti"), RevokedToken.jti == bindparam("rjti")))
    .label("revoked"),
).where(User.id == bindparam("user_id"))


def _is_revoked(header: dict[str, Any], payload: dict[str, Any]) -> bool:
    """Load the token's user (kept for _load_user) and tell whether the token was revoked."""
    params = {
        "user_id": int(payload["sub"]),
        "jti": payload["jti"],
        "rjti": payload.get("rjti") or payload["jti"],
    }
    row = db.session.execute(_USER_AND_REVOCATION, params).first()
    g.mdm_token_user = row.User if row is not None else None
    if row is None:
        return False
    changed = row.User.password_changed_at
    return row.revoked or (changed is not None and payload["iat"] < changed.timestamp())


def _load_user(header: dict[str, Any], payload: dict[str, Any]) -> User | None:
    """The active user the revocation check loaded (flask-jwt-extended asks after it)."""
    user = g.pop("mdm_token_user", None)
    return user if user is not None and user.active else None


def client_address() -> str | None:
    """The client's address (behind a proxy, gunicorn's forwarded_allow_ips decides trust)."""
    return request.remote_addr


def current_actor() -> Actor:
    """The logged-in user of this request as an Actor."""
    user: User = current_user
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
