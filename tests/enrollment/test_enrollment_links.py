"""Enrollment links and QR codes follow the address the service was reached at, unless
BASE_URL says otherwise."""

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from enrollment import qr
from mdm.accounts.models import User

Headers = Callable[[User], dict[str, str]]
SCHOOL_NETWORK = "http://192.168.1.20:5001"


def create_token(client: FlaskClient, admin_headers: dict[str, str], **request: Any) -> Any:
    response = client.post(
        "/api/v1/enrollment-tokens",
        json={"ownership": "school", "user_role": "student"},
        headers=admin_headers,
        **request,
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_links_and_qr_codes_carry_the_address_the_admin_reached(
    client: FlaskClient, school_admin: User, headers: Headers
) -> None:
    body = create_token(client, headers(school_admin), base_url=SCHOOL_NETWORK)
    url = f"{SCHOOL_NETWORK}/enroll/{body['secret']}"
    assert body["enrollment_url"] == url
    assert body["qr_svg_url"] == f"{url}/qr.svg" and body["qr_png_url"] == f"{url}/qr.png"

    svg = client.get(f"/enroll/{body['secret']}/qr.svg", base_url=SCHOOL_NETWORK)
    assert svg.data == qr.qr_svg(url)
    png = client.get(f"/enroll/{body['secret']}/qr.png", base_url=SCHOOL_NETWORK)
    assert png.data == qr.qr_png(url)
    assert client.get(f"/enroll/{body['secret']}/qr.svg").data != svg.data  # another address


def test_base_url_when_set_wins_over_the_address_reached(
    app: Flask, client: FlaskClient, school_admin: User, headers: Headers
) -> None:
    app.config["BASE_URL"] = "https://mdm.schulen.example.org/"
    body = create_token(client, headers(school_admin), base_url=SCHOOL_NETWORK)
    url = f"https://mdm.schulen.example.org/enroll/{body['secret']}"
    assert body["enrollment_url"] == url
    svg = client.get(f"/enroll/{body['secret']}/qr.svg", base_url=SCHOOL_NETWORK)
    assert svg.data == qr.qr_svg(url)
