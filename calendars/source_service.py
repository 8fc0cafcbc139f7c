"""Calendar sources: a user's personal calendars (by URL or uploaded), and the job that refreshes
the URL ones. Services flush, never commit; the job commits each source on its own.

A source is its owner's alone: nobody else, admins included, lists or reads it. A fetch or an
upload that is not a usable calendar never replaces the last good copy; it is recorded as the
source's last error.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from calendars import fetcher, sources
from calendars.feed_service import forget_sources
from calendars.models import CalendarSource, CalendarSourceCopy
from mdm.accounts.models import User
from mdm.extensions import db
from mdm.platform import audit
from mdm.platform.actors import Actor
from mdm.platform.errors import NotFound, ValidationFailed
from mdm.platform.types import utcnow

JOB_ID = "calendars.refresh-sources"
MIN_REFRESH_MINUTES = 15
MAX_REFRESH_MINUTES = 7 * 24 * 60
FETCH_THREADS = 8
log = logging.getLogger(__name__)


def policy() -> fetcher.FetchPolicy:
    """The fetch policy of the settings."""
    config = current_app.config
    return fetcher.FetchPolicy.from_settings(
        config["CALENDAR_FETCH_BLOCKED_NETWORKS"],
        config["CALENDAR_FETCH_ALLOWED_NETWORKS"],
        max_bytes=int(config["CALENDAR_SOURCE_MAX_BYTES"]),
        connect_timeout=float(config["CALENDAR_FETCH_CONNECT_TIMEOUT_SECONDS"]),
        read_timeout=float(config["CALENDAR_FETCH_READ_TIMEOUT_SECONDS"]),
        total_seconds=float(config["CALENDAR_FETCH_TOTAL_SECONDS"]),
    )


def _owner(session: Session, actor: Actor) -> User:
    owner = session.get(User, actor.user_id) if actor.user_id is not None else None
    if owner is None or owner.school_id is None:
        raise ValidationFailed(
            errors={"_body": ["calendar sources belong to users of a school; this login has none"]}
        )
    return owner


def list_sources(session: Session, actor: Actor) -> list[CalendarSource]:
    """The actor's own sources."""
    return list(
        session.scalars(
            select(CalendarSource)
            .where(CalendarSource.owner_id == actor.user_id)
            .order_by(CalendarSource.id)
        )
    )


def get_source(session: Session, actor: Actor, source_id: int) -> CalendarSource:
    """One of the actor's own sources; anybody else's is not found."""
    source = session.get(CalendarSource, source_id)
    if source is None or source.owner_id != actor.user_id:
        raise NotFound(f"calendar source {source_id} not found")
    return source


def source_url(source: CalendarSource) -> str | None:
    """The source's URL, decrypted (for its owner only)."""
    return None if source.url is None else source.url.decode()


def _checked_url(url: str) -> str:
    try:
        return fetcher.normalize_url(url)
    except ValueError as exc:
        raise ValidationFailed(errors={"url": [str(exc)]}) from exc


def _checked_minutes(minutes: int | None) -> int:
    if minutes is None:
        return int(current_app.config["CALENDAR_SOURCE_REFRESH_MINUTES"])
    if not MIN_REFRESH_MINUTES <= minutes <= MAX_REFRESH_MINUTES:
        raise ValidationFailed(
            errors={
                "refresh_minutes": [
                    f"between {MIN_REFRESH_MINUTES} and {MAX_REFRESH_MINUTES} minutes"
                ]
            }
        )
    return minutes


def _check_room(session: Session, owner: User) -> None:
    limit = int(current_app.config["CALENDAR_SOURCES_PER_USER"])
    count = session.scalar(
        select(func.count()).select_from(CalendarSource).where(CalendarSource.owner_id == owner.id)
    )
    if (count or 0) >= limit:
        raise ValidationFailed(errors={"_body": [f"at most {limit} calendar sources per person"]})


def _checked_name(name: str) -> str:
    if not name.strip():
        raise ValidationFailed(errors={"name": ["required"]})
    return name.strip()


def create_url_source(
    session: Session, actor: Actor, *, name: str, url: str, refresh_minutes: int | None = None
) -> CalendarSource:
    """Subscribe to a calendar by URL; the refresh job fetches it at its next run."""
    owner = _owner(session, actor)
    _check_room(session, owner)
    normalized = _checked_url(url)
    now = utcnow()
    source = CalendarSource(
        school_id=owner.school_id,
        owner_id=owner.id,
        name=_checked_name(name),
        kind="url",
        url=normalized.encode(),
        url_host=urlsplit(normalized).hostname or "",
        refresh_minutes=_checked_minutes(refresh_minutes),
        next_fetch_at=now,
        created_at=now,
    )
    session.add(source)
    session.flush()
    audit.record(
        session,
        actor,
        "calendar.source.create",
        "calendar_source",
        source.id,
        school_id=source.school_id,
        details={"kind": "url", "host": source.url_host},
    )
    return source


def _checked_upload(body: bytes, previous_count: int) -> sources.CheckedCalendar:
    limit = int(current_app.config["CALENDAR_SOURCE_MAX_BYTES"])
    if len(body) > limit:
        raise ValidationFailed(errors={"file": [f"larger than {limit} bytes"]})
    try:
        return sources.check(body, previous_count=previous_count)
    except sources.SourceRefused as exc:
        raise ValidationFailed(errors={"file": [str(exc)]}) from exc


def _keep_copy(
    session: Session, source: CalendarSource, body: bytes, checked: sources.CheckedCalendar
) -> bool:
    """Store a new good copy; True when its events differ from the last one."""
    now = utcnow()
    source.last_success_at = now
    if checked.content_hash == source.content_hash:
        return False
    copy = session.get(CalendarSourceCopy, source.id)
    if copy is None:
        session.add(CalendarSourceCopy(source_id=source.id, body=body, fetched_at=now))
    else:
        copy.body = body
        copy.fetched_at = now
    source.content_hash = checked.content_hash
    source.event_count = checked.event_count
    source.content_changed_at = now
    forget_sources(session, source.owner_id)
    return True


def create_upload_source(
    session: Session, actor: Actor, *, name: str, body: bytes
) -> CalendarSource:
    """Add an uploaded .ics as a source (refused, with the reason, when it is no calendar)."""
    owner = _owner(session, actor)
    _check_room(session, owner)
    checked = _checked_upload(body, 0)
    source = CalendarSource(
        school_id=owner.school_id,
        owner_id=owner.id,
        name=_checked_name(name),
        kind="upload",
        url=None,
        refresh_minutes=0,
        created_at=utcnow(),
    )
    session.add(source)
    session.flush()
    _keep_copy(session, source, body, checked)
    session.flush()
    audit.record(
        session,
        actor,
        "calendar.source.create",
        "calendar_source",
        source.id,
        school_id=source.school_id,
        details={"kind": "upload", "events": checked.event_count},
    )
    return source


def replace_upload(session: Session, actor: Actor, source_id: int, body: bytes) -> CalendarSource:
    """Replace an uploaded source's calendar by a new upload."""
    source = get_source(session, actor, source_id)
    if source.kind != "upload":
        raise ValidationFailed(errors={"file": ["this source is fetched from its URL"]})
    checked = _checked_upload(body, source.event_count)
    _keep_copy(session, source, body, checked)
    session.flush()
    audit.record(
        session,
        actor,
        "calendar.source.upload",
        "calendar_source",
        source.id,
        school_id=source.school_id,
        details={"events": checked.event_count},
    )
    return source


def update_source(
    session: Session, actor: Actor, source_id: int, changes: dict[str, Any]
) -> CalendarSource:
    """Rename a source, or change its URL or refresh interval."""
    source = get_source(session, actor, source_id)
    if "name" in changes:
        source.name = _checked_name(changes["name"])
    if "url" in changes:
        if source.kind != "url":
            raise ValidationFailed(errors={"url": ["an uploaded source has no URL"]})
        normalized = _checked_url(changes["url"])
        source.url = normalized.encode()
        source.url_host = urlsplit(normalized).hostname or ""
        source.etag = source.http_last_modified = ""
        source.next_fetch_at = utcnow()
    if "refresh_minutes" in changes:
        if source.kind != "url":
            raise ValidationFailed(
                errors={"refresh_minutes": ["an uploaded source is not fetched"]}
            )
        source.refresh_minutes = _checked_minutes(changes["refresh_minutes"])
    forget_sources(session, source.owner_id)
    session.flush()
    audit.record(
        session,
        actor,
        "calendar.source.update",
        "calendar_source",
        source.id,
        school_id=source.school_id,
        details={"fields": sorted(changes), "host": source.url_host},
    )
    return source


def delete_source(session: Session, actor: Actor, source_id: int) -> None:
    """Remove a source and its copy; its events leave the owner's feed."""
    source = get_source(session, actor, source_id)
    owner_id, school_id = source.owner_id, source.school_id
    session.delete(source)
    forget_sources(session, owner_id)
    session.flush()
    audit.record(
        session, actor, "calendar.source.delete", "calendar_source", source_id, school_id=school_id
    )


def refresh_soon(session: Session, actor: Actor, source_id: int) -> CalendarSource:
    """Let the refresh job fetch a URL source at its next run."""
    source = get_source(session, actor, source_id)
    if source.kind != "url":
        raise ValidationFailed(errors={"_body": ["an uploaded source is not fetched"]})
    source.next_fetch_at = utcnow()
    session.flush()
    return source


@dataclass(frozen=True)
class Outcome:
    """One fetch: the answer, or why there was none."""

    fetched: fetcher.Fetched | None = None
    error: str = ""


def record_fetch(session: Session, source: CalendarSource, outcome: Outcome, now: datetime) -> None:
    """Apply a fetch to its source: a new good copy, or the error (the last copy stays)."""
    source.last_attempt_at = now
    source.next_fetch_at = now + timedelta(minutes=source.refresh_minutes or 60)
    error = outcome.error
    if not error and outcome.fetched is not None and outcome.fetched.status == 200:
        try:
            checked = sources.check(
                outcome.fetched.body, outcome.fetched.content_type, source.event_count
            )
        except sources.SourceRefused as exc:
            error = str(exc)
        else:
            source.etag = outcome.fetched.etag[:200]
            source.http_last_modified = outcome.fetched.last_modified[:64]
            if _keep_copy(session, source, outcome.fetched.body, checked):
                audit.record(
                    session,
                    Actor.system("calendar-sync"),
                    "calendar.source.refresh",
                    "calendar_source",
                    source.id,
                    school_id=source.school_id,
                    details={"events": checked.event_count},
                )
    elif not error:
        source.last_success_at = now  # 304: the copy is still what the server has
    if error:
        source.last_error = error[:500]
        source.last_error_at = now
    session.flush()


def fetch_one(url: str, fetch_policy: fetcher.FetchPolicy, etag: str, modified: str) -> Outcome:
    """Fetch a source's URL; never raises."""
    try:
        return Outcome(fetcher.fetch(url, fetch_policy, etag=etag, last_modified=modified))
    except fetcher.FetchError as exc:
        return Outcome(error=str(exc))
    except Exception as exc:  # a source's bad answer must never stop the others
        log.exception("fetching a calendar source failed")
        return Outcome(error=f"the fetch failed: {type(exc).__name__}")


def refresh_due_sources() -> int:
    """The job: fetch the URL sources that are due (a batch), each recorded and committed on its
    own; fetches run in a few threads, the database work in this one. Returns how many."""
    now = utcnow()
    batch = int(current_app.config["CALENDAR_SOURCE_BATCH"])
    due = list(
        db.session.scalars(
            select(CalendarSource)
            .where(
                CalendarSource.kind == "url",
                or_(CalendarSource.next_fetch_at.is_(None), CalendarSource.next_fetch_at <= now),
            )
            .order_by(CalendarSource.next_fetch_at)
            .limit(batch)
        )
    )
    work = [
        (s.id, source_url(s) or "", s.etag if s.content_hash else "", s.http_last_modified)
        for s in due
    ]
    db.session.commit()
    fetch_policy = policy()
    with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
        outcomes = list(
            pool.map(lambda item: fetch_one(item[1], fetch_policy, item[2], item[3]), work)
        )
    for (source_id, *_), outcome in zip(work, outcomes, strict=True):
        source = db.session.get(CalendarSource, source_id)
        if source is None:  # deleted while it was fetched
            continue
        record_fetch(db.session, source, outcome, utcnow())
        db.session.commit()
    return len(work)
