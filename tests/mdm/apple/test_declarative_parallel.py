"""A declarative iPad's status reports and command requests at the same time, each on its own
database connection: all are answered, and the policy ends applied once."""

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from mdm.apple import declarations
from mdm.apple.declarations import STATUS_ITEMS
from mdm.apple.models import AppleDeclarativeState
from mdm.extensions import db
from mdm.platform.models import AuditEvent
from mdm.policies.models import DevicePolicyState
from tests.mdm.apple.ipad import IPad, answer, nest
from tests.mdm.apple.test_declarative import POLICY, _inventory
from tests.mdm.test_parallel_changes import at_once

pytestmark = [pytest.mark.committing, pytest.mark.concurrency]
REQUESTS = 8


def test_parallel_status_reports_and_idles_settle_the_policy_once(
    app: Flask, new_ipad: Callable[..., IPad], make_policy: Callable[..., dict[str, Any]]
) -> None:
    make_policy(POLICY, assign={"target": "school"})
    ipad = new_ipad()
    ipad.os_version = "17.5"
    assert ipad.authenticate().status_code == 200
    assert ipad.token_update().status_code == 200
    command = _inventory(ipad)
    assert command is not None and command["Command"]["RequestType"] == "DeclarativeManagement"
    report = ipad.sync(command)
    report_bytes = json.dumps(report).encode()
    device_id = ipad.device_id
    db.session.remove()

    def request(client: Any, n: int) -> Any:
        twin = dataclasses.replace(ipad, client=client)
        if n % 2:
            return twin.declarative("status", report_bytes)
        return twin.result("Acknowledged" if n == 0 else "Idle", command["CommandUUID"])

    responses = at_once(app, REQUESTS, request)
    assert [r.status_code for r in responses] == [200] * REQUESTS
    assert all(answer(r) is None for n, r in enumerate(responses) if n % 2 == 0)
    state = db.session.get(DevicePolicyState, device_id)
    assert state is not None and state.applied_hash == state.desired_hash
    assert state.due_at is None
    declarative = db.session.get(AppleDeclarativeState, device_id)
    assert declarative is not None and declarative.status == report["StatusItems"]
    moved = db.session.query(AuditEvent).filter_by(action="device.apple.declarative").count()
    assert moved == 1


def test_parallel_incremental_reports_each_keep_their_item(
    app: Flask, new_ipad: Callable[..., IPad]
) -> None:
    ipad = new_ipad()
    ipad.os_version = "17.5"
    assert ipad.authenticate().status_code == 200
    assert ipad.token_update().status_code == 200
    command = _inventory(ipad)
    assert command is not None
    ipad.sync(command)
    device_id = ipad.device_id
    names = sorted(STATUS_ITEMS)[:REQUESTS]
    db.session.remove()

    def request(client: Any, n: int) -> Any:
        items: dict[str, Any] = {}
        nest(items, names[n], f"value-{n}")
        report = {"StatusItems": items, "Errors": []}
        return dataclasses.replace(ipad, client=client).declarative(
            "status", json.dumps(report).encode()
        )

    responses = at_once(app, REQUESTS, request)
    assert [r.status_code for r in responses] == [200] * REQUESTS
    declarative = db.session.get(AppleDeclarativeState, device_id)
    assert declarative is not None
    kept = declarations.inventory_of(declarative.status)
    assert {kept[STATUS_ITEMS[name]] for name in names} == {f"value-{n}" for n in range(REQUESTS)}
