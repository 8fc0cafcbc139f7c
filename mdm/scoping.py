"""The one place that decides which school's rows an actor may touch.

Every query of a school-owned table goes through `scoped` or `get_scoped`, so a school admin of
school A gets 404 (not 403: the row's existence is not revealed) for anything of school B.
"""

from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import Session

from mdm.actors import Actor
from mdm.errors import NotFound

T = TypeVar("T")


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
