"""Logins of the server-rendered pages: a login through the API's rules (rate limits, password
check, audit) kept in the pages' cookie session as its refresh token's claims, checked on every
page as a bearer token is (revocation, password change, disabled account), and the page
decorators that let in the roles a page is for, through the same role check as the API."""

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, session
from flask_jwt_extended import decode_token
from sqlalchemy.orm import Session

from mdm.accounts import login as logins
from mdm.accounts.auth import GENERATION, actor_of, user_of_login
from mdm.accounts.models import User
from mdm.platform.actors import Actor
from mdm.platform.errors import PermissionDenied
from mdm.platform.http import client_address
from mdm.platform.pages import (
    PageViewer,
    error_page,
    redirect_to_login,
    renew_csrf_token,
)
from mdm.platform.scoping import ADMINS, CITY_ADMINS, require_role
from mdm.platform.types import utcnow

F = TypeVar("F", bound=Callable[..., Any])
LOGIN_KEY = "login"  # the session's entry with the login's claims
CLAIMS = ("sub", "jti", "iat", "exp", GENERATION)


def log_in(db_session: Session, username: str, password: str) -> tuple[User, dict[str, str]]:
    """Log in as the API does (the same limits, checks and audit event) and keep the login in
    the pages' session; the tokens are handed back for the panel."""
    user, tokens = logins.login(db_session, username, password)
    claims = decode_token(tokens["refresh_token"])
    session.clear()
    session[LOGIN_KEY] = {name: claims[name] for name in CLAIMS if name in claims}
    session.permanent = True
    renew_csrf_token()
    g.pop("page_user", None)
    return user, tokens


def log_out(db_session: Session) -> None:
    """End the page session's login: its refresh token is revoked (and with it every access
    token it made, the panel's too), and the cookie forgets it."""
    claims = session.get(LOGIN_KEY)
    user = page_user()
    if claims is not None and user is not None:
        logins.revoke_login(
            db_session, actor_of(user, client_address()), claims, school_id=user.school_id
        )
    session.clear()
    renew_csrf_token()
    g.pop("page_user", None)


def forget_login() -> None:
    """Forget the page session's login without revoking it (a password change ended it)."""
    session.clear()
    renew_csrf_token()
    g.pop("page_user", None)


def page_user() -> User | None:
    """The user logged in to the pages, or None: no login, an expired one, a revoked one (a
    logout anywhere), one before the last password change, or a disabled account."""
    if "page_user" in g:
        return g.page_user
    claims = session.get(LOGIN_KEY)
    user = None
    if isinstance(claims, dict) and claims.get("exp", 0) > utcnow().timestamp():
        user = user_of_login(claims)
    g.page_user = user
    return user


def forget_page_user() -> None:
    """Forget the last request's page user (a test's app context outlives its requests)."""
    g.pop("page_user", None)
    g.pop("page_viewer", None)


def page_actor() -> Actor:
    """The actor of this page's service calls (after a page decorator let the viewer in)."""
    return g.page_viewer.actor  # type: ignore[no-any-return]


def page_roles_required(*roles: str) -> Callable[[F], F]:
    """Let only logged-in users with one of these roles see the page: without a login, to the
    login page (and back afterwards); with another role, a 403 page. The role check is the
    API's (mdm.platform.scoping.require_role); the objects a page shows go through `scoped`."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = page_user()
            if user is None:
                return redirect_to_login()
            actor = actor_of(user, client_address())
            g.page_viewer = PageViewer(actor, user.display_name, user.language)
            if roles:
                try:
                    require_role(actor, roles, f"this page needs one of: {', '.join(roles)}")
                except PermissionDenied:
                    return error_page(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


admin_page = page_roles_required(*ADMINS)
city_admin_page = page_roles_required(*CITY_ADMINS)
logged_in_page = page_roles_required()
