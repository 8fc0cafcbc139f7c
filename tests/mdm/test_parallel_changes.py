"""No lost updates: parallel requests on real, separate database connections (run on PostgreSQL
as well as SQLite) each count, and one-time changes happen once."""

import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from enrollment.models import EnrollmentToken
from mdm.accounts.models import User
from mdm.devices.models import Device, DeviceCredential
from mdm.extensions import db
from mdm.platform.models import AuditEvent
from tests.fixtures.devices import device_auth

pytestmark = [pytest.mark.committing, pytest.mark.concurrency]


def at_once(app: Flask, count: int, request: Callable[[FlaskClient, int], Any]) -> list[Any]:
    """Run `count` requests from threads that start together, each with its own client (and
    so its own database connection); their responses."""
    barrier = threading.Barrier(count)
    responses: list[Any] = [None] * count

    def run(n: int) -> None:
        client = app.test_client()
        barrier.wait()
        responses[n] = request(client, n)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


def test_parallel_renames_each_raise_the_configuration_version(
    app: Flask, enrolled: dict[str, Any], school_admin: User, headers
) -> None:
    device_id = enrolled["device_id"]
    before = db.session.get(Device, device_id).config_version
    auth = headers(school_admin)
    db.session.remove()

    responses = at_once(
        app,
        40,
        lambda client, n: client.patch(
            f"/api/v1/devices/{device_id}", headers=auth, json={"name": f"Tablet {n}"}
        ),
    )

    assert [r.status_code for r in responses] == [200] * 40
    versions = sorted(r.get_json()["config_version"] for r in responses)
    assert versions == list(range(before + 1, before + 41))  # each its own version
    assert db.session.get(Device, device_id).config_version == before + 40


def test_parallel_rotations_leave_exactly_one_working_credential(
    app: Flask, enrolled: dict[str, Any]
) -> None:
    auth = device_auth(enrolled)
    db.session.remove()

    responses = at_once(
        app, 20, lambda client, n: client.post("/api/agent/v1/credential", headers=auth, json={})
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [401] * 19
    live = db.session.scalars(
        select(DeviceCredential).where(DeviceCredential.revoked_at.is_(None))
    ).all()
    assert len(live) == 1
    new_secret = next(r for r in responses if r.status_code == 200).get_json()["credential"]
    checked_in = app.test_client().post(
        "/api/agent/v1/checkin",
        json={},
        headers={"Authorization": f"Bearer {new_secret['secret']}"},
    )
    assert checked_in.status_code == 200
    old = app.test_client().post("/api/agent/v1/checkin", json={}, headers=auth)
    assert old.status_code == 401


def test_parallel_revokes_of_a_token_write_one_audit_event(
    app: Flask, make_token: Callable[..., dict[str, Any]], school_admin: User, headers
) -> None:
    token_id = make_token()["token"]["id"]
    auth = headers(school_admin)
    db.session.remove()

    responses = at_once(
        app,
        20,
        lambda client, n: client.post(f"/api/v1/enrollment-tokens/{token_id}/revoke", headers=auth),
    )

    assert [r.status_code for r in responses] == [200] * 20
    assert {r.get_json()["state"] for r in responses} == {"revoked"}
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "enrollment_token.revoke")
    ).all()
    assert len(events) == 1
    assert db.session.get(EnrollmentToken, token_id).revoked_at is not None
