"""Parallel enrollment requests with one access token, each on its own connection: one
profile, one device, one use of the enrollment token."""

import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from enrollment.apple_profile import signing_identity
from enrollment.models import AppleAccessToken, Consent, EnrollmentToken
from mdm.accounts.models import School, User
from mdm.devices.models import Device
from mdm.extensions import db
from tests.conftest import PASSWORD
from tests.mdm.apple.ipad import access_token, consent, enrollment_request, log_in

pytestmark = [pytest.mark.committing, pytest.mark.concurrency]
REQUESTS = 6
IDENTIFIER = "mia@schule.example"


def test_one_access_token_sent_at_once_gives_one_profile(
    app: Flask,
    create_user: Callable[..., User],
    school: School,
    make_token: Callable[..., dict[str, Any]],
    push_topic: str,
    notice: dict[str, Any],
) -> None:
    create_user("student", school, username="mia", email=IDENTIFIER, class_name="7a")
    token_id = make_token(ownership="byod", user_role="student", max_uses=30)["token"]["id"]
    browser = app.test_client()
    path = "/enroll/apple-account/login"
    page = log_in(browser, path, IDENTIFIER, "mia", PASSWORD)
    token = access_token(consent(browser, path, page, IDENTIFIER))
    signing_identity()  # made before the race (in development, once into the instance folder)
    db.session.remove()
    barrier = threading.Barrier(REQUESTS)
    statuses: list[int | BaseException | None] = [None] * REQUESTS

    def send(n: int) -> None:
        device = app.test_client()
        barrier.wait()
        try:
            statuses[n] = enrollment_request(device, "/apple/account-enrollment", token).status_code
        except BaseException as exc:  # reported below, by the test's thread
            statuses[n] = exc

    threads = [threading.Thread(target=send, args=(n,)) for n in range(REQUESTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200] + [401] * (REQUESTS - 1), statuses  # type: ignore[type-var]
    assert db.session.scalar(select(func.count()).select_from(Device)) == 1
    assert db.session.scalar(select(func.count()).select_from(Consent)) == 1
    assert db.session.get(EnrollmentToken, token_id).uses == 1  # type: ignore[union-attr]
    assert db.session.scalar(select(AppleAccessToken.device_id)) is not None


def test_one_login_consenting_at_once_makes_one_access_token(
    app: Flask,
    create_user: Callable[..., User],
    school: School,
    make_token: Callable[..., dict[str, Any]],
    push_topic: str,
    notice: dict[str, Any],
) -> None:
    create_user("student", school, username="mia", email=IDENTIFIER, class_name="7a")
    make_token(ownership="byod", user_role="student", max_uses=30)
    browser = app.test_client()
    path = "/enroll/apple-account/login"
    page = log_in(browser, path, IDENTIFIER, "mia", PASSWORD)
    cookie = browser.get_cookie("mdm_session")
    assert cookie is not None
    db.session.remove()
    barrier = threading.Barrier(REQUESTS)
    statuses: list[int | BaseException | None] = [None] * REQUESTS

    def send(n: int) -> None:
        # The same login's cookie, sent from several connections at once.
        copy = app.test_client()
        copy.set_cookie("mdm_session", cookie.value)
        barrier.wait()
        try:
            statuses[n] = consent(copy, path, page, IDENTIFIER).status_code
        except BaseException as exc:  # reported below, by the test's thread
            statuses[n] = exc

    threads = [threading.Thread(target=send, args=(n,)) for n in range(REQUESTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [303] + [401] * (REQUESTS - 1), statuses  # type: ignore[type-var]
    assert db.session.scalar(select(func.count()).select_from(AppleAccessToken)) == 1
