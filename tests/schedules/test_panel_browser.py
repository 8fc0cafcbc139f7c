"""The panel page in headless Chromium against a real server: log in, pick, see, reload, screen;
a 360-pixel phone; the screen's language; accessibility (axe-core) in light and dark."""

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from mdm.accounts.models import School, User
from mdm.extensions import db
from mdm.platform.actors import Actor
from mdm.platform.types import utcnow
from schedules import panel_service
from schedules.import_data import SUBSTITUTION, SUBSTITUTION_KINDS
from tests.conftest import PASSWORD
from tests.fixtures.browser import (
    HAVE_CHROMIUM,
    accessibility_violations,
    prefer_dark,
    wait,
)
from tests.schedules.panel_factories import (
    bump_plan,
    change,
    school_days_from_today,
    seed_plan,
)

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "panel-screenshot.png"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.committing,  # the live server's threads have connections of their own
    pytest.mark.skipif(not HAVE_CHROMIUM, reason="needs Debian's chromium"),
]
pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402


def screenshot_wanted() -> bool:
    """MDM_WRITE_SCREENSHOT=1 asks the test to write docs/panel-screenshot.png."""
    return os.environ.get("MDM_WRITE_SCREENSHOT") == "1"


def plan_text(driver: WebDriver) -> str:
    wait(driver).until(ec.presence_of_element_located((By.CSS_SELECTOR, "#plan .entry")))
    return driver.find_element(By.ID, "plan").text


def test_a_student_logs_in_picks_7a_and_sees_its_plan(
    server: str,
    school: School,
    create_user: Callable[..., User],
    browser: Callable[[int, int], WebDriver],
) -> None:
    seed_plan(school.id)
    create_user("student", school, username="anna", first_name="Anna", class_name="7a")
    driver = browser(390, 844)
    driver.get(f"{server}/panel")
    wait(driver).until(ec.visibility_of_element_located((By.ID, "username")))
    assert driver.find_element(By.TAG_NAME, "h1").text == "Vertretungsplan"
    driver.find_element(By.ID, "username").send_keys("anna")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()

    wait(driver).until(ec.visibility_of_element_located((By.ID, "pick-class")))
    wait(driver).until(
        lambda d: d.execute_script("return document.getElementById('pick-class').value") == "7a"
    )
    driver.find_element(By.CSS_SELECTOR, "#picker button[type=submit]").click()

    text = plan_text(driver)
    assert "Mathe fällt aus" in text  # 7a's cancellation today
    assert "Entfall" in text  # the type in words, not by colour alone
    assert "Raumänderung" in text and "R999" in text  # 7a's room change on the next day
    assert "Aufgaben im Buch" not in text  # 5b's substitution
    assert "Biologie entfällt" not in text  # 5b's cancellation
    assert "Heute Schulkonzert in der Aula" in text
    assert "Klasse 7a" in driver.find_element(By.ID, "selection-label").text
    assert driver.find_element(By.ID, "updated").text.startswith("Stand: ")
    cancelled = driver.find_element(By.CSS_SELECTOR, "#plan .entry.k-red")
    assert "Entfall" in cancelled.text

    driver.refresh()
    text = plan_text(driver)
    assert "Mathe fällt aus" in text and "Aufgaben im Buch" not in text
    assert not driver.find_element(By.ID, "picker").is_displayed()
    assert not driver.find_element(By.ID, "login").is_displayed()

    if screenshot_wanted():
        driver.execute_script("window.scrollTo(0, 0)")
        SCREENSHOT.parent.mkdir(exist_ok=True)
        driver.save_screenshot(str(SCREENSHOT))


def test_the_entrance_hall_screen_shows_every_class_page_by_page(
    server: str,
    school: School,
    browser: Callable[[int, int], WebDriver],
) -> None:
    first, _second = seed_plan(school.id)
    for period in range(1, 5):
        for number, cls in enumerate(("6a", "6b", "8a", "8b", "9a", "9b", "10a", "10b")):
            change(
                school.id,
                f"extra-{period}-{cls}",
                first,
                SUBSTITUTION,
                period,
                original_subject="PH",
                original_teachers=["ALT"],
                original_classes=[cls],
                new_teachers=["NEU"],
                new_rooms=[f"R{300 + number}"],
                text="Vertretung",
            )
    db.session.commit()
    bump_plan(school.id)
    secret = panel_service.issue_panel_link(db.session, Actor.system("test"), school.id)
    db.session.commit()

    driver = browser(1280, 720)
    driver.get(f"{server}/panel/{secret}?screen=1")
    plan_text(driver)
    assert "screen" in driver.find_element(By.TAG_NAME, "body").get_attribute("class")
    assert not driver.find_element(By.ID, "login").is_displayed()
    wait(driver).until(lambda d: d.find_element(By.ID, "pager").text.startswith("Seite 1/"))
    visible = [e for e in driver.find_elements(By.CSS_SELECTOR, ".entry") if e.is_displayed()]
    hidden = [e for e in driver.find_elements(By.CSS_SELECTOR, ".entry") if not e.is_displayed()]
    assert visible and hidden
    assert "5b" in visible[0].text  # everything, ordered by class: 5b's change comes first
    assert "Mathe fällt aus" in driver.find_element(By.ID, "plan").get_attribute("textContent")
    assert visible[-1].location["y"] + visible[-1].size["height"] <= 720
    driver.execute_script("showPage(pageIndex = 1)")
    assert driver.find_element(By.ID, "pager").text.startswith("Seite 2/")


def overflowing(driver: WebDriver) -> list[str]:
    """Elements of the header that reach past the viewport's right edge, and whether the page
    scrolls sideways."""
    return driver.execute_script(
        """
        const width = document.documentElement.clientWidth;
        const wide = Array.from(document.querySelectorAll("header, header *"))
          .filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > width + 0.5)
          .map((e) => e.id || e.className || e.tagName);
        if (document.documentElement.scrollWidth > width) wide.push("page scrolls sideways");
        return wide;
        """
    )


@pytest.mark.parametrize("languages", ["de-DE,de", "en-GB,en"])
def test_the_header_fits_a_360_pixel_phone(
    server: str,
    school: School,
    create_user: Callable[..., User],
    browser: Callable[..., WebDriver],
    languages: str,
) -> None:
    seed_plan(school.id)
    create_user("student", school, username="mats", first_name="Mats", class_name="5b")
    driver = browser(360, 740, languages=languages)
    driver.get(f"{server}/panel")
    wait(driver).until(ec.visibility_of_element_located((By.ID, "username")))
    assert overflowing(driver) == []
    driver.find_element(By.ID, "username").send_keys("mats")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()
    wait(driver).until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#course-list input")))
    for box in driver.find_elements(By.CSS_SELECTOR, "#course-list input"):
        box.click()
    driver.find_element(By.CSS_SELECTOR, "#picker button[type=submit]").click()
    plan_text(driver)
    label = driver.find_element(By.ID, "selection-label").text
    assert "5b" in label and "REL-5" in label and "ETH-5" in label
    assert driver.find_element(By.ID, "change").is_displayed()
    assert overflowing(driver) == []


def test_the_entrance_hall_screen_speaks_the_schools_language_not_the_browsers(
    server: str, school: School, browser: Callable[..., WebDriver]
) -> None:
    seed_plan(school.id)
    db.session.commit()
    bump_plan(school.id)
    secret = panel_service.issue_panel_link(db.session, Actor.system("test"), school.id)
    panel_service.update_settings(db.session, Actor.system("test"), school.id, screen_language="en")
    db.session.commit()

    driver = browser(1280, 720, languages="de-DE,de")
    driver.get(f"{server}/panel/{secret}?screen=1")
    text = plan_text(driver)
    assert driver.find_element(By.TAG_NAME, "h1").text == "Substitution plan"
    assert text.splitlines()[0] == "Today" and "Cancelled" in text and "Entfall" not in text
    assert driver.find_element(By.ID, "updated").text.startswith("Updated: ")


def every_kind_of_change(school_id: int) -> None:
    """Today, one change of every kind (every colour of the panel) for 7a, one marked new."""
    first, _second = school_days_from_today(2)
    for number, kind in enumerate(sorted(SUBSTITUTION_KINDS)):
        change(
            school_id,
            f"kind-{kind}",
            first,
            kind,
            1 + number % 4,
            original_subject="D",
            original_teachers=["SCH"],
            original_rooms=["R101"],
            original_classes=["7a"],
            new_subject="E",
            new_teachers=["BAU"],
            new_rooms=["R102"],
            new_classes=["7a"],
            text=f"{kind} text",
            changed_at=utcnow(),
        )
    db.session.commit()
    bump_plan(school_id)


def log_in(driver: WebDriver, server: str, username: str) -> None:
    driver.get(f"{server}/panel")
    wait(driver).until(ec.visibility_of_element_located((By.ID, "username")))
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_state_of_the_panel_passes_axe(
    server: str,
    school: School,
    create_user: Callable[..., User],
    browser: Callable[..., WebDriver],
    scheme: str,
) -> None:
    teacher = create_user("teacher", school, username="sch", last_name="Schmidt")
    seed_plan(school.id, teacher_user_id=teacher.id)
    every_kind_of_change(school.id)
    create_user("student", school, username="anna", first_name="Anna", class_name="7a")
    secret = panel_service.issue_panel_link(db.session, Actor.system("test"), school.id)
    db.session.commit()
    found: dict[str, list[str]] = {}

    driver = browser(390, 844)
    if scheme == "dark":
        prefer_dark(driver)
    log_in(driver, server, "nobody")  # logged out, with the failed login's message
    wait(driver).until(ec.visibility_of_element_located((By.ID, "login-error")))
    found["logged out"] = accessibility_violations(driver)
    driver.find_element(By.ID, "username").clear()
    log_in(driver, server, "anna")
    wait(driver).until(ec.visibility_of_element_located((By.ID, "pick-class")))
    found["student's picker"] = accessibility_violations(driver)
    driver.find_element(By.CSS_SELECTOR, "#picker button[type=submit]").click()
    plan_text(driver)
    found["student's plan"] = accessibility_violations(driver)
    driver.find_element(By.ID, "logout").click()

    log_in(driver, server, "sch")
    wait(driver).until(ec.visibility_of_element_located((By.ID, "mine")))
    found["teacher's picker"] = accessibility_violations(driver)
    driver.find_element(By.ID, "mine").click()
    plan_text(driver)
    found["teacher's plan"] = accessibility_violations(driver)

    screen = browser(1280, 720)
    if scheme == "dark":
        prefer_dark(screen)
    screen.get(f"{server}/panel/{secret}?screen=1")
    plan_text(screen)
    pages = screen.execute_script("return pages.length")
    for number in range(pages):  # each page of the screen shows other changes
        screen.execute_script(f"showPage(pageIndex = {number})")
        found[f"entrance-hall screen, page {number + 1}"] = accessibility_violations(screen)
    screen.get(f"{server}/panel/{secret}")
    plan_text(screen)
    found["read-only link"] = accessibility_violations(screen)
    screen.get(f"{server}/panel/pl_nope")
    found["unknown link"] = accessibility_violations(screen)

    assert {page: v for page, v in found.items() if v} == {}
