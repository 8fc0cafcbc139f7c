"""The one place that decides what an actor may touch: roles, and which school's rows.

Every query of a school-owned table goes through `scoped` or `get_scoped`, so a school admin of
school A gets 404 (not 403: the row's existence is not revealed) for anything of school B.
Role checks on an Actor are `require_role`; the HTTP decorator that loads the login and calls
it is `mdm.accounts.auth.roles_required`.
"""

from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import Session

from mdm.platform.actors import Actor
from mdm.platform.errors import NotFound, PermissionDenied

T = TypeVar("T")
# Who administers: the city's IT admins (every school) and school admins (their school).
ADMINS = ("it_admin", "school_admin")
CITY_ADMINS = ("it_admin",)


def require_role(actor: Actor, roles: Iterable[str], reason: str) -> None:
    """PermissionDenied with `reason` unless the actor has one of the roles; the system (the
    CLI, scheduled jobs) may do everything."""
    if actor.role != "system" and actor.role not in roles:
        raise PermissionDenied(reason)


def may_touch_school(actor: Actor, school_id: int | None) -> bool:
    """Whether the actor may see or change things of this school."""
    return actor.is_city_admin or (school_id is not None and school_id == actor.school_id)


def scoped(stmt: Select[Any], model: Any, actor: Actor) -> Select[Any]:
    """Restrict a select of a school-owned model to the actor's school."""
    if actor.is_city_admin:
        return stmt
    if actor.school_id is None:
        return stmt.where(False)
    return stmt.where(model.school_id == actor.school_id)


def get_scoped(session: Session, model: type[T], ident: Any, actor: Actor) -> T:
    """Load one school-owned row by primary key, or raise NotFound if absent or out of scope."""
    row = session.get(model, ident)
    if row is None or not may_touch_school(actor, row.school_id):  # type: ignore[attr-defined]
        raise NotFound(f"{model.__name__} {ident} not found")
    return row


def require_school(actor: Actor, school_id: int | None) -> None:
    """Raise NotFound when the actor may not touch this school."""
    if not may_touch_school(actor, school_id):
        raise NotFound(f"school {school_id} not found")
