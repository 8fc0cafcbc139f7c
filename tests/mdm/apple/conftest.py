"""Fixtures of the Apple tests: a school with an MDM push topic, iPads enrolled by profile."""

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from mdm.accounts.models import School
from mdm.extensions import db
from mdm.push.models import PushSettings
from tests.mdm.apple.ipad import TOPIC, IPad, fetch_ipad


@pytest.fixture
def push_topic(school: School) -> str:
    """The school's MDM push topic (as its push certificate says)."""
    db.session.add(PushSettings(school_id=school.id, apns_topic=TOPIC))
    db.session.commit()
    return TOPIC


@pytest.fixture
def new_ipad(
    client: FlaskClient, make_token: Callable[..., dict[str, Any]], push_topic: str
) -> Callable[..., IPad]:
    """Factory: an iPad that fetched its profile (pending until it authenticates)."""

    def factory(udid: str | None = None, **token_fields: Any) -> IPad:
        token = make_token(platform="ipados", **token_fields)
        return fetch_ipad(client, token["secret"], udid)

    return factory


@pytest.fixture
def ipad(new_ipad: Callable[..., IPad]) -> IPad:
    """An iPad enrolled by profile: authenticated, with its push token."""
    device = new_ipad()
    assert device.authenticate().status_code == 200
    assert device.token_update().status_code == 200
    return device
