"""The enrollment page in headless Chromium with no internet: German for a German browser,
English for an English one, the QR code shown, the agent protocol one tap away."""

from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures.browser import HAVE_CHROMIUM, console_errors

pytestmark = [
    pytest.mark.browser,
    pytest.mark.committing,  # the live server's threads have connections of their own
    pytest.mark.skipif(not HAVE_CHROMIUM, reason="needs Debian's chromium"),
]
pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


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
    WebDriverWait(driver, 10).until(ec.url_to_be(f"{server}/docs/agent-protocol"))
    assert driver.find_element(By.TAG_NAME, "h1").text == "JSON agent protocol, version 1"


def test_an_english_browser_reads_it_in_english(
    server: str, browser: Callable[..., Any], make_token: Callable[..., dict[str, Any]]
) -> None:
    secret = make_token(platform="ipados")["secret"]
    driver = browser(1024, 768, languages="en-GB,en")
    driver.get(f"{server}/enroll/{secret}")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Enroll a device at Gymnasium A"
    assert "This service does not offer it yet" in driver.find_element(By.TAG_NAME, "main").text
    assert console_errors(driver) == []
