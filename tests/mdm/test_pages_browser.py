"""The service's own pages in headless Chromium, with no internet: the start page, the API docs."""

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


def loaded_from(driver: Any) -> set[str]:
    """The origins of everything the page loaded."""
    return set(
        driver.execute_script(
            "return performance.getEntriesByType('resource').map((e) => new URL(e.name).origin)"
        )
    )


def test_the_api_docs_list_the_operations_without_internet(
    server: str, browser: Callable[..., Any]
) -> None:
    driver = browser(1280, 900)
    driver.get(f"{server}/api/docs")
    WebDriverWait(driver, 15).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, ".opblock-summary-path"))
    )
    paths = {e.text for e in driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert {"/api/v1/auth/login", "/api/agent/v1/checkin", "/api/v1/users"} <= {
        p.replace("\u200b", "") for p in paths
    }
    assert loaded_from(driver) == {server}
    assert console_errors(driver) == []


def test_the_start_page_leads_to_the_panel(server: str, browser: Callable[..., Any]) -> None:
    driver = browser(360, 740)
    driver.get(f"{server}/")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Schul-MDM"
    driver.find_element(By.LINK_TEXT, "Vertretungsplan").click()
    WebDriverWait(driver, 10).until(ec.url_to_be(f"{server}/panel"))
    assert console_errors(driver) == []
