"""The policy pages in headless Chromium: an admin sets a policy's passcode section, previews
and saves it, and assigns the policy to a class with the keyboard alone; the policy's page, the
section forms, the diff and the previews pass axe-core."""

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from mdm.accounts.models import School, User
from mdm.devices.models import Device, Group
from mdm.extensions import db
from mdm.policies.models import PolicyAssignment
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


def test_an_admin_edits_a_policy_and_assigns_it_to_a_class_by_keyboard(
    server: str,
    browser: Callable[..., Any],
    school_admin: User,
    school: School,
    make_devices: Callable[..., list[dict[str, Any]]],
    make_policy: Callable[..., dict[str, Any]],
) -> None:
    answers = make_devices(4)
    group = Group(school_id=school.id, kind="class", name="7a", class_key="7a")
    db.session.add(group)
    db.session.flush()
    group.devices = [db.session.get(Device, answer["device_id"]) for answer in answers[:3]]
    db.session.commit()
    policy = make_policy({"restrictions": {"allow_camera": False}}, name="Unterricht 7a")
    driver = browser(1280, 900)
    browser_log_in(driver, server, "admin-a", PASSWORD)
    wait(driver, 10).until(ec.url_to_be(f"{server}/admin"))
    driver.get(f"{server}/admin/policies")
    found = {"list": accessibility_violations(driver)}
    screenshot(driver, "policies")

    for section in ("restrictions", "wifi", "apps", "web_filter", "single_app", "windows"):
        driver.get(f"{server}/admin/policies/{policy['id']}/sections/{section}")
        found[section] = accessibility_violations(driver)
    driver.get(f"{server}/admin/policies/{policy['id']}/sections/passcode")
    tab_to(driver, "f-passcode.required")
    keys(driver, "j")  # "ja"
    tab_to(driver, "f-passcode.min_length")
    keys(driver, "6")
    tab_to(driver, "preview")
    keys(driver, Keys.ENTER)
    wait(driver, 10).until(ec.presence_of_element_located((By.ID, "preview-heading")))
    assert (
        "erreicht 0 eingeschriebene Geräte" in driver.find_element(By.CSS_SELECTOR, ".preview").text
    )
    found["section preview"] = accessibility_violations(driver)
    screenshot(driver, "policy-section")
    tab_to(driver, "save")
    keys(driver, Keys.ENTER)
    wait(driver, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".flash.ok")))
    assert "Version 2" in driver.find_element(By.CSS_SELECTOR, ".flash.ok").text
    found["policy"] = accessibility_violations(driver)
    screenshot(driver, "policy")

    tab_to(driver, "target-group")  # the class is chosen already; its priority next
    tab_to(driver, "f-priority")
    keys(driver, Keys.CONTROL, "a", Keys.NULL, "300")
    tab_to(driver, "Vorschau")
    keys(driver, Keys.ENTER)
    wait(driver, 10).until(ec.presence_of_element_located((By.ID, "preview-heading")))
    assert (
        "erreicht 3 eingeschriebene Geräte" in driver.find_element(By.CSS_SELECTOR, ".preview").text
    )
    found["assign preview"] = accessibility_violations(driver)
    tab_to(driver, "Zuweisen")
    keys(driver, Keys.ENTER)
    wait(driver, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".flash.ok")))
    assert "Gruppe 7a" in driver.find_element(By.CSS_SELECTOR, ".flash.ok").text

    driver.get(f"{server}/admin/policies/{policy['id']}/diff?a=1&b=2")
    assert "Mindestlänge" in driver.find_element(By.TAG_NAME, "main").text
    found["diff"] = accessibility_violations(driver)
    driver.get(f"{server}/admin/devices/{answers[0]['device_id']}")
    assert (
        "Unterricht 7a" in driver.find_element(By.ID, "effective").find_element(By.XPATH, "..").text
    )
    found["device with policy"] = accessibility_violations(driver)
    assert {page: v for page, v in found.items() if v} == {}
    assert console_errors(driver) == []
    db.session.expire_all()
    assignment = db.session.scalar(select(PolicyAssignment))
    assert (assignment.group_id, assignment.priority) == (group.id, 300)
