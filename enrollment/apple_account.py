"""Account-driven User Enrollment of personal iPhones and iPads (Apple's "onboarding users with
account sign-in"): the service discovery document, the owner's login and consent that hand the
device a one-time access token, and the enrollment profile that token buys (a pending BYOD
device, through mdm.devices, with its consent and its SCEP challenge). The device completes
the enrollment with its Authenticate check-in by EnrollmentID (mdm/apple). They flush, never
commit."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, url_for
from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from enrollment import mobileconfig
from enrollment.apple_profile import profile_facts, signing_identity
from enrollment.apple_profile import scep_identity as scep_payload
from enrollment.models import (
    AppleAccessToken,
    Consent,
    EnrollmentToken,
    PrivacyNotice,
    TokenEnrollment,
)
from enrollment.service import apple_ready, current_notice
from mdm.accounts import login as logins
from mdm.accounts.auth import actor_of
from mdm.accounts.models import School, User
from mdm.apple.models import AppleDevice
from mdm.devices import byod, class_groups
from mdm.devices import service as devices
from mdm.platform import audit
from mdm.platform.actors import Actor
from mdm.platform.errors import Conflict, NotAuthenticated, PermissionDenied, ValidationFailed
from mdm.platform.http import base_url
from mdm.platform.types import utcnow
from mdm.push.models import PushSettings

# Apple's name of the enrollment this service offers: a User Enrollment of a personal device.
SERVER_VERSION = "mdm-byod"
# Where the device's web view is sent with the access token once the owner is done.
RESULT_URL = "apple-remotemanagement-user-login://authentication-results"
# Who enrolls personal devices (as on every other platform, enrollment.service).
OWNER_ROLES = ("student", "teacher")
# The platforms a BYOD token may name and still be offered to an iPhone or iPad.
TOKEN_PLATFORMS = ("ios", "ipados")
# What a personal device is called until its Authenticate says what it is.
DEVICE_NAMES = {"ios": "iPhone", "ipados": "iPad"}
# The body a device posts with its enrollment request (its signed device information): kept
# small, never read.
MAX_REQUEST_BYTES = 64 * 1024


class AccessRefused(NotAuthenticated):
    """The device has no valid access token: it is sent to the login page."""

    type = "apple-account-enrollment-login"
    title = "Login required"


class NotOffered(Conflict):
    """The owner's school does not offer User Enrollment to them (`reason` says why)."""

    type = "apple-account-enrollment-not-offered"
    title = "User Enrollment not offered"

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class AccountMismatch(PermissionDenied):
    """The login is not the account the device signed in with."""

    type = "apple-account-enrollment-mismatch"
    title = "Another account"


def access_token_hash(token: str) -> str:
    """The SHA-256 under which an access token is stored (256 random bits: a fast hash does)."""
    return hashlib.sha256(token.encode()).hexdigest()


def enrollment_url() -> str:
    """Where the device asks for its enrollment profile (the discovery document's BaseURL)."""
    return base_url() + url_for("apple_account.enrollment_request")


def login_url() -> str:
    """The login page the device's web view opens (Bearer method="apple-as-web")."""
    return base_url() + url_for("apple_account.login")


def discovery_document() -> dict[str, list[dict[str, str]]]:
    """The well-known document of service discovery: one User Enrollment server, the same for
    every user identifier (it tells nobody whether an account exists)."""
    return {"Servers": [{"Version": SERVER_VERSION, "BaseURL": enrollment_url()}]}


def login_challenge() -> dict[str, str]:
    """The header of a 401 that sends the device to the login page."""
    return {"WWW-Authenticate": f'Bearer method="apple-as-web" url="{login_url()}"'}


def _refused(detail: str) -> AccessRefused:
    return AccessRefused(detail, headers=login_challenge())


def same_account(email: str | None, user_identifier: str) -> bool:
    """Whether the Managed Apple Account the device signed in with is the account's email
    (letter case aside)."""
    wanted = user_identifier.strip().lower()
    return email is not None and bool(wanted) and email.strip().lower() == wanted


@dataclass(frozen=True)
class Offer:
    """What a school offers a person's personal iPhone or iPad: its privacy notice and the
    enrollment token the enrollment takes a use of."""

    user: User
    school: School
    notice: PrivacyNotice
    token: EnrollmentToken


def offered_token(session: Session, user: User, now: datetime) -> EnrollmentToken | None:
    """The newest usable BYOD enrollment token of the person's school and role that an
    iPhone or iPad may use (any platform, iOS or iPadOS)."""
    return session.scalar(
        select(EnrollmentToken)
        .where(
            EnrollmentToken.school_id == user.school_id,
            EnrollmentToken.ownership == byod.BYOD,
            EnrollmentToken.user_role == user.role,
            or_(
                EnrollmentToken.platform.is_(None),
                EnrollmentToken.platform.in_(TOKEN_PLATFORMS),
            ),
            EnrollmentToken.revoked_at.is_(None),
            EnrollmentToken.expires_at > now,
            EnrollmentToken.uses < EnrollmentToken.max_uses,
        )
        .order_by(EnrollmentToken.created_at.desc(), EnrollmentToken.id.desc())
        .limit(1)
    )


def offer_for(session: Session, user: User) -> Offer:
    """What the person's school offers their personal iPhone or iPad; NotOffered says why
    nothing: not a student or teacher, no privacy notice, no MDM push certificate, no usable
    BYOD enrollment token for their role."""
    if user.role not in OWNER_ROLES or user.school_id is None:
        raise NotOffered("role", "only students and teachers enroll personal devices")
    school = session.get(School, user.school_id)
    assert school is not None
    notice = current_notice(session, school.id)
    if notice is None:
        raise NotOffered("notice", "the school has no privacy notice yet")
    if not apple_ready(session, school.id):
        raise NotOffered("push", "the school has no MDM push certificate yet")
    token = offered_token(session, user, utcnow())
    if token is None:
        raise NotOffered(
            "token", f"the school has no usable BYOD enrollment token for {user.role}s"
        )
    return Offer(user, school, notice, token)


def check_owner(session: Session, username: str, password: str, user_identifier: str) -> Offer:
    """The login of the device's owner (the platform's login rules: rate limits, inactive
    accounts), who must be the account the device signed in with, and what their school
    offers."""
    user = logins.check_password(session, username, password)
    if user.role not in OWNER_ROLES:
        raise NotOffered("role", "only students and teachers enroll personal devices")
    if not same_account(user.email, user_identifier):
        raise AccountMismatch(
            "the device signed in with another Managed Apple Account than this account's email"
        )
    return offer_for(session, user)


def grant_access(
    session: Session,
    *,
    user_id: int,
    login_generation: int,
    login_id: str,
    user_identifier: str,
    notice_version: int | None,
    accepted: bool,
    address: str | None,
) -> str:
    """The owner, logged in moments ago (`login_id` names that login), accepts the school's
    current privacy notice: a new one-time access token for the device (only its hash is
    stored); one per login."""
    user = session.get(User, user_id)
    login_hash = access_token_hash(login_id)
    if (
        user is None
        or not user.active
        or (user.login_generation or 0) != login_generation
        or not same_account(user.email, user_identifier)
        or not login_id
        or session.scalar(
            select(AppleAccessToken.id).where(AppleAccessToken.login_hash == login_hash)
        )
        is not None
    ):
        raise NotAuthenticated("log in again")
    offer = offer_for(session, user)
    errors: dict[str, list[str]] = {}
    if not accepted:
        errors["accept"] = ["accept the school's privacy notice to enroll"]
    if notice_version != offer.notice.version:
        errors["notice_version"] = [f"consent to version {offer.notice.version}"]
    if errors:
        raise ValidationFailed(
            "The owner must consent to the school's current privacy notice.", errors=errors
        )
    token = secrets.token_urlsafe(32)
    now = utcnow()
    seconds = int(current_app.config["APPLE_ACCOUNT_TOKEN_SECONDS"])
    # The owner's access tokens that expired unused are of no use to anybody any more.
    session.execute(
        delete(AppleAccessToken).where(
            AppleAccessToken.user_id == user.id,
            AppleAccessToken.used_at.is_(None),
            AppleAccessToken.expires_at <= now,
        )
    )
    access = AppleAccessToken(
        token_hash=access_token_hash(token),
        school_id=offer.school.id,
        user_id=user.id,
        token_id=offer.token.id,
        notice_id=offer.notice.id,
        notice_version=offer.notice.version,
        managed_apple_id=user_identifier.strip(),
        login_generation=login_generation,
        login_hash=login_hash,
        created_at=now,
        expires_at=now + timedelta(seconds=seconds),
    )
    try:
        # A parallel consent of the same login made its token first: this one makes none.
        with session.begin_nested():
            session.add(access)
            session.flush()
    except IntegrityError as exc:
        raise NotAuthenticated("log in again") from exc
    audit.record(
        session,
        actor_of(user, address),
        "device.apple.account_login",
        "user",
        user.id,
        school_id=user.school_id,
        details={
            "access_token_id": access.id,
            "token_id": offer.token.id,
            "privacy_notice_version": offer.notice.version,
        },
    )
    return token


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer ...` header."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def fetch_profile(session: Session, authorization: str | None, address: str | None) -> bytes:
    """The signed enrollment profile an access token buys, once: the access token and one use
    of its enrollment token are consumed together (the database decides between parallel
    requests), and the pending personal device is created with its owner, groups and consent."""
    token = bearer_token(authorization)
    if token is None:
        raise _refused("the owner logs in first")
    access = session.scalar(
        select(AppleAccessToken).where(AppleAccessToken.token_hash == access_token_hash(token))
    )
    now = utcnow()
    if access is None:
        raise _refused("unknown access token")
    if access.used_at is not None:
        raise _refused("the access token was used")
    if access.expires_at <= now:
        raise _refused("the access token has expired")
    user = session.get(User, access.user_id)
    if user is None or not user.active or user.school_id != access.school_id:
        raise _refused("the owner's account is no longer active")
    if (user.login_generation or 0) != access.login_generation:
        # As every login made before a password change (the account may have been misused).
        raise _refused("the owner's password changed since the login; the owner logs in again")
    notice = current_notice(session, access.school_id)
    if notice is None or notice.id != access.notice_id:
        raise _refused("the school published a new privacy notice; the owner consents again")
    enrollment_token = session.get(EnrollmentToken, access.token_id)
    assert enrollment_token is not None
    if enrollment_token.state(now) != "active":
        raise _refused(f"the school's enrollment token is {enrollment_token.state(now)}")
    settings = session.get(PushSettings, access.school_id)
    if settings is None or not settings.apns_topic:
        raise _refused("the school has no MDM push certificate")
    signer = signing_identity()
    consumed = session.execute(
        update(AppleAccessToken)
        .where(
            AppleAccessToken.id == access.id,
            AppleAccessToken.used_at.is_(None),
            AppleAccessToken.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if consumed.rowcount != 1:
        raise _refused("the access token was used by a parallel request")
    taken = session.execute(
        update(EnrollmentToken)
        .where(
            EnrollmentToken.id == enrollment_token.id,
            EnrollmentToken.uses < EnrollmentToken.max_uses,
            EnrollmentToken.revoked_at.is_(None),
        )
        .values(uses=EnrollmentToken.uses + 1)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        raise _refused("the school's enrollment token is used up")
    school = session.get(School, access.school_id)
    assert school is not None
    actor = Actor(
        name=user.username,
        role="device",
        user_id=user.id,
        school_id=school.id,
        address=address,
    )
    # A student's device joins the student's class group, as every personal device does.
    class_group = class_groups.class_group_for(session, actor, school.id, user)
    platform = enrollment_token.platform or "ios"
    device = devices.create_device(
        session,
        school_id=school.id,
        ownership=byod.BYOD,
        user_role=user.role,
        facts=devices.DeviceFacts(platform=platform, name=DEVICE_NAMES[platform]),
        inventory=devices.encode_inventory(byod.BYOD, {}),
        user_id=user.id,
        groups=class_groups.with_class_group(list(enrollment_token.groups), user, class_group),
        pending=True,
    )
    session.add(
        AppleDevice(
            device_id=device.id,
            school_id=school.id,
            topic=settings.apns_topic,
            user_enrollment=True,
        )
    )
    session.add(
        TokenEnrollment(
            device_id=device.id,
            token_id=enrollment_token.id,
            school_id=school.id,
            enrolled_at=device.enrolled_at,
        )
    )
    session.add(
        Consent(
            school_id=school.id,
            device_id=device.id,
            user_id=user.id,
            notice_id=notice.id,
            notice_version=notice.version,
            consented_at=access.created_at,
        )
    )
    session.execute(
        update(AppleAccessToken)
        .where(AppleAccessToken.id == access.id)
        .values(device_id=device.id)
        .execution_options(synchronize_session=False)
    )
    identity = scep_payload(session, device, school)
    profile = mobileconfig.user_enrollment_profile(
        profile_facts(school, settings), identity, access.managed_apple_id
    )
    session.flush()
    audit.record(
        session,
        actor,
        "device.apple.profile",
        "device",
        device.id,
        school_id=school.id,
        details={
            "token_id": enrollment_token.id,
            "identity": "scep",
            "platform": platform,
            "ownership": byod.BYOD,
            "user_enrollment": True,
            "privacy_notice_version": notice.version,
        },
    )
    return mobileconfig.sign(profile, signer)
