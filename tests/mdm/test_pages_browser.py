"""The service's own pages in headless Chromium, with no internet: the start page, the API docs,
the agent protocol; all of them pass axe-core."""

from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures.browser import HAVE_CHROMIUM, accessibility_violations, console_errors, wait

pytestmark = [
    pytest.mark.browser,
    pytest.mark.committing,  # the live server's threads have connections of their own
    pytest.mark.skipif(not HAVE_CHROMIUM, reason="needs Debian's chromium"),
]
pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402


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
    wait(driver, 15).until(
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
    wait(driver, 10).until(ec.url_to_be(f"{server}/panel"))
    assert console_errors(driver) == []


@pytest.mark.parametrize("languages", ["de-DE,de", "en-GB,en"])
def test_the_start_page_and_the_agent_protocol_pass_axe(
    server: str, browser: Callable[..., Any], languages: str
) -> None:
    driver = browser(360, 740, languages=languages)
    found = {}
    for path in ("/", "/docs/agent-protocol"):
        driver.get(f"{server}{path}")
        found[path] = accessibility_violations(driver)
    assert {path: v for path, v in found.items() if v} == {}


# Swagger UI's own markup, which this service does not write and cannot change from outside:
# each operation's summary is a button with buttons inside (nested-interactive), its first tag
# heading skips a level (heading-order), its title block sits outside the <main> it renders for
# the operations (region); an open operation has two elements of one id
# (duplicate-id-active), and "Try it out" an unlabelled body field (label). Everything else on
# the page is checked: every operation closed but one, which is open, then tried out.
SWAGGER_UIS_OWN = ("nested-interactive", "heading-order", "region", "duplicate-id-active", "label")


def test_the_api_docs_pass_axe_but_for_swagger_uis_own_markup(
    server: str, browser: Callable[..., Any]
) -> None:
    driver = browser(1280, 900)
    driver.get(f"{server}/api/docs")
    wait(driver, 15).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, ".opblock-summary-path"))
    )
    found = {}
    driver.find_element(
        By.CSS_SELECTOR, "#operations-platform-post_api_v1_auth_login button"
    ).click()
    wait(driver, 10).until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".try-out__btn")))
    found["an operation open"] = accessibility_violations(driver, skip=SWAGGER_UIS_OWN)
    driver.find_element(By.CSS_SELECTOR, ".try-out__btn").click()
    wait(driver, 10).until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".execute")))
    found["trying it out"] = accessibility_violations(driver, skip=SWAGGER_UIS_OWN)
    assert {state: v for state, v in found.items() if v} == {}
