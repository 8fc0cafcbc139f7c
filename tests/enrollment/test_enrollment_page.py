"""The enrollment page: German by default, English on request, instructions for the token's
platform, and only what the service does today (no app installs, locks or erases; no agent
app that does not exist; the BYOD limits as mdm/devices/byod.py enforces them)."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from enrollment import page
from enrollment.models import EnrollmentToken
from mdm.accounts.models import School
from mdm.devices import byod
from mdm.devices.inventory_rules import INVENTORY_CATEGORIES
from mdm.devices.models import PLATFORMS
from mdm.extensions import db
from mdm.platform.types import utcnow
from mdm.push.models import PushSettings

PROTOCOL = "/docs/agent-protocol"
# What the page promised before: app installs, restrictions, lock and erase, an agent app.
OLD_PROMISES = (
    "installs and removes apps",
    "sets restrictions",
    "can lock or erase it",
    "the school's agent app",
    "Install the school's agent app",
)


def facts(**changes: Any) -> page.TokenFacts:
    values: dict[str, Any] = {
        "school": "Gymnasium A",
        "ownership": "school",
        "user_role": "student",
        "platform": None,
        "classes": [],
        "groups": [],
        "notice_version": None,
        "check_in_minutes": 15,
        "kept_categories": [],
        "dropped_categories": list(INVENTORY_CATEGORIES),
    }
    return page.TokenFacts(**{**values, **changes})


def words(described: page.EnrollmentPage) -> str:
    """Every text of the page, one string."""
    parts = [described.title, *described.summary]
    for section in (described.what, described.notice, described.how):
        if section is not None:
            parts += [section.heading, *section.paragraphs, *section.items, *section.closing]
            parts += [text for _url, text in section.links]
    return "\n".join(parts)


@pytest.mark.parametrize("lang", page.LANGUAGES)
@pytest.mark.parametrize("platform", [None, *PLATFORMS])
@pytest.mark.parametrize("ownership", ["school", "byod"])
def test_every_page_promises_nothing_the_service_does_not_do(
    lang: str, platform: str | None, ownership: str
) -> None:
    role = "teacher" if ownership == "byod" else "student"
    described = page.describe(
        lang,
        facts(platform=platform, ownership=ownership, user_role=role, notice_version=1),
        PROTOCOL,
    )
    text = words(described)
    for promise in OLD_PROMISES:
        assert promise not in text
    if platform in page.APPLE_PLATFORMS:
        # Apple devices enroll by profile (not before the school has its push certificate),
        # personal iPhones and iPads from Settings (User Enrollment), never through agent
        # software, and never with the link's code.
        assert described.how.links == [] and not described.can_enroll
        return
    assert (PROTOCOL, page.TEXTS[lang]["protocol_link"]) in described.how.links
    assert described.can_enroll
    if ownership == "school":
        assert page.TEXTS[lang]["school_manages"] in text


def test_an_ipad_token_leads_to_the_profile_once_the_school_has_its_push_certificate() -> None:
    german = page.describe("de", facts(platform="ipados"), PROTOCOL, "/enroll/s/apple.mobileconfig")
    text = words(german)
    assert "Plattform: iPad (iPadOS)." in text
    assert "Push-Zertifikat" in text and "noch nicht eingerichtet" in text
    assert german.how.links == []  # no profile link that could only fail
    ready = page.describe(
        "en", facts(platform="ipados", apple_ready=True), PROTOCOL, "/enroll/s/apple.mobileconfig"
    )
    assert ready.how.numbered and ready.how.items[1] == page.TEXTS["en"]["apple_step_load"]
    assert ready.how.links == [("/enroll/s/apple.mobileconfig", page.TEXTS["en"]["profile_link"])]
    assert "Agent-Software auf dem Gerät installieren" not in words(ready)
    personal = words(
        page.describe(
            "en",
            facts(platform="ios", ownership="byod", notice_version=1, apple_ready=True),
            PROTOCOL,
        )
    )
    assert "Sign In to Work or School Account" in personal
    assert "does not enroll personal iPhones" not in personal


@pytest.mark.parametrize("lang", page.LANGUAGES)
@pytest.mark.parametrize("platform", ["ios", "ipados"])
def test_a_personal_iphone_or_ipad_is_told_to_enroll_from_settings(
    lang: str, platform: str
) -> None:
    t = page.TEXTS[lang]
    described = page.describe(
        lang,
        facts(platform=platform, ownership="byod", notice_version=4, apple_ready=True),
        PROTOCOL,
    )
    assert described.how.numbered and described.how.items[0] == t["apple_byod_step_settings"]
    assert t["apple_byod_step_login"].format(version=4) in described.how.items
    assert described.how.links == [] and not described.can_enroll  # the link's code is not used
    assert described.notice is not None and "4" in described.notice.heading
    settings = "VPN und Geräteverwaltung" if lang == "de" else "VPN & Device Management"
    assert settings in words(described)


def test_a_personal_apple_device_is_not_told_what_cannot_work() -> None:
    mac = page.describe(
        "en",
        facts(platform="macos", ownership="byod", notice_version=1, apple_ready=True),
        PROTOCOL,
    )
    assert mac.how.paragraphs == [page.TEXTS["en"]["apple_byod_mac"]] and mac.notice is None
    no_push = page.describe(
        "en", facts(platform="ios", ownership="byod", notice_version=1), PROTOCOL
    )
    assert no_push.how.paragraphs == [page.TEXTS["en"]["apple_not_ready"]]
    no_notice = page.describe(
        "de", facts(platform="ios", ownership="byod", apple_ready=True), PROTOCOL
    )
    assert no_notice.how.paragraphs == [page.TEXTS["de"]["no_notice"]] and no_notice.notice is None
    agents = page.describe(
        "en", facts(ownership="byod", notice_version=1, apple_ready=True), PROTOCOL
    )
    assert page.TEXTS["en"]["apple_byod_other"] in agents.how.closing


def test_the_page_of_a_personal_iphone_token_shows_the_notice_and_the_settings_steps(
    client: FlaskClient,
    make_token: Callable[..., dict[str, Any]],
    notice: dict[str, Any],
    school: School,
) -> None:
    db.session.add(PushSettings(school_id=school.id, apns_topic="com.apple.mgmt.External.x"))
    db.session.commit()
    secret = make_token(ownership="byod", platform="ios")["secret"]
    html = client.get(f"/enroll/{secret}", query_string={"lang": "en"}).get_data(as_text=True)
    assert "Sign In to Work or School Account" in html and notice["text"] in html
    assert "does not enroll personal iPhones" not in html and "<img" not in html


def test_an_android_token_lists_the_agent_steps_and_what_an_agent_speaks() -> None:
    described = page.describe("de", facts(platform="android"), PROTOCOL)
    assert described.how.numbered
    assert described.how.items == [page.TEXTS["de"]["step_open"], page.TEXTS["de"]["step_code"]]
    text = words(described)
    assert "JSON-Agent-Protokoll (Version 1)" in text and "POST /api/agent/v1/enroll" in text
    assert "Der Dienst bringt selbst noch keine solche App mit" in text
    assert "Apple" not in text


def test_a_token_for_any_platform_also_tells_apple_users() -> None:
    text = words(page.describe("en", facts(platform=None), PROTOCOL))
    assert "Devices of every platform can use it." in text
    assert "Apple's device management (MDM) is not set up for this school yet" in text
    ready = page.describe("en", facts(platform=None, apple_ready=True), PROTOCOL, "/p")
    assert "load the profile (link below)" in words(ready)
    assert ("/p", page.TEXTS["en"]["profile_link"]) in ready.how.links


def test_a_byod_page_says_what_the_school_stores_and_may_never_do() -> None:
    described = page.describe(
        "de",
        facts(ownership="byod", user_role="teacher", platform="android", notice_version=3),
        PROTOCOL,
    )
    text = words(described)
    assert "als Gerät einer Lehrkraft" in text
    assert "Nie gespeichert werden: Seriennummer, IMEI" in text
    assert "Standort und Ihre eigenen Apps" in text
    assert "nie löschen, sperren, orten" in text
    assert "GET /api/v1/me/devices" in text and "remove-management" in text
    assert described.notice is not None and "Version 3" in described.notice.heading
    assert "dem Datenschutzhinweis (Version 3) zustimmen" in "\n".join(described.how.items)


def test_the_byod_words_match_the_byod_rules() -> None:
    """What the page says is never stored is dropped, and what it says may never be done is
    refused (mdm/devices/byod.py)."""
    for key in ("serial_number", "imei", "wifi_mac", "bluetooth_mac", "phone_number"):
        assert byod.filter_inventory("byod", {key: "x"})[0] == {}
    assert byod.filter_inventory("byod", {"location": {"lat": 1}, "installed_apps": ["x"]})[0] == {}
    kept = {"os_version": "14", "battery": {"level": 80}, "locale": "de", "encrypted": True}
    assert byod.filter_inventory("byod", {**kept, "last_boot": "x"})[0] == {
        **kept,
        "last_boot": "x",
    }
    for command in ("erase", "lock", "device_location", "clear_passcode"):
        assert not byod.command_allowed("byod", command)


def test_a_byod_token_without_a_privacy_notice_cannot_enroll() -> None:
    described = page.describe("en", facts(ownership="byod", user_role="student"), PROTOCOL)
    assert not described.can_enroll and described.notice is None
    assert "has not published a privacy notice yet" in words(described)


def test_the_page_is_german_by_default_and_english_on_request(
    client: FlaskClient, make_token: Callable[..., dict[str, Any]]
) -> None:
    secret = make_token(platform="android")["secret"]
    german = client.get(f"/enroll/{secret}")
    assert german.status_code == 200 and german.headers["Content-Language"] == "de"
    html = german.get_data(as_text=True)
    assert '<html lang="de">' in html and "Gerät bei Gymnasium A einschreiben" in html
    assert f'href="{PROTOCOL}"' in html and f"<code>{secret}</code>" in html
    assert f'src="/enroll/{secret}/qr.svg"' in html and "<main>" in html
    assert german.headers["Cache-Control"] == "no-store"
    english = client.get(f"/enroll/{secret}", headers={"Accept-Language": "en-US,en;q=0.8"})
    assert "Enroll a device at Gymnasium A" in english.get_data(as_text=True)
    assert "Enroll a device" in client.get(f"/enroll/{secret}?lang=en").get_data(as_text=True)


def test_the_page_shows_when_the_link_ends_in_the_schools_time(
    client: FlaskClient, make_token: Callable[..., dict[str, Any]]
) -> None:
    ends = (utcnow() + timedelta(days=100)).replace(hour=22, minute=30, second=0, microsecond=0)
    issued = make_token(max_uses=30, expires_at=ends.isoformat())
    html = client.get(f"/enroll/{issued['secret']}").get_data(as_text=True)
    local = ends.astimezone(ZoneInfo("Europe/Berlin"))
    assert local.hour in (23, 0)  # the next day in summer time
    shown = local.strftime("%d.%m.%Y, %H:%M")
    assert f"bis {shown} (Europe/Berlin), für noch 30 von 30 Einschreibungen" in html


def test_the_page_of_a_byod_token_shows_the_notice(
    client: FlaskClient, make_token: Callable[..., dict[str, Any]], notice: dict[str, Any]
) -> None:
    html = client.get(f"/enroll/{make_token(ownership='byod')['secret']}").get_data(as_text=True)
    assert "Datenschutzhinweis (Version 1)" in html and notice["text"] in html


@pytest.mark.parametrize(
    ("state", "status", "german"),
    [
        ("revoked", 410, "Diesen Einschreibelink hat die Schule zurückgezogen."),
        ("expired", 410, "Dieser Einschreibelink ist abgelaufen."),
        ("exhausted", 410, "schon so viele Geräte eingeschrieben, wie er erlaubt"),
        ("unknown", 404, "Diesen Einschreibelink kennt der Dienst nicht."),
    ],
)
def test_a_link_that_cannot_be_used_says_why_in_german(
    client: FlaskClient,
    make_token: Callable[..., dict[str, Any]],
    state: str,
    status: int,
    german: str,
) -> None:
    issued = make_token()
    secret = issued["secret"]
    token = update(EnrollmentToken).where(EnrollmentToken.id == issued["token"]["id"])
    if state == "revoked":
        db.session.execute(token.values(revoked_at=utcnow()))
    elif state == "expired":
        db.session.execute(token.values(expires_at=utcnow() - timedelta(seconds=1)))
    elif state == "exhausted":
        db.session.execute(token.values(uses=EnrollmentToken.max_uses))
    else:
        secret = "et_" + "x" * 43
    answer = client.get(f"/enroll/{secret}")
    assert answer.status_code == status and answer.mimetype == "text/html"
    html = answer.get_data(as_text=True)
    assert german in html and "Einschreibung nicht möglich" in html
    assert "Bitten Sie die IT Ihrer Schule um einen neuen Einschreibelink." in html
    assert "<img" not in html and secret not in html


def test_too_many_guesses_are_429_with_retry_after(client: FlaskClient, app: Any) -> None:
    app.config["ENROLLMENT_TOKEN_FAILURES_PER_ADDRESS"] = 1
    client.get("/enroll/et_" + "x" * 43)
    answer = client.get("/enroll/et_" + "y" * 43, headers={"Accept-Language": "en"})
    assert answer.status_code == 429 and answer.headers["Retry-After"]
    assert "Too many unknown enrollment links" in answer.get_data(as_text=True)


def test_the_agent_protocol_is_a_page_of_the_service(client: FlaskClient) -> None:
    answer = client.get(PROTOCOL)
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    html = answer.get_data(as_text=True)
    assert "<h1>JSON agent protocol, version 1</h1>" in html and "<table>" in html
    assert "Dieses Dokument gibt es nur auf Englisch." in html
    assert client.get("/docs/benchmarks").status_code == 404


def test_a_token_for_a_class_names_the_class_and_its_other_groups() -> None:
    german = words(page.describe("de", facts(classes=["7a"], groups=["Tablets"]), PROTOCOL))
    assert "Geräte dieses Links kommen in die Klasse 7a" in german
    assert "Es kommt in die Gruppen: Tablets." in german
    english = words(page.describe("en", facts(classes=["7a"]), PROTOCOL))
    assert "Devices enrolled with this link join class 7a" in english


def test_a_school_owned_page_says_what_the_inventory_policy_keeps() -> None:
    nothing = words(page.describe("de", facts(), PROTOCOL))
    assert (
        "Persönliche Angaben behält die Schule bei diesen Geräten nicht: nie gespeichert werden "
        "Standort, Telefonnummer, Liste aller installierten Apps, WLAN-Netz und IP-Adressen."
    ) in nothing
    some = facts(
        kept_categories=["phone_number", "installed_apps"],
        dropped_categories=["location", "network"],
    )
    assert (
        "the school keeps for these devices: phone number, the list of all installed apps. "
        "Never stored: location, Wi-Fi network and IP addresses."
    ) in words(page.describe("en", some, PROTOCOL))


@pytest.mark.parametrize(
    ("role", "kept"),
    [
        ("student", "Persönliche Angaben behält die Schule bei diesen Geräten nicht"),
        ("teacher", "behält die Schule bei diesen Geräten: Telefonnummer, Liste aller"),
    ],
)
def test_the_page_follows_the_schools_inventory_policy_by_the_tokens_role(
    client: FlaskClient, make_token: Callable[..., dict[str, Any]], role: str, kept: str
) -> None:
    html = client.get(f"/enroll/{make_token(user_role=role)['secret']}").get_data(as_text=True)
    assert kept in html


def test_what_the_byod_page_says_the_school_never_sends_the_merge_leaves_out() -> None:
    """The personal-device page's list is the BYOD rule of mdm/policies/merge.py."""
    from mdm.policies.merge import byod_reason

    text = words(page.describe("en", facts(ownership="byod", notice_version=1), PROTOCOL))
    assert "require a passcode, set up Wi-Fi networks, and install and remove" in text
    assert byod_reason("passcode.required", True) is None
    assert byod_reason("wifi[Schule]", {"ssid": "Schule"}) is None
    assert byod_reason("apps[de.schule.app]", "required") is None
    assert "Restrictions (such as of the camera), web filters, exam mode and blocking apps" in text
    for never in (
        ("restrictions.camera", False),
        ("web_filter.allow_listed_only", True),
        ("single_app", {"app": "x", "exam": True}),
        ("apps[com.example.game]", "blocked"),
    ):
        assert byod_reason(*never) is not None
