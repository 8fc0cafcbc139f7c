"""The timetable pages in headless Chromium: an admin uploads this morning's export, reads the
preview and applies it with the keyboard, opens the import's report and undoes it; every page
passes axe-core."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from mdm.accounts.models import User
from mdm.extensions import db
from schedules import models
from tests.conftest import PASSWORD
from tests.fixtures.admin_browser import browser_log_in, keys, screenshot, tab_to
from tests.fixtures.browser import HAVE_CHROMIUM, accessibility_violations, console_errors, wait
from tests.schedules.import_fixtures import base_files

pytestmark = [
    pytest.mark.browser,
    pytest.mark.committing,
    pytest.mark.skipif(not HAVE_CHROMIUM, reason="needs Debian's chromium"),
]
pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402


def test_an_admin_imports_this_mornings_plan_and_undoes_it(
    server: str, browser: Callable[..., Any], school_admin: User, tmp_path: Path
) -> None:
    paths = []
    for name, data in base_files().items():
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(str(path))
    driver = browser(1280, 900)
    browser_log_in(driver, server, "admin-a", PASSWORD)
    wait(driver, 10).until(ec.url_to_be(f"{server}/admin"))
    driver.get(f"{server}/admin/timetable")
    found = {"timetable": accessibility_violations(driver)}
    screenshot(driver, "timetable")

    # Choosing files is the file dialog's business; the rest is done by keyboard.
    driver.find_element(By.ID, "f-files").send_keys("\n".join(paths))
    tab_to(driver, "Vorschau")
    keys(driver, Keys.ENTER)
    wait(driver, 10).until(
        ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Vorschau des Imports")
    )
    assert "2026-11-23" in driver.find_element(By.TAG_NAME, "main").text
    found["preview"] = accessibility_violations(driver)
    screenshot(driver, "timetable-preview")
    tab_to(driver, "Übernehmen")
    keys(driver, Keys.ENTER)
    wait(driver, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".flash.ok")))
    assert "Planversion 1" in driver.find_element(By.CSS_SELECTOR, ".flash.ok").text
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(models.Substitution)) == 3
    found["applied"] = accessibility_violations(driver)

    tab_to(driver, "Bericht")
    keys(driver, Keys.ENTER)
    wait(driver, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, "dl.facts")))
    assert "GPU014.TXT" in driver.find_element(By.TAG_NAME, "main").text
    found["report"] = accessibility_violations(driver)
    driver.back()
    tab_to(driver, "Rückgängig machen")
    keys(driver, Keys.ENTER)
    wait(driver, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, "form.confirm")))
    found["confirm"] = accessibility_violations(driver)
    tab_to(driver, "Rückgängig machen")
    keys(driver, Keys.ENTER)
    wait(driver, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".flash.ok")))
    assert "rückgängig gemacht" in driver.find_element(By.CSS_SELECTOR, ".flash.ok").text
    assert {page: v for page, v in found.items() if v} == {}
    assert console_errors(driver) == []
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(models.Substitution)) == 0


def test_files_dropped_onto_the_upload_field_are_taken(
    server: str, browser: Callable[..., Any], school_admin: User
) -> None:
    driver = browser(1280, 900)
    browser_log_in(driver, server, "admin-a", PASSWORD)
    wait(driver, 10).until(ec.url_to_be(f"{server}/admin"))
    driver.get(f"{server}/admin/timetable")
    # What a browser does when files are dropped: a drop event carrying them.
    taken = driver.execute_script(
        """
        const files = new DataTransfer();
        files.items.add(new File(["1,\\"5a\\""], "GPU003.TXT", {type: "text/plain"}));
        files.items.add(new File(["x"], "GPU014.TXT", {type: "text/plain"}));
        const zone = document.querySelector("[data-drop]");
        const drop = {dataTransfer: files, bubbles: true, cancelable: true};
        zone.dispatchEvent(new DragEvent("drop", drop));
        return Array.from(document.getElementById("f-files").files).map((file) => file.name);
        """
    )
    assert taken == ["GPU003.TXT", "GPU014.TXT"]
    assert console_errors(driver) == []
