"""The dashboard's figures: each package that counts something of a school registers a provider
(mdm never imports the packages that register theirs; schedules adds the timetable's)."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask, current_app, url_for
from sqlalchemy.orm import Session

from mdm.platform.pages import local_time

PROVIDERS = "mdm_dashboard_providers"  # their key in app.extensions


@dataclass(frozen=True)
class SchoolRef:
    """A school as a provider sees it: its id and its time zone (for "today")."""

    id: int
    timezone: str


@dataclass(frozen=True)
class Figure:
    """One number (or date) of a school's dashboard: its label by language, its value, and the
    list it comes from (an endpoint with arguments, linked when the endpoint exists). Figures of
    one `key` are added up over the schools for the city, unless `summable` is false."""

    key: str
    texts: dict[str, str]
    value: int | datetime | None
    order: int
    endpoint: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    summable: bool = True
    warn: bool = False  # a value that needs an admin's attention when above zero


Provider = Callable[[Session, Sequence[SchoolRef], datetime], dict[int, list[Figure]]]


def register_dashboard_provider(app: Flask, provider: Provider) -> None:
    """Add a package's figures to the dashboard: `provider(session, schools, now)` answers the
    figures of each of the schools, in a few queries for all of them."""
    app.extensions.setdefault(PROVIDERS, []).append(provider)


def dashboard_figures(
    session: Session, schools: Sequence[SchoolRef], now: datetime
) -> dict[int, list[Figure]]:
    """Every provider's figures of each school, in order."""
    figures: dict[int, list[Figure]] = {school.id: [] for school in schools}
    for provider in current_app.extensions.get(PROVIDERS, []):
        for school_id, found in provider(session, schools, now).items():
            figures.setdefault(school_id, []).extend(found)
    for found in figures.values():
        found.sort(key=lambda figure: (figure.order, figure.key))
    return figures


def figure_url(figure: Figure) -> str | None:
    """The list a figure comes from, when that page is installed."""
    if figure.endpoint is None or figure.endpoint not in current_app.view_functions:
        return None
    return url_for(figure.endpoint, **figure.args)


def figure_text(figure: Figure, timezone: str, lang: str) -> str:
    """A figure's value as shown: a number, a local time, or a dash for none."""
    if figure.value is None:
        return "–"
    if isinstance(figure.value, datetime):
        return local_time(figure.value, timezone, lang)
    return str(figure.value)


def city_totals(figures: dict[int, list[Figure]]) -> list[Figure]:
    """The city's sum of every summable figure, in order (without a link: the lists are per
    school)."""
    totals: dict[str, Figure] = {}
    for found in figures.values():
        for figure in found:
            if not figure.summable or not isinstance(figure.value, int):
                continue
            known = totals.get(figure.key)
            value = figure.value + (known.value if known and isinstance(known.value, int) else 0)
            totals[figure.key] = Figure(
                figure.key, figure.texts, value, figure.order, warn=figure.warn
            )
    return sorted(totals.values(), key=lambda figure: (figure.order, figure.key))
