"""The entrance-hall screen speaks the school's language (a panel setting, German by default),
not the browser's; the setting is validated and audited."""

from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import select

from mdm.accounts.models import School, User
from mdm.extensions import db
from mdm.platform.models import AuditEvent
from schedules.models import PanelSettings

Headers = Callable[[User], dict[str, str]]
ENGLISH_BROWSER = {"Accept-Language": "en-GB,en;q=0.9"}
GERMAN_BROWSER = {"Accept-Language": "de-DE,de;q=0.9"}


def settings_url(school: School) -> str:
    return f"/api/v1/schools/{school.id}/panel/settings"


def panel_link(client: FlaskClient, school: School, admin_headers: dict[str, str]) -> str:
    answer = client.post(f"/api/v1/schools/{school.id}/panel/link", headers=admin_headers)
    return answer.get_json()["secret"]


def test_the_screen_is_german_by_default_whatever_the_browser(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    secret = panel_link(client, school, headers(school_admin))
    screen = client.get(f"/panel/{secret}?screen=1", headers=ENGLISH_BROWSER)
    assert '<html lang="de">' in screen.get_data(as_text=True)
    assert screen.headers["Content-Language"] == "de"
    # The link page without screen mode is read on people's own phones: their language.
    page = client.get(f"/panel/{secret}", headers=ENGLISH_BROWSER)
    assert '<html lang="en">' in page.get_data(as_text=True)


def test_the_school_sets_english_and_the_screen_speaks_it(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    secret = panel_link(client, school, headers(school_admin))
    answer = client.patch(
        settings_url(school), json={"screen_language": "en"}, headers=headers(school_admin)
    )
    assert answer.status_code == 200
    assert answer.get_json()["screen_language"] == "en"
    assert answer.get_json()["hide_teachers_from_students"] is False  # left as it was
    assert db.session.get(PanelSettings, school.id).screen_language == "en"
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "panel.settings.update")
    )
    assert event.details == {"screen_language": "en"}

    screen = client.get(f"/panel/{secret}?screen=1", headers=GERMAN_BROWSER)
    html = screen.get_data(as_text=True)
    assert '<html lang="en">' in html and "<title>Substitution plan</title>" in html
    got = client.get(settings_url(school), headers=headers(school_admin)).get_json()
    assert got["screen_language"] == "en"


def test_a_language_the_screen_does_not_speak_is_a_400_naming_the_field(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    for value in ("fr", "", "DE", 1, None):
        answer = client.patch(
            settings_url(school), json={"screen_language": value}, headers=headers(school_admin)
        )
        assert answer.status_code == 400, value
        assert answer.mimetype == "application/problem+json"
        assert "screen_language" in answer.get_json()["errors"]
    nothing = client.patch(settings_url(school), json={}, headers=headers(school_admin))
    assert nothing.status_code == 400 and nothing.mimetype == "application/problem+json"
    assert db.session.get(PanelSettings, school.id) is None  # nothing was stored


def test_only_the_schools_admins_set_it(
    client: FlaskClient, school: School, teacher: User, headers: Headers
) -> None:
    answer = client.patch(
        settings_url(school), json={"screen_language": "en"}, headers=headers(teacher)
    )
    assert answer.status_code == 403
