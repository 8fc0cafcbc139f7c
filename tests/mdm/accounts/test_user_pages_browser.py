"""The users' pages in headless Chromium as a school admin uses them: import the class list by
keyboard alone (preview, apply), print the initial passwords (the PDF downloads), reset a
password after confirming, find the events in the audit log; the city creates a school. Every
page passes axe-core; screenshots for docs/admin/."""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mdm.accounts.models import School, User
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

CLASS_LIST = "Vorname;Nachname;Klasse\nLena;Schmidt;7a\nJonas;Weiß;7a\nÖzlem;Yılmaz;7a\n"


def heading(driver: Any) -> str:
    return driver.find_element(By.TAG_NAME, "h1").text


def wait_for_heading(driver: Any, text: str) -> None:
    wait(driver, 10).until(lambda d: heading(d) == text)


def test_a_school_admin_imports_a_class_and_prints_its_passwords_by_keyboard(
    server: str,
    browser: Callable[..., Any],
    school_admin: User,
    tmp_path: Path,
) -> None:
    csv = tmp_path / "7a.csv"
    csv.write_text(CLASS_LIST, encoding="utf-8")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = browser(1280, 900)
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    browser_log_in(driver, server, "admin-a", PASSWORD)
    wait(driver, 10).until(ec.url_to_be(f"{server}/admin"))
    screenshot(driver, "dashboard-school")
    tab_to(driver, "Benutzer")
    keys(driver, Keys.ENTER)
    wait_for_heading(driver, "Benutzerinnen und Benutzer")
    found = {"/admin/users": accessibility_violations(driver)}
    screenshot(driver, "users")
    tab_to(driver, "Aus CSV-Datei importieren")
    keys(driver, Keys.ENTER)
    wait_for_heading(driver, "Benutzer importieren")
    found["/admin/users/import"] = accessibility_violations(driver)
    screenshot(driver, "users-import")
    tab_to(driver, "f-file").send_keys(str(csv))  # a file dialog is the browser's, not ours
    tab_to(driver, "Vorschau anzeigen")
    keys(driver, Keys.ENTER)
    wait(driver, 10).until(ec.presence_of_element_located((By.ID, "preview")))
    preview = driver.find_element(By.CSS_SELECTOR, "table.preview").text
    assert "jonas.weiss" in preview and "oezlem.yilmaz" in preview
    found["import preview"] = accessibility_violations(driver)
    screenshot(driver, "users-import-preview")
    tab_to(driver, "Import ausführen")
    keys(driver, Keys.ENTER)
    wait_for_heading(driver, "Neue Passwörter")
    assert (
        "Import ausgeführt: 3 neu, 0 geändert." in driver.find_element(By.CLASS_NAME, "flash").text
    )
    found["new passwords"] = accessibility_violations(driver)
    tab_to(driver, "Zettel als PDF herunterladen")
    keys(driver, Keys.ENTER)
    deadline = time.monotonic() + 10
    while not list(downloads.glob("*.pdf")) and time.monotonic() < deadline:
        time.sleep(0.1)
    pdfs = list(downloads.glob("*.pdf"))
    assert [p.name for p in pdfs] == ["passwoerter-7a.pdf"]
    assert pdfs[0].read_bytes().startswith(b"%PDF")
    assert {path: v for path, v in found.items() if v} == {}
    assert console_errors(driver) == []


def test_a_password_reset_is_confirmed_and_found_in_the_audit_log(
    server: str,
    browser: Callable[..., Any],
    school_admin: User,
    create_user: Callable[..., User],
    school: School,
) -> None:
    student = create_user(
        "student",
        school,
        username="lena.schmidt",
        first_name="Lena",
        last_name="Schmidt",
        class_name="7a",
    )
    driver = browser(360, 740)
    browser_log_in(driver, server, "admin-a", PASSWORD)
    wait(driver, 10).until(ec.url_to_be(f"{server}/admin"))
    driver.get(f"{server}/admin/users?q=lena")
    driver.find_element(By.LINK_TEXT, "Lena Schmidt").click()
    wait_for_heading(driver, "Benutzer Lena Schmidt")
    found = {"user": accessibility_violations(driver)}
    screenshot(driver, "user")
    tab_to(driver, "Passwort zurücksetzen")
    keys(driver, Keys.ENTER)
    wait_for_heading(driver, "Bitte bestätigen")
    found["confirm"] = accessibility_violations(driver)
    screenshot(driver, "confirm")
    tab_to(driver, "Passwort zurücksetzen")
    keys(driver, Keys.ENTER)
    wait_for_heading(driver, "Neue Passwörter")
    driver.get(f"{server}/admin/users/{student.id}")
    driver.find_element(By.LINK_TEXT, "Ereignisse im Protokoll").click()
    wait_for_heading(driver, "Protokoll")
    assert "user.password_reset" in driver.find_element(By.CSS_SELECTOR, "table.audit").text
    found["audit"] = accessibility_violations(driver)
    screenshot(driver, "audit")
    driver.get(f"{server}/admin/classes")
    found["classes"] = accessibility_violations(driver)
    screenshot(driver, "classes")
    assert {path: v for path, v in found.items() if v} == {}
    assert console_errors(driver) == []


def test_the_city_creates_a_school_and_its_admin(
    server: str, browser: Callable[..., Any], it_admin: User
) -> None:
    driver = browser(1280, 900, languages="en-GB,en")
    browser_log_in(driver, server, "city-it", PASSWORD)
    wait(driver, 10).until(ec.url_to_be(f"{server}/admin"))
    driver.find_element(By.LINK_TEXT, "Schools").click()
    wait_for_heading(driver, "Schools")
    found = {"schools": accessibility_violations(driver)}
    screenshot(driver, "schools")
    tab_to(driver, "f-name")
    keys(driver, "Gesamtschule Süd", Keys.TAB, "gesamtschule-sued")
    tab_to(driver, "Create")
    keys(driver, Keys.ENTER)
    wait_for_heading(driver, "School Gesamtschule Süd")
    found["school"] = accessibility_violations(driver)
    driver.find_element(By.ID, "f-username").send_keys("admin.sued", Keys.ENTER)
    wait_for_heading(driver, "New passwords")
    driver.back()
    driver.get(driver.current_url)
    driver.find_element(By.LINK_TEXT, "Privacy notices").click()
    driver.find_element(By.ID, "f-text").send_keys("We keep the device's name and model.")
    driver.find_element(By.CSS_SELECTOR, "form button.primary").click()
    wait(driver, 10).until(
        lambda d: "Version 1 is published." in d.find_element(By.CLASS_NAME, "flash").text
    )
    found["notices"] = accessibility_violations(driver)
    assert {path: v for path, v in found.items() if v} == {}
    assert console_errors(driver) == []
