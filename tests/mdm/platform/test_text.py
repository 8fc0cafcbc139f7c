"""Text and times the database cannot hold are a 400 naming the field, on SQLite as on
PostgreSQL: never a 500, never stored."""

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from mdm.accounts.models import School, User
from mdm.devices.models import Device
from mdm.extensions import db
from mdm.platform.errors import ValidationFailed
from mdm.platform.text import find_unstorable, unstorable_reason
from tests.fixtures.devices import device_auth
from tests.mdm.platform.test_errors import assert_problem

SURROGATE = "\ud800"


def user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def test_reasons_for_nul_and_lone_surrogates_but_not_for_pairs() -> None:
    assert unstorable_reason("Lena\x00") and "NUL" in unstorable_reason("Lena\x00")
    assert "surrogate" in unstorable_reason("Lena" + SURROGATE)
    assert unstorable_reason("Schüler 😀 ß") is None
    found = find_unstorable({"apps": [{"name": "ok"}, {"name": "x\x00"}], "k\x00": 1}, "inventory")
    assert set(found) == {"inventory.apps.1.name", "inventory.k?"}


@pytest.mark.parametrize("bad", ["Lena\x00", "Lena" + SURROGATE])
def test_a_user_name_that_cannot_be_stored_is_400_naming_it(
    client: FlaskClient, school_admin: User, school: School, headers, bad: str
) -> None:
    before = user_count()
    response = client.post(
        "/api/v1/users",
        headers=headers(school_admin),
        json={"username": "new.user", "role": "student", "school_id": school.id, "last_name": bad},
    )
    body = assert_problem(response, 400)
    assert list(body["errors"]) == ["last_name"]
    assert user_count() == before


def test_a_surrogate_in_a_login_is_400_not_500(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/auth/login", json={"username": "a" + SURROGATE, "password": "x" * 8}
    )
    assert "username" in assert_problem(response, 400)["errors"]


def test_an_email_longer_than_an_address_can_be_is_400(
    client: FlaskClient, school_admin: User, school: School, headers
) -> None:
    response = client.post(
        "/api/v1/users",
        headers=headers(school_admin),
        json={
            "username": "long.mail",
            "role": "teacher",
            "school_id": school.id,
            "last_name": "L",
            "email": "a" * 10_000 + "@schule.example",
        },
    )
    assert "email" in assert_problem(response, 400)["errors"]


@pytest.mark.parametrize("bad", ["\x00", SURROGATE])
def test_an_inventory_that_cannot_be_stored_is_400_and_keeps_the_old_one(
    client: FlaskClient, enrolled: dict[str, Any], bad: str
) -> None:
    device = db.session.get(Device, enrolled["device_id"])
    before = dict(device.inventory)
    response = client.post(
        "/api/agent/v1/checkin",
        json={"inventory": {"apps": [{"name": "Notizen" + bad}], "battery": 40}},
        headers=device_auth(enrolled),
    )
    body = assert_problem(response, 400)
    assert list(body["errors"]) == ["inventory.apps.0.name"]
    db.session.expire_all()
    assert db.session.get(Device, device.id).inventory == before


def test_nul_in_a_query_or_path_is_400_naming_it(
    client: FlaskClient, school_admin: User, headers
) -> None:
    listed = client.get("/api/v1/users?q=%00", headers=headers(school_admin))
    assert list(assert_problem(listed, 400)["errors"]) == ["q"]
    panel = client.get("/api/v1/panel/abc%00def")
    assert list(assert_problem(panel, 400)["errors"]) == ["secret"]


def test_the_flush_refuses_what_postgresql_would_on_sqlite_too(
    school: School, create_user: Callable[..., User]
) -> None:
    user = create_user("teacher", school, username="flush-check")
    user.email = "a" * 300
    with pytest.raises(ValidationFailed) as refused:
        db.session.flush()
    assert refused.value.errors == {"email": ["at most 254 characters, got 300"]}
    db.session.rollback()
    user.first_name = "x\x00"
    with pytest.raises(ValidationFailed) as refused:
        db.session.flush()
    assert list(refused.value.errors) == ["first_name"]
    db.session.rollback()


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/audit?since=0001-01-01T00:00:00%2B14:00",
        "/api/v1/audit?until=9999-12-31T23:59:59-14:00",
        "/api/v1/devices?last_seen_before=0001-01-01T00:00:00%2B14:00",
    ],
)
def test_times_beyond_the_calendar_in_utc_are_400_naming_the_field(
    client: FlaskClient, school_admin: User, headers, url: str
) -> None:
    field = url.split("?")[1].split("=")[0]
    body = assert_problem(client.get(url, headers=headers(school_admin)), 400)
    assert list(body["errors"]) == [field]
    assert "out of range" in body["errors"][field][0]


def test_times_at_the_ends_of_the_calendar_are_fine(
    client: FlaskClient, school_admin: User, headers
) -> None:
    url = "/api/v1/audit?since=0001-01-01T00:00:00Z&until=9999-12-31T23:59:59Z"
    assert client.get(url, headers=headers(school_admin)).status_code == 200
