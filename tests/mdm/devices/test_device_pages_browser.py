"""The device pages in headless Chromium: an admin finds a device by its serial number and
locks it with the keyboard alone; the list, the detail and the confirm page pass axe-core, at
phone and desktop width."""

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from mdm.accounts.models import User
from mdm.commands.models import Command
from mdm.devices.models import Device
from mdm.extensions import db
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


def test_an_admin_finds_a_device_and_locks_it_by_keyboard(
    server: str,
    browser: Callable[..., Any],
    school_admin: User,
    make_devices: Callable[..., list[dict[str, Any]]],
    make_policy: Callable[..., dict[str, Any]],
) -> None:
    answers = make_devices(12)
    lost = db.session.get(Device, answers[7]["device_id"])
    lost.name, lost.serial_number = "Tablet Bio 8", "R58N90ABCD"
    lost.inventory = {"battery": 64, "supervised": True}
    db.session.commit()
    make_policy({"passcode": {"required": True}}, assign={"target": "school"}, name="Code")
    driver = browser(1280, 900)
    browser_log_in(driver, server, "admin-a", PASSWORD)
    wait(driver, 10).until(ec.url_to_be(f"{server}/admin"))
    driver.get(f"{server}/admin/devices")
    found = {"list": accessibility_violations(driver)}
    screenshot(driver, "devices")

    tab_to(driver, "q")
    keys(driver, "r58n 90", Keys.ENTER)
    wait(driver, 10).until(ec.url_contains("q=r58n"))
    tab_to(driver, f"device-{lost.id}")
    keys(driver, Keys.ENTER)
    wait(driver, 10).until(ec.url_to_be(f"{server}/admin/devices/{lost.id}"))
    found["detail"] = accessibility_violations(driver)
    screenshot(driver, "device")
    tab_to(driver, "lock-message")
    keys(driver, "Bitte im Sekretariat abgeben")
    tab_to(driver, "Sperren")
    keys(driver, Keys.ENTER)
    wait(driver, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, "form.confirm")))
    assert "Tablet Bio 8" in driver.find_element(By.CSS_SELECTOR, ".question").text
    found["confirm"] = accessibility_violations(driver)
    tab_to(driver, "Sperren")
    keys(driver, Keys.ENTER)
    wait(driver, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".flash.ok")))
    assert "wartet auf 1 Gerät(e)" in driver.find_element(By.CSS_SELECTOR, ".flash.ok").text
    found["after"] = accessibility_violations(driver)
    assert {page: v for page, v in found.items() if v} == {}
    assert console_errors(driver) == []
    db.session.expire_all()
    command = db.session.scalar(select(Command))
    assert (command.device_id, command.type) == (lost.id, "lock")


def test_the_device_list_in_english_on_a_phone_passes_axe(
    server: str,
    browser: Callable[..., Any],
    school_admin: User,
    byod_device: dict[str, Any],
) -> None:
    driver = browser(360, 740, languages="en-GB,en")
    browser_log_in(driver, server, "admin-a", PASSWORD)
    wait(driver, 10).until(ec.url_to_be(f"{server}/admin"))
    driver.get(f"{server}/admin/devices")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Devices"
    violations = {"list": accessibility_violations(driver)}
    driver.get(f"{server}/admin/devices/{byod_device['device_id']}")
    assert "not allowed on a personal device" in driver.find_element(By.TAG_NAME, "main").text
    violations["byod detail"] = accessibility_violations(driver)
    assert {page: v for page, v in violations.items() if v} == {}
    assert console_errors(driver) == []
