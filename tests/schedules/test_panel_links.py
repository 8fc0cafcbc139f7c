"""The panel link's URLs follow the address the admin reached the service at, unless BASE_URL
says otherwise."""

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from mdm.accounts.models import School, User

Headers = Callable[[User], dict[str, str]]


def test_panel_link_urls_carry_the_address_the_admin_reached(
    client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    body = client.post(
        f"/api/v1/schools/{school.id}/panel/link",
        headers=headers(school_admin),
        base_url="http://192.168.1.20:5001",
    ).get_json()
    secret = body["secret"]
    assert body["url"] == f"http://192.168.1.20:5001/panel/{secret}"
    assert body["screen_url"] == f"http://192.168.1.20:5001/panel/{secret}?screen=1"
    assert body["feed_url"] == f"http://192.168.1.20:5001/api/v1/panel/{secret}"


def test_panel_link_urls_begin_with_base_url_when_it_is_set(
    app: Flask, client: FlaskClient, school: School, school_admin: User, headers: Headers
) -> None:
    app.config["BASE_URL"] = "https://mdm.schulen.example.org"
    body = client.post(
        f"/api/v1/schools/{school.id}/panel/link",
        headers=headers(school_admin),
        base_url="http://192.168.1.20:5001",
    ).get_json()
    assert body["url"] == f"https://mdm.schulen.example.org/panel/{body['secret']}"
