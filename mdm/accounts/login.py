"""Logging in and out: passwords under rate limits, access and refresh tokens, revocation."""

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from flask_jwt_extended import (
    create_access_token,
    create_refresh_token,
    current_user,
    decode_token,
    get_jwt,
)
from sqlalchemy import delete
from sqlalchemy.orm import Session

from mdm.accounts import service
from mdm.accounts.auth import GENERATION, actor_of, current_actor
from mdm.accounts.models import RevokedToken, User
from mdm.platform import audit
from mdm.platform.actors import Actor
from mdm.platform.errors import NotAuthenticated, RateLimited
from mdm.platform.http import client_address
from mdm.platform.ratelimit import FailureCounter, take_all
from mdm.platform.types import utcnow

FAILURES = "mdm_login_failures"  # the failure counter's key in app.extensions


def _failures() -> FailureCounter:
    return current_app.extensions[FAILURES]


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


def check_password(session: Session, username: str, password: str) -> User:
    """The active user with this username and password, checked under the rate limits.

    Every attempt counts against the limits before the password is checked (in one step, so
    parallel attempts cannot all slip through); a successful one is given back."""
    username = username.strip().lower()
    address = client_address()
    keys = _limited_keys(username, address)
    retry_after = take_all(_failures(), keys)
    if retry_after is not None:
        raise RateLimited(retry_after)
    user = service.authenticate(session, username, password)
    if user is None:
        current_app.logger.info("failed login for %r from %s", username, address)
        raise NotAuthenticated("wrong username or password")
    for key, _limit in keys:
        _failures().give_back(key)
    _failures().clear(f"account:{username}:{address}")
    return user


def login(session: Session, username: str, password: str) -> tuple[User, dict[str, str]]:
    """Check the password under the rate limits (`check_password`) and hand out an access and
    a refresh token."""
    user = check_password(session, username, password)
    address = client_address()
    generation = {GENERATION: user.login_generation or 0}
    refresh = create_refresh_token(identity=str(user.id), additional_claims=generation)
    rjti = decode_token(refresh)["jti"]
    access = create_access_token(
        identity=str(user.id), additional_claims={"rjti": rjti, **generation}
    )
    actor = actor_of(user, address)
    audit.record(session, actor, "auth.login", "user", user.id, school_id=user.school_id)
    return user, {"access_token": access, "refresh_token": refresh, "token_type": "Bearer"}


def refresh_access_token() -> str:
    """A new access token for the refresh token of this request, tied to it for logout."""
    claims = get_jwt()
    return create_access_token(
        identity=claims["sub"],
        additional_claims={"rjti": claims["jti"], GENERATION: claims.get(GENERATION, 0)},
    )


def logout(session: Session) -> None:
    """Revoke the access token of this request and the refresh token it came from."""
    revoke_login(session, current_actor(), get_jwt(), school_id=current_user.school_id)


def revoke_login(
    session: Session, actor: Actor, claims: dict[str, Any], *, school_id: int | None
) -> None:
    """End a login: revoke the token of these claims and the refresh token it came from (the
    API's logout, and the pages' logout, whose session keeps its refresh token's claims)."""
    user_id = int(claims["sub"])
    if session.get(RevokedToken, claims["jti"]) is None:
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
    audit.record(session, actor, "auth.logout", "user", user_id, school_id=school_id)


def prune_revoked_tokens(session: Session) -> int:
    """Forget revocations of tokens that have expired anyway."""
    result = session.execute(delete(RevokedToken).where(RevokedToken.expires_at < utcnow()))
    return result.rowcount or 0
