"""Account-driven User Enrollment of a personal iPhone: service discovery, the 401 that sends
the device to the login page, the owner's login and consent, the one-time access token, the
profile, and the check-ins by EnrollmentID (also the real iOS 18 captures)."""

import plistlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from enrollment.apple_account import access_token_hash
from enrollment.models import AppleAccessToken, Consent, EnrollmentToken, TokenEnrollment
from mdm.accounts.models import School, User
from mdm.apple.models import AppleDevice
from mdm.devices.models import Device
from mdm.extensions import db
from mdm.platform.models import AuditEvent
from mdm.platform.types import utcnow
from mdm.policies import service as policies
from mdm.policies.models import DevicePolicyState
from mdm.push.models import PushAddress, PushSettings
from tests.conftest import PASSWORD
from tests.mdm.apple.ipad import (
    ENROLLMENT_ID,
    SAMPLES,
    PersonalIPhone,
    access_token,
    answer,
    consent,
    discover,
    enroll_personal_iphone,
    enrollment_request,
    form_fields,
    log_in,
    login_page_path,
    sample,
)

IDENTIFIER = "Mia.Schmidt@schule.example"
LOGIN_PATH = "/enroll/apple-account/login"
REQUEST_PATH = "/apple/account-enrollment"
CHALLENGE = 'Bearer method="apple-as-web" url="http://localhost/enroll/apple-account/login"'
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="no captured Apple messages")


@pytest.fixture
def owner(create_user: Callable[..., User], school: School) -> User:
    """A student whose email is the Managed Apple Account her iPhone signs in with."""
    return create_user(
        "student", school, username="mia", email="mia.schmidt@schule.example", class_name="7a"
    )


@pytest.fixture
def byod_token(
    make_token: Callable[..., dict[str, Any]], push_topic: str, notice: dict[str, Any]
) -> dict[str, Any]:
    """The school's BYOD enrollment token for students; it has its notice and push topic."""
    return make_token(ownership="byod", user_role="student", max_uses=30)


def count(model: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def token_uses(token: dict[str, Any]) -> int:
    db.session.expire_all()
    row = db.session.get(EnrollmentToken, token["token"]["id"])
    assert row is not None
    return row.uses


def logged_in(client: FlaskClient, username: str = "mia", password: str = PASSWORD) -> Any:
    """The consent page after the owner's login (or the page that refused it)."""
    return log_in(client, LOGIN_PATH, IDENTIFIER, username, password)


def new_access_token(client: FlaskClient) -> str:
    return access_token(consent(client, LOGIN_PATH, logged_in(client), IDENTIFIER))


def text(response: Any) -> str:
    return response.get_data(as_text=True)


# --- service discovery and the enrollment request ---------------------------------------------


def test_discovery_is_one_document_for_every_user(client: FlaskClient, app: Flask) -> None:
    answers = [
        client.get("/.well-known/com.apple.remotemanagement", query_string=query)
        for query in (
            {"user-identifier": IDENTIFIER, "model-family": "iPhone"},
            {"user-identifier": "nobody@elsewhere.example", "model-family": "iPad"},
            {},
        )
    ]
    for response in answers:
        assert response.status_code == 200
        assert response.mimetype == "application/json"
        assert "Set-Cookie" not in response.headers
        assert response.data == answers[0].data
    assert answers[0].get_json() == {
        "Servers": [{"Version": "mdm-byod", "BaseURL": "http://localhost/apple/account-enrollment"}]
    }
    app.config["BASE_URL"] = "https://mdm.stadt.example/"
    assert discover(client, IDENTIFIER) == "/apple/account-enrollment"
    document = client.get("/.well-known/com.apple.remotemanagement").get_json()
    assert document["Servers"][0]["BaseURL"] == "https://mdm.stadt.example/apple/account-enrollment"


def test_an_enrollment_request_without_a_valid_token_goes_to_the_login_page(
    client: FlaskClient, byod_token: dict[str, Any]
) -> None:
    for token in (None, "unknown-token", ""):
        response = enrollment_request(client, REQUEST_PATH, token)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == CHALLENGE
        assert "Set-Cookie" not in response.headers
    assert login_page_path(enrollment_request(client, REQUEST_PATH)) == LOGIN_PATH
    assert count(Device) == 0 and token_uses(byod_token) == 0


def test_an_enrollment_request_is_a_signed_body_of_limited_size(client: FlaskClient) -> None:
    wrong = client.post(REQUEST_PATH, data=b"{}", content_type="application/json")
    assert wrong.status_code == 415
    large = client.post(
        REQUEST_PATH, data=b"x" * (64 * 1024 + 1), content_type="application/pkcs7-signature"
    )
    assert large.status_code == 413
    assert client.get(REQUEST_PATH).status_code == 405


# --- the whole enrollment ---------------------------------------------------------------------


def test_a_personal_iphone_enrolls_end_to_end(
    client: FlaskClient,
    owner: User,
    byod_token: dict[str, Any],
    headers: Callable[[User], dict[str, str]],
) -> None:
    iphone = enroll_personal_iphone(client, IDENTIFIER, "mia", PASSWORD)
    device = db.session.get(Device, iphone.device_id)
    assert device is not None and device.status == "pending"
    assert device.ownership == "byod" and device.user_id == owner.id
    assert device.user_role == "student" and device.platform == "ios" and device.name == "iPhone"
    assert "7a" in [group.name for group in device.groups]
    apple = db.session.get(AppleDevice, device.id)
    assert apple is not None and apple.user_enrollment and apple.enrollment_id is None
    row = db.session.scalar(select(Consent).where(Consent.device_id == device.id))
    assert row is not None and row.user_id == owner.id and row.notice_version == 1
    assert db.session.get(TokenEnrollment, device.id).token_id == byod_token["token"]["id"]  # type: ignore[union-attr]
    assert token_uses(byod_token) == 1
    used = db.session.scalar(select(AppleAccessToken))
    assert used is not None and used.used_at is not None and used.device_id == device.id
    assert used.managed_apple_id == IDENTIFIER
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"device.apple.account_login", "device.apple.profile"} <= actions

    assert iphone.authenticate().status_code == 200
    assert iphone.token_update().status_code == 200
    db.session.expire_all()
    device = db.session.get(Device, iphone.device_id)
    assert device is not None and device.status == "enrolled" and device.model == "iPhone12,1"
    assert device.serial_number is None and device.imei is None
    apple = db.session.get(AppleDevice, device.id)
    assert apple is not None and apple.enrollment_id == ENROLLMENT_ID and apple.udid is None
    assert db.session.get(PushAddress, device.id) is not None

    # The inventory refresh the first TokenUpdate asks for; then nothing is due.
    step = answer(iphone.result("Idle"))
    assert step is not None and step["Command"]["RequestType"] == "DeviceInformation"
    step = answer(
        iphone.result("Acknowledged", step["CommandUUID"], QueryResponses={"OSVersion": "18.2.1"})
    )
    assert step is not None
    step = answer(iphone.result("Acknowledged", step["CommandUUID"], InstalledApplicationList=[]))
    assert step is not None
    # iOS 18: the policy comes as declarations, told by a DeclarativeManagement command.
    step = answer(iphone.result("Acknowledged", step["CommandUUID"], ProfileList=[]))
    assert step is not None and step["Command"]["RequestType"] == "DeclarativeManagement"
    iphone.sync(step)
    assert answer(iphone.result("Acknowledged", step["CommandUUID"])) is None
    assert answer(iphone.result("Idle")) is None

    mine = client.get("/api/v1/me/devices", headers=headers(owner))
    assert mine.status_code == 200
    [own] = mine.get_json()
    assert own["device"]["id"] == iphone.device_id and own["device"]["ownership"] == "byod"
    assert own["consent"]["notice_version"] == 1


def test_an_idle_with_nothing_due_takes_the_fast_path(
    client: FlaskClient,
    owner: User,
    byod_token: dict[str, Any],
    count_queries: Callable[..., Any],
) -> None:
    iphone = enroll_personal_iphone(client, IDENTIFIER, "mia", PASSWORD)
    iphone.os_version = "16.7.10"  # the profile path: nothing due once its policy state is made
    iphone.authenticate()
    db.session.execute(
        update(AppleDevice)
        .where(AppleDevice.device_id == iphone.device_id)
        .values(inventory_due_at=None)
    )
    assert answer(iphone.result("Idle")) is None  # the policy state is made
    with count_queries() as statements:
        assert answer(iphone.result("Idle")) is None
    assert len(statements) == 2, statements  # who it is, and that it was seen


def test_the_profile_is_a_user_enrollment_for_the_managed_apple_account(
    client: FlaskClient, owner: User, byod_token: dict[str, Any], push_topic: str
) -> None:
    iphone = enroll_personal_iphone(client, IDENTIFIER, "mia", PASSWORD)
    payloads = {p["PayloadType"]: p for p in iphone.profile["PayloadContent"]}
    assert set(payloads) == {"com.apple.mdm", "com.apple.security.scep"}
    mdm = payloads["com.apple.mdm"]
    assert mdm["EnrollmentMode"] == "BYOD"
    assert mdm["AssignedManagedAppleID"] == IDENTIFIER
    # AccessRights are ignored in a User Enrollment; ManagedAppleID is gone since iOS 18.
    assert "AccessRights" not in mdm and "ManagedAppleID" not in mdm
    assert mdm["Topic"] == push_topic and mdm["SignMessage"] is True
    assert mdm["CheckOutWhenRemoved"] is True and mdm["ServerCapabilities"] == []
    assert mdm["ServerURL"] == "http://localhost/apple/mdm/connect"
    assert mdm["CheckInURL"] == "http://localhost/apple/mdm/checkin"
    scep = payloads["com.apple.security.scep"]
    assert mdm["IdentityCertificateUUID"] == scep["PayloadUUID"]
    assert scep["PayloadContent"]["Challenge"]
    assert iphone.profile["PayloadIdentifier"].endswith(".gymnasium-a.enrollment")


# --- the login page ---------------------------------------------------------------------------


def test_the_login_page_is_german_or_english_without_scripts(
    client: FlaskClient, byod_token: dict[str, Any]
) -> None:
    german = client.get(LOGIN_PATH, query_string={"user-identifier": IDENTIFIER})
    assert german.status_code == 200 and german.headers["Content-Language"] == "de"
    assert "Benutzername" in text(german) and IDENTIFIER in text(german)
    assert "<script" not in text(german) and "csrf_token" in form_fields(text(german))
    english = client.get(LOGIN_PATH, query_string={"user-identifier": IDENTIFIER, "lang": "en"})
    assert "Username" in text(english) and english.headers["Content-Language"] == "en"
    missing = client.get(LOGIN_PATH)
    assert missing.status_code == 400 and "VPN und Geräteverwaltung" in text(missing)


def test_the_consent_page_shows_the_notice_and_what_the_school_can_do(
    client: FlaskClient, owner: User, byod_token: dict[str, Any], notice: dict[str, Any]
) -> None:
    page = logged_in(client)
    assert page.status_code == 200
    assert notice["text"] in text(page) and "Version 1" in text(page)
    assert "nie löschen, sperren, orten" in text(page)
    assert "apple-remotemanagement-user-login:" in page.headers["Content-Security-Policy"]
    assert count(AppleAccessToken) == 0


def test_the_login_sends_the_device_its_access_token(
    client: FlaskClient, owner: User, byod_token: dict[str, Any], app: Flask
) -> None:
    before = utcnow()
    token = new_access_token(client)
    row = db.session.scalar(select(AppleAccessToken))
    assert row is not None and token not in row.token_hash and len(token) >= 40
    assert row.user_id == owner.id and row.token_id == byod_token["token"]["id"]
    assert row.notice_version == 1 and row.used_at is None
    lifetime = app.config["APPLE_ACCOUNT_TOKEN_SECONDS"]
    assert lifetime == 900 and (row.expires_at - before).total_seconds() <= lifetime + 5
    assert count(Device) == 0 and token_uses(byod_token) == 0


@pytest.mark.parametrize(
    ("username", "password", "status", "words"),
    [
        ("mia", "wrong-password", 401, "Benutzername oder Passwort ist falsch"),
        ("nobody", PASSWORD, 401, "Benutzername oder Passwort ist falsch"),
        ("teacher-a", PASSWORD, 403, "gehört nicht zum Apple-Account"),
        ("admin-a", PASSWORD, 409, "Ihre Schule bietet das nicht an"),
    ],
)
def test_a_login_that_is_refused_creates_nothing(
    client: FlaskClient,
    owner: User,
    teacher: User,
    byod_token: dict[str, Any],
    username: str,
    password: str,
    status: int,
    words: str,
) -> None:
    page = logged_in(client, username, password)
    assert page.status_code == status and words in text(page)
    assert count(AppleAccessToken) == 0 and count(Device) == 0


def test_an_inactive_account_cannot_log_in(
    client: FlaskClient, owner: User, byod_token: dict[str, Any]
) -> None:
    owner.active = False
    db.session.commit()
    assert logged_in(client).status_code == 401
    assert count(AppleAccessToken) == 0


def test_another_account_than_the_device_signed_in_with_is_refused(
    client: FlaskClient, create_user: Callable[..., User], school: School, byod_token: Any
) -> None:
    create_user("student", school, username="mia", email="mia@other.example")
    page = logged_in(client)
    assert page.status_code == 403 and IDENTIFIER in text(page)
    create_user("student", school, username="lea")  # no email at all
    assert log_in(client, LOGIN_PATH, IDENTIFIER, "lea", PASSWORD).status_code == 403
    assert count(AppleAccessToken) == 0


def test_the_email_matches_whatever_its_letter_case(
    client: FlaskClient, owner: User, byod_token: dict[str, Any]
) -> None:
    assert owner.email != IDENTIFIER and owner.email == IDENTIFIER.lower()
    assert new_access_token(client)


def test_without_a_privacy_notice_the_school_does_not_offer_it(
    client: FlaskClient, owner: User, make_token: Callable[..., Any], push_topic: str
) -> None:
    make_token(ownership="byod", user_role="student")
    page = logged_in(client)
    assert page.status_code == 409
    assert "Ihre Schule bietet das nicht an" in text(page)
    assert "keinen Datenschutzhinweis" in text(page)
    assert count(AppleAccessToken) == 0


@pytest.mark.parametrize(
    "token_fields",
    [
        None,
        {"ownership": "school", "user_role": "student"},
        {"ownership": "byod", "user_role": "teacher"},
        {"ownership": "byod", "user_role": "student", "platform": "android"},
        {"ownership": "byod", "user_role": "student", "max_uses": 1, "used_up": True},
        {"ownership": "byod", "user_role": "student", "revoked": True},
    ],
)
def test_without_a_usable_byod_token_for_the_role_the_school_does_not_offer_it(
    client: FlaskClient,
    owner: User,
    make_token: Callable[..., dict[str, Any]],
    push_topic: str,
    notice: dict[str, Any],
    token_fields: dict[str, Any] | None,
) -> None:
    if token_fields is not None:
        fields = dict(token_fields)
        used_up, revoked = fields.pop("used_up", False), fields.pop("revoked", False)
        token = make_token(**fields)
        values: dict[str, Any] = {}
        if used_up:
            values["uses"] = 1
        if revoked:
            values["revoked_at"] = utcnow()
        if values:
            db.session.execute(
                update(EnrollmentToken)
                .where(EnrollmentToken.id == token["token"]["id"])
                .values(**values)
            )
            db.session.commit()
    page = logged_in(client)
    assert page.status_code == 409 and "keine Einschreibung eigener Geräte" in text(page)
    assert count(AppleAccessToken) == 0


def test_without_the_push_certificate_the_school_does_not_offer_it(
    client: FlaskClient, owner: User, byod_token: dict[str, Any], school: School
) -> None:
    db.session.execute(update(PushSettings).values(apns_topic=""))
    db.session.commit()
    page = logged_in(client)
    assert page.status_code == 409 and "Push-Zertifikat" in text(page)


def test_the_newest_usable_token_is_used(
    client: FlaskClient,
    owner: User,
    make_token: Callable[..., dict[str, Any]],
    push_topic: str,
    notice: dict[str, Any],
) -> None:
    older = make_token(ownership="byod", user_role="student", platform="ios")
    newer = make_token(ownership="byod", user_role="student", platform="ipados")
    make_token(ownership="byod", user_role="student", platform="android")
    iphone = enroll_personal_iphone(client, IDENTIFIER, "mia", PASSWORD)
    assert token_uses(newer) == 1 and token_uses(older) == 0
    device = db.session.get(Device, iphone.device_id)
    assert device is not None and (device.platform, device.name) == ("ipados", "iPad")
    # Its Authenticate says what it is: an iPhone after all.
    assert iphone.authenticate().status_code == 200
    db.session.expire_all()
    device = db.session.get(Device, iphone.device_id)
    assert device is not None and (device.platform, device.name) == ("ios", "iPhone")


def test_the_notice_must_be_accepted(
    client: FlaskClient, owner: User, byod_token: dict[str, Any]
) -> None:
    page = logged_in(client)
    refused = consent(client, LOGIN_PATH, page, IDENTIFIER, accept=False)
    assert refused.status_code == 400 and "stimmen Sie dem Datenschutzhinweis zu" in text(refused)
    assert count(AppleAccessToken) == 0
    # The page asks again; accepting it now hands out the token.
    assert access_token(consent(client, LOGIN_PATH, refused, IDENTIFIER))


def test_a_notice_published_meanwhile_must_be_accepted_instead(
    client: FlaskClient,
    owner: User,
    byod_token: dict[str, Any],
    school_admin: User,
    headers: Callable[[User], dict[str, str]],
) -> None:
    page = logged_in(client)
    published = client.post(
        "/api/v1/privacy-notices", json={"text": "Neue Fassung."}, headers=headers(school_admin)
    )
    assert published.status_code == 201
    refused = consent(client, LOGIN_PATH, page, IDENTIFIER)
    assert refused.status_code == 400 and "Neue Fassung." in text(refused)
    assert count(AppleAccessToken) == 0
    token = access_token(consent(client, LOGIN_PATH, refused, IDENTIFIER))
    assert enrollment_request(client, REQUEST_PATH, token).status_code == 200
    assert db.session.scalar(select(Consent.notice_version)) == 2


def test_the_consent_needs_a_login_of_moments_ago(
    client: FlaskClient, owner: User, byod_token: dict[str, Any]
) -> None:
    page = client.get(LOGIN_PATH, query_string={"user-identifier": IDENTIFIER})
    fields = {**form_fields(text(page)), "step": "consent", "accept": "yes", "notice_version": "1"}
    skipped = client.post(LOGIN_PATH, query_string={"user-identifier": IDENTIFIER}, data=fields)
    assert skipped.status_code == 401 and "noch einmal an" in text(skipped)
    # A password change between login and consent ends the login.
    page = logged_in(client)
    owner.login_generation += 1
    db.session.commit()
    assert consent(client, LOGIN_PATH, page, IDENTIFIER).status_code == 401
    assert count(AppleAccessToken) == 0


def test_the_login_form_needs_its_csrf_token(
    client: FlaskClient, owner: User, byod_token: dict[str, Any]
) -> None:
    client.get(LOGIN_PATH, query_string={"user-identifier": IDENTIFIER})
    forged = client.post(
        LOGIN_PATH,
        query_string={"user-identifier": IDENTIFIER},
        data={"step": "login", "username": "mia", "password": PASSWORD},
    )
    assert forged.status_code == 400
    assert count(AppleAccessToken) == 0


def test_logins_are_rate_limited(
    client: FlaskClient, owner: User, byod_token: dict[str, Any], app: Flask
) -> None:
    limit = int(app.config["LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS"])
    for _ in range(limit):
        assert logged_in(client, password="wrong-password").status_code == 401
    limited = logged_in(client)
    assert limited.status_code == 429 and "Retry-After" in limited.headers
    assert count(AppleAccessToken) == 0


# --- the access token -------------------------------------------------------------------------


def test_an_access_token_buys_one_profile(
    client: FlaskClient, owner: User, byod_token: dict[str, Any]
) -> None:
    token = new_access_token(client)
    assert enrollment_request(client, REQUEST_PATH, token).status_code == 200
    again = enrollment_request(client, REQUEST_PATH, token)
    assert again.status_code == 401 and again.headers["WWW-Authenticate"] == CHALLENGE
    assert count(Device) == 1 and count(Consent) == 1 and token_uses(byod_token) == 1


def age_access_tokens(seconds: float) -> None:
    """Let `seconds` pass for the access tokens handed out (the service's wall clock is not the
    test's: the tokens' times move back instead)."""
    passed = timedelta(seconds=seconds)
    for row in db.session.scalars(select(AppleAccessToken)):
        row.created_at -= passed
        row.expires_at -= passed
    db.session.commit()


def test_an_access_token_expires_after_its_lifetime(
    client: FlaskClient, owner: User, byod_token: dict[str, Any], app: Flask
) -> None:
    lifetime = int(app.config["APPLE_ACCOUNT_TOKEN_SECONDS"])
    token = new_access_token(client)
    age_access_tokens(lifetime + 1)
    refused = enrollment_request(client, REQUEST_PATH, token)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == CHALLENGE
    assert count(Device) == 0 and token_uses(byod_token) == 0
    assert db.session.scalar(select(AppleAccessToken.used_at)) is None
    # A token a minute before the end of its lifetime still buys its profile.
    fresh = new_access_token(client)
    age_access_tokens(lifetime - 60)
    assert enrollment_request(client, REQUEST_PATH, fresh).status_code == 200


def test_a_new_login_forgets_the_owners_expired_access_tokens(
    client: FlaskClient, owner: User, byod_token: dict[str, Any]
) -> None:
    first = new_access_token(client)
    second = new_access_token(client)
    assert count(AppleAccessToken) == 2
    age_access_tokens(60)
    db.session.execute(
        update(AppleAccessToken)
        .where(AppleAccessToken.token_hash == access_token_hash(first))
        .values(expires_at=utcnow())
    )
    db.session.commit()
    new_access_token(client)
    hashes = set(db.session.scalars(select(AppleAccessToken.token_hash)))
    assert access_token_hash(first) not in hashes and access_token_hash(second) in hashes


def test_a_used_up_enrollment_token_refuses_the_profile_and_changes_nothing(
    client: FlaskClient, owner: User, byod_token: dict[str, Any]
) -> None:
    token = new_access_token(client)
    db.session.execute(
        update(EnrollmentToken)
        .where(EnrollmentToken.id == byod_token["token"]["id"])
        .values(uses=30)
    )
    db.session.commit()
    assert enrollment_request(client, REQUEST_PATH, token).status_code == 401
    assert count(Device) == 0 and db.session.scalar(select(AppleAccessToken.used_at)) is None


def test_a_deactivated_owner_gets_no_profile(
    client: FlaskClient, owner: User, byod_token: dict[str, Any]
) -> None:
    token = new_access_token(client)
    owner.active = False
    db.session.commit()
    assert enrollment_request(client, REQUEST_PATH, token).status_code == 401
    assert count(Device) == 0


# --- check-ins by EnrollmentID ----------------------------------------------------------------


@pytest.fixture
def iphone(client: FlaskClient, owner: User, byod_token: dict[str, Any]) -> PersonalIPhone:
    """A personal iPhone that fetched its profile and got its identity (pending)."""
    return enroll_personal_iphone(client, IDENTIFIER, "mia", PASSWORD)


def test_a_user_enrollment_never_speaks_with_a_udid(iphone: PersonalIPhone) -> None:
    with_udid = iphone.check_in(
        {
            "MessageType": "Authenticate",
            "UDID": "663b07bb783e9ade1dae4fbb92ea12afc0ce5b69",
            "Topic": iphone.topic,
            "SerialNumber": "DMPXK0AAJF8J",
        }
    )
    assert with_udid.status_code == 401 and "EnrollmentID" in with_udid.get_json()["detail"]
    db.session.expire_all()
    assert db.session.get(Device, iphone.device_id).status == "pending"  # type: ignore[union-attr]
    assert db.session.get(AppleDevice, iphone.device_id).udid is None  # type: ignore[union-attr]

    assert iphone.authenticate().status_code == 200
    for message in (
        {"MessageType": "TokenUpdate", "UDID": "663b07bb783e9ade1dae4fbb92ea12afc0ce5b69"},
        {"Status": "Idle", "UDID": "663b07bb783e9ade1dae4fbb92ea12afc0ce5b69"},
    ):
        path = iphone.check_in if "MessageType" in message else iphone.connect
        assert path({**message, "Topic": iphone.topic}).status_code == 401
    both = iphone.result("Idle", UDID="663b07bb783e9ade1dae4fbb92ea12afc0ce5b69")
    assert both.status_code == 400


def test_another_enrollment_id_is_refused(iphone: PersonalIPhone) -> None:
    assert iphone.authenticate().status_code == 200
    other = PersonalIPhone(
        iphone.client, iphone.key, iphone.cert, iphone.profile, enrollment_id="OTHER-ID"
    )
    assert other.authenticate().status_code == 401
    assert other.result("Idle").status_code == 401
    assert other.token_update().status_code == 401
    db.session.expire_all()
    assert db.session.get(AppleDevice, iphone.device_id).enrollment_id == ENROLLMENT_ID  # type: ignore[union-attr]
    assert db.session.get(PushAddress, iphone.device_id) is None


def test_an_enrollment_id_of_another_enrollment_is_refused(
    client: FlaskClient, iphone: PersonalIPhone
) -> None:
    assert iphone.authenticate().status_code == 200
    second = enroll_personal_iphone(client, IDENTIFIER, "mia", PASSWORD)
    assert second.authenticate().status_code == 401
    db.session.expire_all()
    assert db.session.get(Device, second.device_id).status == "pending"  # type: ignore[union-attr]


def test_before_authenticate_nothing_else_is_taken(iphone: PersonalIPhone) -> None:
    assert iphone.token_update().status_code == 401
    assert iphone.result("Idle").status_code == 401


def test_the_user_channel_stays_declined(iphone: PersonalIPhone) -> None:
    assert iphone.authenticate().status_code == 200
    user_channel = iphone.result("Idle", EnrollmentUserID="user-1")
    assert user_channel.status_code == 410


def test_check_out_retires_the_personal_iphone(iphone: PersonalIPhone) -> None:
    assert iphone.authenticate().status_code == 200
    out = iphone.check_in(
        {"MessageType": "CheckOut", "EnrollmentID": ENROLLMENT_ID, "Topic": iphone.topic}
    )
    assert out.status_code == 200
    db.session.expire_all()
    assert db.session.get(Device, iphone.device_id).status == "retired"  # type: ignore[union-attr]


@needs_samples
def test_the_captured_ios18_messages_after_the_enrollment(
    client: FlaskClient, owner: User, byod_token: dict[str, Any], school: School
) -> None:
    """The real iOS 18 messages (unsigned when captured: signed here with the identity the
    enrollment gave), once the enrollment has bound their EnrollmentID and push topic."""
    db.session.execute(
        update(PushSettings)
        .where(PushSettings.school_id == school.id)
        .values(apns_topic="com.apple.mgmt.External.XXXXX")
    )
    db.session.commit()
    iphone = enroll_personal_iphone(client, IDENTIFIER, "mia", PASSWORD)
    authenticate = sample("fleet_byod_user_enrollment_Authenticate_iOS18.plist")
    assert iphone.check_in(authenticate).status_code == 200
    update_message = sample("fleet_byod_user_enrollment_TokenUpdate_iOS18.plist")
    assert iphone.check_in(update_message).status_code == 200
    idle = sample("fleet_byod_user_enrollment_connect_Idle_iOS18.plist")
    asked = answer(iphone.connect(idle))
    assert asked is not None and asked["Command"]["RequestType"] == "DeviceInformation"
    db.session.expire_all()
    apple = db.session.get(AppleDevice, iphone.device_id)
    device = db.session.get(Device, iphone.device_id)
    assert apple is not None and device is not None
    assert apple.enrollment_id == plistlib.loads(authenticate)["EnrollmentID"]
    assert device.status == "enrolled" and device.model == "iPhone12,1"
    assert device.os_version == "18.2.1" and device.serial_number is None
    assert device.name == "iPhone" and device.platform == "ios"
    address = db.session.get(PushAddress, device.id)
    assert address is not None and address.push_magic == "7B8A04B0-E9B8-4BB3-8A85-4FD5FA1F70E9"


def test_a_personal_iphone_gets_as_declarations_only_what_user_enrollment_allows(
    client: FlaskClient,
    owner: User,
    byod_token: dict[str, Any],
    headers: Callable[[User], dict[str, str]],
    make_policy: Callable[..., dict[str, Any]],
) -> None:
    make_policy(
        {
            "passcode": {"required": True, "min_length": 8, "complexity": "alphanumeric"},
            "restrictions": {"allow_camera": False, "allow_screenshots": False},
            "wifi": [{"ssid": "Schul-WLAN", "security": "wpa2", "password": "geheim123"}],
        },
        assign={"target": "school"},
    )
    iphone = enroll_personal_iphone(client, IDENTIFIER, "mia", PASSWORD)
    assert iphone.authenticate().status_code == 200
    assert iphone.token_update().status_code == 200
    step = answer(iphone.result("Idle"))
    assert step is not None and step["Command"]["RequestType"] == "DeviceInformation"
    # Only the queries User Enrollment answers: no UDID, serial number, IMEI or addresses.
    assert not {"UDID", "SerialNumber", "IMEI", "MEID", "WiFiMAC", "PhoneNumber"} & set(
        step["Command"]["Queries"]
    )
    step = answer(
        iphone.result("Acknowledged", step["CommandUUID"], QueryResponses={"OSVersion": "18.2.1"})
    )
    assert step is not None and step["Command"]["ManagedAppsOnly"] is True
    step = answer(iphone.result("Acknowledged", step["CommandUUID"], InstalledApplicationList=[]))
    assert step is not None
    step = answer(iphone.result("Acknowledged", step["CommandUUID"], ProfileList=[]))
    assert step is not None and step["Command"]["RequestType"] == "DeclarativeManagement"
    report = iphone.sync(step)
    assert answer(iphone.result("Acknowledged", step["CommandUUID"])) is None

    kinds = {item["Type"]: item for item in iphone.declarations.values()}
    # The passcode only as required (User Enrollment enforces no more); no restriction of the
    # whole device; the school's Wi-Fi as a profile of the managed part.
    assert kinds["com.apple.configuration.passcode.settings"]["Payload"] == {
        "RequirePasscode": True
    }
    [profile] = iphone.legacy_profiles.values()
    assert [payload["PayloadType"] for payload in profile["PayloadContent"]] == [
        "com.apple.wifi.managed"
    ]
    # Not subscribed to hardware identifiers; the status report settles the policy.
    assert "serial-number" not in str(report) and "udid" not in str(report)
    db.session.expire_all()
    device = db.session.get(Device, iphone.device_id)
    assert device is not None and device.serial_number is None
    assert device.inventory["OSVersion"] == "18.2.1"
    assert policies.compliance_of(db.session.get(DevicePolicyState, device.id)) == "compliant"
    mine = client.get("/api/v1/me/devices", headers=headers(owner)).get_json()
    assert mine[0]["device"]["id"] == iphone.device_id
