"""The accounts' pages in headless Chromium: a login by keyboard only, the dashboard, one's
account, the 403 page; all pass axe-core, in German and English, at phone and desktop width."""

from collections.abc import Callable
from typing import Any

import pytest

from mdm.accounts.models import User
from tests.conftest import PASSWORD
from tests.fixtures.admin_browser import browser_log_in, keys, screenshot, tab_to
from tests.fixtures.browser import HAVE_CHROMIUM, accessibility_violations, console_errors, wait

pytestmark = [
    pytest.mark.browser,
    pytest.mark.committing,
    pytest.mark.skipif(not HAVE_CHROMIUM, reason="needs Debian's chromium"),
]
pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402


def test_an_admin_logs_in_by_keyboard_alone_and_logs_out(
    server: str, browser: Callable[..., Any], school_admin: User
) -> None:
    driver = browser(360, 740)
    driver.get(f"{server}/login")
    assert accessibility_violations(driver) == []
    screenshot(driver, "login")
    tab_to(driver, "f-username")
    keys(driver, "admin-a")
    tab_to(driver, "f-password")
    keys(driver, PASSWORD, Keys.ENTER)
    wait(driver, 10).until(ec.url_to_be(f"{server}/admin"))
    assert driver.find_element(By.TAG_NAME, "h1").text == "Übersicht: Gymnasium A"
    assert accessibility_violations(driver) == []
    tab_to(driver, "Abmelden")
    keys(driver, Keys.ENTER)
    wait(driver, 10).until(ec.url_to_be(f"{server}/login"))
    assert "Sie sind abgemeldet." in driver.find_element(By.CSS_SELECTOR, ".flash").text
    assert console_errors(driver) == []


@pytest.mark.parametrize("languages", ["de-DE,de", "en-GB,en"])
def test_the_city_dashboard_and_the_account_page_pass_axe(
    server: str,
    browser: Callable[..., Any],
    it_admin: User,
    create_school: Callable[..., Any],
    languages: str,
) -> None:
    for n in range(3):
        create_school(name=f"Grundschule {n}")
    driver = browser(1280, 900, languages=languages)
    browser_log_in(driver, server, "city-it", PASSWORD)
    wait(driver, 10).until(ec.url_to_be(f"{server}/admin"))
    found = {"/admin": accessibility_violations(driver)}
    if languages.startswith("de"):
        screenshot(driver, "dashboard-city")
    driver.get(f"{server}/account")
    found["/account"] = accessibility_violations(driver)
    assert console_errors(driver) == []
    driver.find_element(By.ID, "f-current_password").send_keys("wrong-password")
    driver.find_element(By.ID, "f-new_password").send_keys("short")
    driver.find_element(By.ID, "f-new_password").submit()
    assert driver.find_element(By.CSS_SELECTOR, ".error-summary").is_displayed()
    found["/account (errors)"] = accessibility_violations(driver)
    assert {path: v for path, v in found.items() if v} == {}


def test_a_teacher_lands_on_the_panel_logged_in_and_is_refused_the_admin_pages(
    server: str, browser: Callable[..., Any], teacher: User
) -> None:
    driver = browser(360, 740)
    browser_log_in(driver, server, "teacher-a", PASSWORD)
    wait(driver, 10).until(ec.url_to_be(f"{server}/panel"))
    # The panel took the login: it shows no login form of its own.
    wait(driver, 10).until(
        lambda d: (
            d.find_element(By.ID, "login").get_attribute("hidden") is not None
            and d.find_element(By.ID, "logout").is_displayed()
        )
    )
    assert console_errors(driver) == []
    driver.get(f"{server}/admin")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Kein Zugriff"
    assert accessibility_violations(driver) == []
