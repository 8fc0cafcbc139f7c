"""Enrollment tokens, privacy notices and enrolling a device. They flush, never commit."""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from enrollment import tokens
from enrollment.models import Consent, EnrollmentToken, PrivacyNotice, TokenEnrollment
from enrollment.page import TokenFacts
from mdm.accounts.models import School, User
from mdm.agent.service import configuration
from mdm.devices import byod, class_groups, credentials, inventory_policy
from mdm.devices import service as devices
from mdm.devices.inventory_rules import INVENTORY_CATEGORIES
from mdm.devices.models import OWNERSHIPS, PLATFORMS, USER_ROLES, Device, Group
from mdm.platform import audit
from mdm.platform.actors import Actor
from mdm.platform.errors import (
    Conflict,
    Gone,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RateLimited,
    ValidationFailed,
)
from mdm.platform.http import base_url
from mdm.platform.ratelimit import FailureCounter
from mdm.platform.scoping import ADMINS, get_scoped, require_role, require_school, scoped
from mdm.platform.types import utcnow
from mdm.push.models import PushSettings

MAX_TOKEN_DAYS = 366
MAX_TROLLEY_SLOTS = 100
DEVICE_NAME_LENGTH = 120


class TokenUnknown(NotFound):
    type = "enrollment-token-unknown"
    title = "Unknown enrollment token"


class TokenRevoked(Gone):
    type = "enrollment-token-revoked"
    title = "Enrollment token revoked"


class TokenExpired(Gone):
    type = "enrollment-token-expired"
    title = "Enrollment token expired"


class TokenExhausted(Gone):
    type = "enrollment-token-exhausted"
    title = "Enrollment token used up"


TOKEN_STATE_ERRORS: dict[str, type[Gone]] = {
    "revoked": TokenRevoked,
    "expired": TokenExpired,
    "exhausted": TokenExhausted,
}


def _require_admin(actor: Actor) -> None:
    require_role(actor, ADMINS, "only admins manage enrollment")


def _admin_school(session: Session, actor: Actor, school_id: int | None) -> School:
    _require_admin(actor)
    school_id = school_id if school_id is not None else actor.school_id
    if school_id is None:
        raise ValidationFailed(errors={"school_id": ["required for a city IT admin"]})
    require_school(actor, school_id)
    school = session.get(School, school_id)
    if school is None:
        raise ValidationFailed(errors={"school_id": [f"no school {school_id}"]})
    return school


def enrollment_url(secret: str) -> str:
    """The URL a person (or a phone camera, through the QR code) opens to enroll: on BASE_URL,
    or on the address the request came to (mdm.platform.http.base_url)."""
    return f"{base_url()}/enroll/{secret}"


@dataclass(frozen=True)
class IssuedToken:
    """A new token with its secret and links, handed out only this once."""

    token: EnrollmentToken
    secret: str

    @property
    def enrollment_url(self) -> str:
        """The enrollment page's URL."""
        return enrollment_url(self.secret)

    @property
    def qr_svg_url(self) -> str:
        """The QR code of the enrollment URL, as SVG."""
        return self.enrollment_url + "/qr.svg"

    @property
    def qr_png_url(self) -> str:
        """The QR code of the enrollment URL, as PNG."""
        return self.enrollment_url + "/qr.png"


def create_token(
    session: Session,
    actor: Actor,
    *,
    ownership: str,
    user_role: str,
    school_id: int | None = None,
    platform: str | None = None,
    expires_at: datetime | None = None,
    max_uses: int = 1,
    group_ids: list[int] | None = None,
    label: str = "",
    class_name: str | None = None,
    device_name: str | None = None,
) -> IssuedToken:
    """Create an enrollment token; its secret is shown only this once. With `class_name` the
    devices join that class's group; with `device_name` it enrolls one device of that name."""
    school = _admin_school(session, actor, school_id)
    errors: dict[str, list[str]] = {}
    if device_name is not None:
        device_name = " ".join(device_name.split())
        if not device_name or len(device_name) > DEVICE_NAME_LENGTH:
            errors["device_name"] = [f"1 to {DEVICE_NAME_LENGTH} characters"]
        elif max_uses != 1:
            errors["max_uses"] = ["a token that names its device enrolls one device: 1"]
    if ownership not in OWNERSHIPS:
        errors["ownership"] = [f"must be one of {', '.join(OWNERSHIPS)}"]
    if user_role not in USER_ROLES:
        errors["user_role"] = [f"must be one of {', '.join(USER_ROLES)}"]
    elif ownership == "byod" and user_role == "shared":
        errors["user_role"] = ["a personal device belongs to a student or a teacher"]
    if platform is not None and platform not in PLATFORMS:
        errors["platform"] = [f"must be one of {', '.join(PLATFORMS)}"]
    now = utcnow()
    expires_at = expires_at or now + timedelta(days=14)
    if not now < expires_at <= now + timedelta(days=MAX_TOKEN_DAYS):
        errors["expires_at"] = [f"must be in the future, at most {MAX_TOKEN_DAYS} days ahead"]
    if max_uses < 1:
        errors["max_uses"] = ["at least 1"]
    groups = list(session.scalars(select(Group).where(Group.id.in_(group_ids or []))))
    missing = set(group_ids or []) - {g.id for g in groups if g.school_id == school.id}
    if missing:
        errors["group_ids"] = [f"not groups of the school: {', '.join(map(str, sorted(missing)))}"]
    if class_name is not None:
        class_group = class_groups.group_of_class(session, actor, school.id, class_name)
        if class_group is None:
            errors["class_name"] = [
                f"the school has no class {class_name!r} (classes come from its timetable and "
                "its students' accounts)"
            ]
        elif class_group not in groups:
            groups.append(class_group)
    if errors:
        raise ValidationFailed(errors=errors)
    secret = tokens.new_token_secret()
    token = EnrollmentToken(
        school_id=school.id,
        label=label.strip(),
        device_name=device_name,
        lookup_key=tokens.token_lookup_key(secret),
        token_hash=tokens.hash_token(secret),
        ownership=ownership,
        user_role=user_role,
        platform=platform,
        expires_at=expires_at,
        max_uses=max_uses,
        uses=0,
        created_by=actor.user_id,
        groups=groups,
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor,
        "enrollment_token.create",
        "enrollment_token",
        token.id,
        school_id=school.id,
        details={
            "lookup_key": token.lookup_key,
            "ownership": ownership,
            "user_role": user_role,
            "max_uses": max_uses,
            "expires_at": expires_at.isoformat(),
            "classes": token.classes,
            "device_name": device_name,
        },
    )
    return IssuedToken(token, secret)


def trolley_slot_names(
    trolley: str, device_word: str, slots: int, first_slot: int = 1
) -> list[str]:
    """The names of a trolley's slots: "Koffer 3 – iPad 1", "Koffer 3 – iPad 2", ..."""
    return [
        f"{trolley} – {device_word} {number}" for number in range(first_slot, first_slot + slots)
    ]


def create_trolley_tokens(
    session: Session,
    actor: Actor,
    *,
    trolley: str,
    device_word: str,
    slots: int,
    first_slot: int = 1,
    school_id: int | None = None,
    platform: str | None = None,
    expires_at: datetime | None = None,
    group_ids: list[int] | None = None,
    class_name: str | None = None,
) -> list[IssuedToken]:
    """One token per slot of a trolley of shared school devices, each naming the device it
    enrolls ("Koffer 3 – iPad 12"); their secrets are shown only this once."""
    trolley, device_word = " ".join(trolley.split()), " ".join(device_word.split())
    errors: dict[str, list[str]] = {}
    if not trolley:
        errors["trolley"] = ["must not be empty"]
    if not device_word:
        errors["device_word"] = ["must not be empty"]
    if not 1 <= slots <= MAX_TROLLEY_SLOTS:
        errors["slots"] = [f"between 1 and {MAX_TROLLEY_SLOTS}"]
    if first_slot < 1:
        errors["first_slot"] = ["at least 1"]
    names = trolley_slot_names(trolley, device_word, slots, first_slot)
    if not errors and max(len(name) for name in names) > DEVICE_NAME_LENGTH:
        errors["trolley"] = [f"a slot's name has at most {DEVICE_NAME_LENGTH} characters"]
    if errors:
        raise ValidationFailed(errors=errors)
    return [
        create_token(
            session,
            actor,
            ownership="school",
            user_role="shared",
            school_id=school_id,
            platform=platform,
            expires_at=expires_at,
            max_uses=1,
            group_ids=group_ids,
            label=trolley,
            class_name=class_name,
            device_name=name,
        )
        for name in names
    ]


def token_enrollments(session: Session, actor: Actor, token_id: int) -> list[TokenEnrollment]:
    """The devices enrolled with a token (with their users), in the order they enrolled."""
    token = get_token(session, actor, token_id)
    return list(
        session.scalars(
            select(TokenEnrollment)
            .where(TokenEnrollment.token_id == token.id)
            .options(selectinload(TokenEnrollment.device).selectinload(Device.user))
            .order_by(TokenEnrollment.enrolled_at, TokenEnrollment.device_id)
        )
    )


def list_tokens(
    session: Session, actor: Actor, *, school_id: int | None = None
) -> list[EnrollmentToken]:
    """Enrollment tokens the admin may see, newest first."""
    _require_admin(actor)
    stmt = scoped(select(EnrollmentToken), EnrollmentToken, actor)
    if school_id is not None:
        stmt = stmt.where(EnrollmentToken.school_id == school_id)
    stmt = stmt.options(selectinload(EnrollmentToken.groups)).order_by(EnrollmentToken.id.desc())
    return list(session.scalars(stmt))


def get_token(session: Session, actor: Actor, token_id: int) -> EnrollmentToken:
    """One enrollment token the admin may see."""
    _require_admin(actor)
    return get_scoped(session, EnrollmentToken, token_id, actor)


def revoke_token(session: Session, actor: Actor, token_id: int) -> EnrollmentToken:
    """Revoke a token: no further device can enroll with it. Revoking it again changes nothing
    (one audit event, also for parallel requests: the database decides which one revokes)."""
    token = get_token(session, actor, token_id)
    revoked = session.execute(
        update(EnrollmentToken)
        .where(EnrollmentToken.id == token.id, EnrollmentToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.refresh(token)
    if not revoked.rowcount:
        return token
    audit.record(
        session,
        actor,
        "enrollment_token.revoke",
        "enrollment_token",
        token.id,
        school_id=token.school_id,
        details={"lookup_key": token.lookup_key, "uses": token.uses},
    )
    return token


def _failures() -> FailureCounter:
    return current_app.extensions["enrollment_token_failures"]


def find_token(session: Session, secret: str, address: str | None) -> EnrollmentToken:
    """The token with this secret, whatever its state; unknown secrets count as guesses (an
    attempt is counted before the lookup and given back when the secret is known)."""
    key = f"enroll-address:{address}"
    limit = int(current_app.config["ENROLLMENT_TOKEN_FAILURES_PER_ADDRESS"])
    retry_after = _failures().take(key, limit)
    if retry_after is not None:
        raise RateLimited(retry_after)
    token = None
    if tokens.is_token_secret(secret):
        token = session.scalar(
            select(EnrollmentToken).where(
                EnrollmentToken.lookup_key == tokens.token_lookup_key(secret)
            )
        )
    if token is None or not tokens.token_matches(secret, token.token_hash):
        raise TokenUnknown("no enrollment token has this secret")
    _failures().give_back(key)
    return token


def usable_token(session: Session, secret: str, address: str | None) -> EnrollmentToken:
    """The token with this secret if devices may still enroll with it."""
    token = find_token(session, secret, address)
    state = token.state(utcnow())
    if state != "active":
        raise TOKEN_STATE_ERRORS[state](f"this enrollment token is {state}")
    return token


def create_notice(
    session: Session, actor: Actor, text: str, *, school_id: int | None = None
) -> PrivacyNotice:
    """Publish a new version of the school's privacy notice."""
    school = _admin_school(session, actor, school_id)
    if not text.strip():
        raise ValidationFailed(errors={"text": ["must not be empty"]})
    latest = session.scalar(
        select(func.max(PrivacyNotice.version)).where(PrivacyNotice.school_id == school.id)
    )
    notice = PrivacyNotice(
        school_id=school.id, version=(latest or 0) + 1, text=text.strip(), created_by=actor.user_id
    )
    session.add(notice)
    session.flush()
    audit.record(
        session,
        actor,
        "privacy_notice.create",
        "privacy_notice",
        notice.id,
        school_id=school.id,
        details={"version": notice.version},
    )
    return notice


def list_notices(
    session: Session, actor: Actor, *, school_id: int | None = None
) -> list[PrivacyNotice]:
    """Privacy notice versions the admin may see, newest first."""
    _require_admin(actor)
    stmt = scoped(select(PrivacyNotice), PrivacyNotice, actor)
    if school_id is not None:
        stmt = stmt.where(PrivacyNotice.school_id == school_id)
    return list(session.scalars(stmt.order_by(PrivacyNotice.id.desc())))


def current_notice(session: Session, school_id: int) -> PrivacyNotice | None:
    """The school's newest privacy notice, if it has one."""
    return session.scalar(
        select(PrivacyNotice)
        .where(PrivacyNotice.school_id == school_id)
        .order_by(PrivacyNotice.version.desc())
        .limit(1)
    )


def token_facts(
    session: Session, token: EnrollmentToken, school: School, notice: PrivacyNotice | None
) -> TokenFacts:
    """What the enrollment page and the printed sheet say about a token and its school."""
    kept = inventory_policy.kept_for(session, token.school_id, token.user_role, None)
    return TokenFacts(
        school=school.name,
        ownership=token.ownership,
        user_role=token.user_role,
        platform=token.platform,
        classes=token.classes,
        groups=[group.name for group in token.groups if group.name not in token.classes],
        notice_version=notice.version if notice is not None else None,
        check_in_minutes=max(1, int(current_app.config["AGENT_CHECK_IN_SECONDS"]) // 60),
        kept_categories=[name for name in INVENTORY_CATEGORIES if name in kept],
        dropped_categories=[name for name in INVENTORY_CATEGORIES if name not in kept],
        apple_ready=apple_ready(session, token.school_id),
    )


def apple_ready(session: Session, school_id: int) -> bool:
    """Whether the school's Apple devices can enroll: it has its MDM push certificate."""
    settings = session.get(PushSettings, school_id)
    return settings is not None and bool(settings.apns_topic)


@dataclass(frozen=True)
class Enrollment:
    """The result of enrolling: the device, its credential and its first configuration."""

    device: Device
    credential: credentials.IssuedCredential
    configuration: dict[str, Any]


def _check_owner(
    session: Session, token: EnrollmentToken, owner: User | None, notice_version: int | None
) -> PrivacyNotice | None:
    """Check who enrolls the device; for BYOD, their consent. Returns the notice consented to."""
    if owner is not None and owner.school_id != token.school_id:
        raise PermissionDenied("the enrollment token belongs to another school")
    if token.ownership != byod.BYOD:
        # A school device is assigned to the login sent with it, unless the token is for
        # shared devices; that user must have the role the token is for.
        if owner is not None and token.user_role != "shared" and owner.role != token.user_role:
            raise Conflict(
                f"this enrollment token is for devices of a {token.user_role}, "
                f"the login sent is a {owner.role}",
                errors={"owner": [f"must be a {token.user_role}, not a {owner.role}"]},
            )
        return None
    if owner is None:
        raise NotAuthenticated(
            "a personal device enrolls with its owner's login: send the owner's access token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if owner.role != token.user_role:
        raise PermissionDenied(f"this enrollment token is for devices of a {token.user_role}")
    notice = current_notice(session, token.school_id)
    if notice is None:
        raise Conflict("the school has no privacy notice yet; personal devices cannot enroll")
    if notice_version != notice.version:
        raise ValidationFailed(
            "The owner must consent to the school's current privacy notice.",
            errors={"privacy_notice_version": [f"consent to version {notice.version}"]},
        )
    return notice


def enroll(
    session: Session,
    *,
    secret: str,
    facts: devices.DeviceFacts,
    csr_pem: str | None,
    owner: User | None,
    privacy_notice_version: int | None,
    address: str | None,
) -> Enrollment:
    """Enroll a device with a token: every check passes before the first row is written."""
    token = usable_token(session, secret, address)
    if token.platform is not None and facts.platform != token.platform:
        raise ValidationFailed(
            errors={"platform": [f"this enrollment token is for {token.platform} devices"]}
        )
    notice = _check_owner(session, token, owner, privacy_notice_version)
    if token.device_name is not None:
        facts = replace(facts, name=token.device_name)
    user = owner if token.user_role != "shared" else None
    csr = credentials.parse_csr(csr_pem)
    kept = inventory_policy.kept_for(
        session, token.school_id, token.user_role, user.role if user is not None else None
    )
    inventory = devices.encode_inventory(token.ownership, facts.inventory or {}, kept)
    consumed = session.execute(
        update(EnrollmentToken)
        .where(EnrollmentToken.id == token.id, EnrollmentToken.uses < EnrollmentToken.max_uses)
        .values(uses=EnrollmentToken.uses + 1)
        .execution_options(synchronize_session=False)
    )
    if consumed.rowcount != 1:
        raise TokenExhausted("this enrollment token is exhausted")
    actor = Actor(
        name=owner.username if owner is not None else f"token:{token.lookup_key}",
        role="device",
        user_id=owner.id if owner is not None else None,
        school_id=token.school_id,
        address=address,
    )
    # A student's device joins the student's class group, whatever class the token names.
    class_group = class_groups.class_group_for(session, actor, token.school_id, user)
    device = devices.create_device(
        session,
        school_id=token.school_id,
        ownership=token.ownership,
        user_role=token.user_role,
        facts=facts,
        inventory=inventory,
        user_id=user.id if user is not None else None,
        groups=class_groups.with_class_group(list(token.groups), user, class_group),
    )
    credential = credentials.issue_credential(session, device, csr)
    session.add(
        TokenEnrollment(
            device_id=device.id,
            token_id=token.id,
            school_id=device.school_id,
            enrolled_at=device.enrolled_at,
        )
    )
    if notice is not None and owner is not None:
        session.add(
            Consent(
                school_id=device.school_id,
                device_id=device.id,
                user_id=owner.id,
                notice_id=notice.id,
                notice_version=notice.version,
                consented_at=device.enrolled_at,
            )
        )
    audit.record(
        session,
        actor,
        "device.enroll",
        "device",
        device.id,
        school_id=device.school_id,
        details={
            "token_id": token.id,
            "ownership": device.ownership,
            "platform": device.platform,
            "certificate": credential.certificate_pem is not None,
            "privacy_notice_version": notice.version if notice is not None else None,
        },
    )
    session.flush()
    return Enrollment(device, credential, configuration(device))


@dataclass(frozen=True)
class OwnDevice:
    """One of the logged-in user's devices, the consent it was enrolled under, and what the
    school keeps of its inventory."""

    device: Device
    consent: Consent | None
    inventory_kept: dict[str, Any]


def own_devices(session: Session, actor: Actor) -> list[OwnDevice]:
    """The logged-in user's devices with their consents and what the school keeps of each."""
    rows = devices.list_own_devices(session, actor)
    consents = {
        consent.device_id: consent
        for consent in session.scalars(
            select(Consent).where(Consent.device_id.in_([device.id for device in rows]))
        )
    }
    kept = inventory_policy.kept_for_own_devices(session, rows, actor.role)
    return [OwnDevice(device, consents.get(device.id), kept[device.id]) for device in rows]


def remove_own_device(session: Session, actor: Actor, device_id: int) -> None:
    """The owner ends management of their BYOD device (mdm.devices.service.remove_own_device:
    a personal Apple device is told first)."""
    devices.remove_own_device(session, actor, device_id)
