"""The enrollment pages in headless Chromium: an admin makes the tokens of a trolley of iPads
with the keyboard alone and downloads its printable QR sheet; every page passes axe-core."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

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


def _downloaded(driver: Any, folder: Path) -> Path:
    """The file the browser downloaded into `folder` (waited for, as a person waits)."""
    found = wait(driver, 10).until(lambda _: sorted(folder.glob("*.pdf")))
    return found[0]


def test_an_admin_enrolls_a_trolley_and_prints_its_qr_sheet(
    server: str, browser: Callable[..., Any], school_admin: User, tmp_path: Path
) -> None:
    driver = browser(1280, 900)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    browser_log_in(driver, server, "admin-a", PASSWORD)
    wait(driver, 10).until(ec.url_to_be(f"{server}/admin"))
    driver.get(f"{server}/admin/enrollment")
    found = {"list": accessibility_violations(driver)}
    screenshot(driver, "enrollment")

    tab_to(driver, "purpose-class")
    keys(driver, Keys.ARROW_DOWN, Keys.ARROW_DOWN, Keys.ARROW_DOWN)  # the trolley
    assert driver.find_element(By.ID, "purpose-trolley").is_selected()
    tab_to(driver, "f-platform")
    keys(driver, "iPad")  # picks "iPad (iPadOS)" in the select
    tab_to(driver, "f-trolley")
    keys(driver, "Koffer 3")
    tab_to(driver, "f-slots")
    keys(driver, Keys.CONTROL, "a", Keys.NULL, "20")
    tab_to(driver, "Anlegen")
    keys(driver, Keys.ENTER)
    wait(driver, 10).until(
        ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), "20 Einschreibe-Codes")
    )
    found["created"] = accessibility_violations(driver)
    screenshot(driver, "enrollment-created")
    tab_to(driver, "PDF")
    keys(driver, Keys.ENTER)
    sheet = PdfReader(str(_downloaded(driver, downloads)))
    text = "\n".join(page.extract_text() for page in sheet.pages)
    assert "Koffer 3 – iPad 1" in text and "Koffer 3 – iPad 20" in text
    assert "iPad (iPadOS)" in text

    driver.find_element(By.LINK_TEXT, "Koffer 3 – iPad 12").click()
    wait(driver, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, "dl.facts")))
    found["detail"] = accessibility_violations(driver)
    tab_to(driver, "Zurückziehen")
    keys(driver, Keys.ENTER)
    wait(driver, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, "form.confirm")))
    found["confirm"] = accessibility_violations(driver)
    tab_to(driver, "Zurückziehen")
    keys(driver, Keys.ENTER)
    wait(driver, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".flash.ok")))
    assert "zurückgezogen" in driver.find_element(By.CSS_SELECTOR, "dl.facts").text
    assert {page: v for page, v in found.items() if v} == {}
    assert console_errors(driver) == []


def test_the_form_with_errors_passes_axe_in_english_on_a_phone(
    server: str, browser: Callable[..., Any], school_admin: User
) -> None:
    driver = browser(360, 740, languages="en-GB,en")
    browser_log_in(driver, server, "admin-a", PASSWORD)
    wait(driver, 10).until(ec.url_to_be(f"{server}/admin"))
    driver.get(f"{server}/admin/enrollment")
    assert console_errors(driver) == []
    driver.find_element(By.ID, "purpose-trolley").click()
    driver.find_element(By.ID, "f-slots").clear()
    driver.find_element(By.ID, "f-slots").send_keys("500")
    driver.find_element(By.ID, "f-slots").submit()
    wait(driver, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".error-summary")))
    assert accessibility_violations(driver) == []
