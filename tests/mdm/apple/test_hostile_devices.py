"""What an attacker, a careless student or a broken device sends to the Apple endpoints of
User Enrollment and declarative management: each is refused with a reason (or answered as the
protocol says) and changes nothing; nothing it sends crashes the service."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from enrollment.models import AppleAccessToken
from mdm.accounts import service as accounts
from mdm.accounts.models import School, User
from mdm.apple.models import AppleDeclarativeState
from mdm.devices.models import Device
from mdm.extensions import db
from tests.conftest import PASSWORD
from tests.mdm.apple.ipad import (
    IPad,
    PersonalIPhone,
    access_token,
    answer,
    consent,
    enroll_personal_iphone,
    enrollment_request,
    form_fields,
    log_in,
    nest,
)

IDENTIFIER = "Mia.Schmidt@schule.example"
LOGIN_PATH = "/enroll/apple-account/login"
REQUEST_PATH = "/apple/account-enrollment"


@pytest.fixture
def owner(create_user: Callable[..., User], school: School) -> User:
    return create_user(
        "student", school, username="mia", email="mia.schmidt@schule.example", class_name="7a"
    )


@pytest.fixture
def byod_token(
    make_token: Callable[..., dict[str, Any]], push_topic: str, notice: dict[str, Any]
) -> dict[str, Any]:
    return make_token(ownership="byod", user_role="student", max_uses=30)


def _access_token(client: FlaskClient) -> str:
    page = log_in(client, LOGIN_PATH, IDENTIFIER, "mia", PASSWORD)
    return access_token(consent(client, LOGIN_PATH, page, IDENTIFIER))


def _devices() -> int:
    return db.session.scalar(select(func.count()).select_from(Device)) or 0


# --- the access token ------------------------------------------------------------------------


def test_a_password_change_ends_the_access_tokens_made_before_it(
    client: FlaskClient, owner: User, byod_token: dict[str, Any]
) -> None:
    token = _access_token(client)
    # The owner (or the school's IT, after the account was misused) changes the password: as
    # every login of before, the access token made then no longer buys a profile.
    accounts.set_password(owner, "ein-ganz-neues-Passwort-42")
    db.session.commit()
    refused = enrollment_request(client, REQUEST_PATH, token)
    assert refused.status_code == 401 and "WWW-Authenticate" in refused.headers
    assert _devices() == 0
    assert db.session.scalar(select(AppleAccessToken.used_at)) is None
    # A login with the new password makes a token that works.
    page = log_in(client, LOGIN_PATH, IDENTIFIER, "mia", "ein-ganz-neues-Passwort-42")
    fresh = access_token(consent(client, LOGIN_PATH, page, IDENTIFIER))
    assert enrollment_request(client, REQUEST_PATH, fresh).status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer \u00e4\u00f6\u00fc\u00ff",
        "Bearer " + "A" * 5000,
        "Bearer a b c",
        "Bearer\ttoken",
        "bearer",
        "Basic bWlhOnBhc3M=",
        "Bearer \x00",
    ],
)
def test_odd_authorization_headers_go_to_the_login_page(
    client: FlaskClient, byod_token: dict[str, Any], authorization: str
) -> None:
    response = client.post(
        REQUEST_PATH,
        data=b"\x30\x80",
        content_type="application/pkcs7-signature",
        headers={"Authorization": authorization},
    )
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.headers["WWW-Authenticate"].startswith('Bearer method="apple-as-web"')
    assert _devices() == 0


def test_the_first_of_several_authorization_headers_is_the_one_read(
    client: FlaskClient, owner: User, byod_token: dict[str, Any]
) -> None:
    token = _access_token(client)
    response = client.post(
        REQUEST_PATH,
        data=b"\x30\x80",
        content_type="application/pkcs7-signature",
        headers=[("Authorization", "Bearer forged"), ("Authorization", f"Bearer {token}")],
    )
    assert response.status_code == 401
    assert _devices() == 0


# --- declarative management -------------------------------------------------------------------


@pytest.fixture
def declarative_ipad(
    new_ipad: Callable[..., IPad], make_policy: Callable[..., dict[str, Any]]
) -> IPad:
    """A school iPad on iPadOS 17.5 that got its declarations (a legacy profile among them)."""
    make_policy(
        {
            "passcode": {"required": True},
            "wifi": [{"ssid": "Schul-WLAN", "security": "wpa2", "password": "geheim123"}],
        },
        assign={"target": "school"},
    )
    ipad = new_ipad()
    ipad.os_version = "17.5"
    assert ipad.authenticate().status_code == 200
    assert ipad.token_update().status_code == 200
    command = _inventory(ipad)
    assert command is not None and command["Command"]["RequestType"] == "DeclarativeManagement"
    ipad.sync(command)
    return ipad


def _inventory(ipad: IPad) -> dict[str, Any] | None:
    asked = answer(ipad.result("Idle"))
    assert asked is not None
    responses = {"OSVersion": ipad.os_version}
    apps = answer(ipad.result("Acknowledged", asked["CommandUUID"], QueryResponses=responses))
    assert apps is not None
    profiles = answer(ipad.result("Acknowledged", apps["CommandUUID"], InstalledApplicationList=[]))
    assert profiles is not None
    return answer(ipad.result("Acknowledged", profiles["CommandUUID"], ProfileList=[]))


def _status(ipad: IPad) -> dict[str, Any]:
    db.session.expire_all()
    state = db.session.get(AppleDeclarativeState, ipad.device_id)
    assert state is not None
    return state.status


@pytest.mark.parametrize(
    "data",
    [
        b'{"StatusItems": {"device": {"model": {"family": NaN}}}}',
        b'{"StatusItems": {"x": Infinity}}',
        b'{"StatusItems": {"x": [1, -Infinity]}}',
        b'{"StatusItems": {"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
        b'{"StatusItems": {"x": "\\u0000"}}',
        b'{"StatusItems": {"x": "\\ud800"}}',
        b'{"StatusItems": {}, "FullReport": true, "Errors": [{"StatusItem": "\\u0000"}]}',
    ],
)
def test_a_status_report_json_cannot_store_cannot_crash_and_changes_nothing(
    declarative_ipad: IPad, data: bytes
) -> None:
    before = _status(declarative_ipad)
    response = declarative_ipad.declarative("status", data)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert _status(declarative_ipad) == before


@pytest.mark.parametrize("mac", ["\u00e4" * 64, "\u00e4", "0" * 10_000])
def test_a_forged_legacy_profile_url_of_any_shape_is_not_found(
    declarative_ipad: IPad, client: FlaskClient, mac: str
) -> None:
    url = next(
        item["Payload"]["ProfileURL"]
        for item in declarative_ipad.declarations.values()
        if item["Type"] == "com.apple.configuration.legacy"
    )
    prefix, device_id, token, _mac = url.rsplit("/", 3)
    response = client.get(f"{prefix}/{device_id}/{token}/{mac}")
    assert response.status_code == 404


def test_a_status_report_of_a_personal_iphone_keeps_no_hardware_identifier(
    client: FlaskClient,
    owner: User,
    byod_token: dict[str, Any],
    make_policy: Callable[..., dict[str, Any]],
) -> None:
    make_policy({"passcode": {"required": True}}, assign={"target": "school"})
    iphone = enroll_personal_iphone(client, IDENTIFIER, "mia", PASSWORD)
    assert iphone.authenticate().status_code == 200
    assert iphone.token_update().status_code == 200
    command = _inventory(iphone)
    assert command is not None
    iphone.sync(command)
    # A device that reports more than it is subscribed to (a bug, a jailbreak, a tool).
    report = iphone.status_report()
    nest(report["StatusItems"], "device.identifier.serial-number", "F9FXL2ABCDEF")
    nest(report["StatusItems"], "device.identifier.udid", "00008030-001A2B3C4D5E6F70")
    nest(report["StatusItems"], "test.phone-number", "+49 170 1234567")
    response = iphone.declarative("status", json.dumps(report).encode())
    assert response.status_code == 200, response.get_data(as_text=True)
    kept = json.dumps(_status(iphone))
    for secret in ("F9FXL2ABCDEF", "00008030-001A2B3C4D5E6F70", "+49 170 1234567"):
        assert secret not in kept
    assert "management" in _status(iphone)
    device = db.session.get(Device, iphone.device_id)
    assert device is not None and device.serial_number is None
    assert "F9FXL2ABCDEF" not in json.dumps(device.inventory)


def test_a_personal_iphones_declarative_check_in_must_name_its_enrollment_id(
    client: FlaskClient,
    owner: User,
    byod_token: dict[str, Any],
    make_policy: Callable[..., dict[str, Any]],
) -> None:
    make_policy({"passcode": {"required": True}}, assign={"target": "school"})
    iphone = enroll_personal_iphone(client, IDENTIFIER, "mia", PASSWORD)
    assert iphone.authenticate().status_code == 200
    assert iphone.token_update().status_code == 200
    _inventory(iphone)
    assert iphone.declarative("tokens").status_code == 200
    stranger = PersonalIPhone(
        iphone.client, iphone.key, iphone.cert, iphone.profile, enrollment_id="SOMEONE-ELSE"
    )
    assert stranger.declarative("tokens").status_code == 401
    with_udid = iphone.declarative("tokens", UDID="00008030-001A2B3C4D5E6F70")
    assert with_udid.status_code in (400, 401)


def test_a_school_ipads_declarative_check_in_must_not_carry_an_enrollment_id(
    declarative_ipad: IPad, app: Flask
) -> None:
    response = declarative_ipad.declarative("tokens", EnrollmentID="SOMEONE-ELSE")
    assert response.status_code in (400, 401)


# --- the login page ---------------------------------------------------------------------------


def test_the_user_identifier_is_text_on_the_page_and_never_in_the_redirect(
    client: FlaskClient, owner: User, byod_token: dict[str, Any]
) -> None:
    hostile = '"><script>alert(1)</script><a href="https://evil.example/'
    page = client.get(LOGIN_PATH, query_string={"user-identifier": hostile})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<script>" not in html and 'href="https://evil.example' not in html
    assert "&lt;script&gt;" in html
    policy = page.headers["Content-Security-Policy"]
    assert "form-action 'self';" in policy and "script-src 'self'" in policy
    # Another account's identifier: the student's own login does not consent for it.
    refused = log_in(client, LOGIN_PATH, "lehrerin@schule.example", "mia", PASSWORD)
    assert refused.status_code == 403
    # The consent page may lead to Apple's URL scheme only; the token goes nowhere else.
    consent_page = log_in(client, LOGIN_PATH, IDENTIFIER, "mia", PASSWORD)
    assert "apple-remotemanagement-user-login:" in consent_page.headers["Content-Security-Policy"]
    done = consent(client, LOGIN_PATH, consent_page, IDENTIFIER)
    assert done.headers["Location"].startswith(
        "apple-remotemanagement-user-login://authentication-results?access-token="
    )
    assert "evil" not in done.headers["Location"]
    assert done.headers.get("Cache-Control") == "no-store", done.headers


def test_a_consent_for_another_identifier_than_the_login_needs_a_new_login(
    client: FlaskClient,
    owner: User,
    byod_token: dict[str, Any],
    create_user: Callable[..., User],
    school: School,
) -> None:
    create_user("student", school, username="ben", email="ben@schule.example", class_name="7a")
    page = log_in(client, LOGIN_PATH, IDENTIFIER, "mia", PASSWORD)
    fields = {
        **form_fields(page.get_data(as_text=True)),
        "accept": "yes",
        "user-identifier": "ben@schule.example",
    }
    response = client.post(
        LOGIN_PATH, query_string={"user-identifier": "ben@schule.example"}, data=fields
    )
    assert response.status_code == 401
    assert db.session.scalar(select(func.count()).select_from(AppleAccessToken)) == 0


def _declarative_personal_iphone(
    client: FlaskClient, make_policy: Callable[..., dict[str, Any]]
) -> PersonalIPhone:
    make_policy({"passcode": {"required": True}}, assign={"target": "school"})
    iphone = enroll_personal_iphone(client, IDENTIFIER, "mia", PASSWORD)
    assert iphone.authenticate().status_code == 200
    assert iphone.token_update().status_code == 200
    command = _inventory(iphone)
    assert command is not None
    iphone.sync(command)
    assert db.session.get(AppleDeclarativeState, iphone.device_id) is not None
    return iphone


def test_check_out_deletes_the_declarative_status_of_a_personal_iphone(
    client: FlaskClient,
    owner: User,
    byod_token: dict[str, Any],
    make_policy: Callable[..., dict[str, Any]],
) -> None:
    iphone = _declarative_personal_iphone(client, make_policy)
    checked_out = iphone.check_in(
        {"MessageType": "CheckOut", "EnrollmentID": iphone.enrollment_id, "Topic": iphone.topic}
    )
    assert checked_out.status_code == 200
    db.session.expire_all()
    assert db.session.get(AppleDeclarativeState, iphone.device_id) is None


def test_remove_management_deletes_the_declarative_status_of_a_personal_iphone(
    client: FlaskClient,
    owner: User,
    byod_token: dict[str, Any],
    make_policy: Callable[..., dict[str, Any]],
    headers: Callable[[User], dict[str, str]],
) -> None:
    iphone = _declarative_personal_iphone(client, make_policy)
    removed = client.post(
        f"/api/v1/me/devices/{iphone.device_id}/remove-management", headers=headers(owner)
    )
    assert removed.status_code == 204
    db.session.expire_all()
    assert db.session.get(AppleDeclarativeState, iphone.device_id) is None
    told = answer(iphone.result("Idle"))
    assert told is not None and told["CommandUUID"] == "remove-management"


@pytest.mark.parametrize("enrollment_id", ["X" * 10_000, 42, {"a": 1}, ["x"], "", b"bytes"])
def test_an_enrollment_id_of_absurd_length_or_type_is_refused(
    client: FlaskClient, owner: User, byod_token: dict[str, Any], enrollment_id: Any
) -> None:
    iphone = enroll_personal_iphone(client, IDENTIFIER, "mia", PASSWORD)
    response = iphone.check_in(
        {
            "MessageType": "Authenticate",
            "EnrollmentID": enrollment_id,
            "Topic": iphone.topic,
            "ProductName": "iPhone12,1",
        }
    )
    assert response.status_code == 400, response.get_data(as_text=True)
    db.session.expire_all()
    device = db.session.get(Device, iphone.device_id)
    assert device is not None and device.status == "pending"


def test_one_login_consents_once_even_with_its_old_cookie_sent_again(
    client: FlaskClient, owner: User, byod_token: dict[str, Any]
) -> None:
    page = log_in(client, LOGIN_PATH, IDENTIFIER, "mia", PASSWORD)
    cookie = client.get_cookie("mdm_session")
    assert cookie is not None
    first = consent(client, LOGIN_PATH, page, IDENTIFIER)
    assert first.status_code == 303
    # The page session is a signed cookie: the one of before the consent, sent again, still
    # names the pending login. It makes no second access token.
    client.set_cookie("mdm_session", cookie.value)
    again = consent(client, LOGIN_PATH, page, IDENTIFIER)
    assert again.status_code == 401
    assert db.session.scalar(select(func.count()).select_from(AppleAccessToken)) == 1
