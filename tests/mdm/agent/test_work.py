"""Work through the agent protocol v1: the kinds policy and command in the check-in answer,
the fast path for devices with nothing due, a durable mark of what was sent, and two check-ins
of one device at the same moment never taking the same piece of work."""

import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from mdm.accounts.models import School, User
from mdm.commands.models import Command, CommandEvent
from mdm.extensions import db
from mdm.policies.models import DevicePolicyState
from tests.fixtures.devices import device_auth
from tests.mdm.agent.test_protocol import all_engines

Headers = dict[str, str]
CAMERA_OFF = {"restrictions": {"allow_camera": False}}


def test_policy_first_then_commands_in_order(
    client: FlaskClient,
    admin_headers: Headers,
    enrolled: dict[str, Any],
    make_policy: Callable[..., Any],
    check_in: Callable[..., Any],
) -> None:
    make_policy(CAMERA_OFF, assign={"target": "school"})
    for command in ("refresh_inventory", "lock"):
        body = {"type": command, "device_ids": [enrolled["device_id"]]}
        assert client.post("/api/v1/commands", json=body, headers=admin_headers).status_code == 201

    answer = check_in(enrolled, inventory={"battery": 50})

    assert answer["protocol"] == 1 and set(answer) == {
        "protocol",
        "config_version",
        "check_in_seconds",
        "work",
    }
    assert [(w["kind"], w["payload"].get("type")) for w in answer["work"]] == [
        ("policy", None),
        ("command", "refresh_inventory"),
        ("command", "lock"),
    ]
    assert answer["work"][0]["payload"]["document"] == CAMERA_OFF


def test_a_check_in_takes_at_most_the_configured_number_of_pieces(
    app: Flask,
    client: FlaskClient,
    admin_headers: Headers,
    enrolled: dict[str, Any],
    check_in: Callable[..., Any],
) -> None:
    app.config["AGENT_MAX_WORK_ITEMS"] = 2
    for _ in range(3):
        body = {"type": "refresh_inventory", "device_ids": [enrolled["device_id"]]}
        client.post("/api/v1/commands", json=body, headers=admin_headers)
    assert len(check_in(enrolled)["work"]) == 2
    assert len(check_in(enrolled)["work"]) == 1


def test_results_are_checked(
    client: FlaskClient, enrolled: dict[str, Any], report: Callable[..., Any]
) -> None:
    too_big = report(enrolled, "command-1", data={"blob": "x" * 20_000})
    assert too_big.status_code == 400 and "data" in too_big.get_json()["errors"]
    too_deep: dict[str, Any] = {}
    node = too_deep
    for _ in range(10):
        node["a"] = {}
        node = node["a"]
    assert report(enrolled, "command-1", data=too_deep).status_code == 400
    assert report(enrolled, "nonsense").status_code == 404
    assert report(enrolled, "command-99999").status_code == 404


@pytest.mark.committing
def test_a_device_with_nothing_due_stays_on_the_fast_path_and_work_is_marked_durably(
    app: Flask,
    client: FlaskClient,
    admin_headers: Headers,
    enrolled: dict[str, Any],
    make_policy: Callable[..., Any],
    check_in: Callable[..., Any],
    report: Callable[..., Any],
    count_queries: Callable[..., Any],
) -> None:
    make_policy(CAMERA_OFF, assign={"target": "school"})
    work = check_in(enrolled)["work"]
    # Committed by the check-in's request: another connection sees what was sent.
    with db.engine.connect() as other:
        sent = other.execute(select(DevicePolicyState.sent_hash)).scalar()
    assert work[0]["id"] == f"policy-{sent}"
    report(enrolled, work[0]["id"])

    with count_queries(*all_engines(app)) as statements:
        assert check_in(enrolled, inventory={"battery": 12})["work"] == []
    assert [s.split()[0].upper() for s in statements] == ["SELECT", "UPDATE"]


def concurrent_check_ins(apps: list[Flask], device: dict[str, Any], rounds: int) -> list[str]:
    """Check the device in from every app at the same moment, `rounds` times; every work id
    answered."""
    answered: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    for _ in range(rounds):
        barrier = threading.Barrier(len(apps))

        def one(app: Flask, barrier: threading.Barrier = barrier) -> None:
            try:
                client = app.test_client()
                barrier.wait()
                response = client.post(
                    "/api/agent/v1/checkin", json={}, headers=device_auth(device)
                )
                assert response.status_code == 200, response.get_json()
                with lock:
                    answered.extend(item["id"] for item in response.get_json()["work"])
            except BaseException as exc:  # reported by the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=one, args=(app,)) for app in apps]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    return answered


@pytest.mark.committing
@pytest.mark.concurrency
def test_two_check_ins_at_once_never_take_the_same_work(
    make_app: Callable[..., Flask],
    create_school: Callable[..., School],
    create_user: Callable[..., User],
    headers: Callable[[User], Headers],
    enroll: Callable[..., Any],
) -> None:
    apps = [make_app() for _ in range(3)]  # three workers, each with its own connections
    with apps[0].app_context():
        school = create_school()
        admin = headers(create_user("school_admin", school))
        client = apps[0].test_client()
        token = client.post(
            "/api/v1/enrollment-tokens",
            json={"ownership": "school", "user_role": "shared", "max_uses": 1},
            headers=admin,
        ).get_json()["secret"]
        device = client.post(
            "/api/agent/v1/enroll", json={"token": token, "platform": "android"}
        ).get_json()
        policy = client.post(
            "/api/v1/policies", json={"name": "P", "document": CAMERA_OFF}, headers=admin
        ).get_json()
        client.post(
            f"/api/v1/policies/{policy['id']}/assignments", json={"target": "school"}, headers=admin
        )
        for _ in range(20):
            body = {"type": "refresh_inventory", "device_ids": [device["device_id"]]}
            assert client.post("/api/v1/commands", json=body, headers=admin).status_code == 201

    answered = concurrent_check_ins(apps, device, rounds=8)

    assert len(answered) == len(set(answered)) == 21  # the policy and 20 commands, once each
    with apps[0].app_context():
        sent = db.session.scalar(
            select(func.count()).select_from(CommandEvent).where(CommandEvent.status == "sent")
        )
        assert sent == 20
        assert set(db.session.scalars(select(Command.attempts))) == {1}

        # The same result from two connections at once is recorded once.
        barrier = threading.Barrier(2)
        statuses: list[int] = []
        command_id = next(item for item in answered if item.startswith("command-"))

        def post(app: Flask) -> None:
            barrier.wait()
            response = app.test_client().post(
                "/api/agent/v1/results",
                json={"work_id": command_id, "status": "done"},
                headers=device_auth(device),
            )
            statuses.append(response.status_code)

        threads = [threading.Thread(target=post, args=(app,)) for app in apps[:2]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [204, 204]
        acknowledged = db.session.scalar(
            select(func.count())
            .select_from(CommandEvent)
            .where(CommandEvent.status == "acknowledged")
        )
        assert acknowledged == 1
