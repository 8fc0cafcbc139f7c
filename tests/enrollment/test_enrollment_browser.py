"""The enrollment page in headless Chromium with no internet: German for a German browser,
English for an English one, the QR code shown, the agent protocol one tap away; every variant
passes axe-core."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from enrollment.models import EnrollmentToken
from mdm.extensions import db
from mdm.platform.types import utcnow
from tests.fixtures.browser import HAVE_CHROMIUM, accessibility_violations, console_errors, wait

pytestmark = [
    pytest.mark.browser,
    pytest.mark.committing,  # the live server's threads have connections of their own
    pytest.mark.skipif(not HAVE_CHROMIUM, reason="needs Debian's chromium"),
]
pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402


def test_a_german_browser_reads_the_page_in_german_and_finds_the_protocol(
    server: str, browser: Callable[..., Any], make_token: Callable[..., dict[str, Any]]
) -> None:
    secret = make_token(platform="android")["secret"]
    driver = browser(360, 740)
    driver.get(f"{server}/enroll/{secret}")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Gerät bei Gymnasium A einschreiben"
    steps = driver.find_elements(By.CSS_SELECTOR, "main ol li")
    assert steps[0].text == "Agent-Software auf dem Gerät installieren und öffnen."
    qr = driver.find_element(By.CSS_SELECTOR, "img.qr")
    assert driver.execute_script("return arguments[0].naturalWidth", qr) > 0
    assert console_errors(driver) == []
    scrolls = "return document.documentElement.scrollWidth > window.innerWidth"
    assert not driver.execute_script(scrolls)

    driver.find_element(By.PARTIAL_LINK_TEXT, "Agent-Protokoll").click()
    wait(driver, 10).until(ec.url_to_be(f"{server}/docs/agent-protocol"))
    assert driver.find_element(By.TAG_NAME, "h1").text == "JSON agent protocol, version 1"


def test_an_english_browser_reads_it_in_english(
    server: str, browser: Callable[..., Any], make_token: Callable[..., dict[str, Any]]
) -> None:
    secret = make_token(platform="ipados")["secret"]
    driver = browser(1024, 768, languages="en-GB,en")
    driver.get(f"{server}/enroll/{secret}")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Enroll a device at Gymnasium A"
    main = driver.find_element(By.TAG_NAME, "main").text
    assert "Apple's device management (MDM) is not set up for this school yet" in main
    assert console_errors(driver) == []


def test_every_variant_of_the_page_passes_axe(
    server: str,
    browser: Callable[..., Any],
    make_token: Callable[..., dict[str, Any]],
    client: Any,
    headers: Callable[..., dict[str, str]],
    school_admin: Any,
) -> None:
    pages = {
        f"school-owned, {platform or 'any platform'}": make_token(platform=platform)["secret"]
        for platform in (None, "ipados", "ios", "macos", "android", "windows", "linux")
    }
    pages["personal, no privacy notice yet"] = make_token(ownership="byod")["secret"]
    client.post(
        "/api/v1/privacy-notices",
        json={"text": "Die Schule sieht nur ihre eigenen Apps.\nSonst nichts."},
        headers=headers(school_admin),
    )
    pages["personal, with the notice"] = make_token(ownership="byod", platform="android")["secret"]
    for state, change in {
        "used up": {"uses": EnrollmentToken.max_uses},
        "expired": {"expires_at": utcnow() - timedelta(seconds=1)},
        "revoked": {"revoked_at": utcnow()},
    }.items():
        issued = make_token()
        db.session.execute(
            update(EnrollmentToken)
            .where(EnrollmentToken.id == issued["token"]["id"])
            .values(change)
        )
        pages[state] = issued["secret"]
    db.session.commit()
    pages["unknown"] = "et_" + "x" * 43

    driver = browser(360, 740)
    found = {}
    for name, secret in pages.items():
        driver.get(f"{server}/enroll/{secret}")
        found[name] = accessibility_violations(driver)
    driver.get(f"{server}/enroll/{pages['personal, with the notice']}?lang=en")
    found["personal, in English"] = accessibility_violations(driver)
    assert {name: v for name, v in found.items() if v} == {}
