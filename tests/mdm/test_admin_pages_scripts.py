"""The admin pages of devices, enrollment, policies and timetable run no script but one with
the request's CSP nonce, and load nothing from elsewhere."""

import re
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from mdm.accounts.models import User

SCRIPT = re.compile(r"<script\b([^>]*)>")
EXTERNAL = re.compile(r'(?:src|href)="(?:https?:)?//', re.IGNORECASE)


def test_every_script_carries_the_nonce_of_the_pages_policy(
    page_client: Callable[[User], FlaskClient],
    school_admin: User,
    make_devices: Callable[..., list[dict[str, Any]]],
    make_policy: Callable[..., dict[str, Any]],
    make_token: Callable[..., dict[str, Any]],
) -> None:
    device = make_devices(1)[0]["device_id"]
    policy = make_policy({})["id"]
    token = make_token()["token"]["id"]
    client = page_client(school_admin)
    paths = [
        "/admin/devices",
        f"/admin/devices/{device}",
        "/admin/policies",
        f"/admin/policies/{policy}",
        f"/admin/policies/{policy}/sections/windows",
        "/admin/enrollment",
        f"/admin/enrollment/{token}",
        "/admin/timetable",
    ]
    scripts = 0
    for path in paths:
        answer = client.get(path)
        assert answer.status_code == 200, path
        policy_header = answer.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy_header and "unsafe-inline" not in policy_header
        html = answer.get_data(as_text=True)
        assert not EXTERNAL.search(html), path
        for attributes in SCRIPT.findall(html):
            nonce = re.search(r'nonce="([^"]+)"', attributes)
            assert nonce is not None, (path, attributes)
            assert f"'nonce-{nonce.group(1)}'" in policy_header, path
            scripts += 1
    assert scripts == 1  # the timetable upload's drop zone
