"""Small helpers shared by the API blueprints of every package."""

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
JSON_ONLY = ("application/json",)


def accepts(*mimetypes: str) -> Callable[[F], F]:
    """Declare which request body types a view takes (others get 415); JSON by default."""

    def decorator(view: F) -> F:
        view.accepts = mimetypes  # type: ignore[attr-defined]
        return view

    return decorator


def page(items: list[Any], total: int, args: dict[str, Any]) -> dict[str, Any]:
    """The body of a paged list."""
    return {"items": items, "total": total, "page": args["page"], "per_page": args["per_page"]}


def limit_offset(args: dict[str, Any]) -> dict[str, int]:
    """limit/offset for a service from page/per_page query arguments."""
    return {"limit": args["per_page"], "offset": (args["page"] - 1) * args["per_page"]}
