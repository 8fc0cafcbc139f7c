"""Push: queueing wake-ups (set-based, one per device), a school's push settings, the devices'
APNs addresses, and the job's steps around the gateway. They flush, never commit."""

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from flask import current_app
from sqlalchemy import ColumnElement, delete, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mdm.accounts.models import School
from mdm.devices.models import Device
from mdm.platform import audit
from mdm.platform.actors import Actor
from mdm.platform.errors import NotFound, ValidationFailed
from mdm.platform.scoping import ADMINS, may_touch_school, require_role
from mdm.platform.types import utcnow
from mdm.push.gateway import (
    ApnsAddress,
    ApnsBackend,
    Backend,
    LogBackend,
    Outcome,
    SchoolPush,
    Wakeup,
    WebhookBackend,
)
from mdm.push.models import PushAddress, PushSettings, PushWakeup

APNS_TOPIC_PREFIX = "com.apple.mgmt."
# How long a wake-up taken by a run is left alone before another run may take it again (the
# run died between sending and recording).
LEASE = timedelta(minutes=5)


def queue_wakeups(
    session: Session,
    devices: ColumnElement[bool],
    reason: str,
    now: datetime | None = None,
    *,
    enrolled_only: bool = True,
) -> None:
    """Queue a wake-up for each enrolled device matching the condition (one statement; a device
    whose wake-up is backing off or was given up is tried again now). `enrolled_only=False`
    wakes a retired device too (one that is still to be told that its management ended)."""
    now = now or utcnow()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    source = select(
        Device.id,
        Device.school_id,
        literal(reason),
        literal(now, PushWakeup.queued_at.type),
        literal("pending"),
        literal(0),
        literal(now, PushWakeup.next_attempt_at.type),
    ).where(devices, Device.status == "enrolled" if enrolled_only else Device.status != "pending")
    stmt = insert(PushWakeup).from_select(
        ["device_id", "school_id", "reason", "queued_at", "status", "attempts", "next_attempt_at"],
        source,
    )
    # A wake-up that is waiting and due already stays as it is (no write at all); one that is
    # backing off or was given up starts afresh.
    stmt = stmt.on_conflict_do_update(
        index_elements=["device_id"],
        set_={
            "reason": stmt.excluded.reason,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": stmt.excluded.next_attempt_at,
            "last_error": None,
        },
        where=(PushWakeup.status != "pending")
        | (PushWakeup.next_attempt_at > stmt.excluded.next_attempt_at),
    )
    session.execute(stmt)


def forget_wakeup(session: Session, device_id: int) -> None:
    """The device checked in for its work: it need not be woken any more."""
    session.execute(delete(PushWakeup).where(PushWakeup.device_id == device_id))


def forget_address(session: Session, device_id: int) -> None:
    """Delete where a device is reached (its APNs token and PushMagic) and its wake-up: its
    management ended."""
    session.execute(delete(PushWakeup).where(PushWakeup.device_id == device_id))
    session.execute(delete(PushAddress).where(PushAddress.device_id == device_id))


def register_apns_address(
    session: Session, device_id: int, token: str, push_magic: str, topic: str
) -> PushAddress:
    """Record where APNs reaches a device (its MDM check-in's TokenUpdate); valid again."""
    device = session.get(Device, device_id)
    if device is None:
        raise NotFound(f"device {device_id} not found")
    address = session.get(PushAddress, device_id) or PushAddress(
        device_id=device_id, school_id=device.school_id
    )
    address.apns_token = token
    address.push_magic = push_magic
    address.topic = topic
    address.updated_at = utcnow()
    address.invalid_at = None
    address.invalid_reason = None
    session.add(address)
    session.flush()
    return address


# --- settings ----------------------------------------------------------------------------------


def _school(session: Session, actor: Actor, school_id: int) -> School:
    require_role(actor, ADMINS, "only admins manage push settings")
    school = session.get(School, school_id)
    if school is None or not may_touch_school(actor, school_id):
        raise NotFound(f"school {school_id} not found")
    return school


def _settings_row(session: Session, school_id: int) -> PushSettings:
    row = session.get(PushSettings, school_id)
    if row is None:
        row = PushSettings(school_id=school_id)
        session.add(row)
    return row


@dataclass(frozen=True)
class PushOverview:
    """A school's push settings as admins read them, with its wake-ups by status."""

    school_id: int
    settings: PushSettings | None
    wakeups: dict[str, int]


def get_settings(session: Session, actor: Actor, school_id: int) -> PushOverview:
    """A school's push settings (never its secrets)."""
    _school(session, actor, school_id)
    counts = dict(
        session.execute(
            select(PushWakeup.status, func.count())
            .where(PushWakeup.school_id == school_id)
            .group_by(PushWakeup.status)
        ).all()
    )
    return PushOverview(
        school_id, session.get(PushSettings, school_id), {"pending": 0, "failed": 0} | counts
    )


def _check_webhook_url(url: str) -> str:
    parts = urlsplit(url.strip())
    allow_http = current_app.config["PUSH_WEBHOOK_ALLOW_PRIVATE_ADDRESSES"]
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        wanted = " or ".join(f"{scheme}://" for scheme in schemes)
        raise ValidationFailed(errors={"url": [f"an absolute {wanted} URL"]})
    if parts.username or parts.password:
        raise ValidationFailed(errors={"url": ["no user or password in the URL"]})
    return url.strip()


def set_webhook(
    session: Session, actor: Actor, school_id: int, url: str, rotate_secret: bool = False
) -> tuple[PushOverview, str | None]:
    """Wake the school's agents through its webhook; the signing secret is made the first time
    (or when asked) and returned only then."""
    school = _school(session, actor, school_id)
    row = _settings_row(session, school.id)
    row.webhook_url = _check_webhook_url(url)
    secret = None
    if rotate_secret or row.webhook_secret is None:
        secret = secrets.token_urlsafe(32)
        row.webhook_secret = secret.encode()
    row.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "push.webhook.set",
        "school",
        school.id,
        school_id=school.id,
        details={"url": row.webhook_url, "new_secret": secret is not None},
    )
    return get_settings(session, actor, school.id), secret


def remove_webhook(session: Session, actor: Actor, school_id: int) -> None:
    """Stop using the school's webhook."""
    school = _school(session, actor, school_id)
    row = _settings_row(session, school.id)
    row.webhook_url = None
    row.webhook_secret = None
    row.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "push.webhook.remove", "school", school.id, school_id=school.id)


def parse_apns_credentials(
    certificate_pem: str, key_pem: str, password: str | None, now: datetime
) -> tuple[str, datetime, bytes]:
    """(topic, expiry, unencrypted key PEM) of an MDM push certificate and its key; field
    errors when they do not fit."""
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    except ValueError as exc:
        raise ValidationFailed(errors={"certificate": ["not a PEM certificate"]}) from exc
    try:
        key = serialization.load_pem_private_key(
            key_pem.encode(), password.encode() if password else None
        )
    except (ValueError, TypeError) as exc:
        raise ValidationFailed(
            errors={"private_key": ["not a PEM private key, or the wrong password"]}
        ) from exc
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.PEM
    if key.public_key().public_bytes(encoding, public) != certificate.public_key().public_bytes(
        encoding, public
    ):
        raise ValidationFailed(errors={"private_key": ["does not belong to the certificate"]})
    topics = certificate.subject.get_attributes_for_oid(NameOID.USER_ID)
    topic = str(topics[0].value) if topics else ""
    if not topic.startswith(APNS_TOPIC_PREFIX):
        raise ValidationFailed(
            errors={"certificate": [f"not an MDM push certificate (topic {APNS_TOPIC_PREFIX}...)"]}
        )
    not_after = certificate.not_valid_after_utc
    if not_after <= now:
        raise ValidationFailed(errors={"certificate": ["expired; renew it at Apple"]})
    unencrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return topic, not_after.astimezone(UTC), unencrypted


def set_apns_certificate(
    session: Session,
    actor: Actor,
    school_id: int,
    certificate_pem: str,
    key_pem: str,
    password: str | None = None,
) -> PushOverview:
    """Wake the school's Apple devices through APNs with its MDM push certificate (the key is
    encrypted at rest)."""
    school = _school(session, actor, school_id)
    topic, not_after, key = parse_apns_credentials(certificate_pem, key_pem, password, utcnow())
    row = _settings_row(session, school.id)
    row.apns_certificate_pem = certificate_pem.strip() + "\n"
    row.apns_key_pem = key
    row.apns_topic = topic
    row.apns_not_after = not_after
    row.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "push.apns.set",
        "school",
        school.id,
        school_id=school.id,
        details={"topic": topic, "not_after": not_after.isoformat()},
    )
    return get_settings(session, actor, school.id)


def remove_apns_certificate(session: Session, actor: Actor, school_id: int) -> None:
    """Stop pushing through APNs for the school."""
    school = _school(session, actor, school_id)
    row = _settings_row(session, school.id)
    row.apns_certificate_pem = None
    row.apns_key_pem = None
    row.apns_topic = None
    row.apns_not_after = None
    row.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "push.apns.remove", "school", school.id, school_id=school.id)


# --- the send job ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Taken:
    """Wake-ups a run took, with the settings of their schools."""

    wakeups: list[Wakeup]
    schools: dict[int, SchoolPush]


def take_due(session: Session, now: datetime, limit: int) -> Taken:
    """The wake-ups due now (oldest first), leased to this run."""
    rows = session.execute(
        select(
            PushWakeup.device_id,
            PushWakeup.school_id,
            PushWakeup.reason,
            Device.platform,
            PushAddress.apns_token,
            PushAddress.push_magic,
            PushAddress.topic,
            PushAddress.invalid_at,
        )
        .join(Device, Device.id == PushWakeup.device_id)
        .outerjoin(PushAddress, PushAddress.device_id == PushWakeup.device_id)
        .where(PushWakeup.status == "pending", PushWakeup.next_attempt_at <= now)
        .order_by(PushWakeup.next_attempt_at, PushWakeup.device_id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=PushWakeup)
    ).all()
    if not rows:
        return Taken([], {})
    ids = [row.device_id for row in rows]
    for start in range(0, len(ids), 2000):
        session.query(PushWakeup).filter(
            PushWakeup.device_id.in_(ids[start : start + 2000])
        ).update({"next_attempt_at": now + LEASE}, synchronize_session=False)
    school_ids = {row.school_id for row in rows}
    slugs = dict(
        session.execute(select(School.id, School.slug).where(School.id.in_(school_ids))).all()
    )
    settings = {
        row.school_id: row
        for row in session.scalars(
            select(PushSettings).where(PushSettings.school_id.in_(school_ids))
        )
    }
    schools = {}
    for school_id in school_ids:
        row = settings.get(school_id)
        schools[school_id] = SchoolPush(
            school_id=school_id,
            slug=slugs[school_id],
            webhook_url=row.webhook_url if row else None,
            webhook_secret=row.webhook_secret if row else None,
            apns_certificate_pem=row.apns_certificate_pem if row else None,
            apns_key_pem=row.apns_key_pem if row else None,
            apns_topic=row.apns_topic if row else None,
        )
    wakeups = [
        Wakeup(
            device_id=row.device_id,
            school_id=row.school_id,
            platform=row.platform,
            reason=row.reason,
            apns=ApnsAddress(row.apns_token, row.push_magic, row.topic)
            if row.apns_token and row.invalid_at is None
            else None,
        )
        for row in rows
    ]
    return Taken(wakeups, schools)


def backoff(attempts: int, base: int, maximum: int) -> timedelta:
    """How long to wait after the n-th failed attempt: doubling from the base, capped."""
    return timedelta(seconds=min(base * 2 ** (attempts - 1), maximum))


def record_outcomes(
    session: Session, taken: Taken, outcomes: Iterable[Outcome], now: datetime
) -> dict[str, int]:
    """Sent wake-ups are done; failed ones wait with back-off, and are given up after the last
    attempt; an address APNs refuses for good is marked invalid. Counts by result."""
    config = current_app.config
    base, maximum = int(config["PUSH_RETRY_BASE_SECONDS"]), int(config["PUSH_RETRY_MAX_SECONDS"])
    attempts_allowed = int(config["PUSH_MAX_ATTEMPTS"])
    by_device = {outcome.device_id: outcome for outcome in outcomes}
    school_of = {wakeup.device_id: wakeup.school_id for wakeup in taken.wakeups}
    counts = {"sent": 0, "retry": 0, "invalid": 0, "failed": 0}
    rows = {
        row.device_id: row
        for row in session.scalars(
            select(PushWakeup).where(PushWakeup.device_id.in_(list(by_device)))
        )
    }
    for device_id, outcome in by_device.items():
        row = rows.get(device_id)
        if row is None:
            continue
        if outcome.result == "sent":
            session.delete(row)
            counts["sent"] += 1
            continue
        row.attempts += 1
        row.last_error = (outcome.error or "")[:500]
        if outcome.result == "invalid":
            row.status = "failed"
            address = session.get(PushAddress, device_id)
            if address is not None:
                address.invalid_at = now
                address.invalid_reason = (outcome.error or "")[:100]
            counts["invalid"] += 1
        elif row.attempts >= attempts_allowed:
            row.status = "failed"
            counts["failed"] += 1
        else:
            row.next_attempt_at = now + backoff(row.attempts, base, maximum)
            counts["retry"] += 1
    for device_id, outcome in by_device.items():
        if outcome.settings_error:
            settings = _settings_row(session, school_of[device_id])
            settings.last_error = outcome.settings_error[:500]
            settings.last_error_at = now
    session.flush()
    return counts


def backends() -> dict[str, Backend]:
    """The backends as configured."""
    config = current_app.config
    timeout = float(config["PUSH_TIMEOUT_SECONDS"])
    return {
        "log": LogBackend(),
        "webhook": WebhookBackend(timeout, bool(config["PUSH_WEBHOOK_ALLOW_PRIVATE_ADDRESSES"])),
        "apns": ApnsBackend(
            config["PUSH_APNS_URL"],
            config["PUSH_APNS_CA_FILE"] or None,
            timeout,
            int(config["PUSH_APNS_CONCURRENCY"]),
        ),
    }


def settings_summary(overview: PushOverview) -> dict[str, Any]:
    """What the API shows of a school's push settings."""
    row = overview.settings
    return {
        "school_id": overview.school_id,
        "webhook_url": row.webhook_url if row else None,
        "webhook_secret_set": bool(row and row.webhook_secret),
        "apns_topic": row.apns_topic if row else None,
        "apns_not_after": row.apns_not_after if row else None,
        "last_error": row.last_error if row else None,
        "last_error_at": row.last_error_at if row else None,
        "wakeups": overview.wakeups,
    }
