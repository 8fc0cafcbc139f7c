"""Commands through the API and the agent protocol: fan-out, refusals, lifecycle, expiry,
not now, idempotent results, cancel, history, retention, audit."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from mdm.accounts.models import School, User
from mdm.commands import service
from mdm.commands.models import Command, CommandBatch, CommandEvent
from mdm.devices.models import Device, Group
from mdm.extensions import db
from mdm.platform.models import AuditEvent
from mdm.push.models import PushWakeup

Headers = dict[str, str]


def send(client: FlaskClient, headers: Headers, **body: Any) -> Any:
    return client.post("/api/v1/commands", json=body, headers=headers)


def count(model: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def test_a_command_to_one_device_goes_through_its_whole_life(
    client: FlaskClient,
    admin_headers: Headers,
    enrolled: dict[str, Any],
    check_in: Callable[..., Any],
    report: Callable[..., Any],
) -> None:
    device_id = enrolled["device_id"]
    response = send(
        client,
        admin_headers,
        type="lock",
        parameters={"message": "Bitte abgeben"},
        device_ids=[device_id],
    )
    assert response.status_code == 201, response.get_json()
    batch = response.get_json()
    assert batch["queued"] == 1 and batch["skipped"] == {}
    assert set(db.session.scalars(select(PushWakeup.device_id))) == {device_id}

    work = check_in(enrolled)["work"]
    assert work == [
        {
            "id": work[0]["id"],
            "kind": "command",
            "payload": {
                "type": "lock",
                "parameters": {"message": "Bitte abgeben"},
                "expires_at": work[0]["payload"]["expires_at"],
            },
        }
    ]
    assert db.session.scalar(select(PushWakeup)) is None  # it checked in: no need to wake it
    assert check_in(enrolled)["work"] == []
    assert (
        report(enrolled, work[0]["id"], detail="locked", data={"screen": "off"}).status_code == 204
    )
    # The same result again changes nothing; a different one is a conflict.
    assert report(enrolled, work[0]["id"], detail="locked").status_code == 204
    assert report(enrolled, work[0]["id"], "failed").status_code == 409

    command_id = int(work[0]["id"].removeprefix("command-"))
    detail = client.get(f"/api/v1/commands/{command_id}", headers=admin_headers).get_json()
    assert detail["status"] == "acknowledged" and detail["attempts"] == 1
    assert detail["result_detail"] == "locked" and detail["result_data"] == {"screen": "off"}
    assert [step["status"] for step in detail["history"]] == ["sent", "acknowledged"]
    assert detail["batch"]["created_by"] == "admin-a" and detail["device"]["id"] == device_id
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "command.queue"))
    assert audit.actor == "admin-a" and audit.details["parameters"] == {"message": "Bitte abgeben"}


def test_a_personal_device_is_refused_whatever_the_caller_asks(
    client: FlaskClient,
    admin_headers: Headers,
    byod_device: dict[str, Any],
    enrolled: dict[str, Any],
) -> None:
    for command in ("erase", "enable_lost_mode", "clear_passcode", "lock"):
        response = send(
            client,
            admin_headers,
            type=command,
            parameters={"message": "x"} if command == "enable_lost_mode" else {},
            device_ids=[enrolled["device_id"], byod_device["device_id"]],
        )
        assert response.status_code == 409
        body = response.get_json()
        assert body["type"] == "/problems/command-not-allowed"
        assert (
            f"device {byod_device['device_id']}: not allowed on a personal (BYOD) device"
            in body["errors"]["device_ids"]
        )
    assert count(Command) == 0 and count(CommandBatch) == 0
    allowed = send(
        client,
        admin_headers,
        type="install_app",
        parameters={"app": "de.schule.app"},
        device_ids=[byod_device["device_id"]],
    )
    assert allowed.status_code == 201


def test_a_group_or_a_school_gets_it_where_it_may_and_the_rest_is_counted(
    client: FlaskClient,
    admin_headers: Headers,
    school: School,
    make_devices: Callable[..., Any],
    byod_device: dict[str, Any],
) -> None:
    androids = make_devices(3)
    ipads = make_devices(2, platform="ipados")
    supervised = db.session.get(Device, ipads[0]["device_id"])
    supervised.inventory = {"supervised": True}
    group = Group(school_id=school.id, kind="custom", name="Koffer 1")
    group.devices = [db.session.get(Device, d["device_id"]) for d in [*androids[:2], *ipads]]
    db.session.add(group)
    db.session.commit()

    to_group = send(
        client,
        admin_headers,
        type="install_profile",
        parameters={"profile": "bm90IGEgcHJvZmlsZQ=="},
        group_id=group.id,
    )
    assert to_group.status_code == 400 and "profile" in to_group.get_json()["errors"]["parameters"]
    restart = send(client, admin_headers, type="restart", group_id=group.id).get_json()
    assert restart["queued"] == 1 and restart["skipped"] == {"not_supervised": 3}
    whole_school = send(
        client, admin_headers, type="refresh_inventory", school_id=school.id
    ).get_json()
    assert whole_school["queued"] == 6 and whole_school["skipped"] == {}
    lock = send(client, admin_headers, type="lock").get_json()  # a school admin's school by default
    assert lock["queued"] == 5 and lock["skipped"] == {"personal_device": 1}
    nothing = send(
        client,
        admin_headers,
        type="install_profile",
        parameters={"identifier": "x"},
        school_id=school.id,
    )
    assert nothing.status_code == 400  # install_profile takes a profile
    none_can = send(
        client,
        admin_headers,
        type="remove_profile",
        parameters={"identifier": "x"},
        device_ids=[androids[0]["device_id"]],
    )
    assert none_can.status_code == 409
    listed = client.get(
        f"/api/v1/commands?batch_id={restart['id']}", headers=admin_headers
    ).get_json()
    assert [item["device"]["id"] for item in listed["items"]] == [ipads[0]["device_id"]]
    batch = client.get(f"/api/v1/command-batches/{lock['id']}", headers=admin_headers).get_json()
    assert batch["statuses"] == {"queued": 5}


def test_unknown_or_foreign_targets_are_not_found(
    client: FlaskClient,
    admin_headers: Headers,
    headers: Callable[[User], Headers],
    create_user: Callable[..., User],
    other_school: School,
    enrolled: dict[str, Any],
) -> None:
    group = Group(school_id=other_school.id, kind="class", name="5b")
    db.session.add(group)
    db.session.commit()
    assert send(client, admin_headers, type="lock", group_id=group.id).status_code == 404
    assert send(client, admin_headers, type="lock", school_id=other_school.id).status_code == 404
    assert send(client, admin_headers, type="lock", device_ids=[999999]).status_code == 404
    other = headers(create_user("school_admin", other_school))
    assert send(client, other, type="lock", device_ids=[enrolled["device_id"]]).status_code == 404
    both = send(client, admin_headers, type="lock", group_id=group.id, school_id=1)
    assert both.status_code == 400
    unknown = send(client, admin_headers, type="self_destruct", device_ids=[enrolled["device_id"]])
    assert unknown.status_code == 400 and "type" in unknown.get_json()["errors"]
    assert count(Command) == 0


def queue_one(app: Flask, device_id: int, now: datetime, **fields: Any) -> Command:
    from mdm.platform.actors import Actor

    batch = service.queue(
        db.session,
        Actor.system("test"),
        type="refresh_inventory",
        target=service.Target(device_ids=[device_id]),
        now=now,
        **fields,
    )
    return db.session.scalar(select(Command).where(Command.batch_id == batch.id))


def test_not_now_retries_later_and_unanswered_commands_are_sent_again(
    app: Flask, enrolled: dict[str, Any]
) -> None:
    now = datetime.now(UTC)
    device_id = enrolled["device_id"]
    command = queue_one(app, device_id, now)
    [work] = service.command_work(db.session, device_id, now, 10, 300)
    assert service.record_command_result(
        db.session, device_id, "school", command.id, "not_now", "", {}, now, 300
    )
    assert service.command_work(db.session, device_id, now + timedelta(seconds=299), 10, 300) == []
    [again] = service.command_work(db.session, device_id, now + timedelta(seconds=300), 10, 300)
    assert again["id"] == work["id"]
    # Sent, no result: sent once more after the resend interval.
    assert service.command_work(db.session, device_id, now + timedelta(seconds=400), 10, 300) == []
    later = service.command_work(db.session, device_id, now + timedelta(seconds=601), 10, 300)
    assert [item["id"] for item in later] == [work["id"]]
    db.session.expire_all()
    command = db.session.get(Command, command.id)
    assert (command.status, command.attempts, command.not_now_count) == ("sent", 3, 1)


def test_commands_expire_and_are_never_sent_late(app: Flask, enrolled: dict[str, Any]) -> None:
    now = datetime.now(UTC)
    device_id = enrolled["device_id"]
    waiting = queue_one(app, device_id, now, expires_in_seconds=60)
    also = queue_one(app, device_id, now, expires_in_seconds=60)
    assert service.command_work(db.session, device_id, now + timedelta(seconds=61), 10, 300) == []
    assert service.expire(db.session, now + timedelta(seconds=61)) == 0  # the check-in did it
    db.session.expire_all()
    assert {db.session.get(Command, c.id).status for c in (waiting, also)} == {"expired"}
    third = queue_one(app, device_id, now, expires_in_seconds=60)
    assert service.expire(db.session, now + timedelta(seconds=61)) == 1
    db.session.expire_all()
    assert db.session.get(Command, third.id).status == "expired"


def test_cancel_before_it_is_sent_not_after(
    client: FlaskClient,
    admin_headers: Headers,
    make_devices: Callable[..., Any],
    check_in: Callable[..., Any],
) -> None:
    first, second, third = make_devices(3)
    ids = [d["device_id"] for d in (first, second, third)]
    batch = send(client, admin_headers, type="refresh_inventory", device_ids=ids).get_json()
    check_in(first)
    commands = {c.device_id: c.id for c in db.session.scalars(select(Command))}

    sent = client.post(
        f"/api/v1/commands/{commands[first['device_id']]}/cancel", headers=admin_headers
    )
    assert sent.status_code == 409 and "sent" in sent.get_json()["detail"]
    one = client.post(
        f"/api/v1/commands/{commands[second['device_id']]}/cancel", headers=admin_headers
    )
    assert one.status_code == 200 and one.get_json()["status"] == "cancelled"
    rest = client.post(f"/api/v1/command-batches/{batch['id']}/cancel", headers=admin_headers)
    assert rest.get_json() == {"cancelled": 1}
    assert check_in(third)["work"] == []
    statuses = client.get(
        f"/api/v1/command-batches/{batch['id']}", headers=admin_headers
    ).get_json()["statuses"]
    assert statuses == {"sent": 1, "cancelled": 2}
    filtered = client.get("/api/v1/commands?status=cancelled", headers=admin_headers).get_json()
    assert filtered["total"] == 2


def test_commands_of_retired_devices_are_cancelled(
    client: FlaskClient, admin_headers: Headers, enrolled: dict[str, Any]
) -> None:
    send(client, admin_headers, type="refresh_inventory", device_ids=[enrolled["device_id"]])
    client.post(f"/api/v1/devices/{enrolled['device_id']}/retire", headers=admin_headers)
    assert service.expire(db.session) == 1
    assert db.session.scalar(select(Command.status)) == "cancelled"


def test_retention_prunes_old_finished_commands_and_keeps_the_audit(
    app: Flask, enrolled: dict[str, Any]
) -> None:
    now = datetime.now(UTC)
    device_id = enrolled["device_id"]
    old = queue_one(app, device_id, now - timedelta(days=20))
    service.command_work(db.session, device_id, now - timedelta(days=20), 10, 300)
    service.record_command_result(
        db.session, device_id, "school", old.id, "done", "", {}, now - timedelta(days=20), 300
    )
    open_one = queue_one(app, device_id, now - timedelta(days=20), expires_in_seconds=30 * 86400)
    recent = queue_one(app, device_id, now - timedelta(days=1), expires_in_seconds=60)
    service.expire(db.session, now)

    assert service.prune(db.session, now) == 1
    remaining = set(db.session.scalars(select(Command.id)))
    assert remaining == {open_one.id, recent.id}
    assert (
        db.session.scalar(
            select(func.count()).select_from(CommandEvent).where(CommandEvent.command_id == old.id)
        )
        == 0
    )
    assert count(CommandBatch) == 2
    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "command.queue")
        )
        == 3
    )


def test_a_personal_devices_result_keeps_only_what_may_be_stored(
    client: FlaskClient,
    admin_headers: Headers,
    byod_device: dict[str, Any],
    check_in: Callable[..., Any],
    report: Callable[..., Any],
) -> None:
    send(client, admin_headers, type="refresh_inventory", device_ids=[byod_device["device_id"]])
    [work] = check_in(byod_device)["work"]
    report(byod_device, work["id"], data={"os_version": "17", "serial_number": "SN", "apps": ["x"]})
    assert db.session.scalar(select(Command.result_data)) == {"os_version": "17"}


def test_a_school_devices_result_keeps_only_what_its_inventory_policy_keeps(
    client: FlaskClient,
    admin_headers: Headers,
    make_devices: Callable[..., list[dict[str, Any]]],
    check_in: Callable[..., Any],
    report: Callable[..., Any],
) -> None:
    # A student's school tablet: by default the school keeps neither its location nor the
    # apps the student installed, and a command's result is no way around that.
    [tablet] = make_devices(1, user_role="student")
    send(client, admin_headers, type="refresh_inventory", device_ids=[tablet["device_id"]])
    [work] = check_in(tablet)["work"]
    report(
        tablet,
        work["id"],
        data={"os_version": "17", "location": {"lat": 52.5, "lon": 13.4}, "apps": ["x"]},
    )
    assert db.session.scalar(select(Command.result_data)) == {"os_version": "17"}
