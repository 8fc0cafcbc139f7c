"""The login page of account-driven User Enrollment in headless Chromium, as the web view of a
personal iPhone shows it: by keyboard alone from the login to the consent, German for a German
phone and English for an English one, both steps clean under axe-core; the consent hands the
device a one-time access token."""

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from enrollment.models import AppleAccessToken, Consent
from mdm.accounts.models import School, User
from mdm.extensions import db
from tests.conftest import PASSWORD
from tests.fixtures.browser import HAVE_CHROMIUM, accessibility_violations, console_errors, wait

pytestmark = [
    pytest.mark.browser,
    pytest.mark.committing,  # the live server's threads have connections of their own
    pytest.mark.skipif(not HAVE_CHROMIUM, reason="needs Debian's chromium"),
]
pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402

IDENTIFIER = "mia.schmidt@schule.example"
PATH = "/enroll/apple-account/login"


@pytest.fixture
def owner(
    create_user: Callable[..., User],
    school: School,
    make_token: Callable[..., dict[str, Any]],
    push_topic: str,
    notice: dict[str, Any],
) -> User:
    """A student whose email is her Managed Apple Account; her school offers BYOD enrollment."""
    make_token(ownership="byod", user_role="student", max_uses=30)
    return create_user("student", school, username="mia", email=IDENTIFIER, class_name="7a")


def _type(driver: Any, text: str) -> None:
    """Type into the focused element, then Tab on, as a person with a keyboard does."""
    driver.switch_to.active_element.send_keys(text)
    driver.switch_to.active_element.send_keys(Keys.TAB)


def _focus_first_field(driver: Any) -> None:
    """Tab from the top of the page to the first form field."""
    body = driver.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    for _ in range(20):
        if driver.switch_to.active_element.get_attribute("id") == "username":
            return
        driver.switch_to.active_element.send_keys(Keys.TAB)
    raise AssertionError("the username field is not reachable by Tab")


def test_a_student_logs_in_and_consents_by_keyboard_on_a_german_phone(
    server: str, browser: Callable[..., Any], owner: User
) -> None:
    driver = browser(390, 844)
    driver.get(f"{server}{PATH}?user-identifier={IDENTIFIER}")
    assert driver.find_element(By.TAG_NAME, "h1").text
    assert "Anmelden" in driver.find_element(By.TAG_NAME, "main").text
    assert IDENTIFIER in driver.find_element(By.TAG_NAME, "main").text
    assert accessibility_violations(driver) == []
    assert not driver.execute_script(
        "return document.documentElement.scrollWidth > window.innerWidth"
    )

    _focus_first_field(driver)
    _type(driver, "mia")
    driver.switch_to.active_element.send_keys(PASSWORD, Keys.ENTER)
    wait(driver).until(ec.presence_of_element_located((By.NAME, "accept")))
    main = driver.find_element(By.TAG_NAME, "main").text
    assert "Datenschutzhinweis" in main
    assert accessibility_violations(driver) == []
    assert console_errors(driver) == []

    accept = driver.find_element(By.NAME, "accept")
    accept.send_keys(Keys.SPACE)
    assert accept.is_selected()
    accept.send_keys(Keys.TAB)
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    # The page hands over to Apple's URL scheme, which only the device's web view opens: the
    # access token is there, one-time and unused, and the consent waits for the profile.
    wait(driver).until(lambda _: _tokens(owner))
    [token] = _tokens(owner)
    assert token.used_at is None and token.notice_version == 1
    assert db.session.scalar(select(Consent).where(Consent.user_id == owner.id)) is None


def test_an_english_phone_reads_both_steps_in_english(
    server: str, browser: Callable[..., Any], owner: User
) -> None:
    driver = browser(390, 844, languages="en-GB,en")
    driver.get(f"{server}{PATH}?user-identifier={IDENTIFIER}")
    assert "Sign in" in driver.find_element(By.TAG_NAME, "main").text
    driver.find_element(By.ID, "username").send_keys("mia")
    driver.find_element(By.ID, "password").send_keys("wrong password", Keys.ENTER)
    wait(driver).until(ec.presence_of_element_located((By.CSS_SELECTOR, "[role=alert]")))
    assert accessibility_violations(driver) == []
    driver.find_element(By.ID, "password").send_keys(PASSWORD, Keys.ENTER)
    wait(driver).until(ec.presence_of_element_located((By.NAME, "accept")))
    main = driver.find_element(By.TAG_NAME, "main").text
    assert "privacy notice" in main.lower()
    assert "cannot" in main
    assert accessibility_violations(driver) == []
    assert _tokens(owner) == []


def _tokens(owner: User) -> list[AppleAccessToken]:
    db.session.expire_all()
    return list(
        db.session.scalars(select(AppleAccessToken).where(AppleAccessToken.user_id == owner.id))
    )
